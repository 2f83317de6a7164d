"""Fixtures for case tests: a submission with a current report, and a started case."""

from __future__ import annotations

import pytest


@pytest.fixture
def submission(db, make_image_bytes):  # type: ignore[no-untyped-def]
    """An analyzed submission with a caption and one current report (made directly: no pipeline)."""
    from mediastore.services import media_store
    from moderation.models import Report, Submission

    media = media_store(content=make_image_bytes(seed=11)).media
    submission = Submission.objects.create(
        source=Submission.Source.UPLOAD,
        media=media,
        text="Shark swimming on a flooded highway after the hurricane",
        status=Submission.Status.ANALYZED,
        metadata={"author": {"name": "@stormwatch"}, "url": "https://sns.example/p/1"},
    )
    Report.objects.create(
        submission=submission,
        version=1,
        is_current=True,
        document={"schema": "report/1", "verdict": {"label": "edited_copy"}},
        label="edited_copy",
        manipulation_probability=0.9,
    )
    return submission


@pytest.fixture
def case(personas):  # type: ignore[no-untyped-def]
    from factcheck.cases.services import ClaimInput, case_create

    return case_create(
        title="Shark on the highway",
        actor=personas["fact_checker"],
        claims=[
            ClaimInput(
                text="A shark swam on a flooded highway in Houston",
                language="en",
                claimant="@stormwatch",
                appearance_url="https://sns.example/p/1",
            )
        ],
    )

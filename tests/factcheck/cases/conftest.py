"""Fixtures for case tests: a started case."""

from __future__ import annotations

import pytest


@pytest.fixture
def case(personas):
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

"""Reports stamped with their models (`model_details`) and shadow detectors (`detection.shadow`),
through the real pipeline and detectors; the admin shows licences that forbid commercial use."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.test import Client

from detection.core.registry import FORENSIC_CONFIG_FILES
from detection.selectors import reset_detection_suite
from moderation.models import Report
from moderation.report_document import ModelStamp, model_details_of, models_of
from moderation.services import submission_create
from tests.detection.model_files import ConstantScore, tiny_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial_detectors(settings, tmp_path: Path):
    """The forensic signals as the active detectors and a non-commercial shadow model that
    always says 1.0."""
    shadow = tiny_config(tmp_path, "trial", ConstantScore(30.0), extra={"shadow": True})
    settings.DETECTION_DETECTORS = [*map(str, FORENSIC_CONFIG_FILES), str(shadow)]
    reset_detection_suite()
    yield shadow
    reset_detection_suite()


def _analysed(make_image_bytes, capture, seed: int) -> Report:
    with capture(execute=True):
        submission = submission_create(
            content=make_image_bytes(width=160, height=128, seed=seed), source="api"
        )
    return Report.objects.get(submission=submission, is_current=True)


def test_an_analysis_stores_model_stamps_and_shadow_results(
    trial_detectors, make_image_bytes, django_capture_on_commit_callbacks, settings
) -> None:
    report = _analysed(make_image_bytes, django_capture_on_commit_callbacks, seed=71)
    document = report.document
    stamps = {stamp.name: stamp for stamp in model_details_of(document)}
    assert list(stamps) == ["ela", "noise", "jpeg_ghost", "trial"]
    for path in FORENSIC_CONFIG_FILES:
        stamp = stamps[path.stem]
        assert stamp.config_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert stamp.licence == "Apache-2.0" and stamp.commercial_use is True
    trial = stamps["trial"]
    assert trial.shadow and trial.commercial_use is False and trial.runtime == "onnx"
    assert trial.config_sha256 == hashlib.sha256(trial_detectors.read_bytes()).hexdigest()
    assert document["detection"]["shadow"][0]["name"] == "trial"
    assert document["detection"]["shadow"][0]["score"] == 1.0
    # `models` keeps its {name: version} shape; the shadow model decided nothing.
    assert models_of(document)["ela"] == "1" and "trial" not in models_of(document)
    # The same image without the shadow detector: the same probability and verdict.
    settings.DETECTION_DETECTORS = [str(p) for p in FORENSIC_CONFIG_FILES]
    reset_detection_suite()
    plain = _analysed(make_image_bytes, django_capture_on_commit_callbacks, seed=71)
    assert plain.document["verdict"] == document["verdict"]
    assert plain.manipulation_probability == report.manipulation_probability
    assert plain.document["detection"]["shadow"] == []


def test_old_reports_have_no_stamps_and_malformed_ones_are_skipped() -> None:
    assert model_details_of({"models": {"multitask": "3.0.0"}}) == []
    assert model_details_of(None) == [] and model_details_of({"model_details": "x"}) == []
    found = model_details_of(
        {"model_details": [1, {"version": "1"}, {"name": "n", "commercial_use": "yes"}]}
    )
    assert found == [ModelStamp("n", "", "builtin", None, None, None, None, False)]


def _admin_browser(personas) -> Client:
    admin = personas["admin"]
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    browser = Client()
    browser.force_login(admin)
    return browser


def test_admin_flags_non_commercial_models(
    trial_detectors, personas, make_image_bytes, django_capture_on_commit_callbacks
) -> None:
    report = _analysed(make_image_bytes, django_capture_on_commit_callbacks, seed=72)
    browser = _admin_browser(personas)
    for url in ("/admin/moderation/submission/", "/admin/moderation/report/"):
        page = browser.get(url).content.decode()
        assert "Check the detectors" in page
        assert "trial 0.1: NON-COMMERCIAL USE ONLY (CC-BY-NC-4.0)" in page
    page = browser.get(f"/admin/moderation/report/{report.pk}/change/").content.decode()
    assert "NON-COMMERCIAL USE ONLY (CC-BY-NC-4.0)" in page and "trial (shadow)" in page
    assert report.document["model_details"][0]["config_sha256"][:16] in page


def test_admin_says_nothing_when_every_licence_allows_commercial_use(personas) -> None:
    page = _admin_browser(personas).get("/admin/moderation/report/").content.decode()
    assert "licences" not in page


def test_admin_renders_a_report_written_before_stamps(personas) -> None:
    from tests.moderation.review_factory import review_item_create

    item = review_item_create(seed=73)
    report = Report.objects.get(submission=item.submission, is_current=True)
    assert "model_details" not in report.document
    page = _admin_browser(personas).get(f"/admin/moderation/report/{report.pk}/change/")
    assert page.status_code == 200
    assert "not recorded (report written before model stamps)" in page.content.decode()

"""The whole pipeline through a real Celery worker over Redis and PostgreSQL.

Submitted through the API, analysed by a worker process, polled through the API: an edited copy
of an indexed reference is `edited_copy` with the right region, a recompressed copy is
`unaltered_copy`, an unrelated image is not `edited_copy` until its original is added as a
reference, which re-checks it into a second report version. Killing the worker mid-analysis loses
nothing and duplicates nothing: after a restart there is exactly one report.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import redis
from django.db import connection
from django.http import StreamingHttpResponse
from PIL import Image
from rest_framework.test import APIClient
from skimage import data

from config.celery import app
from factcheck.services import reference_add
from moderation.events import SUBMISSION_ANALYZED, VERDICT_CHANGED
from moderation.models import Event, Report, Submission
from tests.worker_process import (
    Worker,
    database_url_of,
    on_broker,
)
from tests.worker_process import restore_unacknowledged as restore_unacknowledged_now

REPO_DIR = Path(__file__).resolve().parents[2]
BROKER_URL = "redis://127.0.0.1:6379/13"
# Unacknowledged tasks of a killed worker come back after this (Redis visibility timeout).
VISIBILITY_TIMEOUT_SECONDS = 6
ANALYSIS_TIMEOUT_SECONDS = 240  # generous: the machine is shared
PASTED_BOX = (320, 300, 140, 120)  # x, y, w, h of the splice in the astronaut copy

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


def streamed(response: object) -> bytes:
    """The body of a streamed (file) response."""
    assert isinstance(response, StreamingHttpResponse)
    return response.getvalue()


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory, project_env, venv_bin):
    redis.Redis.from_url(BROKER_URL).flushdb()
    with django_db_blocker.unblock():
        database_url = database_url_of(connection.settings_dict)
    data_dir = tmp_path_factory.mktemp("pipeline-worker")
    env = project_env(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=BROKER_URL,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT_SECONDS),
        DATA_DIR=str(data_dir),
        DEBUG="0",
    )
    queues = ",".join(queue.name for queue in app.conf.task_queues)
    args = ["--pool=solo", "-Q", queues, "-n", "pipeline-worker@%h"]
    process = Worker(env, args, data_dir / "worker.log")
    process.data_dir = data_dir
    process.start(venv_bin("celery"))
    yield process
    process.stop()


@pytest.fixture
def shared_storage(worker, settings):
    """This process and the worker read and write the same media and index folders."""
    settings.MEDIA_ROOT = worker.data_dir / "media"
    settings.INDEX_DIR = worker.data_dir / "index"
    settings.CELERY_BROKER_URL = BROKER_URL
    return worker.data_dir


def restore_unacknowledged() -> None:
    """Run kombu's own redelivery of tasks unacknowledged for longer than the visibility timeout.

    A worker runs this scan itself, but only on every 10th tick of `unacked_restore_interval`
    (about every 100 s); calling it once the timeout has passed makes the test wait seconds.
    """
    time.sleep(VISIBILITY_TIMEOUT_SECONDS + 0.5)
    restore_unacknowledged_now(BROKER_URL, VISIBILITY_TIMEOUT_SECONDS)


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _spliced_astronaut() -> np.ndarray:
    copy = data.astronaut().copy()
    x, y, w, h = PASTED_BOX
    copy[y : y + h, x : x + w] = data.coffee()[100 : 100 + h, 200 : 200 + w]
    return copy


def _iou(a: list[int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def _poll(api: APIClient, submission_id: int, timeout: float, worker: Worker) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.get(f"/api/v1/submissions/{submission_id}/").json()
        if status["status"] in ("analyzed", "failed"):
            return status
        time.sleep(0.2)
    pytest.fail(f"submission {submission_id} not analysed in {timeout} s:\n{worker.log()}")


def _index_references() -> None:
    # Eager mode: the index update task runs here, writing the shared index the worker reads.
    for name, pixels in (("astronaut", data.astronaut()), ("coffee", data.coffee())):
        reference_add(content=_png(pixels), source="test agency", external_id=name)


@pytest.mark.django_db(transaction=True)
def test_api_submissions_get_the_right_verdicts_from_the_worker(
    worker, shared_storage, api_client_credentials
) -> None:
    _index_references()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client_credentials.token}")
    recompressed = np.asarray(Image.fromarray(data.coffee()).resize((480, 320)))
    inputs = {
        "edited": _jpeg(_spliced_astronaut(), 92),
        "recompressed": _jpeg(recompressed, 70),
        "unrelated": _jpeg(data.rocket(), 90),
    }
    ids = {}
    with on_broker(BROKER_URL):
        for name, content in inputs.items():
            upload = io.BytesIO(content)
            upload.name = f"{name}.jpg"
            response = api.post("/api/v1/submissions/", {"media": upload, "external_id": name})
            assert response.status_code == 202, response.content
            ids[name] = response.json()["id"]
    reports = {}
    for name, submission_id in ids.items():
        status = _poll(api, submission_id, ANALYSIS_TIMEOUT_SECONDS, worker)
        assert status["status"] == "analyzed", (name, status["failure_reason"], worker.log())
        reports[name] = api.get(f"/api/v1/submissions/{submission_id}/report/").json()

    edited = reports["edited"]
    assert edited["verdict"]["label"] == "edited_copy", edited["verdict"]
    assert edited["matches"][0]["reference"]["external_id"] == "astronaut"
    best_region = max(edited["matches"][0]["regions"], key=lambda r: r["area_fraction"])
    assert _iou(best_region["bbox"], PASTED_BOX) > 0.5, edited["matches"][0]["regions"]
    mask_url = edited["artifacts"]["edit_mask"]
    mask_response = api.get(mask_url)
    mask = np.asarray(Image.open(io.BytesIO(streamed(mask_response))))
    x, y, w, h = PASTED_BOX
    assert mask[y : y + h, x : x + w].mean() > 0.6 * 255  # the splice is marked
    assert mask.mean() < 0.15 * 255  # and not much else

    assert reports["recompressed"]["verdict"]["label"] == "unaltered_copy"
    assert reports["recompressed"]["matches"][0]["reference"]["external_id"] == "coffee"
    assert reports["unrelated"]["verdict"]["label"] != "edited_copy"
    assert reports["unrelated"]["matches"] == []
    for submission_id in ids.values():
        assert Report.objects.filter(submission_id=submission_id).count() == 1
        assert (
            Event.objects.filter(submission_id=submission_id, type=SUBMISSION_ANALYZED).count() == 1
        )

    # The unrelated image's original becomes a verified reference: the worker indexes it, the
    # hook re-checks recent submissions, and only that one gets a second report version.
    with on_broker(BROKER_URL):
        reference_add(content=_png(data.rocket()), source="test agency", external_id="rocket")
    deadline = time.monotonic() + ANALYSIS_TIMEOUT_SECONDS
    unrelated = ids["unrelated"]
    while not Report.objects.filter(submission_id=unrelated, version=2).exists():
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.2)
    rechecked = api.get(f"/api/v1/submissions/{unrelated}/report/").json()
    assert rechecked["report_version"] == 2
    assert rechecked["verdict"]["label"] == "unaltered_copy"
    assert rechecked["matches"][0]["reference"]["external_id"] == "rocket"
    changed = Event.objects.get(submission_id=unrelated, type=VERDICT_CHANGED)
    assert changed.payload["verdict"]["label"] == "unaltered_copy"
    assert api.get(f"/api/v1/submissions/{unrelated}/report/?version=1").json()["matches"] == []
    assert Report.objects.filter(submission_id=ids["edited"]).count() == 1


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_analysis_leaves_exactly_one_report(
    worker, shared_storage, api_client_credentials
) -> None:
    from moderation.services import submission_create

    pixels = np.ascontiguousarray(data.chelsea()[::-1])  # a picture no earlier test sent
    with on_broker(BROKER_URL):
        submission = submission_create(
            content=_jpeg(pixels, 90), source="api", client=api_client_credentials.client
        )
    deadline = time.monotonic() + ANALYSIS_TIMEOUT_SECONDS
    while Submission.objects.get(pk=submission.pk).status == "received":
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.01)
    worker.kill()
    killed = Submission.objects.get(pk=submission.pk)
    assert killed.status == "analyzing", "the analysis finished before the kill; nothing tested"
    assert not Report.objects.filter(submission=submission).exists()

    worker.start()
    restore_unacknowledged()  # the broker hands the unacknowledged task to the new worker
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client_credentials.token}")
    status = _poll(api, submission.pk, ANALYSIS_TIMEOUT_SECONDS, worker)
    assert status["status"] == "analyzed", status["failure_reason"]
    assert status["attempts"] == 2  # one killed delivery, one that finished
    assert Report.objects.filter(submission=submission).count() == 1
    assert Event.objects.filter(submission=submission).count() == 1
    time.sleep(VISIBILITY_TIMEOUT_SECONDS + 1)  # a late redelivery would find it done
    assert Report.objects.filter(submission=submission).count() == 1

"""What an upload can cost before it is refused (issue 14, item 2): the structure walk runs
before Pillow sees the bytes, so the scan bomb and 25 MB of tiny blocks are refused (or
accepted) within a CPU bound by every intake: inspect_image, load_rgb, the submissions API,
the inbound webhook's media_base64 and the worker's media fetch."""

from __future__ import annotations

import base64
import io
import json
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from mediastore.images import (
    MAX_JPEG_SCAN_PIXELS,
    MAX_UPLOAD_BYTES,
    ImageRejected,
    inspect_image,
    load_rgb,
)
from mediastore.models import MediaObject
from mediastore.structure import StructureError, structure_check
from moderation.models import Submission
from tests.scripts_loader import script_module

# Issue 14: "any upload refused in under 1 s of CPU".
CPU_BOUND_SECONDS = 1.0
# The structure walk alone, on 25 MB of the worst data for it.
WALK_BOUND_SECONDS = 0.5


hostile_corpus = script_module("hostile_corpus")


class CpuBudgetExceeded(BaseException):
    """BaseException: no `except Exception` on the way may turn it into a refusal."""


@contextmanager
def cpu_seconds(limit: float) -> Iterator[Callable[[], float]]:
    """Measure this process's CPU time; a regression is stopped soon after the limit (a
    profiling timer) instead of decoding for minutes. Yields a function giving the time used."""

    def over(signum: int, frame: object) -> None:
        raise CpuBudgetExceeded(f"more than {2 * limit} s of CPU")

    previous = signal.signal(signal.SIGPROF, over)
    signal.setitimer(signal.ITIMER_PROF, 2 * limit)
    started = time.process_time()
    used: list[float] = []
    try:
        yield lambda: used[0] if used else time.process_time() - started
    finally:
        used.append(time.process_time() - started)
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def refusal_code_and_cpu(check: Callable[[bytes], object], content: bytes) -> tuple[str, float]:
    with cpu_seconds(CPU_BOUND_SECONDS) as used:
        try:
            check(content)
            code = "accepted"
        except ImageRejected as error:
            code = error.code
    return code, used()


@pytest.fixture(scope="module")
def scan_bomb() -> bytes:
    """Issue 14's file: 7000x7000 flat progressive JPEG, its last 48-byte scan 30,000 times."""
    return hostile_corpus.jpeg_scan_bomb(side=7000, repeats=30_000)


def test_the_bomb_is_the_one_from_the_issue(scan_bomb: bytes) -> None:
    assert 1_600_000 < len(scan_bomb) < 1_800_000  # "a 1.7 MB JPEG"
    assert scan_bomb.count(b"\xff\xda") == 30_010
    with Image.open(io.BytesIO(scan_bomb)) as image:
        assert image.size == (7000, 7000)


@pytest.mark.parametrize("check", [inspect_image, load_rgb], ids=["inspect_image", "load_rgb"])
def test_the_scan_bomb_is_refused_within_a_cpu_bound(check, scan_bomb: bytes) -> None:
    code, used = refusal_code_and_cpu(check, scan_bomb)
    assert code == "too_many_scans"
    assert used < CPU_BOUND_SECONDS, f"{used:.2f} s of CPU"


@pytest.mark.django_db
def test_the_api_refuses_the_scan_bomb_within_a_cpu_bound(
    api_client_credentials, scan_bomb: bytes
) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client_credentials.token}")
    upload = SimpleUploadedFile("bomb.jpg", scan_bomb, content_type="image/jpeg")
    with cpu_seconds(CPU_BOUND_SECONDS) as used:
        response = api.post("/api/v1/submissions/", {"media": upload}, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "too_many_scans"
    assert used() < CPU_BOUND_SECONDS, f"{used():.2f} s of CPU"
    assert Submission.objects.count() == 0 and MediaObject.objects.count() == 0


@pytest.mark.django_db
def test_the_webhook_refuses_the_scan_bomb_within_a_cpu_bound(
    api_client_credentials, scan_bomb: bytes
) -> None:
    from integrations.signing import signed_headers

    body = json.dumps(
        {
            "type": "content.created",
            "data": {"id": "post-1", "media_base64": base64.b64encode(scan_bomb).decode()},
        }
    ).encode()
    headers = signed_headers(
        secrets=[api_client_credentials.webhook_secret], webhook_id="msg_bomb", body=body
    )
    with cpu_seconds(CPU_BOUND_SECONDS) as used:
        response = APIClient().generic(
            "POST",
            f"/api/v1/webhooks/inbound/{api_client_credentials.client.slug}/",
            body,  # type: ignore[arg-type]  # sent as is; DRF's stubs say str
            content_type="application/json",
            headers=headers,
        )
    assert response.status_code == 400, response.content
    assert "scans" in response.json()["detail"]
    assert used() < CPU_BOUND_SECONDS, f"{used():.2f} s of CPU"
    assert Submission.objects.count() == 0


@pytest.mark.django_db
def test_the_worker_media_fetch_refuses_the_scan_bomb_within_a_cpu_bound(
    api_client_credentials, scan_bomb: bytes, monkeypatch
) -> None:
    from integrations import fetching
    from integrations.inbound import _inbound_insert, content_payload_parse
    from integrations.safe_http import SafeResponse
    from tests.integrations.webhook_helpers import webhook_fixture

    document = webhook_fixture("content_created_media_url")
    document["data"]["media_url"] = "https://cdn.example-sns.test/bomb.jpg"
    payload = content_payload_parse(json.dumps(document).encode())
    inbound, _ = _inbound_insert(
        client_id=api_client_credentials.client.pk, webhook_id="msg_fetch", payload=payload
    )
    served = SafeResponse(status=200, headers={}, body=scan_bomb, url=payload.media_url)
    monkeypatch.setattr(fetching, "safe_request", lambda *args, **kwargs: served)
    with cpu_seconds(CPU_BOUND_SECONDS) as used:
        outcome = fetching.inbound_media_fetch(inbound_id=inbound.pk)
    assert outcome.status == "failed" and "scans" in outcome.error, outcome
    assert used() < CPU_BOUND_SECONDS, f"{used():.2f} s of CPU"
    assert Submission.objects.count() == 0


# --- 25 MB of the cheapest blocks each parser steps through one Python call at a time ------------


def flood(name: str) -> bytes:
    return hostile_corpus.FLOODS[name][1](hostile_corpus.FLOOD_BYTES)


# What every intake answers to each (accepted: the walk is linear and the decode stops early).
FLOOD_ANSWERS = {
    "gif_one_byte_sub_blocks": "too_many_blocks",
    "jpeg_empty_comments": "too_many_segments",
    "jpeg_fill_bytes": "stray_data",
    "jpeg_markup_lookalikes_in_scan": "accepted",
    "jpeg_restart_markers_in_scan": "accepted",
    "jpeg_standalone_markers": "too_many_segments",
    "jpeg_stray_bytes": "stray_data",
    "jpeg_stuffed_entropy_data": "accepted",
    "png_empty_chunks": "too_many_chunks",
    "webp_empty_chunks": "too_many_chunks",
}


def test_the_floods_are_the_ones_answered_below() -> None:
    assert sorted(hostile_corpus.FLOODS) == sorted(FLOOD_ANSWERS)


@pytest.mark.parametrize("name", sorted(FLOOD_ANSWERS))
def test_25_mb_of_tiny_blocks_costs_less_than_the_bound(name: str) -> None:
    content, expected = flood(name), FLOOD_ANSWERS[name]
    assert MAX_UPLOAD_BYTES - 128 * 1024 < len(content) <= MAX_UPLOAD_BYTES
    for check in (inspect_image, load_rgb):
        code, used = refusal_code_and_cpu(check, content)
        assert code == expected, (check.__name__, code)
        assert used < CPU_BOUND_SECONDS, f"{check.__name__}: {used:.2f} s of CPU"


@pytest.mark.parametrize(
    "name", ["jpeg_stuffed_entropy_data", "jpeg_restart_markers_in_scan", "jpeg_fill_bytes"]
)
def test_the_jpeg_walk_of_25_mb_is_fast(name: str) -> None:
    content = flood(name)
    # The fill bytes are refused, the others walked to their end.
    with cpu_seconds(WALK_BOUND_SECONDS) as used, suppress(StructureError):
        structure_check(content, "JPEG")
    assert used() < WALK_BOUND_SECONDS, f"{used():.2f} s of CPU"


def test_the_walk_of_the_scan_bomb_is_fast(scan_bomb: bytes) -> None:
    with cpu_seconds(WALK_BOUND_SECONDS) as used, pytest.raises(ValueError, match="scans"):
        structure_check(scan_bomb, "JPEG")
    assert used() < 0.05, f"{used():.3f} s of CPU"


# --- an accepted progressive JPEG's decode is bounded too -----------------------------------------


def test_scan_pixel_budget_boundary() -> None:
    # 5000x5000 = MAX_JPEG_SCAN_PIXELS / 40: 40 scans decode, 41 are refused before decoding.
    side = 5000
    scans = MAX_JPEG_SCAN_PIXELS // (side * side)
    assert scans * side * side == MAX_JPEG_SCAN_PIXELS and scans < 100
    at_limit = hostile_corpus.jpeg_scan_bomb(side=side, repeats=scans - 10)
    assert at_limit.count(b"\xff\xda") == scans
    assert inspect_image(at_limit).width == side
    over = hostile_corpus.jpeg_scan_bomb(side=side, repeats=scans - 9)
    for check in (inspect_image, load_rgb):
        code, used = refusal_code_and_cpu(check, over)
        assert code == "too_many_scans" and used < 0.2, (check.__name__, code, used)
    with pytest.raises(ImageRejected, match=f"at most {scans} scans"):
        inspect_image(over)

"""The hostile corpus (scripts/hostile_corpus.py) is 100% refused cleanly by every intake:
mediastore (in a memory-capped process), POST /api/v1/submissions/ (a 4xx naming the problem,
nothing stored), the inbound webhook, `manage.py analyze` and `manage.py add_references` (one
line per file). REFUSAL_CODES states what each file is refused for; ACCEPTED_CODES states the
odd but valid files (`hostile_corpus.accepted_cases()`) that every intake accepts: a PNG named
.jpg and camera JPEGs with data after the image (a maker trailer, an MPF second image)."""

from __future__ import annotations

import base64
import json
import re
import resource
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from mediastore.images import inspect_image, load_rgb
from mediastore.models import MediaObject
from moderation.models import Submission
from tests.scripts_loader import script_module

REPO_DIR = Path(__file__).resolve().parents[2]
# The decoder's process may not grow past this: a bomb that slipped through would be killed by
# MemoryError instead of passing quietly (a 50-megapixel RGBA decode alone needs 200 MB).
INTAKE_ADDRESS_SPACE_BYTES = 1536 * 1024 * 1024


hostile_corpus = script_module("hostile_corpus")
CORPUS = hostile_corpus.corpus()
ACCEPTED = hostile_corpus.accepted_cases()
# The code of each refusal: the same from inspect_image, load_rgb and the submissions API.
REFUSAL_CODES = {
    "apng_1500_frames.png": "too_many_frames",
    "apng_declares_2147483647_frames.png": "too_many_frames",
    "bmp_image.jpg": "unsupported_format",
    "elf_binary.webp": "not_an_image",
    "empty.png": "empty",
    "gif_5000_frames.gif": "too_many_frames",
    "gif_bad_lzw.gif": "corrupt",
    "gif_js_header.gif": "corrupt",
    "gif_screen_65535x65535.gif": "too_many_pixels",
    "gif_script_tail.gif": "markup",
    "gif_truncated_half.gif": "corrupt",
    "gif_zip_tail.gif": "zip_archive",
    "html_page.jpg": "not_an_image",
    "jpeg_1001_comments.jpg": "too_many_segments",
    "jpeg_21_scans_7000x7000.jpg": "too_many_scans",
    "jpeg_500_scans.jpg": "too_many_scans",
    "jpeg_bad_huffman.jpg": "corrupt",
    "jpeg_bad_sof.jpg": "not_an_image",
    "jpeg_camera_trailer_then_html.jpg": "markup",
    "jpeg_exif_65535_entries.jpg": "bad_exif",
    "jpeg_exif_garbage.jpg": "bad_exif",
    "jpeg_exif_huge_count.jpg": "bad_exif",
    "jpeg_exif_ifd_loop.jpg": "bad_exif",
    "jpeg_exif_offset_out_of_range.jpg": "bad_exif",
    "jpeg_exif_orientation_9999.jpg": "bad_exif",
    "jpeg_fill_bytes.jpg": "stray_data",
    "jpeg_header_only.jpg": "corrupt",
    "jpeg_html_comment.jpg": "markup",
    "jpeg_progressive_truncated.jpg": "corrupt",
    "jpeg_scan_bomb_7000x7000.jpg": "too_many_scans",
    "jpeg_script_tail.jpg": "markup",
    "jpeg_sof_65535x65535.jpg": "too_many_pixels",
    "jpeg_sof_7072x7072.jpg": "too_many_pixels",
    "jpeg_truncated_half.jpg": "corrupt",
    "jpeg_zip_after_camera_trailer.jpg": "zip_archive",
    "jpeg_zip_tail.jpg": "zip_archive",
    "pdf_document.png": "not_an_image",
    "png_20001_chunks.png": "too_many_chunks",
    "png_bad_idat.png": "corrupt",
    "png_bad_ihdr_crc.png": "not_an_image",
    "png_exif_1mb.png": "bad_exif",
    "png_html_tail.png": "markup",
    "png_html_text_chunk.png": "markup",
    "png_iccp_bomb.png": "not_an_image",
    "png_ihdr_100000x100000.png": "too_many_pixels",
    "png_ihdr_2147483647x1.png": "too_many_pixels",
    "png_ihdr_zero_width.png": "not_an_image",
    "png_no_iend.png": "corrupt",
    "png_script_tail.png": "markup",
    "png_truncated_half.png": "corrupt",
    "png_zlib_bomb_1bit_20000x20000.png": "too_many_pixels",
    "png_zlib_bomb_rgb_7072x7072.png": "too_many_pixels",
    "png_ztxt_bomb.png": "not_an_image",
    "riff_not_webp.webp": "not_an_image",
    "svg_with_script.png": "not_an_image",
    "svg_with_script.svg": "not_an_image",
    "text_file.jpg": "not_an_image",
    "tiff_image.png": "unsupported_format",
    "webp_1100_chunks.webp": "too_many_chunks",
    "webp_1500_frames.webp": "too_many_frames",
    "webp_bad_vp8.webp": "not_an_image",
    "webp_script_tail.webp": "markup",
    "webp_truncated_half.webp": "corrupt",
    "webp_vp8_16383x16383.webp": "too_many_pixels",
    "zip_archive.gif": "not_an_image",
}
# Accepted as (format, width, height): only the primary image of a camera JPEG is read.
ACCEPTED_CODES = {
    "jpeg_camera_trailer.jpg": ("JPEG", 64, 48),
    "jpeg_mpf_second_image.jpg": ("JPEG", 64, 48),
    "png_named.jpg": ("PNG", 64, 48),
}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    hostile_corpus.corpus_write(folder)
    (folder / "manifest.json").unlink()  # the commands below get image files only
    return folder


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (INTAKE_ADDRESS_SPACE_BYTES, INTAKE_ADDRESS_SPACE_BYTES))


INTAKE_PROBE = """
import json, sys
from pathlib import Path
from mediastore.images import ImageRejected, inspect_image, load_rgb
outcome = {}
for path in sorted(Path(sys.argv[1]).iterdir()):
    result = []
    for check in (inspect_image, load_rgb):
        try:
            check(path.read_bytes())
            result.append("accepted")
        except ImageRejected as error:
            result.append(f"{error.code}: {error}")
    outcome[path.name] = result
print(json.dumps(outcome))
"""


def test_corpus_is_small_and_covers_every_kind() -> None:
    assert max(len(f.content) for f in CORPUS + ACCEPTED) < 300 * 1024
    kinds = {f.kind for f in CORPUS}
    assert kinds >= {
        "dimension_bomb", "zlib_bomb", "frame_bomb", "scan_bomb", "truncated", "corrupt",
        "polyglot", "svg", "wrong_extension", "empty", "bad_exif", "block_flood",
    }  # fmt: skip
    assert sorted(REFUSAL_CODES) == sorted(f.name for f in CORPUS)
    assert sorted(ACCEPTED_CODES) == sorted(f.name for f in ACCEPTED)
    assert {f.kind for f in ACCEPTED} == {"accepted"}


@pytest.mark.slow
def test_the_script_writes_the_corpus_and_a_manifest(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/hostile_corpus.py", str(tmp_path / "out")],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(manifest) == sorted(f.name for f in CORPUS)
    for item in CORPUS:  # deterministic: another process wrote the same bytes
        assert (tmp_path / "out" / item.name).read_bytes() == item.content, item.name


def test_intake_refuses_every_file_within_bounded_memory(corpus_dir, project_env) -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTAKE_PROBE, str(corpus_dir)],
        cwd=REPO_DIR,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_address_space,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout)
    assert sorted(outcome) == sorted(f.name for f in CORPUS)
    slipped = {name: r for name, r in outcome.items() if "accepted" in r}
    assert slipped == {}
    assert {name: inspected.split(":")[0] for name, (inspected, _) in outcome.items()} == (
        REFUSAL_CODES
    )
    for name, (inspected, loaded) in outcome.items():
        assert inspected.split(":")[0] == loaded.split(":")[0], name  # same gate, same reason
        assert len(inspected) > 20 and "\n" not in inspected, (name, inspected)


@pytest.mark.django_db
def test_api_answers_4xx_with_a_message_and_stores_nothing(api_client_credentials) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client_credentials.token}")
    statuses = {}
    for item in CORPUS:
        upload = SimpleUploadedFile(item.name, item.content, content_type="image/png")
        response = api.post("/api/v1/submissions/", {"media": upload}, format="multipart")
        statuses[item.name] = response.status_code
        assert 400 <= response.status_code < 500, (item.name, response.status_code)
        body = response.json()
        message = " ".join(str(v) for v in body.get("media", [])) or str(body)
        assert len(message) > 10, (item.name, body)
        assert body.get("code") == REFUSAL_CODES[item.name], (item.name, body)
    assert set(statuses.values()) <= {400, 413}
    assert Submission.objects.count() == 0
    assert MediaObject.objects.count() == 0
    media_root = Path(settings.MEDIA_ROOT)
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


@pytest.mark.slow
def test_analyze_command_prints_one_line_per_file_and_exits_non_zero(
    corpus_dir, project_env, tmp_path
) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "analyze", str(corpus_dir)],
        cwd=REPO_DIR,
        env=project_env(DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=240,
        preexec_fn=_limit_address_space,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    # One "<path>: <reason>" per file (tqdm's progress bar shares stderr, hence the search).
    named = re.findall(re.escape(str(corpus_dir)) + r"/([^/:]+): (\S[^\r\n]{10,})", done.stderr)
    assert sorted(name for name, _ in named) == sorted(f.name for f in CORPUS)
    assert f"{len(CORPUS)} of {len(CORPUS)} inputs could not be analysed" in done.stderr
    assert done.stdout.strip() == ""


@pytest.mark.django_db
def test_add_references_skips_every_file_with_a_reason(corpus_dir) -> None:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=f"{len(CORPUS)} of {len(CORPUS)} files skipped"):
        call_command("add_references", str(corpus_dir), stdout=out, stderr=err)
    skipped = [line for line in err.getvalue().splitlines() if line.startswith("skipped ")]
    assert len(skipped) == len(CORPUS)
    assert all(": " in line.removeprefix("skipped ") for line in skipped)
    assert "0 added" in out.getvalue()


@pytest.mark.django_db
def test_inbound_webhook_answers_400_and_stores_nothing(api_client_credentials) -> None:
    from integrations.models import InboundWebhook
    from integrations.signing import signed_headers

    api = APIClient()
    slug = api_client_credentials.client.slug
    for index, item in enumerate(CORPUS):
        body = json.dumps(
            {
                "type": "content.created",
                "data": {
                    "id": f"post-{index}",
                    "media_base64": base64.b64encode(item.content).decode(),
                },
            }
        ).encode()
        headers = signed_headers(
            secrets=[api_client_credentials.webhook_secret], webhook_id=f"msg_{index}", body=body
        )
        response = api.generic(
            "POST",
            f"/api/v1/webhooks/inbound/{slug}/",
            body,  # type: ignore[arg-type]  # sent as is; DRF's stubs say str
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 400, (item.name, response.status_code, response.content)
        assert len(response.json()["detail"]) > 10, item.name
    assert Submission.objects.count() == 0
    assert InboundWebhook.objects.count() == 0
    assert MediaObject.objects.count() == 0


def test_the_accepted_cases_pass_the_mediastore_gate() -> None:
    for item in ACCEPTED:
        info = inspect_image(item.content)
        assert (info.format, info.width, info.height) == ACCEPTED_CODES[item.name], item.name
        assert load_rgb(item.content).shape == (info.height, info.width, 3)


@pytest.mark.django_db
def test_the_api_and_the_webhook_accept_the_accepted_cases(api_client_credentials) -> None:
    from integrations.signing import signed_headers

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client_credentials.token}")
    for item in ACCEPTED:
        upload = SimpleUploadedFile(item.name, item.content, content_type="image/jpeg")
        response = api.post("/api/v1/submissions/", {"media": upload}, format="multipart")
        assert response.status_code == 202, (item.name, response.content)
        media = Submission.objects.get(pk=response.json()["id"]).media
        assert (media.format, media.width, media.height) == ACCEPTED_CODES[item.name]
        assert media.size == len(item.content)  # stored as sent, trailer included
    slug = api_client_credentials.client.slug
    for index, item in enumerate(ACCEPTED):
        body = json.dumps(
            {
                "type": "content.created",
                "data": {
                    "id": f"accepted-{index}",
                    "media_base64": base64.b64encode(item.content).decode(),
                },
            }
        ).encode()
        headers = signed_headers(
            secrets=[api_client_credentials.webhook_secret], webhook_id=f"ok_{index}", body=body
        )
        response = APIClient().generic(
            "POST",
            f"/api/v1/webhooks/inbound/{slug}/",
            body,  # type: ignore[arg-type]  # sent as is; DRF's stubs say str
            content_type="application/json",
            headers=headers,
        )
        assert 200 <= response.status_code < 300, (item.name, response.content)
    assert Submission.objects.count() == 2 * len(ACCEPTED)

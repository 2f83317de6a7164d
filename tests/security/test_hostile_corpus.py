"""The hostile corpus (scripts/hostile_corpus.py) is 100% refused cleanly by every intake:
mediastore (in a memory-capped process), POST /api/v1/submissions/ (a 4xx naming the problem,
nothing stored), `manage.py analyze` and `manage.py add_references` (one line per file)."""

from __future__ import annotations

import base64
import importlib.util
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

from mediastore.models import MediaObject
from moderation.models import Submission

REPO_DIR = Path(__file__).resolve().parents[2]
# The decoder's process may not grow past this: a bomb that slipped through would be killed by
# MemoryError instead of passing quietly (a 50-megapixel RGBA decode alone needs 200 MB).
INTAKE_ADDRESS_SPACE_BYTES = 1536 * 1024 * 1024


def _load_corpus_module():
    spec = importlib.util.spec_from_file_location(
        "hostile_corpus", REPO_DIR / "scripts" / "hostile_corpus.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


hostile_corpus = _load_corpus_module()
CORPUS = hostile_corpus.corpus()


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
    assert max(len(f.content) for f in CORPUS) < 300 * 1024
    kinds = {f.kind for f in CORPUS}
    assert kinds >= {
        "dimension_bomb", "zlib_bomb", "frame_bomb", "scan_bomb", "truncated", "corrupt",
        "polyglot", "svg", "wrong_extension", "empty", "bad_exif",
    }  # fmt: skip


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
            body,
            content_type="application/json",
            **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
        )
        assert response.status_code == 400, (item.name, response.status_code, response.content)
        assert len(response.json()["detail"]) > 10, item.name
    assert Submission.objects.count() == 0
    assert InboundWebhook.objects.count() == 0
    assert MediaObject.objects.count() == 0

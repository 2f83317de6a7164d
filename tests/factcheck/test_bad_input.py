"""Bad files for add_references and the references API: a clear error, nothing stored or
indexed, and the index files untouched."""

import io
import struct
import zlib
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image
from rest_framework.test import APIClient

from factcheck.core.index_store import read_manifest
from factcheck.evaluation.evalsources import generated_image
from factcheck.indexing import LOCAL_INDEX, PDQ_INDEX, index_dir
from factcheck.models import Reference
from factcheck.services import reference_add
from mediastore.images import MAX_IMAGE_PIXELS
from mediastore.models import MediaObject

pytestmark = pytest.mark.django_db(transaction=True)


def encode(pixels: np.ndarray, image_format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` (the pixel data is a token): the pixel cap must
    refuse it from the header, before anything is decoded or allocated."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


GOOD = encode(generated_image(seed=3, size=(240, 320)))
BAD_FILES = {
    "zero-size.jpg": (b"", "empty"),
    "truncated.jpg": (GOOD[: len(GOOD) // 2], "corrupt"),
    "notes.jpg": (b"these are notes, not a picture\n" * 20, "not_an_image"),
    "huge.png": (png_header(8, MAX_IMAGE_PIXELS // 8 + 1), "too_many_pixels"),
    "animated.gif": (animated_gif(), "animated"),
}
MESSAGES = {
    "empty": "empty",
    "corrupt": "corrupt or truncated",
    "not_an_image": "not a readable image",
    "too_many_pixels": f"{MAX_IMAGE_PIXELS} pixels",
    "animated": "animated images are not accepted",
}


@pytest.fixture
def indexed_reference() -> Reference:
    """One good reference, so the index files exist and any change to them would show."""
    return reference_add(content=GOOD, source="AP", external_id="good").reference


def index_state() -> dict[str, tuple[int, str]]:
    state = {}
    for name in (PDQ_INDEX, LOCAL_INDEX):
        manifest = read_manifest(index_dir(), name)
        assert manifest is not None
        state[name] = (manifest.version, manifest.sha256)
    return state


def test_add_references_reports_each_bad_file_and_leaves_the_index_alone(
    tmp_path, indexed_reference, monkeypatch
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    for name, (content, _) in BAD_FILES.items():
        (folder / name).write_bytes(content)
    (folder / "unreadable.jpg").write_bytes(GOOD)
    real_read_bytes = Path.read_bytes

    def read_bytes(path: Path) -> bytes:  # root ignores file modes, so simulate EACCES
        if path.name == "unreadable.jpg":
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    before, media_before = index_state(), MediaObject.objects.count()
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=f"{len(BAD_FILES) + 1} of {len(BAD_FILES) + 1} files"):
        call_command("add_references", str(folder), stdout=out, stderr=err)
    assert f"0 added, 0 already present, {len(BAD_FILES) + 1} skipped" in out.getvalue()
    lines = err.getvalue().splitlines()
    assert len(lines) == len(BAD_FILES) + 1
    for name, (_, code) in BAD_FILES.items():
        line = next(line for line in lines if f"{name}:" in line)
        assert MESSAGES[code] in line, line
    assert any("unreadable.jpg: cannot read the file (Permission denied)" in x for x in lines)
    assert list(Reference.objects.all()) == [indexed_reference]
    assert MediaObject.objects.count() == media_before
    assert index_state() == before


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_api_refuses_bad_files_with_their_reason(personas, indexed_reference, name) -> None:
    content, code = BAD_FILES[name]
    api = APIClient()
    api.force_authenticate(personas["fact_checker"])
    before = index_state()
    response = api.post("/api/v1/references/", {"media": io.BytesIO(content), "source": "AP"})
    assert response.status_code == 400, response.content
    body = response.json()
    if code == "empty":  # DRF refuses an empty upload before our intake sees it
        assert "empty" in body["media"][0]
    else:
        assert body["code"] == code and MESSAGES[code] in body["media"][0]
    assert Reference.objects.count() == 1 and MediaObject.objects.count() == 1
    assert index_state() == before

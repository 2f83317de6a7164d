"""Media intake: content addressing, deduplication and the named limits at their boundaries."""

import hashlib
import io
import zlib

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from mediastore import images
from mediastore.images import ImageRejected, inspect_image, load_rgb
from mediastore.models import MediaObject
from mediastore.services import media_read, media_store

pytestmark = pytest.mark.django_db


def test_same_content_is_stored_once_under_its_hash(make_image_bytes) -> None:
    content = make_image_bytes(64, 48, "PNG")
    first = media_store(content=content)
    second = media_store(content=content)
    assert first.created and not second.created
    assert first.media.pk == second.media.pk
    sha256 = hashlib.sha256(content).hexdigest()
    assert first.media.sha256 == sha256
    assert first.media.file.name == f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}.png"
    assert (first.media.width, first.media.height, first.media.mime) == (64, 48, "image/png")
    assert media_read(first.media) == content


def test_jpeg_webp_gif_are_accepted(make_image_bytes) -> None:
    for image_format, mime in [
        ("JPEG", "image/jpeg"),
        ("WEBP", "image/webp"),
        ("GIF", "image/gif"),
    ]:
        assert media_store(content=make_image_bytes(32, 32, image_format)).media.mime == mime


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size but carries almost no data (a decompression-bomb header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty"),
        (b"not an image at all", "not_an_image"),
        (b"%PDF-1.7 fake", "not_an_image"),
        (png_header_only(images.MAX_IMAGE_PIXELS // 1000 + 1, 1000), "too_many_pixels"),
        (png_header_only(100_000, 100_000), "too_many_pixels"),
    ],
)
def test_rejected_input_stores_nothing(content: bytes, code: str) -> None:
    with pytest.raises(ImageRejected) as raised:
        media_store(content=content)
    assert raised.value.code == code
    assert not MediaObject.objects.exists()
    assert not default_storage.exists("objects")


def test_truncated_image_is_rejected(make_image_bytes) -> None:
    content = make_image_bytes(200, 200, "JPEG")
    with pytest.raises(ImageRejected) as raised:
        inspect_image(content[: len(content) // 2])
    assert raised.value.code == "corrupt"


def test_byte_limit_boundary(monkeypatch, make_image_bytes) -> None:
    content = make_image_bytes(32, 32, "PNG")
    monkeypatch.setattr(images, "MAX_UPLOAD_BYTES", len(content))
    inspect_image(content)
    monkeypatch.setattr(images, "MAX_UPLOAD_BYTES", len(content) - 1)
    with pytest.raises(ImageRejected, match="limit"):
        inspect_image(content)


def test_pixel_limit_boundary(monkeypatch, make_image_bytes) -> None:
    content = make_image_bytes(40, 25, "PNG")
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 1000)
    inspect_image(content)
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 999)
    with pytest.raises(ImageRejected) as raised:
        inspect_image(content)
    assert raised.value.code == "too_many_pixels"


def test_minimum_side_boundary(make_image_bytes) -> None:
    side = images.MIN_IMAGE_SIDE
    inspect_image(make_image_bytes(side, 100))
    with pytest.raises(ImageRejected) as raised:
        inspect_image(make_image_bytes(side - 1, 100))
    assert raised.value.code == "too_small"


def test_animated_images_can_be_refused(make_image_bytes) -> None:
    frames = [Image.open(io.BytesIO(make_image_bytes(32, 32, "PNG", seed=s))) for s in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert inspect_image(buffer.getvalue()).animated
    with pytest.raises(ImageRejected) as raised:
        inspect_image(buffer.getvalue(), allow_animated=False)
    assert raised.value.code == "animated"


def test_load_rgb_applies_exif_orientation() -> None:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    pixels = load_rgb(buffer.getvalue())
    assert pixels.shape == (40, 20, 3)
    assert pixels.dtype.name == "uint8"


def test_load_rgb_converts_grayscale_and_alpha() -> None:
    for mode in ("L", "RGBA", "P", "I;16"):
        buffer = io.BytesIO()
        Image.new(mode, (16, 12)).save(buffer, format="PNG")
        assert load_rgb(buffer.getvalue()).shape == (12, 16, 3)

"""Container checks of the intake (mediastore.structure): each named limit at its boundary, and
ordinary images from the sample sets still accepted."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import skimage
from PIL import Image

from mediastore.images import (
    MAX_ANIMATION_FRAMES,
    MAX_EXIF_BYTES,
    MAX_JPEG_SCANS,
    MAX_TRAILING_BYTES,
    ImageRejected,
    inspect_image,
    load_rgb,
)


def refused(content: bytes) -> str:
    with pytest.raises(ImageRejected) as raised:
        inspect_image(content)
    with pytest.raises(ImageRejected) as raised_again:
        load_rgb(content)
    assert raised.value.code == raised_again.value.code
    return raised.value.code


def gif_with_frames(frames: int) -> bytes:
    head = b"GIF89a" + struct.pack("<HHBBB", 16, 16, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return head + frame * frames + b"\x3b"


def progressive_with_scans(scans: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format="JPEG", progressive=True)
    content = buffer.getvalue()
    own = content.count(b"\xff\xda")
    last = content.rfind(b"\xff\xda")
    return content[:last] + content[last:-2] * (scans - own + 1) + b"\xff\xd9"


def png_with_exif(exif_size: int) -> bytes:
    ifd = b"II*\x00\x08\x00\x00\x00\x01\x00" + struct.pack("<HHI", 0x0112, 3, 1) + b"\x01\0\0\0"
    exif = (ifd + b"\0\0\0\0").ljust(exif_size, b"\0")
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "teal").save(buffer, format="PNG")
    content = buffer.getvalue()
    chunk = struct.pack(">I", len(exif)) + b"eXIf" + exif
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + exif))
    return content[:33] + chunk + content[33:]


def test_trailing_bytes_boundary(make_image_bytes) -> None:
    for image_format in ("JPEG", "PNG", "GIF", "WEBP"):
        content = make_image_bytes(32, 32, image_format)
        assert inspect_image(content + b"\0" * MAX_TRAILING_BYTES).format == image_format
        assert load_rgb(content + b"\0" * MAX_TRAILING_BYTES).shape == (32, 32, 3)
        assert refused(content + b"\0" * (MAX_TRAILING_BYTES + 1)) == "trailing_data"
        assert refused(content + b"<b>") == "trailing_data"  # markup is never padding


def test_a_large_camera_style_trailer_is_refused_with_a_clear_message(make_image_bytes) -> None:
    # Decision (docs/benchmarks.md, "Reliability and security"): a second payload after the
    # image is refused even when it is binary, as some editors append previews; the sender
    # re-saves the image.
    content = make_image_bytes(64, 48, "JPEG") + bytes(500) + np.random.bytes(23_000)
    with pytest.raises(ImageRejected, match="follow the end of the JPEG image"):
        inspect_image(content)


def test_animation_frames_boundary() -> None:
    assert inspect_image(gif_with_frames(MAX_ANIMATION_FRAMES)).animated
    assert refused(gif_with_frames(MAX_ANIMATION_FRAMES + 1)) == "too_many_frames"


def test_jpeg_scans_boundary() -> None:
    assert inspect_image(progressive_with_scans(MAX_JPEG_SCANS)).format == "JPEG"
    assert refused(progressive_with_scans(MAX_JPEG_SCANS + 1)) == "too_many_scans"


def test_exif_size_boundary() -> None:
    assert inspect_image(png_with_exif(MAX_EXIF_BYTES)).format == "PNG"
    assert refused(png_with_exif(MAX_EXIF_BYTES + 1)) == "bad_exif"


def test_markup_at_the_start_is_refused(make_image_bytes) -> None:
    content = make_image_bytes(32, 32, "JPEG")
    comment = b"<html><body>hello</body></html>"
    marked = content[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    assert refused(marked + content[2:]) == "markup"


def test_a_png_named_jpg_is_accepted_as_png(make_image_bytes) -> None:
    # Names are never trusted: the format comes from the bytes, storage uses its extension.
    assert inspect_image(make_image_bytes(32, 32, "PNG")).format == "PNG"


def test_every_scikit_image_sample_is_accepted() -> None:
    folder = Path(skimage.__file__).parent / "data"
    samples = [p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".gif"}]
    assert len(samples) >= 10
    for path in samples:
        content = path.read_bytes()
        try:
            inspect_image(content)
        except ImageRejected as error:
            assert error.code in {"too_small", "unsupported_format"}, (path.name, str(error))

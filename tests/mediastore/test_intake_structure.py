"""Container checks of the intake (mediastore.structure): each named limit at its boundary, and
ordinary images from the sample sets still accepted."""

import io
import struct
import zipfile
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
    MAX_JPEG_TRAILING_BYTES,
    MAX_TRAILING_BYTES,
    ImageRejected,
    inspect_image,
    load_rgb,
    trailing_bytes,
)
from mediastore.structure import (
    MAX_GIF_SUB_BLOCKS,
    MAX_JPEG_SEGMENTS,
    MAX_JPEG_STRAY_BYTES,
    MAX_PNG_CHUNKS,
    MAX_WEBP_CHUNKS,
    ZIP_DIRECTORY_SEARCH_BYTES,
    structure_check,
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


def test_padding_after_png_gif_and_webp_boundary(make_image_bytes) -> None:
    for image_format in ("PNG", "GIF", "WEBP"):
        content = make_image_bytes(32, 32, image_format)
        assert inspect_image(content + b"\0" * MAX_TRAILING_BYTES).format == image_format
        assert load_rgb(content + b"\0" * MAX_TRAILING_BYTES).shape == (32, 32, 3)
        assert refused(content + b"\0" * (MAX_TRAILING_BYTES + 1)) == "trailing_data"
        assert refused(content + b"<b>") == "trailing_data"  # markup is never padding


def test_jpeg_trailer_boundary(make_image_bytes) -> None:
    at_limit = make_image_bytes(32, 32, "JPEG") + bytes(MAX_JPEG_TRAILING_BYTES)
    assert inspect_image(at_limit).format == "JPEG"
    assert load_rgb(at_limit).shape == (32, 32, 3)
    assert refused(at_limit + b"\0") == "trailing_data"
    with pytest.raises(ImageRejected, match=f"at most {MAX_JPEG_TRAILING_BYTES} are allowed"):
        inspect_image(at_limit + b"\0")


def test_a_camera_style_trailer_is_accepted_and_only_the_primary_image_read(
    make_image_bytes,
) -> None:
    # Phones append maker data, second images and videos after the JPEG (issue 14, item 13).
    primary = make_image_bytes(64, 48, "JPEG")
    trailer = bytes(500) + np.random.default_rng(4).bytes(23_000)
    content = primary + trailer
    info = inspect_image(content)
    assert (info.format, info.mime, info.width, info.height) == ("JPEG", "image/jpeg", 64, 48)
    assert np.array_equal(load_rgb(content), load_rgb(primary))
    assert trailing_bytes(content, "JPEG") == len(trailer)
    assert trailing_bytes(primary, "JPEG") == 0


def test_a_jpeg_with_an_mpf_second_image_is_accepted_as_its_primary_image() -> None:
    # Pillow calls such files MPO; the first image is an ordinary JPEG, the second follows EOI.
    primary = Image.fromarray(np.random.default_rng(2).integers(0, 256, (48, 64, 3), np.uint8))
    buffer = io.BytesIO()
    primary.save(buffer, format="MPO", save_all=True, append_images=[Image.new("RGB", (32, 24))])
    content = buffer.getvalue()
    assert Image.open(io.BytesIO(content)).format == "MPO"
    info = inspect_image(content)
    assert (info.format, info.mime, info.width, info.height, info.animated) == (
        "JPEG", "image/jpeg", 64, 48, False,
    )  # fmt: skip
    assert load_rgb(content).shape == (48, 64, 3)
    assert trailing_bytes(content, "JPEG") > 0


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            zipfile.ZipInfo("evil.class", date_time=(2020, 1, 1, 0, 0, 0)), b"\xca\xfe"
        )
    return buffer.getvalue()


def test_a_zip_archive_after_any_image_is_refused(make_image_bytes) -> None:
    archive = zip_archive()
    for image_format in ("JPEG", "PNG", "GIF", "WEBP"):
        assert refused(make_image_bytes(32, 32, image_format) + archive) == "zip_archive"
    jpeg = make_image_bytes(32, 32, "JPEG")
    assert refused(jpeg + bytes(30_000) + archive[:30]) == "zip_archive"  # a local file header
    assert refused(jpeg + bytes(30_000) + archive[-22:]) == "zip_archive"  # the directory's end


def test_a_zip_directory_where_zip_readers_look_for_it_is_refused(make_image_bytes) -> None:
    # No trailer at all: the archive's end record sits in a comment segment before the last
    # scan of a progressive JPEG, within the file's last 65,557 bytes.
    content = progressive_with_scans(10)
    last_scan = content.rfind(b"\xff\xda")
    end_record = zip_archive()[-22:]
    comment = b"\xff\xfe" + struct.pack(">H", len(end_record) + 2) + end_record
    assert refused(content[:last_scan] + comment + content[last_scan:]) == "zip_archive"
    assert ZIP_DIRECTORY_SEARCH_BYTES == 22 + 65_535


def test_markup_in_a_jpeg_trailer_is_refused(make_image_bytes) -> None:
    content = make_image_bytes(32, 32, "JPEG") + bytes(10_000)
    assert refused(content + b"<script>alert(document.domain)</script>") == "markup"
    assert refused(content + b"<!DOCTYPE html><p>hi") == "markup"


def test_animation_frames_boundary() -> None:
    assert inspect_image(gif_with_frames(MAX_ANIMATION_FRAMES)).animated
    assert refused(gif_with_frames(MAX_ANIMATION_FRAMES + 1)) == "too_many_frames"


def test_jpeg_scans_boundary() -> None:
    assert inspect_image(progressive_with_scans(MAX_JPEG_SCANS)).format == "JPEG"
    assert refused(progressive_with_scans(MAX_JPEG_SCANS + 1)) == "too_many_scans"


def blocks(content: bytes, image_format: str) -> int:
    return structure_check(content, image_format).blocks


def jpeg_with_segments(make_image_bytes, segments: int) -> bytes:
    content = make_image_bytes(32, 32, "JPEG")
    empty_comment = b"\xff\xfe\x00\x02"
    return content[:2] + empty_comment * (segments - blocks(content, "JPEG")) + content[2:]


def test_jpeg_segments_boundary(make_image_bytes) -> None:
    at_limit = jpeg_with_segments(make_image_bytes, MAX_JPEG_SEGMENTS)
    assert blocks(at_limit, "JPEG") == MAX_JPEG_SEGMENTS
    assert inspect_image(at_limit).format == "JPEG"
    assert refused(jpeg_with_segments(make_image_bytes, MAX_JPEG_SEGMENTS + 1)) == (
        "too_many_segments"
    )


def test_jpeg_fill_and_stray_bytes_boundary(make_image_bytes) -> None:
    content = make_image_bytes(32, 32, "JPEG")
    dqt = content.index(b"\xff\xdb")
    for filler in (b"\xff", b"\x00"):  # 0xFF fill before a marker, or junk between segments
        at_limit = content[:dqt] + filler * MAX_JPEG_STRAY_BYTES + content[dqt:]
        assert load_rgb(at_limit).shape == (32, 32, 3)
        assert refused(at_limit[:dqt] + filler + at_limit[dqt:]) == "stray_data"


def test_png_chunks_boundary(make_image_bytes) -> None:
    content = make_image_bytes(32, 32, "PNG")
    private = struct.pack(">I", 0) + b"prIv" + struct.pack(">I", zlib.crc32(b"prIv"))
    padded = content[:33] + private * (MAX_PNG_CHUNKS - blocks(content, "PNG")) + content[33:]
    assert blocks(padded, "PNG") == MAX_PNG_CHUNKS
    assert inspect_image(padded).format == "PNG"
    assert refused(padded[:33] + private + padded[33:]) == "too_many_chunks"


def test_gif_sub_blocks_boundary() -> None:
    content = gif_with_frames(1)
    header_end = 13 + 6  # logical screen + a 2-colour table
    base = blocks(content, "GIF")
    comment_blocks = MAX_GIF_SUB_BLOCKS - base  # each one-byte sub-block, then the terminator

    def with_comment(count: int) -> bytes:
        comment = b"\x21\xfe" + b"\x01x" * (count - 1) + b"\x00"
        return content[:header_end] + comment + content[header_end:]

    assert blocks(with_comment(comment_blocks), "GIF") == MAX_GIF_SUB_BLOCKS
    assert inspect_image(with_comment(comment_blocks)).format == "GIF"
    assert refused(with_comment(comment_blocks + 1)) == "too_many_blocks"


def test_webp_chunks_boundary(make_image_bytes) -> None:
    content = make_image_bytes(32, 32, "WEBP")

    def with_chunks(count: int) -> bytes:
        body = content[12:] + b"junk\0\0\0\0" * (count - blocks(content, "WEBP"))
        return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body

    assert blocks(with_chunks(MAX_WEBP_CHUNKS), "WEBP") == MAX_WEBP_CHUNKS
    assert inspect_image(with_chunks(MAX_WEBP_CHUNKS)).format == "WEBP"
    assert refused(with_chunks(MAX_WEBP_CHUNKS + 1)) == "too_many_chunks"


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


def test_formats_outside_the_allowlist_are_named_without_being_parsed(monkeypatch) -> None:
    # Pillow's other plugins never read untrusted bytes: the refusal names the format from its
    # signature alone.
    from PIL import BmpImagePlugin

    def parse(self) -> None:
        raise AssertionError("the BMP parser ran")

    monkeypatch.setattr(BmpImagePlugin.BmpImageFile, "_open", parse)
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "teal").save(buffer, format="BMP")
    assert refused(buffer.getvalue()) == "unsupported_format"
    with pytest.raises(ImageRejected, match="format BMP is not accepted"):
        inspect_image(buffer.getvalue())

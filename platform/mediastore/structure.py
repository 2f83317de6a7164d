"""Container-level checks Pillow does not make: where the image ends, what follows it, how many
frames, scans and blocks it holds, and whether a browser could read it as markup.

These walkers read the container structure (no pixels) and run before Pillow sees the bytes:
Pillow's own header parsers step through fill bytes, JPEG segments, PNG chunks and GIF blocks
one Python call at a time, and its decoder makes a full pass over the image for every JPEG scan,
so a few megabytes of tiny blocks or repeated scans would cost seconds of CPU. Every step here is
a C-level search (bytes.find, a compiled regex) or is counted against a named limit, so the walk
of a 25 MB file costs well under a second whatever it holds. They refuse:
- polyglots: markup a browser could sniff as HTML, a ZIP archive (local file header or
  end-of-central-directory record) after the image or where ZIP readers look for one, and data
  after the end marker beyond MAX_TRAILING_BYTES (PNG, GIF, WebP) or MAX_JPEG_TRAILING_BYTES
  (JPEG: cameras append second images, maker data and videos there);
- frame bombs: more than MAX_ANIMATION_FRAMES frames, counted or declared (APNG acTL);
- scan bombs: progressive JPEGs with more than MAX_JPEG_SCANS scans (each is a full pass of
  the decoder over the image: thousands of them are a CPU bomb in a tiny file);
- block floods: more than MAX_JPEG_SEGMENTS / MAX_PNG_CHUNKS / MAX_GIF_SUB_BLOCKS /
  MAX_WEBP_CHUNKS blocks, or more than MAX_JPEG_STRAY_BYTES fill or stray bytes between JPEG
  segments;
- containers that end before their end marker (the pixels may decode, the file is still cut).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

# Some encoders pad after the end marker (zeros, 0xFF fill); more than this is a second payload.
MAX_TRAILING_BYTES = 64
# Phone cameras append MPF second images (previews, depth and gain maps), maker trailers and
# motion-photo videos of a few MB after the primary JPEG; nothing reads them here, and the
# upload cap bounds the file anyway.
MAX_JPEG_TRAILING_BYTES = 16 * 1024 * 1024
MAX_ANIMATION_FRAMES = 1000
MAX_JPEG_SCANS = 100
# Real files have far fewer (645 JPEGs on the build machine: at most 29 segments, no stray
# byte); each costs Pillow's header parser a Python call (each stray or fill byte too).
MAX_JPEG_SEGMENTS = 1000
MAX_JPEG_STRAY_BYTES = 1024
# libpng writes 8 KiB IDAT chunks (3,200 in a 25 MB file) and an APNG adds two per frame.
MAX_PNG_CHUNKS = 20_000
# Encoders write 255-byte sub-blocks: a 25 MB GIF needs about 103,000.
MAX_GIF_SUB_BLOCKS = 250_000
# One ANMF chunk per frame plus a few for metadata.
MAX_WEBP_CHUNKS = MAX_ANIMATION_FRAMES + 64
# Browsers sniff the first 1445 bytes (WHATWG MIME Sniffing, "resource header"); short tags are
# only looked for there, since 4-5 random bytes would match somewhere in a large compressed file.
MARKUP_SNIFF_BYTES = 1445
_SNIFFABLE_MARKUP = re.compile(
    rb"<(?:script|html|!doctype|iframe|body|svg|img|object|embed|head|meta)[\s>/]", re.IGNORECASE
)
# Long tags are looked for in the whole file: random data matches them with negligible odds.
# One pattern per tag, on a lowered copy: a literal prefix is searched at C speed, where one
# case-insensitive alternation costs 20 ns a byte on a file of '<'.
_EMBEDDED_MARKUP = tuple(
    re.compile(pattern)
    for pattern in (rb"<script[\s>/]", rb"<iframe[\s>/]", rb"<!doctype\s+html", rb"<object[\s>/]")
)
# ZIP readers find the end-of-central-directory record in the last 22 + 65,535 bytes.
ZIP_DIRECTORY_SEARCH_BYTES = 22 + 65_535
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_ZIP_DIRECTORY_END = b"PK\x05\x06"
# Entropy-coded data ends at a 0xFF not followed by 0x00 (a stuffed data byte), RST0-7 or more
# fill; libjpeg reads it the same way.
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_NOT_FILL = re.compile(rb"[^\xff]")
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)


class StructureError(ValueError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Structure:
    end: int  # offset just past the image's end marker
    frames: int  # frames counted, or declared when larger (APNG)
    blocks: int  # counted against the format's limit: segments, chunks or GIF sub-blocks
    scans: int = 1  # JPEG scans (progressive JPEGs have several); 1 for other formats


def container_format(content: bytes) -> str | None:
    """The allowlisted format the file's signature names (as Pillow tells them apart), or None."""
    for signature, image_format in _SIGNATURES:
        if content.startswith(signature):
            return image_format
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "WEBP"
    return None


def structure_check(content: bytes, image_format: str) -> Structure:
    """Walk the container of an allowlisted format; raise StructureError on anything hostile."""
    _check_markup(content)
    walker = _WALKERS[image_format]
    try:
        found = walker(content)
    except StructureError:
        raise
    except (IndexError, ValueError, struct.error):  # ValueError: bytes.index found no marker
        raise StructureError(
            f"the image data is corrupt or truncated (the {image_format} file ends inside a block)",
            code="corrupt",
        ) from None
    _check_archive(content, found.end, image_format)
    _check_trailing(content, found.end, image_format)
    if found.frames > MAX_ANIMATION_FRAMES:
        raise StructureError(
            f"the animation has more than {MAX_ANIMATION_FRAMES} frames (the limit)",
            code="too_many_frames",
        )
    return found


def trailing_bytes(content: bytes, image_format: str) -> int:
    """How many bytes follow the image's end marker (of content that passed structure_check)."""
    return len(content) - _WALKERS[image_format](content).end


def _check_markup(content: bytes) -> None:
    found = _SNIFFABLE_MARKUP.search(content, 0, MARKUP_SNIFF_BYTES) is not None
    if not found:
        lowered = content.lower()
        found = any(pattern.search(lowered) for pattern in _EMBEDDED_MARKUP)
    if found:
        raise StructureError(
            "the file contains HTML or script markup (an image/HTML polyglot)", code="markup"
        )


def _check_archive(content: bytes, end: int, image_format: str) -> None:
    tail_start = max(0, len(content) - ZIP_DIRECTORY_SEARCH_BYTES)
    if (
        content.find(_ZIP_DIRECTORY_END, min(end, tail_start)) >= 0
        or content.find(_ZIP_LOCAL_HEADER, end) >= 0
    ):
        raise StructureError(
            f"the file holds a ZIP archive besides the {image_format} image "
            "(an image/ZIP polyglot)",
            code="zip_archive",
        )


def _check_trailing(content: bytes, end: int, image_format: str) -> None:
    trailing = len(content) - end
    if image_format == "JPEG":
        if trailing > MAX_JPEG_TRAILING_BYTES:
            raise StructureError(
                f"{trailing} bytes of other data follow the end of the JPEG image "
                f"(at most {MAX_JPEG_TRAILING_BYTES} are allowed)",
                code="trailing_data",
            )
        return
    if trailing > MAX_TRAILING_BYTES or content.find(b"<", end) >= 0:
        raise StructureError(
            f"{trailing} bytes of other data follow the end of the {image_format} image "
            f"(at most {MAX_TRAILING_BYTES} bytes of padding are allowed)",
            code="trailing_data",
        )


def _png(content: bytes) -> Structure:
    position, frames, declared = 8, 0, 0
    for chunks in range(1, MAX_PNG_CHUNKS + 1):
        length, kind = struct.unpack_from(">I4s", content, position)
        data_start = position + 8
        position = data_start + length + 4  # data + CRC
        if position > len(content):
            raise IndexError
        if kind == b"acTL":
            (declared,) = struct.unpack_from(">I", content, data_start)
        elif kind == b"fcTL":
            frames += 1
        elif kind == b"IEND":
            return Structure(end=position, frames=max(frames, declared, 1), blocks=chunks)
    raise StructureError(
        f"the PNG has more than {MAX_PNG_CHUNKS} chunks (the limit)", code="too_many_chunks"
    )


def _jpeg(content: bytes) -> Structure:
    position, scans, stray = 2, 0, 0
    for segments in range(1, MAX_JPEG_SEGMENTS + 1):
        # Like libjpeg, skip stray bytes and fill (0xFF runs) before a marker, but count them.
        fill = content.index(b"\xff", position)
        code_at = _search(_NOT_FILL, content, fill + 1)
        stray += code_at - 1 - position
        if stray > MAX_JPEG_STRAY_BYTES:
            raise StructureError(
                f"the JPEG has more than {MAX_JPEG_STRAY_BYTES} fill or stray bytes between its "
                "segments (the limit)",
                code="stray_data",
            )
        marker = content[code_at]
        position = code_at + 1
        if marker == 0xD9:  # EOI
            return Structure(end=position, frames=1, blocks=segments, scans=scans)
        if 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01):  # standalone: no length
            continue
        (length,) = struct.unpack_from(">H", content, position)
        position += length
        if length < 2 or position > len(content):
            raise IndexError
        if marker != 0xDA:  # SOS: entropy-coded data follows until the next real marker
            continue
        scans += 1
        if scans > MAX_JPEG_SCANS:
            raise StructureError(
                f"the JPEG has more than {MAX_JPEG_SCANS} scans", code="too_many_scans"
            )
        position = _search(_JPEG_SCAN_END, content, position)
    raise StructureError(
        f"the JPEG has more than {MAX_JPEG_SEGMENTS} marker segments (the limit)",
        code="too_many_segments",
    )


def _search(pattern: re.Pattern[bytes], content: bytes, position: int) -> int:
    found = pattern.search(content, position)
    if found is None:
        raise IndexError  # the file ends first
    return found.start()


class _GifBlocks:
    """Sub-block walker of one GIF, counting every sub-block against MAX_GIF_SUB_BLOCKS."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.count = 0

    def skip(self, position: int) -> int:
        content = self.content
        while True:
            self.count += 1
            if self.count > MAX_GIF_SUB_BLOCKS:
                raise StructureError(
                    f"the GIF has more than {MAX_GIF_SUB_BLOCKS} data sub-blocks (the limit)",
                    code="too_many_blocks",
                )
            size = content[position]
            position += 1 + size
            if size == 0:
                return position


def _gif(content: bytes) -> Structure:
    packed = content[10]
    position = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    frames, blocks = 0, _GifBlocks(content)
    while True:
        block = content[position]
        if block == 0x3B:  # trailer
            return Structure(end=position + 1, frames=frames, blocks=blocks.count)
        if block == 0x21:  # extension: label, then sub-blocks
            position = blocks.skip(position + 2)
        elif block == 0x2C:  # image descriptor
            frames += 1
            if frames > MAX_ANIMATION_FRAMES:
                return Structure(end=len(content), frames=frames, blocks=blocks.count)
            packed = content[position + 9]
            position += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
            position = blocks.skip(position + 1)  # after LZW code size
        else:
            raise StructureError(
                f"unexpected GIF block 0x{block:02x} at byte {position}", code="corrupt"
            )


def _webp(content: bytes) -> Structure:
    (riff_size,) = struct.unpack_from("<I", content, 4)
    end = 8 + riff_size
    if end > len(content):
        raise IndexError
    position, frames, chunks = 12, 0, 0
    while position + 8 <= end:
        if frames > MAX_ANIMATION_FRAMES:
            return Structure(end=end, frames=frames, blocks=chunks)
        chunks += 1
        if chunks > MAX_WEBP_CHUNKS:
            raise StructureError(
                f"the WebP has more than {MAX_WEBP_CHUNKS} chunks (the limit)",
                code="too_many_chunks",
            )
        kind, size = struct.unpack_from("<4sI", content, position)
        frames += kind == b"ANMF"
        position += 8 + size + (size & 1)
    return Structure(end=end, frames=max(frames, 1), blocks=chunks)


_WALKERS = {"PNG": _png, "JPEG": _jpeg, "GIF": _gif, "WEBP": _webp}

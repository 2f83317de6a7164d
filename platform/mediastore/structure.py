"""Container-level checks Pillow does not make: where the image ends, what follows it, how many
frames and scans it holds, and whether a browser could read it as markup.

Pillow decodes the first frame and stops; it never looks past the image's end marker, and counts
GIF frames only by walking them. These walkers read the container structure (no pixels) in one
pass over the bytes, so they cost little next to the decode, and refuse:
- polyglots: data after the end marker beyond MAX_TRAILING_BYTES (a script, HTML page or ZIP
  archive appended to a valid image), or markup a browser could sniff as HTML;
- frame bombs: more than MAX_ANIMATION_FRAMES frames, counted or declared (APNG acTL);
- scan bombs: progressive JPEGs with more than MAX_JPEG_SCANS scans (each is a full pass of
  the decoder over the image: thousands of them are a CPU bomb in a tiny file);
- containers that end before their end marker (the pixels may decode, the file is still cut).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

# Some encoders pad after the end marker (zeros, 0xFF fill); more than this is a second payload.
MAX_TRAILING_BYTES = 64
MAX_ANIMATION_FRAMES = 1000
MAX_JPEG_SCANS = 100
# Browsers sniff the first 1445 bytes (WHATWG MIME Sniffing, "resource header"); short tags are
# only looked for there, since 4-5 random bytes would match somewhere in a large compressed file.
MARKUP_SNIFF_BYTES = 1445
_SNIFFABLE_MARKUP = re.compile(
    rb"<(?:script|html|!doctype|iframe|body|svg|img|object|embed|head|meta)[\s>/]", re.IGNORECASE
)
# Long tags are looked for in the whole file: random data matches them with negligible odds.
_EMBEDDED_MARKUP = re.compile(rb"<(?:script|iframe|!doctype\s+html|object)[\s>/]", re.IGNORECASE)


class StructureError(ValueError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Structure:
    end: int  # offset just past the image's end marker
    frames: int  # frames counted, or declared when larger (APNG)


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
    trailing = content[found.end :]
    if len(trailing) > MAX_TRAILING_BYTES or b"<" in trailing:
        raise StructureError(
            f"{len(trailing)} bytes of other data follow the end of the {image_format} image "
            f"(at most {MAX_TRAILING_BYTES} bytes of padding are allowed)",
            code="trailing_data",
        )
    if found.frames > MAX_ANIMATION_FRAMES:
        raise StructureError(
            f"the animation has more than {MAX_ANIMATION_FRAMES} frames (the limit)",
            code="too_many_frames",
        )
    return found


def _check_markup(content: bytes) -> None:
    if _SNIFFABLE_MARKUP.search(content, 0, MARKUP_SNIFF_BYTES) or _EMBEDDED_MARKUP.search(content):
        raise StructureError(
            "the file contains HTML or script markup (an image/HTML polyglot)", code="markup"
        )


def _png(content: bytes) -> Structure:
    position, frames, declared = 8, 0, 0
    while True:
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
            return Structure(end=position, frames=max(frames, declared, 1))


def _jpeg(content: bytes) -> Structure:
    position, scans, size = 2, 0, len(content)
    while True:
        # Like libjpeg, skip stray bytes and fill (0xFF runs) before a marker.
        position = content.index(b"\xff", position)
        while content[position + 1] == 0xFF:
            position += 1
        marker = content[position + 1]
        if marker == 0xD9:  # EOI
            return Structure(end=position + 2, frames=1)
        if 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01):
            position += 2
            continue
        (length,) = struct.unpack_from(">H", content, position + 2)
        position += 2 + length
        if marker != 0xDA:  # SOS: entropy-coded data follows until the next real marker
            continue
        scans += 1
        if scans > MAX_JPEG_SCANS:
            raise StructureError(
                f"the JPEG has more than {MAX_JPEG_SCANS} scans", code="too_many_scans"
            )
        while True:
            position = content.index(b"\xff", position)
            following = content[position + 1] if position + 1 < size else 0xD9
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                position += 1 if following == 0xFF else 2
                continue
            break


def _gif_skip_sub_blocks(content: bytes, position: int) -> int:
    while True:
        size = content[position]
        position += 1 + size
        if size == 0:
            return position


def _gif(content: bytes) -> Structure:
    packed = content[10]
    position = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    frames = 0
    while True:
        block = content[position]
        if block == 0x3B:  # trailer
            return Structure(end=position + 1, frames=frames)
        if block == 0x21:  # extension: label, then sub-blocks
            position = _gif_skip_sub_blocks(content, position + 2)
        elif block == 0x2C:  # image descriptor
            frames += 1
            if frames > MAX_ANIMATION_FRAMES:
                return Structure(end=len(content), frames=frames)
            packed = content[position + 9]
            position += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
            position = _gif_skip_sub_blocks(content, position + 1)  # after LZW code size
        else:
            raise StructureError(
                f"unexpected GIF block 0x{block:02x} at byte {position}", code="corrupt"
            )


def _webp(content: bytes) -> Structure:
    (riff_size,) = struct.unpack_from("<I", content, 4)
    end = 8 + riff_size
    if end > len(content):
        raise IndexError
    position, frames = 12, 0
    while position + 8 <= end:
        kind, size = struct.unpack_from("<4sI", content, position)
        frames += kind == b"ANMF"
        position += 8 + size + (size & 1)
    return Structure(end=end, frames=max(frames, 1))


_WALKERS = {"PNG": _png, "JPEG": _jpeg, "GIF": _gif, "WEBP": _webp}

"""Generate the hostile input corpus: files every intake must refuse cleanly.

    python scripts/hostile_corpus.py OUT_DIR

Writes OUT_DIR/<name> for every case plus OUT_DIR/manifest.json ({name: {"kind", "why"}}).
Deterministic (no clock, no unseeded randomness) and small: every file is under 300 KB, though
several declare gigapixel sizes or inflate to hundreds of megabytes. Only Pillow and numpy.

Kinds: dimension bombs, zlib bombs, animated frame and JPEG scan bombs, truncated and corrupt
files, polyglots (image + HTML/script/ZIP), SVG with script, wrong extensions, empty, malformed
EXIF, block floods (one past each container block limit).
Valid-but-odd files that are *accepted* (a real PNG named .jpg, camera JPEGs with data after the
image) are not written here: `accepted_cases()` builds them for
tests/security/test_hostile_corpus.py.
"""

from __future__ import annotations

import io
import json
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import numpy as np
from PIL import Image

SCRIPT = b"<script>fetch('/api/v1/me/').then(r=>r.text()).then(alert)</script>"
HTML_PAGE = b"<!DOCTYPE html><html><body>" + SCRIPT + b"</body></html>"


@dataclass(frozen=True)
class HostileFile:
    name: str
    kind: str
    why: str
    content: bytes


# --- building blocks ---------------------------------------------------------------------------


def _pixels(width: int, height: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _encode(image_format: str, width: int = 64, height: int = 48, **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_pixels(width, height)).save(buffer, format=image_format, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png(
    width: int, height: int, *, idat: bytes, extra: Sequence[bytes] = (), bit_depth=8, color=2
):
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + b"".join(extra)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _zeros_deflated(total: int, block: int = 1 << 22) -> bytes:
    """zlib stream of `total` zero bytes, built in blocks so memory stays small."""
    compressor = zlib.compressobj(9)
    out = bytearray()
    zeros = bytes(min(block, total))
    remaining = total
    while remaining:
        step = min(block, remaining)
        out += compressor.compress(zeros[:step])
        remaining -= step
    out += compressor.flush()
    return bytes(out)


def _jpeg_patch_sof(content: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header's dimensions (SOF0/SOF2) of a JPEG."""
    data = bytearray(content)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0:
            data[at + 5 : at + 9] = struct.pack(">HH", height, width)
            return bytes(data)
    raise ValueError("no SOF marker")


def _jpeg_with_app1(payload: bytes) -> bytes:
    base = _encode("JPEG")
    return base[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + base[2:]


def _tiff_ifd(entries: list[tuple[int, int, int, bytes]], *, count_override: int | None = None):
    """Little-endian TIFF header + one IFD; entries: (tag, type, count, 4-byte value)."""
    count = len(entries) if count_override is None else count_override
    body = struct.pack("<H", count)
    for tag, kind, n, value in entries:
        body += struct.pack("<HHI", tag, kind, n) + value.ljust(4, b"\0")
    return b"II*\x00" + struct.pack("<I", 8) + body + struct.pack("<I", 0)


def _gif_frames(frames: int, width: int = 64, height: int = 64) -> bytes:
    """A GIF with `frames` 1x1 frames (each ~20 bytes): a frame bomb by count."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (
        b"\x21\xf9\x04\x00\x00\x00\x00\x00"  # graphic control: no delay
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        + b"\x02\x02\x44\x01\x00"  # LZW: clear, index 0, end
    )
    return head + loop + frame * frames + b"\x3b"


def _animated(image_format: str, frames: int, size: int = 8) -> bytes:
    images = [
        Image.new("RGB", (size, size), (i % 251, (i * 7) % 253, (i * 13) % 255))
        for i in range(frames)
    ]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format=image_format, save_all=True, append_images=images[1:], duration=10, loop=0
    )
    return buffer.getvalue()


def _flip(content: bytes, start: int, length: int) -> bytes:
    data = bytearray(content)
    for i in range(start, min(start + length, len(data))):
        data[i] ^= 0xA5
    return bytes(data)


# --- the cases ---------------------------------------------------------------------------------


def _dimension_bombs() -> list[HostileFile]:
    tiny_idat = zlib.compress(b"\0" * 64)
    webp = _encode("WEBP", quality=50)
    vp8 = webp.find(b"VP8 ")
    webp_big = bytearray(webp)
    webp_big[vp8 + 14 : vp8 + 18] = struct.pack("<HH", 16383, 16383)
    gif = bytearray(_encode("GIF"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)
    return [
        HostileFile(
            "png_ihdr_100000x100000.png",
            "dimension_bomb",
            "IHDR declares 10^10 pixels (30 GB decoded)",
            _png(100_000, 100_000, idat=tiny_idat),
        ),
        HostileFile(
            "png_ihdr_2147483647x1.png",
            "dimension_bomb",
            "largest width PNG allows",
            _png(2**31 - 1, 1, idat=tiny_idat),
        ),
        HostileFile("png_ihdr_zero_width.png", "corrupt", "width 0", _png(0, 64, idat=tiny_idat)),
        HostileFile(
            "jpeg_sof_65535x65535.jpg",
            "dimension_bomb",
            "frame header declares 4.3 gigapixels",
            _jpeg_patch_sof(_encode("JPEG"), 65535, 65535),
        ),
        HostileFile(
            "jpeg_sof_7072x7072.jpg",
            "dimension_bomb",
            "just over MAX_IMAGE_PIXELS (50,013,184 pixels)",
            _jpeg_patch_sof(_encode("JPEG"), 7072, 7072),
        ),
        HostileFile(
            "gif_screen_65535x65535.gif",
            "dimension_bomb",
            "logical screen 65535x65535",
            bytes(gif),
        ),
        HostileFile(
            "webp_vp8_16383x16383.webp",
            "dimension_bomb",
            "VP8 key frame declares 268 megapixels",
            bytes(webp_big),
        ),
    ]


def _zlib_bombs() -> list[HostileFile]:
    # 1-bit greyscale 20000x20000: 50 MB of scanlines deflate to ~50 KB, 400 M pixels.
    grey_rows = 20_000 * (20_000 // 8 + 1)
    # 7072x7072 RGB (just over the pixel cap): 150 MB of scanlines deflate to ~146 KB.
    rgb_rows = 7072 * (7072 * 3 + 1)
    small = _pixels(16, 16).tobytes()
    rows = b"".join(b"\0" + small[i * 48 : (i + 1) * 48] for i in range(16))
    ztxt = _png_chunk(b"zTXt", b"Comment\0\0" + _zeros_deflated(64 << 20))
    iccp = _png_chunk(b"iCCP", b"icc\0\0" + _zeros_deflated(64 << 20))
    return [
        HostileFile(
            "png_zlib_bomb_1bit_20000x20000.png",
            "zlib_bomb",
            "IDAT inflates to 50 MB, 400 megapixels",
            _png(20_000, 20_000, idat=_zeros_deflated(grey_rows), bit_depth=1, color=0),
        ),
        HostileFile(
            "png_zlib_bomb_rgb_7072x7072.png",
            "zlib_bomb",
            "IDAT inflates to 150 MB, just over the pixel cap",
            _png(7072, 7072, idat=_zeros_deflated(rgb_rows)),
        ),
        HostileFile(
            "png_ztxt_bomb.png",
            "zlib_bomb",
            "zTXt chunk inflates to 64 MB",
            _png(16, 16, idat=zlib.compress(rows), extra=[ztxt]),
        ),
        HostileFile(
            "png_iccp_bomb.png",
            "zlib_bomb",
            "iCCP profile inflates to 64 MB",
            _png(16, 16, idat=zlib.compress(rows), extra=[iccp]),
        ),
    ]


def _jpeg_scan_bomb(repeats: int = 500) -> bytes:
    """A progressive JPEG whose last scan is repeated: each scan is a decoder pass (CPU bomb)."""
    progressive = _encode("JPEG", progressive=True)
    last_scan = progressive.rfind(b"\xff\xda")
    scan = progressive[last_scan:-2]  # up to EOI
    return progressive[:last_scan] + scan * repeats + b"\xff\xd9"


def _jpeg_scan_units(content: bytes) -> list[tuple[int, int]]:
    """(start, end) of each scan of a JPEG with the table segments written just before it (the
    first from its SOS marker), up to the marker that ends its entropy-coded data."""
    units: list[tuple[int, int]] = []
    position, unit_start = 2, None
    while content[position + 1] != 0xD9:
        (length,) = struct.unpack_from(">H", content, position + 2)
        if content[position + 1] != 0xDA:
            position += 2 + length
            continue
        end = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]").search(content, position + 2 + length)
        assert end is not None, "a scan without the marker that ends it"
        units.append((position if unit_start is None else unit_start, end.start()))
        position = unit_start = end.start()
    return units


@cache
def _flat_progressive(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (128, 128, 128)).save(buffer, format="JPEG", progressive=True)
    return buffer.getvalue()


def jpeg_scan_bomb(*, side: int = 7000, repeats: int = 30_000, scan: int | None = None) -> bytes:
    """Issue 14's bomb: a flat side x side progressive JPEG (Pillow's default script, 10 scans)
    whose last 48-byte scan (a chroma refinement with its Huffman table) is repeated `repeats`
    times before EOI. Every scan is a pass of the decoder over the whole coefficient array, so
    30,000 of them (1.7 MB) cost minutes of CPU. `scan`: repeat that scan (0-9) instead."""
    content = _flat_progressive(side)
    units = _jpeg_scan_units(content)
    if scan is None:
        smallest = min(end - start for start, end in units)
        scan = max(i for i, (start, end) in enumerate(units) if end - start == smallest)
    start, end = units[scan]
    return content[:-2] + content[start:end] * repeats + content[-2:]


def _frame_bombs() -> list[HostileFile]:
    apng = bytearray(_animated("PNG", 2))
    actl = apng.find(b"acTL")
    apng[actl + 4 : actl + 8] = struct.pack(">I", 2**31 - 1)
    apng[actl + 12 : actl + 16] = struct.pack(">I", zlib.crc32(bytes(apng[actl : actl + 12])))
    return [
        HostileFile("gif_5000_frames.gif", "frame_bomb", "5,000 frames", _gif_frames(5000)),
        HostileFile("apng_1500_frames.png", "frame_bomb", "1,500 frames", _animated("PNG", 1500)),
        HostileFile(
            "apng_declares_2147483647_frames.png",
            "frame_bomb",
            "acTL declares 2^31-1 frames",
            bytes(apng),
        ),
        HostileFile("jpeg_500_scans.jpg", "scan_bomb", "500 progressive scans", _jpeg_scan_bomb()),
        HostileFile(
            "jpeg_scan_bomb_7000x7000.jpg",
            "scan_bomb",
            "issue 14's bomb with 120 repeats (130 scans; the 30,000-repeat file is 1.7 MB)",
            jpeg_scan_bomb(side=7000, repeats=120),
        ),
        HostileFile(
            "jpeg_21_scans_7000x7000.jpg",
            "scan_bomb",
            "21 scans over 49 megapixels: under MAX_JPEG_SCANS, over MAX_JPEG_SCAN_PIXELS",
            jpeg_scan_bomb(side=7000, repeats=11),
        ),
        HostileFile("webp_1500_frames.webp", "frame_bomb", "1,500 frames", _animated("WEBP", 1500)),
    ]


def _broken() -> list[HostileFile]:
    jpeg, png, webp, gif = (_encode(f) for f in ("JPEG", "PNG", "WEBP", "GIF"))
    progressive = _encode("JPEG", progressive=True)
    sof = jpeg.find(b"\xff\xc0")
    dht = jpeg.find(b"\xff\xc4")
    idat = png.find(b"IDAT")
    vp8 = webp.find(b"VP8")
    return [
        HostileFile("jpeg_truncated_half.jpg", "truncated", "cut at 50%", jpeg[: len(jpeg) // 2]),
        HostileFile("jpeg_header_only.jpg", "truncated", "ends before the scan", jpeg[: sof + 19]),
        HostileFile(
            "jpeg_progressive_truncated.jpg",
            "truncated",
            "progressive, cut at 60%",
            progressive[: len(progressive) * 6 // 10],
        ),
        HostileFile("png_truncated_half.png", "truncated", "cut at 50%", png[: len(png) // 2]),
        HostileFile("png_no_iend.png", "truncated", "IEND missing", png[:-12]),
        HostileFile("webp_truncated_half.webp", "truncated", "cut at 50%", webp[: len(webp) // 2]),
        HostileFile("gif_truncated_half.gif", "truncated", "cut at 50%", gif[: len(gif) // 2]),
        HostileFile("jpeg_bad_huffman.jpg", "corrupt", "DHT garbled", _flip(jpeg, dht + 5, 40)),
        HostileFile("jpeg_bad_sof.jpg", "corrupt", "SOF garbled", _flip(jpeg, sof + 9, 8)),
        HostileFile("png_bad_idat.png", "corrupt", "IDAT stream garbled", _flip(png, idat + 4, 64)),
        HostileFile("png_bad_ihdr_crc.png", "corrupt", "IHDR checksum wrong", _flip(png, 29, 4)),
        HostileFile("webp_bad_vp8.webp", "corrupt", "VP8 header garbled", _flip(webp, vp8 + 8, 16)),
        HostileFile("gif_bad_lzw.gif", "corrupt", "LZW data garbled", _flip(gif, 800, 64)),
        HostileFile(
            "riff_not_webp.webp",
            "corrupt",
            "RIFF/WAVE named .webp",
            b"RIFF\x24\0\0\0WAVEfmt " + bytes(28),
        ),
    ]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        member = zipfile.ZipInfo("evil.class", date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(member, b"\xca\xfe\xba\xbe" + bytes(60))
    return buffer.getvalue()


def _camera_trailer() -> bytes:
    """Binary data like what phones append after the JPEG (zeros, then maker data)."""
    return bytes(512) + np.random.default_rng(11).bytes(23_000)


def _block_floods() -> list[HostileFile]:
    """One past each block limit (the 25 MB versions are in tests/mediastore/test_intake_cost.py):
    every block costs Pillow's header parser a Python call."""
    jpeg, png, webp = _encode("JPEG"), _encode("PNG"), _encode("WEBP")
    private = _png_chunk(b"prIv", b"")
    webp_body = webp[12:] + b"junk\0\0\0\0" * 1100
    return [
        HostileFile(
            "jpeg_1001_comments.jpg",
            "block_flood",
            "1,001 empty COM segments",
            jpeg[:2] + b"\xff\xfe\x00\x02" * 1001 + jpeg[2:],
        ),
        HostileFile(
            "jpeg_fill_bytes.jpg",
            "block_flood",
            "2,000 0xFF fill bytes",
            jpeg[:2] + b"\xff" * 2000 + jpeg[2:],
        ),
        HostileFile(
            "png_20001_chunks.png",
            "block_flood",
            "20,001 empty private chunks",
            png[:33] + private * 20_001 + png[33:],
        ),
        HostileFile(
            "webp_1100_chunks.webp",
            "block_flood",
            "1,100 empty unknown chunks",
            b"RIFF" + struct.pack("<I", len(webp_body) + 4) + b"WEBP" + webp_body,
        ),
    ]


def _flood_after_app0(filler: bytes, total: int) -> bytes:
    jpeg = _encode("JPEG")
    app0_end = 4 + struct.unpack_from(">H", jpeg, 4)[0]
    return jpeg[:app0_end] + filler * (total // len(filler)) + jpeg[app0_end:]


def _flood_in_scan(filler: bytes, total: int) -> bytes:
    jpeg = _encode("JPEG")
    return jpeg[:-2] + filler * (total // len(filler)) + jpeg[-2:]


def _flood_png_chunks(total: int) -> bytes:
    png = _encode("PNG")
    return png[:33] + _png_chunk(b"prIv", b"") * (total // 12) + png[33:]


def _flood_gif_sub_blocks(total: int) -> bytes:
    gif = _encode("GIF")
    header_end = 13 + (3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0)
    comment = b"\x21\xfe" + b"\x01x" * (total // 2) + b"\x00"
    return gif[:header_end] + comment + gif[header_end:]


def _flood_webp_chunks(total: int) -> bytes:
    webp = _encode("WEBP")
    body = webp[12:] + b"junk\0\0\0\0" * (total // 8)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


# Files of about `total` bytes made of the cheapest blocks each format's parser steps through:
# too large for the corpus, built one at a time by tests/mediastore/test_intake_cost.py and
# scripts/bench_intake_cost.py. name: (what it holds, builder of `total` bytes).
FLOODS: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "jpeg_stuffed_entropy_data": ("0xFF 0x00 pairs in a scan", partial(_flood_in_scan, b"\xff\0")),
    "jpeg_restart_markers_in_scan": (
        "RST0 markers in a scan",
        partial(_flood_in_scan, b"\xff\xd0"),
    ),
    "jpeg_markup_lookalikes_in_scan": ("'<' bytes in a scan", partial(_flood_in_scan, b"<")),
    "jpeg_fill_bytes": ("0xFF fill before a marker", partial(_flood_after_app0, b"\xff")),
    "jpeg_stray_bytes": ("zeros between segments", partial(_flood_after_app0, b"\0")),
    "jpeg_empty_comments": ("empty COM segments", partial(_flood_after_app0, b"\xff\xfe\0\x02")),
    "jpeg_standalone_markers": ("0xFF 0x00 outside a scan", partial(_flood_after_app0, b"\xff\0")),
    "png_empty_chunks": ("empty private chunks before IDAT", _flood_png_chunks),
    "gif_one_byte_sub_blocks": ("a comment of one-byte sub-blocks", _flood_gif_sub_blocks),
    "webp_empty_chunks": ("empty unknown chunks", _flood_webp_chunks),
}
FLOOD_BYTES = 25 * 1024 * 1024 - 64 * 1024


def _polyglots() -> list[HostileFile]:
    png, jpeg, gif, webp = (_encode(f) for f in ("PNG", "JPEG", "GIF", "WEBP"))
    html_chunk = _png_chunk(b"tEXt", b"Comment\0" + HTML_PAGE)
    png_html = png[:33] + html_chunk + png[33:]
    jpeg_comment = jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(HTML_PAGE) + 2) + HTML_PAGE
    return [
        HostileFile(
            "png_html_text_chunk.png", "polyglot", "HTML page in an early tEXt chunk", png_html
        ),
        HostileFile("png_html_tail.png", "polyglot", "HTML page after IEND", png + HTML_PAGE),
        HostileFile("png_script_tail.png", "polyglot", "script after IEND", png + SCRIPT),
        HostileFile(
            "jpeg_html_comment.jpg",
            "polyglot",
            "HTML page in a COM segment",
            jpeg_comment + jpeg[2:],
        ),
        HostileFile("jpeg_script_tail.jpg", "polyglot", "script after EOI", jpeg + SCRIPT),
        HostileFile(
            "jpeg_camera_trailer_then_html.jpg",
            "polyglot",
            "HTML page after a 23 KB camera-style trailer",
            jpeg + _camera_trailer() + HTML_PAGE,
        ),
        HostileFile("jpeg_zip_tail.jpg", "polyglot", "ZIP archive after EOI", jpeg + _zip()),
        HostileFile(
            "jpeg_zip_after_camera_trailer.jpg",
            "polyglot",
            "ZIP archive after a 23 KB camera-style trailer",
            jpeg + _camera_trailer() + _zip(),
        ),
        HostileFile("gif_script_tail.gif", "polyglot", "script after the trailer", gif + SCRIPT),
        HostileFile(
            "gif_zip_tail.gif",
            "polyglot",
            "GIFAR: ZIP archive after the trailer",
            gif + b"PK\x03\x04" + bytes(26) + b"evil.class" + bytes(64),
        ),
        HostileFile(
            "webp_script_tail.webp", "polyglot", "script after the RIFF chunk", webp + SCRIPT
        ),
        HostileFile(
            "gif_js_header.gif",
            "polyglot",
            "GIF header that is also JavaScript",
            b"GIF89a/*\x80\0\0" + b"\0" * 6 + b"*/=1;alert(document.domain);//" + gif[19:],
        ),
    ]


def _not_images() -> list[HostileFile]:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" '
        b'onload="alert(document.domain)"><script>alert(1)</script>'
        b'<rect width="64" height="64"/></svg>'
    )
    bmp = io.BytesIO()
    Image.fromarray(_pixels(32, 32)).save(bmp, format="BMP")
    tiff = io.BytesIO()
    Image.fromarray(_pixels(32, 32)).save(tiff, format="TIFF")
    return [
        HostileFile("empty.png", "empty", "0 bytes", b""),
        HostileFile("svg_with_script.svg", "svg", "SVG with script and onload", svg),
        HostileFile("svg_with_script.png", "wrong_extension", "SVG named .png", svg),
        HostileFile("html_page.jpg", "wrong_extension", "HTML named .jpg", HTML_PAGE),
        HostileFile(
            "pdf_document.png",
            "wrong_extension",
            "PDF named .png",
            b"%PDF-1.7\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        ),
        HostileFile(
            "zip_archive.gif", "wrong_extension", "ZIP named .gif", b"PK\x05\x06" + bytes(18)
        ),
        HostileFile(
            "elf_binary.webp",
            "wrong_extension",
            "ELF named .webp",
            b"\x7fELF\x02\x01\x01" + bytes(57),
        ),
        HostileFile(
            "bmp_image.jpg", "wrong_extension", "BMP (not allowed) named .jpg", bmp.getvalue()
        ),
        HostileFile(
            "tiff_image.png", "wrong_extension", "TIFF (not allowed) named .png", tiff.getvalue()
        ),
        HostileFile("text_file.jpg", "wrong_extension", "plain text", b"just some text\n" * 8),
    ]


def _bad_exif() -> list[HostileFile]:
    orientation = 0x0112
    huge_count = _tiff_ifd([(0x010E, 2, 0x7FFFFFF0, struct.pack("<I", 64))])  # ASCII, 2 GB
    bad_offset = _tiff_ifd([(0x010F, 2, 64, struct.pack("<I", 0xFFFFFF00))])
    many_entries = _tiff_ifd([(orientation, 3, 1, b"\x01\0")], count_override=65535)
    bad_orientation = _tiff_ifd([(orientation, 3, 1, struct.pack("<H", 9999))])
    looping = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    looping += struct.pack("<HHI", 0x8769, 4, 1) + struct.pack("<I", 8) + struct.pack("<I", 8)
    png = _encode("PNG")
    big_exif = b"Exif\0\0" + _tiff_ifd([(orientation, 3, 1, b"\x01\0")]) + bytes(1 << 17)
    return [
        HostileFile(
            "jpeg_exif_huge_count.jpg",
            "bad_exif",
            "a tag claims 2 GB of text",
            _jpeg_with_app1(b"Exif\0\0" + huge_count),
        ),
        HostileFile(
            "jpeg_exif_offset_out_of_range.jpg",
            "bad_exif",
            "value offset past the end",
            _jpeg_with_app1(b"Exif\0\0" + bad_offset),
        ),
        HostileFile(
            "jpeg_exif_65535_entries.jpg",
            "bad_exif",
            "IFD claims 65,535 entries, has 1",
            _jpeg_with_app1(b"Exif\0\0" + many_entries),
        ),
        HostileFile(
            "jpeg_exif_orientation_9999.jpg",
            "bad_exif",
            "orientation outside 1-8",
            _jpeg_with_app1(b"Exif\0\0" + bad_orientation),
        ),
        HostileFile(
            "jpeg_exif_ifd_loop.jpg",
            "bad_exif",
            "Exif sub-IFD points at itself",
            _jpeg_with_app1(b"Exif\0\0" + looping),
        ),
        HostileFile(
            "jpeg_exif_garbage.jpg",
            "bad_exif",
            "APP1 'Exif' with random bytes",
            _jpeg_with_app1(b"Exif\0\0" + np.random.default_rng(3).bytes(4000)),
        ),
        HostileFile(
            "png_exif_1mb.png",
            "bad_exif",
            "1 MB eXIf chunk",
            png[:33] + _png_chunk(b"eXIf", big_exif[6:]) + png[33:],
        ),
    ]


CASES: tuple[Callable[[], list[HostileFile]], ...] = (
    _dimension_bombs,
    _zlib_bombs,
    _frame_bombs,
    _broken,
    _polyglots,
    _not_images,
    _bad_exif,
    _block_floods,
)


def accepted_cases() -> list[HostileFile]:
    """Odd but valid files every intake accepts (kind "accepted")."""
    primary = Image.fromarray(_pixels(64, 48, seed=12))
    exif = Image.Exif()
    exif[0x010F] = "Provenant Camera Co"  # Make
    camera, mpo = io.BytesIO(), io.BytesIO()
    primary.save(camera, format="JPEG", exif=exif)
    second = Image.fromarray(_pixels(32, 24, seed=13))
    primary.save(mpo, format="MPO", save_all=True, append_images=[second])
    return [
        HostileFile("png_named.jpg", "accepted", "a PNG named .jpg", _encode("PNG")),
        HostileFile(
            "jpeg_camera_trailer.jpg",
            "accepted",
            "EXIF JPEG with a 23 KB trailer after EOI, as phones write (cf. mate's Wood.jpg)",
            camera.getvalue() + _camera_trailer(),
        ),
        HostileFile(
            "jpeg_mpf_second_image.jpg",
            "accepted",
            "JPEG with an MPF index and a second image after EOI (Pillow: MPO)",
            mpo.getvalue(),
        ),
    ]


def corpus() -> list[HostileFile]:
    files = [item for build in CASES for item in build()]
    names = [item.name for item in files]
    assert len(names) == len(set(names)), "duplicate corpus names"
    return files


def corpus_write(out_dir: Path) -> list[HostileFile]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = corpus()
    for item in files:
        (out_dir / item.name).write_bytes(item.content)
    manifest = {item.name: {"kind": item.kind, "why": item.why} for item in files}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return files


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/hostile_corpus.py OUT_DIR", file=sys.stderr)
        return 2
    files = corpus_write(Path(argv[0]))
    total = sum(len(item.content) for item in files)
    print(f"{len(files)} hostile files, {total} bytes, in {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

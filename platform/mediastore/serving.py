"""HTTP responses for stored media and report artifacts: the only way uploaded bytes go out.

Uploaded files are hostile until proven otherwise (docs/benchmarks.md, "Reliability and
security"): even after intake, a browser must never run them as a page. Every response carries
- X-Content-Type-Options: nosniff, so the declared image or video type is final;
- a Content-Security-Policy that allows nothing but same-origin images and media and sandboxes
  the document, so a file opened directly (not in an <img> or <video>) can run no script and
  reach no other origin; `media-src 'self'` lets the browser's own player page of a video
  opened directly play it;
- Content-Disposition inline with a fixed safe name (never the sender's file name).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, TypeVar

from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from mediastore.images import ALLOWED_FORMATS, FORMAT_EXTENSIONS
from mediastore.renditions import display_rendition
from mediastore.videos import ALLOWED_VIDEO_FORMATS, VIDEO_FORMAT_EXTENSIONS

MEDIA_CONTENT_SECURITY_POLICY = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
MEDIA_CACHE_CONTROL = "private, max-age=3600"
_EXTENSIONS = {mime: FORMAT_EXTENSIONS[name] for name, mime in ALLOWED_FORMATS.items()} | {
    mime: VIDEO_FORMAT_EXTENSIONS[name] for name, mime in ALLOWED_VIDEO_FORMATS.items()
}
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")
# Players seek with single byte ranges ("bytes=START-END", "bytes=START-", "bytes=-SUFFIX");
# anything else (several ranges, other units) gets the whole file, as RFC 9110 allows.
_BYTE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
RANGE_CHUNK_BYTES = 64 * 1024
VIDEO_CONTENT_TYPES = frozenset(ALLOWED_VIDEO_FORMATS.values())
_Response = TypeVar("_Response", bound=HttpResponseBase)


def stored_name(file: FieldFile) -> str:
    """The storage name of a saved file. Every FileField of these models is required, so a
    saved row always names its file; one that does not is a broken row, not a request error."""
    if not file.name:
        raise ValueError(f"{file.instance!r} has no stored file in {file.field.name!r}")
    return file.name


def safe_download_name(stem: str, content_type: str) -> str:
    """ASCII letters, digits, '-' and '_' only, with the extension of the served type."""
    clean = _UNSAFE_NAME_CHARACTERS.sub("-", stem).strip("-")[:80] or "image"
    return f"{clean}.{_EXTENSIONS.get(content_type, 'bin')}"


def media_headers_apply(response: _Response, *, stem: str, content_type: str) -> _Response:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CONTENT_SECURITY_POLICY
    response["Content-Disposition"] = f'inline; filename="{safe_download_name(stem, content_type)}"'
    response["Cache-Control"] = MEDIA_CACHE_CONTROL
    return response


def display_file_response(
    *, file_name: str, key: str, content_type: str, stem: str
) -> HttpResponseBase:
    """A stored image's display rendition (`renditions.display_rendition`, `key` as it takes
    it), or the file itself when it already fits; 404 when the file is missing."""
    try:
        rendition = display_rendition(name=file_name, key=key)
    except FileNotFoundError:
        raise Http404("The media file is missing.") from None
    if rendition is None:
        return media_file_response(file_name=file_name, content_type=content_type, stem=stem)
    name, rendition_type = rendition
    return media_file_response(file_name=name, content_type=rendition_type, stem=stem)


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single-range Range header; None for no or an unsupported header.
    Raises ValueError when the range lies outside the file (416)."""
    found = _BYTE_RANGE.match(header.strip())
    if found is None or not (found[1] or found[2]):
        return None
    if found[1]:
        first = int(found[1])
        last = min(int(found[2]), size - 1) if found[2] else size - 1
    else:  # the last N bytes
        first, last = max(0, size - int(found[2])), size - 1
    if first > last or first >= size:
        raise ValueError(f"bytes {header} of a {size}-byte file")
    return first, last


def _chunks(handle: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = handle.read(min(RANGE_CHUNK_BYTES, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _ranged(handle: IO[bytes], size: int, range_header: str, content_type: str) -> HttpResponseBase:
    """The whole file, the asked byte range (206), or 416 for a range outside the file."""
    try:
        wanted = byte_range(range_header, size)
    except ValueError:
        handle.close()
        response: HttpResponseBase = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if wanted is None:
        response = FileResponse(handle, content_type=content_type)
    else:
        first, last = wanted
        handle.seek(first)
        response = StreamingHttpResponse(
            _chunks(handle, last - first + 1), status=206, content_type=content_type
        )
        response["Content-Length"] = str(last - first + 1)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response


def media_file_response(
    *, file_name: str, content_type: str, stem: str, range_header: str = ""
) -> HttpResponseBase:
    """Stream a stored file (404 when it is missing) with the headers above. Videos are served
    in byte ranges too (`range_header`: the request's Range), so players can seek."""
    if content_type not in _EXTENSIONS:
        # Intake stores only these types; anything else in storage is not ours to serve inline.
        raise Http404("not a servable media type")
    try:
        handle = default_storage.open(file_name, "rb")
    except FileNotFoundError:
        raise Http404("The media file is missing.") from None
    response: HttpResponseBase
    if content_type in VIDEO_CONTENT_TYPES:
        response = _ranged(handle, default_storage.size(file_name), range_header, content_type)
    else:
        response = FileResponse(handle, content_type=content_type)
    return media_headers_apply(response, stem=stem, content_type=content_type)

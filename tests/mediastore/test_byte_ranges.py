"""Byte ranges for players, and what a crafted Range header gets."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, StreamingHttpResponse

from mediastore.serving import byte_range, media_file_response

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=900-", (900, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=990-5000", (990, 999)),  # the end is clipped to the file
        ("", None),
        ("bytes=0-1,5-9", None),  # several ranges: the whole file
        ("items=0-9", None),
        ("bytes=-", None),
        ("bytes=abc-def", None),
    ],
)
def test_single_ranges_are_read_and_anything_else_is_the_whole_file(header, expected):
    assert byte_range(header, SIZE) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=50-10"])
def test_a_range_outside_the_file_is_refused(header):
    with pytest.raises(ValueError):
        byte_range(header, SIZE)


@pytest.fixture
def stored_video(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    name = default_storage.save("clip.mp4", ContentFile(bytes(range(256)) * 4))
    yield name
    default_storage.delete(name)


def _response(name: str, header: str):
    return media_file_response(
        file_name=name, content_type="video/mp4", stem="clip", range_header=header
    )


def test_a_video_is_served_whole_or_in_the_asked_range(stored_video):
    whole = _response(stored_video, "")
    assert isinstance(whole, FileResponse) and whole["Accept-Ranges"] == "bytes"
    part = _response(stored_video, "bytes=10-19")
    assert isinstance(part, StreamingHttpResponse) and part.status_code == 206
    assert b"".join(part.streaming_content) == bytes(range(10, 20))
    assert part["Content-Range"] == "bytes 10-19/1024" and part["Content-Length"] == "10"
    assert part["X-Content-Type-Options"] == "nosniff"


def test_an_unsatisfiable_range_answers_416_with_the_size_and_no_bytes(stored_video):
    refused = _response(stored_video, "bytes=5000-")
    assert refused.status_code == 416
    assert refused["Content-Range"] == "bytes */1024"
    assert refused.content == b""
    assert "sandbox" in refused["Content-Security-Policy"]


def test_images_ignore_ranges(stored_video):
    name = default_storage.save("picture.png", ContentFile(b"\x89PNG" + bytes(100)))
    response = media_file_response(
        file_name=name, content_type="image/png", stem="p", range_header="bytes=0-1"
    )
    assert isinstance(response, FileResponse)
    assert response.status_code == 200 and "Accept-Ranges" not in response
    response.file_to_stream.close()

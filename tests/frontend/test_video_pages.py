"""The item page of a video: player, timeline of aligned and changed spans, the original in step."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from frontend.presenters import item_page_data
from moderation.clock import clock
from moderation.models import Report
from tests.moderation.review_factory import review_item_create

pytestmark = pytest.mark.django_db

VIDEO_DOCUMENT = {
    "media": {
        "kind": "video",
        "width": 640,
        "height": 360,
        "duration_s": 20.0,
        "fps": 25,
        "frames_analysed": 500,
    },
    "timeline": [
        {"time_s": 2.0, "manipulation_probability": 0.1},
        {
            "time_s": 12.0,
            "manipulation_probability": 0.8,
            "faces": [{"bbox": [64, 36, 64, 72], "manipulation_probability": 0.9}],
        },
    ],
}


def _video_item(*, frame_time: float | None = None):
    item = review_item_create(seed=6)
    report = Report.objects.get(submission=item.submission, is_current=True)
    match = {
        **report.document["matches"][0],
        "offset_s": 30.0,
        "speed": 1.0,
        "segments": [
            {
                "start_s": 0.0,
                "end_s": 10.0,
                "ref_start_s": 30.0,
                "ref_end_s": 40.0,
                "edited": False,
                "regions": [],
            },
            {
                "start_s": 10.0,
                "end_s": 15.0,
                "ref_start_s": 40.0,
                "ref_end_s": 45.0,
                "edited": True,
                "regions": [{"bbox": [320, 0, 160, 90], "kind": "added"}],
            },
        ],
    }
    if frame_time is not None:
        match["frame_time_s"] = frame_time
    report.document = {**report.document, **VIDEO_DOCUMENT, "matches": [match]}
    report.save(update_fields=["document"])
    return item, report


def test_clock_reads_like_a_player():
    assert [clock(0), clock(9.96), clock(83.0), clock(3725.5)] == [
        "0:00.0",
        "0:10.0",
        "1:23.0",
        "1:02:05.5",
    ]


def test_a_video_report_becomes_spans_peaks_and_player_data():
    item, report = _video_item()
    video = item_page_data(item=item, report=report)["video"]
    assert video["duration"] == "0:20.0"
    assert [(s["label"], s["edited"], s["left"], s["width"]) for s in video["spans"]] == [
        ("0:00.0\u20130:10.0", False, 0.0, 50.0),
        ("0:10.0\u20130:15.0", True, 50.0, 25.0),
    ]
    assert video["spans"][1]["original_label"] == "0:40.0\u20130:45.0"
    assert [(p["label"], p["percent"]) for p in video["peaks"]] == [("0:12.0", "80%")]
    assert video["original_is_video"] is True
    player = video["player"]
    assert player["segments"][1]["boxes"] == [[50.0, 0.0, 25.0, 25.0]]
    assert player["faces"] == [{"time": 12.0, "boxes": [[10.0, 10.0, 10.0, 20.0, 1]]}]


def test_an_image_report_has_no_video_part():
    item = review_item_create(seed=7)
    report = Report.objects.get(submission=item.submission, is_current=True)
    assert item_page_data(item=item, report=report)["video"] is None


def test_the_item_page_of_a_video_plays_it_with_its_timeline(personas):
    item, _ = _video_item()
    client = Client()
    client.force_login(personas["moderator"])
    html = client.get(f"/review/items/{item.pk}/").content.decode()
    assert f'<video class="base" id="query-video" src="/review/items/{item.pk}/media"' in html
    assert 'id="original-video"' in html
    assert 'id="swipe"' not in html  # the image comparison is not offered for videos
    assert html.count('class="timeline-span') == 2 and 'class="timeline-span edited"' in html
    assert 'data-seek="10.000"' in html  # the changed span can be jumped to
    player = json.loads(re.search(r'id="video-player"[^>]*>(.*?)</script>', html, re.S)[1])
    assert player["offset"] == 30.0 and len(player["segments"]) == 2


def test_an_image_matched_to_a_frame_of_a_video_says_when(personas):
    item, report = _video_item(frame_time=83.0)
    report.document = {k: v for k, v in report.document.items() if k not in ("media", "timeline")}
    report.save(update_fields=["document"])
    client = Client()
    client.force_login(personas["moderator"])
    html = client.get(f"/review/items/{item.pk}/").content.decode()
    assert "a frame of the original video at <strong>1:23.0</strong>" in html
    assert 'id="query-video"' not in html

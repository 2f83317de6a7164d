"""moderation.report_document: reading stored report/1 documents, old, partial or malformed
ones included, without ever raising."""

from __future__ import annotations

import math
from typing import Any

import pytest

from moderation.report_document import (
    MAX_REFERENCE_ID_DIGITS,
    NEAR_MISS_DEFAULT_REASON,
    Detection,
    Face,
    Match,
    MediaInfo,
    NearMiss,
    Region,
    Segment,
    TimelinePoint,
    Verdict,
    detection_of,
    match_of,
    matched_reference_ids,
    matches_of,
    media_of,
    metadata_of,
    models_of,
    near_misses_of,
    reference_id_of,
    related_fact_checks_of,
    timeline_of,
    timings_of,
    verdict_object,
    verdict_of,
)

MALFORMED_DOCUMENTS: list[Any] = [
    None,
    [],
    "report",
    3,
    {},
    {"schema": "report/1"},
    {
        "verdict": "edited_copy",
        "matches": {"0": {}},
        "near_misses": "none",
        "detection": [],
        "metadata": None,
        "related_fact_checks": {"case_id": 1},
        "timings_ms": [1],
        "models": "clip",
    },
    {
        "verdict": {"label": 3, "manipulation_probability": "0.9", "reasons": "edited"},
        "matches": [None, 1, "x", []],
        "near_misses": [None, {"reference": None}, {"reference": {"id": "x"}}],
        "detection": {"manipulation_probability": math.nan, "detectors": "x", "faces": [1]},
        "related_fact_checks": [None, {"case_id": "1"}, {"case_id": True}],
    },
]


def entry_with_id(value: object) -> dict:
    return {"reference": {"id": value}, "reason": "too few inliers"}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (entry_with_id("12"), 12),
        (entry_with_id(12), 12),
        (entry_with_id("9" * MAX_REFERENCE_ID_DIGITS), int("9" * MAX_REFERENCE_ID_DIGITS)),
        (entry_with_id("9" * (MAX_REFERENCE_ID_DIGITS + 1)), None),  # would overflow bigint
        (entry_with_id("١٢"), None),  # Arabic-Indic digits: isdigit() but not an id
        (entry_with_id("²"), None),
        (entry_with_id("-3"), None),
        (entry_with_id(-3), None),
        (entry_with_id(True), None),
        (entry_with_id(1.5), None),
        (entry_with_id(""), None),
        (entry_with_id(None), None),
        ({"reference": "12"}, None),
        ({}, None),
        ("12", None),
        (None, None),
    ],
)
def test_reference_id_of_accepts_plain_digits_only(entry: object, expected: int | None) -> None:
    assert reference_id_of(entry) == expected


@pytest.mark.parametrize("document", [{}, {"near_misses": None}, {"near_misses": {"a": 1}}, []])
def test_documents_without_near_misses_have_none(document: object) -> None:
    assert near_misses_of(document) == []


def test_near_misses_of_skips_malformed_and_repeated_entries() -> None:
    good, later = entry_with_id("12"), entry_with_id("13")
    document = {"near_misses": ["x", 3, None, entry_with_id("abc"), good, entry_with_id(12), later]}
    assert near_misses_of(document) == [
        NearMiss(
            reference={"id": "12"},
            reference_id=12,
            reason="too few inliers",
            inliers=None,
            pdq_distance=None,
            embedding_similarity=None,
        ),
        NearMiss(
            reference={"id": "13"},
            reference_id=13,
            reason="too few inliers",
            inliers=None,
            pdq_distance=None,
            embedding_similarity=None,
        ),
    ]


@pytest.mark.parametrize("document", MALFORMED_DOCUMENTS)
def test_malformed_documents_read_as_empty(document: Any) -> None:
    assert matches_of(document) == []
    assert matched_reference_ids(document) == []
    assert near_misses_of(document) == []
    assert verdict_of(document) == Verdict(label="", manipulation_probability=None, reasons=())
    stored = document.get("verdict") if isinstance(document, dict) else None
    assert verdict_object(document) == (stored if isinstance(stored, dict) else {})
    detection = detection_of(document)
    assert detection is None or detection == Detection(
        manipulation_probability=None, detectors=(), faces=()
    )
    assert dict(metadata_of(document)) == {}
    assert related_fact_checks_of(document) == []
    assert dict(timings_of(document)) == {}
    assert dict(models_of(document)) == {}
    assert media_of(document) == MediaInfo("image", None, None, None, None, None)
    assert timeline_of(document) == []


def test_a_full_match_is_read_with_its_regions() -> None:
    entry = {
        "reference": {"id": 7, "external_id": "afp-1", "source": "AFP", "url": "https://x"},
        "similarity": 0.93,
        "inliers": 120,
        "edited": True,
        "edited_fraction": 0.05,
        "regions": [
            {"bbox": [1, 2, 30, 40], "area_fraction": 0.01, "kind": "added"},
            {"bbox": [1, 2, "wide", 4], "area_fraction": None},
            "not a region",
        ],
        "verified_by": "dense_alignment",
        "mirrored": True,
    }
    assert match_of(entry) == Match(
        reference={"id": 7, "external_id": "afp-1", "source": "AFP", "url": "https://x"},
        reference_id=7,
        similarity=0.93,
        inliers=120,
        edited=True,
        edited_fraction=0.05,
        regions=(
            Region(bbox=(1.0, 2.0, 30.0, 40.0), area_fraction=0.01, kind="added"),
            Region(bbox=None, area_fraction=None, kind="altered"),
        ),
        verified_by="dense_alignment",
        mirrored=True,
    )


def test_an_old_match_without_newer_keys_reads_with_defaults() -> None:
    match = match_of({"reference": {"id": "x"}, "inliers": -1, "similarity": True})
    assert match == Match(
        reference={"id": "x"},
        reference_id=None,
        similarity=None,
        inliers=None,
        edited=False,
        edited_fraction=None,
        regions=(),
        verified_by="",
        mirrored=False,
    )


def test_a_video_report_is_read_with_media_segments_and_timeline() -> None:
    document = {
        "media": {
            "kind": "video",
            "width": 1280,
            "height": 720,
            "duration_s": 61.5,
            "fps": 30,
            "frames_analysed": True,
        },
        "matches": [
            {
                "reference": {"id": 3},
                "offset_s": 12.5,
                "speed": 1.0,
                "segments": [
                    {
                        "start_s": 0,
                        "end_s": 4.0,
                        "ref_start_s": 12.5,
                        "ref_end_s": 16.5,
                        "edited": True,
                        "regions": [{"bbox": [1, 2, 3, 4], "kind": "text"}],
                    },
                    {"start_s": 5.0, "end_s": 4.0},
                    {"start_s": "soon", "end_s": 9.0},
                ],
            },
            {"reference": {"id": 4}, "frame_time_s": 83.0},
        ],
        "timeline": [
            {"time_s": 1.0, "manipulation_probability": 0.2, "faces": [{"bbox": [0, 0, 9, 9]}]},
            {"time_s": 0.0, "manipulation_probability": "high"},
            {"manipulation_probability": 0.9},
        ],
    }
    assert media_of(document) == MediaInfo("video", 1280, 720, 61.5, 30.0, None)
    first, second = matches_of(document)
    assert (first.offset_s, first.speed, first.frame_time_s) == (12.5, 1.0, None)
    assert first.segments == (
        Segment(0.0, 4.0, 12.5, 16.5, True, (Region((1.0, 2.0, 3.0, 4.0), None, "text"),)),
    )
    assert (second.segments, second.frame_time_s) == ((), 83.0)
    assert timeline_of(document) == [
        TimelinePoint(0.0, None, ()),
        TimelinePoint(1.0, 0.2, (Face((0.0, 0.0, 9.0, 9.0), None),)),
    ]
    assert media_of({"media": {"kind": "audio"}}).kind == "image"


def test_stored_objects_are_read_only_copies() -> None:
    reference = {"id": 1}
    match = match_of({"reference": reference})
    with pytest.raises(TypeError):
        match.reference["id"] = 2  # type: ignore[index]
    reference["id"] = 3
    assert match.reference["id"] == 1


def test_matched_reference_ids_are_valid_unique_and_in_order() -> None:
    document = {
        "matches": [
            {"reference": {"id": 5}},
            {"reference": {"id": "abc"}},
            {"reference": {"id": "3"}},
            {"reference": {"id": 5}},
            {},
        ]
    }
    assert matched_reference_ids(document) == [5, 3]


def test_near_miss_evidence_is_kept_when_well_formed() -> None:
    document = {
        "near_misses": [
            {
                "reference": {"id": 4, "source": "AP"},
                "reason": "",
                "inliers": 7,
                "pdq_distance": 80,
                "embedding_similarity": 0.61,
            },
            {
                "reference": {"id": 5},
                "reason": "colours differ",
                "inliers": "7",
                "pdq_distance": -1,
                "embedding_similarity": math.inf,
            },
        ]
    }
    first, second = near_misses_of(document)
    assert (first.reason, first.inliers, first.pdq_distance, first.embedding_similarity) == (
        NEAR_MISS_DEFAULT_REASON,
        7,
        80,
        0.61,
    )
    assert (second.reason, second.inliers, second.pdq_distance, second.embedding_similarity) == (
        "colours differ",
        None,
        None,
        None,
    )


def test_verdict_detection_and_context_are_read() -> None:
    verdict = {"label": "edited_copy", "manipulation_probability": 0.97, "reasons": ["a", 2]}
    document = {
        "verdict": verdict,
        "detection": {
            "manipulation_probability": 0.2,
            "detectors": [{"name": "mvss", "score": 0.2}, "x"],
            "faces": [
                {"bbox": [0, 0, 10, 10], "manipulation_probability": 0.8},
                {"bbox": "x", "manipulation_probability": None},
            ],
        },
        "metadata": {"width": 640},
        "related_fact_checks": [{"case_id": 2, "score": 0.7}, {"case_id": None}],
        "timings_ms": {"total": 12},
        "models": {"clip": "ViT-B-32"},
    }
    assert verdict_of(document) == Verdict(
        label="edited_copy", manipulation_probability=0.97, reasons=("a", "2")
    )
    assert verdict_object(document) == verdict and verdict_object(document) is not verdict
    assert detection_of(document) == Detection(
        manipulation_probability=0.2,
        detectors=({"name": "mvss", "score": 0.2},),
        faces=(
            Face(bbox=(0.0, 0.0, 10.0, 10.0), manipulation_probability=0.8),
            Face(bbox=None, manipulation_probability=None),
        ),
    )
    assert metadata_of(document)["width"] == 640
    assert related_fact_checks_of(document) == [{"case_id": 2, "score": 0.7}]
    assert timings_of(document)["total"] == 12
    assert models_of(document)["clip"] == "ViT-B-32"


def test_text_in_image_reads_old_and_malformed_documents() -> None:
    from moderation.report_document import TextLine, text_in_image_of

    old = text_in_image_of({"schema": "report/1"})
    assert old.read is False and old.lines == () and old.text == ""
    document = {
        "text_in_image": {
            "lines": [
                {"text": "kept", "bbox": [1, 2, 3, 4], "confidence": 0.9},
                {"text": "", "bbox": [1, 2, 3, 4]},
                {"text": "no box", "bbox": [1, 2]},
                {"text": 5, "bbox": [1, 2, 3, 4]},
                "not an object",
                {"text": "no confidence", "bbox": [0, 0, 1, 1], "confidence": "high"},
            ],
            "text": ["not", "a", "string"],
        }
    }
    read = text_in_image_of(document)
    assert read.read is True
    assert read.lines == (
        TextLine("kept", (1.0, 2.0, 3.0, 4.0), 0.9),
        TextLine("no confidence", (0.0, 0.0, 1.0, 1.0), None),
    )
    assert read.text == "kept\nno confidence"
    assert text_in_image_of({"text_in_image": "junk"}).read is False

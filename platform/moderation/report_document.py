"""Reading a stored report/1 document: the one module that knows where its parts are.

A stored report may be old (written before a key existed), partial or hand-edited, so nothing
here raises on what it reads: a missing or malformed list is empty, an entry that is not an
object is skipped, a number that is not a finite number is None, a reference id that is not
plain digits (at most MAX_REFERENCE_ID_DIGITS) is None. The writer is `moderation.pipeline`;
the top-level key names below are shared with it. Items of `matches` and `near_misses` are
written by `factcheck.core.matcher` (`Match.to_dict`, `NearMiss.to_dict`) and completed with
their `reference` object by `factcheck.selectors`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from factcheck.core.matcher import NOT_VERIFIED

REPORT_SCHEMA = "report/1"
# Top-level keys (platform/moderation/README.md documents the ones added since DESIGN.md).
SCHEMA = "schema"
INPUT = "input"
TEXT = "text"
VERDICT = "verdict"
MATCHES = "matches"
CANDIDATES = "candidates"
NEAR_MISSES = "near_misses"
FACT_CHECKS = "fact_checks"
RELATED_FACT_CHECKS = "related_fact_checks"
DETECTION = "detection"
METADATA = "metadata"
TIMINGS = "timings_ms"
MODELS = "models"
# Each detection model's stamp: name, version, runtime, licence, commercial_use, source,
# config_sha256, shadow (detection.core.interface.DetectorConfig.stamp).
MODEL_DETAILS = "model_details"
MEDIA = "media"  # {kind, width, height; for videos duration_s, fps, frames_analysed}
TIMELINE = "timeline"  # videos: the detectors' probability and faces per sampled time
SENSITIVE_REGIONS = "sensitive_regions"  # images: explicit-content boxes, blurred for reviewers
TEXT_IN_IMAGE = "text_in_image"  # images: the text read in the picture, its lines and boxes
# The first (best) match's reference id as a JSON path for database lookups (KT, the review
# queue's groups of items with the same matched original).
FIRST_MATCH_REFERENCE_ID_PATH = f"document__{MATCHES}__0__reference__id"
MEDIA_IMAGE = "image"
MEDIA_VIDEO = "video"

# Below 2**63: an id from a document or a URL never overflows the integer column it is looked up
# in.
MAX_REFERENCE_ID_DIGITS = 18
# What a near miss without a reason says (verification gave none): the matcher's own words.
NEAR_MISS_DEFAULT_REASON = NOT_VERIFIED
# A region without a kind is an altered one (the oldest reports had no kinds).
DEFAULT_REGION_KIND = "altered"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Region:
    """An edited region of a match: bbox in query pixels (None when malformed)."""

    bbox: tuple[float, float, float, float] | None
    area_fraction: float | None
    kind: str


@dataclass(frozen=True)
class Segment:
    """A stretch of a video query aligned with its original (`matches[i].segments` item): times
    in query seconds and the original's seconds; changed regions in query pixels."""

    start_s: float
    end_s: float
    ref_start_s: float | None
    ref_end_s: float | None
    edited: bool
    regions: tuple[Region, ...]


@dataclass(frozen=True)
class Match:
    """A verified original (`matches` item)."""

    reference: Mapping[str, Any]  # the stored reference object, read-only ({} when missing)
    reference_id: int | None
    similarity: float | None
    inliers: int | None
    edited: bool
    edited_fraction: float | None
    regions: tuple[Region, ...]
    verified_by: str  # "" when absent (reports older than dense alignment)
    mirrored: bool
    # Videos: the original's time at query time 0, its playback speed relative to the query's,
    # and the aligned stretches. An image matched to a frame of a video: that frame's time.
    offset_s: float | None = None
    speed: float | None = None
    segments: tuple[Segment, ...] = ()
    frame_time_s: float | None = None


@dataclass(frozen=True)
class NearMiss:
    """A candidate verification rejected (`near_misses` item); its reference id is valid."""

    reference: Mapping[str, Any]
    reference_id: int
    reason: str
    inliers: int | None
    pdq_distance: int | None
    embedding_similarity: float | None


@dataclass(frozen=True)
class Verdict:
    label: str  # "" when absent
    manipulation_probability: float | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Face:
    bbox: tuple[float, float, float, float] | None
    manipulation_probability: float | None  # None: not judged


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # MEDIA_IMAGE (also for reports older than the key) or MEDIA_VIDEO
    width: int | None
    height: int | None
    duration_s: float | None
    fps: float | None
    frames_analysed: int | None


@dataclass(frozen=True)
class TimelinePoint:
    """A sampled time of a video: the detectors' probability there and the faces found."""

    time_s: float
    manipulation_probability: float | None
    faces: tuple[Face, ...]


@dataclass(frozen=True)
class Detection:
    manipulation_probability: float | None
    detectors: tuple[Mapping[str, Any], ...]  # the stored objects (name, version, score)
    faces: tuple[Face, ...]
    sample_interval_s: float | None = None  # videos: seconds between the frames judged


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


def _objects(value: Any) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _is_int(value: Any) -> bool:
    """An int, not a bool (JSON true/false load as bools, which Python counts as ints)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    if (_is_int(value) or isinstance(value, float)) and math.isfinite(value):
        return float(value)
    return None


def _count(value: Any) -> int | None:
    return value if _is_int(value) and value >= 0 else None


def _bbox(value: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    numbers = [_number(v) for v in value]
    if any(n is None for n in numbers):
        return None
    x, y, w, h = (float(n) for n in numbers if n is not None)
    return x, y, w, h


def reference_id_of(entry: Any) -> int | None:
    """The reference id of a `matches` or `near_misses` item, or None when it is malformed."""
    value = _object(_object(entry).get("reference")).get("id")
    if _is_int(value):
        value = str(value)
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and len(value) <= MAX_REFERENCE_ID_DIGITS
    ):
        return int(value)
    return None


def _region(entry: dict[str, Any]) -> Region:
    kind = entry.get("kind")
    return Region(
        bbox=_bbox(entry.get("bbox")),
        area_fraction=_number(entry.get("area_fraction")),
        kind=kind if isinstance(kind, str) and kind else DEFAULT_REGION_KIND,
    )


def _segment(entry: dict[str, Any]) -> Segment | None:
    start, end = _number(entry.get("start_s")), _number(entry.get("end_s"))
    if start is None or end is None or end < start:
        return None
    return Segment(
        start_s=start,
        end_s=end,
        ref_start_s=_number(entry.get("ref_start_s")),
        ref_end_s=_number(entry.get("ref_end_s")),
        edited=bool(entry.get("edited")),
        regions=tuple(_region(region) for region in _objects(entry.get("regions"))),
    )


def _faces(value: Any) -> tuple[Face, ...]:
    return tuple(
        Face(
            bbox=_bbox(face.get("bbox")),
            manipulation_probability=_number(face.get("manipulation_probability")),
        )
        for face in _objects(value)
    )


def match_of(entry: dict[str, Any]) -> Match:
    """One `matches` item read (the pipeline's own matches too, before they are stored)."""
    verified_by = entry.get("verified_by")
    segments = (_segment(segment) for segment in _objects(entry.get("segments")))
    return Match(
        reference=MappingProxyType(dict(_object(entry.get("reference")))),
        reference_id=reference_id_of(entry),
        similarity=_number(entry.get("similarity")),
        inliers=_count(entry.get("inliers")),
        edited=bool(entry.get("edited")),
        edited_fraction=_number(entry.get("edited_fraction")),
        regions=tuple(_region(region) for region in _objects(entry.get("regions"))),
        verified_by=verified_by if isinstance(verified_by, str) else "",
        mirrored=bool(entry.get("mirrored")),
        offset_s=_number(entry.get("offset_s")),
        speed=_number(entry.get("speed")),
        segments=tuple(segment for segment in segments if segment is not None),
        frame_time_s=_number(entry.get("frame_time_s")),
    )


def matches_of(document: Any) -> list[Match]:
    """The verified matches, best first (entries that are not objects skipped)."""
    return [match_of(entry) for entry in _objects(_object(document).get(MATCHES))]


def matched_reference_ids(document: Any) -> list[int]:
    """The valid reference ids of the matches, best first, each once."""
    ids = [match.reference_id for match in matches_of(document)]
    return list(dict.fromkeys(i for i in ids if i is not None))


def near_misses_of(document: Any) -> list[NearMiss]:
    """The well-formed near misses, best first, each reference once ([] for documents older
    than the key); an entry without a valid reference id is skipped."""
    found: list[NearMiss] = []
    seen: set[int] = set()
    for entry in _objects(_object(document).get(NEAR_MISSES)):
        reference_id = reference_id_of(entry)
        if reference_id is None or reference_id in seen:
            continue
        seen.add(reference_id)
        reason = entry.get("reason")
        similarity = _number(entry.get("embedding_similarity"))
        found.append(
            NearMiss(
                reference=MappingProxyType(dict(entry["reference"])),
                reference_id=reference_id,
                reason=str(reason) if reason else NEAR_MISS_DEFAULT_REASON,
                inliers=_count(entry.get("inliers")),
                pdq_distance=_count(entry.get("pdq_distance")),
                embedding_similarity=similarity,
            )
        )
    return found


def verdict_of(document: Any) -> Verdict:
    verdict = _object(_object(document).get(VERDICT))
    label = verdict.get("label")
    reasons = verdict.get("reasons")
    return Verdict(
        label=label if isinstance(label, str) else "",
        manipulation_probability=_number(verdict.get("manipulation_probability")),
        reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
    )


def verdict_object(document: Any) -> dict[str, Any]:
    """The stored `verdict` object as it is (a copy; {} when missing), for payloads that pass
    it on unchanged."""
    return dict(_object(_object(document).get(VERDICT)))


def detection_of(document: Any) -> Detection | None:
    """The detection part, or None when the document has none (or it is not an object)."""
    detection = _object(document).get(DETECTION)
    if not isinstance(detection, dict) or not detection:
        return None
    return Detection(
        manipulation_probability=_number(detection.get("manipulation_probability")),
        detectors=tuple(_objects(detection.get("detectors"))),
        faces=_faces(detection.get("faces")),
        sample_interval_s=_number(detection.get("sample_interval_s")),
    )


def media_of(document: Any) -> MediaInfo:
    """What was analysed; an image when the document predates the key or names no kind."""
    media = _object(_object(document).get(MEDIA))
    kind = MEDIA_VIDEO if media.get("kind") == MEDIA_VIDEO else MEDIA_IMAGE
    return MediaInfo(
        kind=kind,
        width=_count(media.get("width")),
        height=_count(media.get("height")),
        duration_s=_number(media.get("duration_s")),
        fps=_number(media.get("fps")),
        frames_analysed=_count(media.get("frames_analysed")),
    )


def timeline_of(document: Any) -> list[TimelinePoint]:
    """A video's sampled times in time order ([] for images and older documents); a point
    without a valid time is skipped."""
    points = []
    for entry in _objects(_object(document).get(TIMELINE)):
        time_s = _number(entry.get("time_s"))
        if time_s is not None:
            points.append(
                TimelinePoint(
                    time_s=time_s,
                    manipulation_probability=_number(entry.get("manipulation_probability")),
                    faces=_faces(entry.get("faces")),
                )
            )
    return sorted(points, key=lambda point: point.time_s)


def metadata_of(document: Any) -> Mapping[str, Any]:
    return _object(_object(document).get(METADATA))


def related_fact_checks_of(document: Any) -> list[dict[str, Any]]:
    """The stored related fact-checks that name their case by an integer `case_id`."""
    return [
        entry
        for entry in _objects(_object(document).get(RELATED_FACT_CHECKS))
        if _is_int(entry.get("case_id"))
    ]


@dataclass(frozen=True)
class SensitiveRegion:
    bbox: tuple[float, float, float, float]
    label: str


def sensitive_regions_of(document: Any) -> list[SensitiveRegion]:
    """The explicit-content regions ([] for older documents); malformed entries are skipped."""
    regions = []
    for entry in _objects(_object(document).get(SENSITIVE_REGIONS)):
        bbox = _bbox(entry.get("bbox"))
        if bbox is not None and bbox[2] > 0 and bbox[3] > 0:
            label = entry.get("label")
            regions.append(SensitiveRegion(bbox, label if isinstance(label, str) else ""))
    return regions


def timings_of(document: Any) -> Mapping[str, Any]:
    return _object(_object(document).get(TIMINGS))


def models_of(document: Any) -> Mapping[str, Any]:
    return _object(_object(document).get(MODELS))


@dataclass(frozen=True)
class ModelStamp:
    """One `model_details` entry: which model judged the report, under which licence."""

    name: str
    version: str
    runtime: str
    licence: str | None
    commercial_use: bool | None  # None: the model's config states no licence
    source: str | None
    config_sha256: str | None
    shadow: bool


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def model_details_of(document: Any) -> list[ModelStamp]:
    """The detection models' stamps ([] for reports written before they were recorded)."""
    stamps = []
    for entry in _objects(_object(document).get(MODEL_DETAILS)):
        name = _text(entry.get("name"))
        if name is None:
            continue
        commercial = entry.get("commercial_use")
        stamps.append(
            ModelStamp(
                name=name,
                version=str(entry.get("version", "")),
                runtime=_text(entry.get("runtime")) or "builtin",
                licence=_text(entry.get("licence")),
                commercial_use=commercial if isinstance(commercial, bool) else None,
                source=_text(entry.get("source")),
                config_sha256=_text(entry.get("config_sha256")),
                shadow=entry.get("shadow") is True,
            )
        )
    return stamps


@dataclass(frozen=True)
class TextLine:
    """A line of text read in the image; bbox in image pixels."""

    text: str
    bbox: tuple[float, float, float, float]
    confidence: float | None


@dataclass(frozen=True)
class TextInImage:
    text: str
    lines: tuple[TextLine, ...]
    read: bool  # False: the document predates text recognition (or is a video's)


def text_in_image_of(document: Any) -> TextInImage:
    """The text read in the image (empty for older documents and videos); lines without text or
    a valid box are skipped, a `text` that is not a string reads as the lines joined."""
    stored = _object(document).get(TEXT_IN_IMAGE)
    part = _object(stored)
    lines = []
    for entry in _objects(part.get("lines")):
        text, bbox = entry.get("text"), _bbox(entry.get("bbox"))
        if isinstance(text, str) and text.strip() and bbox is not None:
            lines.append(TextLine(text, bbox, _number(entry.get("confidence"))))
    text = part.get("text")
    if not isinstance(text, str):
        text = "\n".join(line.text for line in lines)
    return TextInImage(text, tuple(lines), read=isinstance(stored, dict))

"""Turn a report/1 document into what the item page shows (plain data, a few small queries)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.urls import reverse

from accounts.models import ViewingPreferences
from factcheck.cases.selectors import cases_for_reference_ids, published_cases
from factcheck.core.fingerprints import PDQ_BITS
from factcheck.core.matcher import (
    DENSE_EDIT_NOT_CONFIRMING,
    DENSE_NOT_CONFIRMING,
    DETAIL_DIFFERS,
    VERIFIED_BY_DENSE,
    VERIFIED_BY_TIME,
)
from factcheck.core.verify import CONCENTRATED, TOO_TILTED
from factcheck.models import Reference
from mediastore.models import MediaObject
from moderation import report_document as doc
from moderation.clock import clock
from moderation.fact_checks import MATCHED_ON_TEXT_IN_IMAGE
from moderation.models import NearMissJudgement, Report, ReportArtifact, ReviewItem, Submission
from moderation.near_misses import near_miss_judgements
from moderation.verdict import (
    EDITED_COPY,
    LIKELY_MANIPULATED,
    NO_EVIDENCE,
    NOT_APPLICABLE,
    UNALTERED_COPY,
    VERDICT_TEXT,
    contribution_of,
    contribution_words,
    match_weight,
    verdict_why,
)

# Every verdict label (moderation.verdict owns them), in the order the queue offers them.
VERDICTS: dict[str, dict[str, str]] = {
    # tone drives the colour; the symbol and words carry the meaning without it.
    EDITED_COPY: {"text": VERDICT_TEXT[EDITED_COPY], "tone": "alert", "symbol": "!"},
    LIKELY_MANIPULATED: {"text": VERDICT_TEXT[LIKELY_MANIPULATED], "tone": "alert", "symbol": "!"},
    UNALTERED_COPY: {"text": VERDICT_TEXT[UNALTERED_COPY], "tone": "ok", "symbol": "="},
    NO_EVIDENCE: {"text": VERDICT_TEXT[NO_EVIDENCE], "tone": "calm", "symbol": "-"},
    NOT_APPLICABLE: {"text": VERDICT_TEXT[NOT_APPLICABLE], "tone": "muted", "symbol": "?"},
}
VERDICT_LABELS = tuple(VERDICTS)
PENDING_VERDICT = {"text": "Analysis pending", "tone": "muted", "symbol": "…"}
# Faces above this manipulation probability stay sharp under the wellness blur.
FLAGGED_FACE_PROBABILITY = 0.5
# Why verification rejected a near miss, in plain words (the reasons come from
# factcheck.core.verify and factcheck.core.dense); any other reason is shown as it is.
NEAR_MISS_REASONS: dict[str, str] = {
    doc.NEAR_MISS_DEFAULT_REASON: "The search found it, but verification did not confirm it.",
    DENSE_NOT_CONFIRMING: "The whole picture lines up with it, but it has too little detail to "
    "tell it apart from similar pictures: compare them yourself.",
    DENSE_EDIT_NOT_CONFIRMING: "The picture lines up with it except in one part, which differs: "
    "an edited copy, perhaps, or another picture of the same layout (a card with other words). "
    "Compare them yourself.",
    "too few matches": "Too few details of the two images could be paired up to compare them.",
    "too few inliers": "Too few matching points line up between the two images to confirm "
    "they are the same picture.",
    "no homography": "The matching points do not fit any one view of the original.",
    "degenerate homography": "The matching points do not fit any plausible view of the original.",
    "homography flips orientation": "The matching points only line up in a turned-over, "
    "impossible arrangement.",
    "homography too anisotropic": "The points only line up if the original is stretched far "
    "out of shape.",
    TOO_TILTED: "The points only line up if the original is tilted steeply, as in a photo of a "
    "screen: perhaps another picture with the same frame or layout.",
    DETAIL_DIFFERS: "It lines up, but most of its detail differs from the submitted image: "
    "perhaps another picture with the same layout, frame or font.",
    "overlap too small": "The two images share too small an area.",
    CONCENTRATED: "The matching points sit in one small area (a shared logo or "
    "object, perhaps), not across the picture.",
    "dense alignment did not converge": "The two images could not be aligned to compare them "
    "pixel by pixel.",
    "dense overlap too small": "Once aligned, the two images share too small an area.",
    "dense alignment correlates poorly": "Once aligned, the two images do not look alike "
    "closely enough.",
    "fine detail differs": "The pictures look alike overall but their fine detail differs: "
    "perhaps another shot of the same scene.",
    "colours differ": "The images line up, but their colours differ too much for a copy.",
}
NEAR_MISS_JUDGEMENT_TEXT = {
    NearMissJudgement.Judgement.CONFIRMED.value: "Confirmed as the original by",
    NearMissJudgement.Judgement.DISMISSED.value: "Dismissed by",
}
# The pipeline writes at most 3; a malformed document cannot flood the page.
NEAR_MISSES_SHOWN = 3
# A sampled time of a video is marked on the timeline as a detector peak above this probability.
TIMELINE_PEAK_PROBABILITY = 0.5


def verdict_display(label: str | None) -> dict[str, str]:
    if not label:
        return {"label": "", **PENDING_VERDICT}
    return {"label": label, **VERDICTS.get(label, {"text": label, "tone": "muted", "symbol": "?"})}


def is_sensitive(*, item: ReviewItem, label: str | None) -> bool:
    """Blur by default: a sensitive verdict label, source, or a flag sent with the content."""
    return submission_sensitive(submission=item.submission, label=label)


def submission_sensitive(*, submission: Submission, label: str | None) -> bool:
    """Whether pictures of `submission` (with its report's verdict `label`) open blurred: the
    item page and the public fact-check page alike."""
    sources = set(settings.REVIEW_SENSITIVE_SOURCES)
    client_slug = submission.client.slug if submission.client is not None else ""
    return bool(
        (label and label in settings.REVIEW_SENSITIVE_LABELS)
        or (submission.platform and submission.platform in sources)
        or (client_slug and client_slug in sources)
        or (isinstance(submission.metadata, dict) and submission.metadata.get("sensitive") is True)
    )


def _percent(value: Any) -> str:
    try:
        return f"{float(value) * 100:.0f}%"
    except (TypeError, ValueError):
        return "\u2013"


def _box(
    bbox: tuple[float, float, float, float] | None, width: int, height: int
) -> dict[str, Any] | None:
    """A bbox in pixels as percentages of the image, for overlays that scale with zoom (template
    data: callers add their own keys)."""
    if bbox is None or width <= 0 or height <= 0:
        return None
    x, y, w, h = bbox
    return {
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        "left": 100 * x / width,
        "top": 100 * y / height,
        "width": 100 * w / width,
        "height": 100 * h / height,
    }


def _matches(item: ReviewItem, matches: list[doc.Match]) -> list[dict[str, Any]]:
    ids = {match.reference_id for match in matches if match.reference_id is not None}
    kinds = (
        dict(Reference.objects.filter(pk__in=ids).values_list("pk", "media__kind")) if ids else {}
    )
    known = set(kinds)
    return [
        {
            "reference": dict(match.reference),
            "image_url": reverse("review-reference", args=[item.pk, match.reference_id])
            if match.reference_id in known
            else None,
            "display_url": _display_url(item, match.reference_id)
            if match.reference_id is not None
            and kinds.get(match.reference_id) == MediaObject.Kind.IMAGE
            else None,
            "similarity": _percent(match.similarity),
            "inliers": match.inliers,
            "evidence": _match_evidence(match),
            "edited": match.edited,
            "edited_fraction": _percent(match.edited_fraction),
            "regions": match.regions,
            "frame_time": clock(match.frame_time_s) if match.frame_time_s is not None else None,
            # The original's file is a video: pages show it in a player, not an <img>.
            "reference_is_video": match.reference_id in kinds
            and kinds[match.reference_id] == MediaObject.Kind.VIDEO,
        }
        for match in matches
    ]


def _display_url(item: ReviewItem, reference_id: int) -> str:
    """An original's display-sized rendition (the full file stays one click away)."""
    return reverse("review-reference", args=[item.pk, reference_id]) + "?display=1"


def _face_boxes(faces: tuple[doc.Face, ...], width: int, height: int) -> list[list[float]]:
    """[left, top, width, height (% of the frame), flagged (1 or 0)] of each well-formed face."""
    found = []
    for face in faces:
        box = _box(face.bbox, width, height)
        if box is not None:
            flagged = (face.manipulation_probability or 0) > FLAGGED_FACE_PROBABILITY
            found.append([box["left"], box["top"], box["width"], box["height"], int(flagged)])
    return found


def _video(
    document: dict[str, Any], matches: list[doc.Match], width: int, height: int
) -> dict[str, Any] | None:
    """What the item page needs for a video: the timeline's spans and peaks (positions in % of
    the duration) and, for review.js, the alignment with the original and the boxes over time."""
    media = doc.media_of(document)
    if media.kind != doc.MEDIA_VIDEO or not media.duration_s:
        return None
    duration = media.duration_s

    def position(start: float, end: float) -> dict[str, float]:
        left = min(100.0, max(0.0, 100 * start / duration))
        return {"left": left, "width": max(0.4, min(100.0 - left, 100 * (end - start) / duration))}

    best = matches[0] if matches else None
    segments = best.segments if best is not None else ()
    spans = [
        {
            "start_s": segment.start_s,
            "end_s": segment.end_s,
            "edited": segment.edited,
            "label": f"{clock(segment.start_s)}\u2013{clock(segment.end_s)}",
            "original_label": f"{clock(segment.ref_start_s)}\u2013{clock(segment.ref_end_s)}"
            if segment.ref_start_s is not None and segment.ref_end_s is not None
            else "",
            **position(segment.start_s, segment.end_s),
        }
        for segment in segments
    ]
    timeline = doc.timeline_of(document)
    peaks = [
        {
            "time_s": point.time_s,
            "label": clock(point.time_s),
            "percent": _percent(point.manipulation_probability),
            **position(point.time_s, point.time_s),
        }
        for point in timeline
        if (point.manipulation_probability or 0) > TIMELINE_PEAK_PROBABILITY
    ]

    def boxes(regions: Any) -> list[list[float]]:
        found = (_box(bbox, width, height) for bbox in regions)
        return [[b["left"], b["top"], b["width"], b["height"]] for b in found if b is not None]

    player = {
        "duration": duration,
        "fps": media.fps or 0,
        "offset": best.offset_s if best is not None else None,
        "speed": best.speed if best is not None and best.speed else 1.0,
        "segments": [
            {
                "start": s.start_s,
                "end": s.end_s,
                "ref_start": s.ref_start_s,
                "ref_end": s.ref_end_s,
                "edited": s.edited,
                "boxes": boxes(region.bbox for region in s.regions),
            }
            for s in segments
        ],
        "faces": [
            {"time": point.time_s, "boxes": face_boxes}
            for point in timeline
            if (face_boxes := _face_boxes(point.faces, width, height))
        ],
    }
    return {
        "duration": clock(duration),
        "fps": media.fps,
        "frames_analysed": media.frames_analysed,
        "spans": spans,
        "edited_spans": [span for span in spans if span["edited"]],
        "peaks": peaks,
        "peak_threshold": _percent(TIMELINE_PEAK_PROBABILITY),
        "original_is_video": best is not None and best.offset_s is not None,
        "player": player,
    }


def _near_miss_evidence(entry: doc.NearMiss) -> list[str]:
    """What the search and verification measured, in words; absent or malformed values are
    left out."""
    evidence = []
    if entry.inliers is not None:
        evidence.append(f"{entry.inliers} matching point{'' if entry.inliers == 1 else 's'}")
    similarity = entry.embedding_similarity
    if similarity is not None:
        evidence.append(f"global likeness {_percent(max(0.0, min(1.0, similarity)))}")
    distance = entry.pdq_distance
    if distance is not None and distance <= PDQ_BITS:
        evidence.append(f"fingerprints differ in {distance} of {PDQ_BITS} bits")
    return evidence


def _judgement_text(judgement: NearMissJudgement | None) -> str:
    if judgement is None:
        return ""
    said = NEAR_MISS_JUDGEMENT_TEXT.get(judgement.judgement, f"{judgement.judgement} by")
    return f"{said} {judgement.actor.get_username()}"


def _near_misses(item: ReviewItem, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's near misses (best first, verified matches left out) with why each was not
    confirmed, the evidence in words and the reviewers' current judgement."""
    matched = set(doc.matched_reference_ids(document))
    entries = [
        entry for entry in doc.near_misses_of(document) if entry.reference_id not in matched
    ][:NEAR_MISSES_SHOWN]
    if not entries:
        return []
    ids = [entry.reference_id for entry in entries]
    known = set(Reference.objects.filter(pk__in=ids).values_list("pk", flat=True))
    judgements = near_miss_judgements(submission=item.submission)
    near_misses = []
    for entry in entries:
        reference_id, reason = entry.reference_id, entry.reason
        judgement = judgements.get(reference_id)
        near_misses.append(
            {
                "reference": dict(entry.reference),
                "reference_id": reference_id,
                "image_url": reverse("review-reference", args=[item.pk, reference_id])
                if reference_id in known
                else None,
                "display_url": _display_url(item, reference_id) if reference_id in known else None,
                "reason": reason,
                "why": NEAR_MISS_REASONS.get(reason, reason),
                "evidence": _near_miss_evidence(entry),
                "judgement": judgement,
                "judgement_text": _judgement_text(judgement),
            }
        )
    return near_misses


def _match_evidence(match: doc.Match) -> str:
    """How the match was verified, in words (a dense match has matching points only where it
    was aligned from them)."""
    if match.verified_by == VERIFIED_BY_DENSE and match.inliers:
        evidence = f"whole picture aligned from {match.inliers} matching points in one part"
    elif match.verified_by == VERIFIED_BY_DENSE:
        evidence = "whole picture aligned (too little texture for matching points)"
    elif match.verified_by == VERIFIED_BY_TIME:
        evidence = "frames line up in time"
    else:
        evidence = f"{match.inliers or 0} matching points"
    return f"{evidence} · mirrored" if match.mirrored else evidence


def _fact_checks(document: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(published cases holding a matched original, published fact-checks related to the
    caption or the text in the image). The first is looked up now (one cheap query, so a case
    published after the analysis shows too); the second was computed by the analysis task (the
    sentence model is too slow for a page) and is kept only while each case is still
    published."""
    covering = cases_for_reference_ids(set(doc.matched_reference_ids(document)))
    stored = doc.related_fact_checks_of(document)
    still_published = set(
        published_cases()
        .filter(pk__in=[entry["case_id"] for entry in stored])
        .values_list("pk", flat=True)
        if stored
        else []
    )
    related = [
        {
            **entry,
            "percent": _percent(entry.get("score")),
            "from_text_in_image": entry.get("matched_on") == MATCHED_ON_TEXT_IN_IMAGE,
        }
        for entry in stored
        if entry["case_id"] in still_published
    ]
    return covering, related


def _signals(
    label: str, matches: list[doc.Match], detection: doc.Detection | None
) -> list[dict[str, Any]]:
    """Each signal the verdict weighed (moderation.verdict's rule), with its push on the verdict
    in words: the verified original, then the forensic detectors."""
    signals = []
    detector_probability = detection.manipulation_probability if detection else None
    detectors_usable = detector_probability is not None and label != NOT_APPLICABLE
    detector_weight = 1.0
    if matches:
        best = matches[0]
        weight = match_weight(best.inliers or 0) if detectors_usable else 1.0
        detector_weight = 1.0 - weight
        source = best.reference.get("source") or "a trusted source"
        found = "shows changed content" if best.edited else "shows the same content"
        signals.append(
            {
                "name": f"Verified original from {source}",
                "finding": f"this copy {found}",
                "words": contribution_words(
                    contribution_of(weight=weight, probability=1.0 if best.edited else 0.0)
                ),
            }
        )
    elif label != NOT_APPLICABLE:
        signals.append(
            {
                "name": "Search for an original",
                "finding": "none was found",
                "words": contribution_words(0.0),
            }
        )
    if detectors_usable:
        contribution = contribution_of(weight=detector_weight, probability=detector_probability)
        signals.append(
            {
                "name": "Forensic detectors",
                "finding": "see signs of editing"
                if (detector_probability or 0) >= 0.5
                else "see no clear sign of editing",
                "words": contribution_words(contribution),
            }
        )
    return signals


def item_page_data(
    *, item: ReviewItem, report: Report | None, viewing: ViewingPreferences | None = None
) -> dict[str, Any]:
    """Everything the item page renders about the report version shown; `viewing` the
    reviewer's wellness preferences (blur every item, greyscale)."""
    media = item.submission.media
    document: dict[str, Any] = report.document if report is not None else {}
    metadata = doc.metadata_of(document)
    shown = doc.media_of(document)
    width = shown.width or _dimension(metadata.get("width")) or media.width
    height = shown.height or _dimension(metadata.get("height")) or media.height
    verdict = doc.verdict_of(document)
    detection = doc.detection_of(document)
    matches = _matches(item, doc.matches_of(document)) if report is not None else []
    near_misses = _near_misses(item, document) if report is not None else []
    artifacts: dict[str, str] = {}
    if report is not None:
        for artifact in report.artifacts.all():
            artifacts[artifact.kind] = reverse(
                "review-artifact", args=[item.pk, report.version, artifact.kind]
            )
    faces = []
    for face in detection.faces if detection is not None else ():
        box = _box(face.bbox, width, height)
        if box is not None:
            probability = face.manipulation_probability
            box["probability"] = _percent(probability) if probability is not None else "unknown"
            box["flagged"] = probability is not None and probability > FLAGGED_FACE_PROBABILITY
            faces.append(box)
    regions = []
    if matches:
        for region in matches[0]["regions"]:
            box = _box(region.bbox, width, height)
            if box is not None:
                box["kind"] = region.kind
                box["area"] = _percent(region.area_fraction)
                regions.append(box)
    fact_checks, related_fact_checks = _fact_checks(document) if report else ([], [])
    flagged_boxes = [
        [r["x"], r["y"], r["w"], r["h"]] for r in regions + [f for f in faces if f["flagged"]]
    ]
    label = report.label if report is not None else ""
    sensitive = is_sensitive(item=item, label=label or None)
    # Detector-only verdicts outline the forensic map's strongest areas on the image (review.js).
    outline_map = bool(
        not matches
        and label == LIKELY_MANIPULATED
        and artifacts.get(ReportArtifact.Kind.FORENSIC_MAP)
    )
    return {
        "report": report,
        "verdict": verdict_display(report.label if report else None),
        # The one number on the page: the calibrated probability the verdict uses.
        "probability": _percent(verdict.manipulation_probability)
        if report is not None and label != NOT_APPLICABLE
        else None,
        "why": verdict_why(
            label,
            regions=len(regions),
            outlined=outline_map,
        )
        if report is not None
        else "",
        "signals": _signals(label, doc.matches_of(document), detection) if report else [],
        "outline_map": outline_map,
        "reasons": list(verdict.reasons),
        "matches": matches,
        "best_match": matches[0] if matches else None,
        "near_misses": near_misses,
        "fact_checks": fact_checks,
        "related_fact_checks": related_fact_checks,
        "artifacts": artifacts,
        "aligned_reference_url": artifacts.get(ReportArtifact.Kind.ALIGNED_REFERENCE),
        "width": width,
        "height": height,
        "faces": faces,
        "regions": regions,
        "flagged_boxes": flagged_boxes,
        "detectors": [
            {
                **d,
                "percent": _percent(d.get("score")),
                "bar": _bar(d.get("score")),
                "words": contribution_words(_contribution(d.get("score"))),
            }
            for d in (detection.detectors if detection is not None else ())
        ],
        "exif": sorted(exif.items()) if isinstance(exif := metadata.get("exif"), dict) else [],
        "c2pa": metadata.get("c2pa"),
        "format": metadata.get("format") or media.format,
        "timings": dict(doc.timings_of(document)),
        "models": sorted(doc.models_of(document).items()),
        "sensitive": sensitive,
        "blurred": sensitive or bool(viewing and viewing.always_blur),
        "greyscale": bool(viewing and viewing.greyscale),
        "explicit_regions": [
            box
            for region in doc.sensitive_regions_of(document)
            if (box := _box(region.bbox, width, height)) is not None
        ],
        "text_in_image": _text_in_image(document, width, height),
        "video": _video(document, doc.matches_of(document), width, height)
        if report is not None
        else None,
    }


def _text_in_image(document: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    """The text read in the image, and each line's box for the overlay."""
    read = doc.text_in_image_of(document)
    lines = []
    for line in read.lines:
        box = _box(line.bbox, width, height)
        if box is not None:
            confidence = line.confidence
            lines.append(
                {**box, "text": line.text, "confidence": _percent(confidence) if confidence else ""}
            )
    return {"read": read.read, "lines": lines}


def _dimension(value: Any) -> int:
    """A stored width or height, 0 when missing or malformed (the media row's is used then)."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError, OverflowError):
        return 0


def _contribution(score: Any) -> float:
    """One detector's score as a push on its own (weight 1), for its words in the details."""
    try:
        return contribution_of(weight=1.0, probability=float(score))
    except (TypeError, ValueError):
        return 0.0


def _bar(score: Any) -> int:
    try:
        return max(0, min(100, round(float(score) * 100)))
    except (TypeError, ValueError):
        return 0


def lease_remaining(item: ReviewItem, now: dt.datetime) -> int | None:
    if item.lease_expires_at is None:
        return None
    return max(0, int((item.lease_expires_at - now).total_seconds()))

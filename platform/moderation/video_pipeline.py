"""The analysis of a video: bytes in, a report/1 document (`media.kind = "video"`) and the
annotated result video out (issue 17).

`video_analyze` is the one function behind the analysis task and `manage.py analyze` for videos,
as `pipeline.image_analyze` is for images:
1. intake's checks (`mediastore.videos.inspect_video`);
2. one decoding pass: every frame hashed (the vPDQ-format fingerprint), and a frame kept every
   sampling interval (`factcheck.video_store.video_read`);
3. fact-check matching in time against the reference videos, the best match localised frame by
   frame on the samples (`factcheck.video_references.video_report_matches`);
4. the detectors on the samples, faces tracked over time (`moderation.video_detection`);
5. fact-check context and the verdict, fused exactly as for images;
6. a second decoding pass draws the annotated video (`moderation.video_rendering`), when asked.
It writes nothing of its own; storing the report and its artifacts is the caller's business.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from factcheck.core.video_fingerprint import VideoFingerprint
from factcheck.video_references import video_report_matches
from factcheck.video_store import sample_interval, video_read
from mediastore.videos import inspect_video, iter_frames
from moderation import fact_checks
from moderation import report_document as doc
from moderation.models import ReportArtifact
from moderation.pipeline import EncodedArtifact, elapsed_ms, engine_pool, timed
from moderation.rendering import png_encode
from moderation.report_document import REPORT_SCHEMA
from moderation.verdict import VERDICT_TEXT, DetectionSignal, Verdict, verdict_fuse
from moderation.video_detection import DETECTION_SAMPLE_S, VideoDetection, video_detection
from moderation.video_rendering import (
    MAX_ANNOTATED_SIDE,
    EditedSpan,
    FaceBox,
    VideoAnnotations,
    annotated_video_write,
    contact_sheet,
)


@dataclass
class VideoAnalysis:
    document: dict[str, Any]
    verdict: Verdict
    annotated: AnnotatedOutput | None = None  # when asked for (video_annotate otherwise)
    # The query's temporal fingerprint, kept with the submission so a re-check against new
    # references never decodes the video again (moderation.recheck).
    fingerprint: VideoFingerprint | None = None

    def artifact_pngs(self) -> dict[str, EncodedArtifact]:
        """The artifacts to store with the report (named as the image analysis's): the
        annotated video and contact sheet when they were made with it."""
        return self.annotated.artifacts() if self.annotated is not None else {}


def _timed_detection(
    samples: list[tuple[float, np.ndarray]], *, interval: float, scale: float
) -> tuple[VideoDetection, float]:
    began = time.perf_counter()
    found = video_detection(samples, interval=interval, scale=scale)
    return found, elapsed_ms(began)


def _annotations(document: dict[str, Any]) -> VideoAnnotations:
    """What the annotated video shows, read from the report: changed spans with their regions,
    faces over time, the detectors' trace and the verdict."""
    matches = doc.matches_of(document)
    segments = matches[0].segments if matches else ()
    timeline = doc.timeline_of(document)
    verdict = doc.verdict_of(document)
    detection = doc.detection_of(document)
    interval = detection.sample_interval_s if detection is not None else None
    return VideoAnnotations(
        duration_s=doc.media_of(document).duration_s or 0.0,
        verdict_text=VERDICT_TEXT.get(verdict.label, verdict.label),
        probability=verdict.manipulation_probability,
        spans=tuple(
            EditedSpan(
                s.start_s,
                s.end_s,
                tuple(region.bbox for region in s.regions if region.bbox is not None),
            )
            for s in segments
            if s.edited
        ),
        faces=tuple(
            FaceBox(point.time_s, face.bbox, face.manipulation_probability)
            for point in timeline
            for face in point.faces
            if face.bbox is not None
        ),
        timeline=tuple(
            (point.time_s, point.manipulation_probability)
            for point in timeline
            if point.manipulation_probability is not None
        ),
        face_hold_s=(interval or DETECTION_SAMPLE_S) / 2,
    )


@dataclass
class AnnotatedOutput:
    video: bytes  # MP4
    size: tuple[int, int]  # width, height
    contact_sheet: np.ndarray | None  # None without changed spans

    def artifacts(self) -> dict[str, EncodedArtifact]:
        """By ReportArtifact kind: the annotated video (MP4) and the contact sheet (PNG)."""
        found: dict[str, EncodedArtifact] = {
            ReportArtifact.Kind.ANNOTATED: (self.video, *self.size)
        }
        if self.contact_sheet is not None:
            height, width = self.contact_sheet.shape[:2]
            found[ReportArtifact.Kind.CONTACT_SHEET] = (
                png_encode(self.contact_sheet),
                width,
                height,
            )
        return found


def video_annotate(*, content: bytes, document: dict[str, Any]) -> AnnotatedOutput:
    """The annotated result video of a video and its report (a second decoding pass)."""
    info = inspect_video(content)
    output = io.BytesIO()
    written = annotated_video_write(
        iter_frames(content, max_side=MAX_ANNOTATED_SIDE),
        _annotations(document),
        output,
        fps=info.fps,
        width=info.display_width,
        height=info.display_height,
    )
    return AnnotatedOutput(output.getvalue(), written.size, contact_sheet(written.sheet))


def video_analyze(
    *, content: bytes, input_name: str, text: str = "", annotate: bool = False
) -> VideoAnalysis:
    """Run the whole pipeline on one video's bytes; with `annotate`, also draw the annotated
    video (the analysis task leaves that to a task of its own, so the report comes first).
    Raises VideoRejected for bad input (also mid-stream, at a decoding limit) and
    DetectionUnavailable when the detector files (or the video calibration) are broken."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    info = inspect_video(content)
    duration = info.duration_s or 0.0
    interval = sample_interval(duration, DETECTION_SAMPLE_S)
    read = video_read(content, fps=info.fps, sample_every_s=interval)
    timings["decode_and_hash"] = elapsed_ms(started)
    duration = max(duration, read.fingerprint.duration_s)
    sample_width = read.samples[0][1].shape[1] if read.samples else info.display_width
    scale = info.display_width / sample_width
    # The detectors run in a helper thread while matching (which reads the database on this
    # thread's connection) decodes the original: both spend their time in native code.
    detection_future = engine_pool().submit(
        _timed_detection, read.samples, interval=interval, scale=scale
    )
    with timed(timings, "factcheck"):
        found = video_report_matches(read=read, interval_s=interval, scale=scale)
    detection, timings["detection"] = detection_future.result()
    with timed(timings, "fact_checks"):
        matches, case_links = fact_checks.matches_with_fact_checks(found)
        related = fact_checks.related_fact_checks(text)
    verdict = verdict_fuse(
        matches=matches,
        fact_checks=case_links,
        detection=DetectionSignal(
            applicable=detection.applicable,
            probability=detection.probability,
            reasons=detection.reasons,
            not_applicable_reason=detection.not_applicable_reason,
        ),
    )
    document: dict[str, Any] = {
        doc.SCHEMA: REPORT_SCHEMA,
        doc.INPUT: input_name,
        doc.TEXT: text,
        doc.MEDIA: {
            "kind": doc.MEDIA_VIDEO,
            "width": info.display_width,
            "height": info.display_height,
            "duration_s": round(duration, 3),
            "fps": round(info.fps, 3),
            "frames_analysed": len(read.fingerprint.frames),
            "frames_sampled": len(read.samples),
        },
        doc.VERDICT: verdict.to_dict(),
        doc.MATCHES: matches,
        doc.CANDIDATES: [],
        doc.NEAR_MISSES: [],
        doc.FACT_CHECKS: case_links,
        doc.RELATED_FACT_CHECKS: related,
        doc.DETECTION: detection.detection,
        doc.TIMELINE: detection.timeline,
        doc.METADATA: {
            "width": info.width,
            "height": info.height,
            "format": info.format,
            "codec": info.codec,
            "rotation": info.rotation,
            "exif": {},
            "c2pa": None,
        },
        doc.TIMINGS: {},
        doc.MODELS: detection.models,
        doc.MODEL_DETAILS: detection.model_details,
    }
    analysis = VideoAnalysis(document=document, verdict=verdict, fingerprint=read.fingerprint)
    if annotate:
        with timed(timings, "annotated_video"):
            analysis.annotated = video_annotate(content=content, document=document)
    timings["total"] = elapsed_ms(started)
    document[doc.TIMINGS] = {
        **timings,
        **{f"detection.{step}": ms for step, ms in detection.timings_ms.items()},
    }
    return analysis

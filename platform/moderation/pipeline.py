"""The analysis pipeline: bytes in, report/1 document and artifact images out.

`image_analyze` is the one function behind both the Celery task (moderation.analysis) and
`manage.py analyze`: decode once (allowlisted formats, pixel cap, EXIF orientation), fact-check
matching, detection and metadata, fact-check context (moderation.fact_checks), verdict fusion.
It writes nothing of its own (the claim index may cache new claims' embeddings); storing the
report is the caller's business, so the command can run it without creating rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detection import selectors as detection_selectors
from factcheck import selectors as factcheck_selectors
from mediastore.images import decode_rgb
from moderation import fact_checks, rendering
from moderation import report_document as doc
from moderation.report_document import REPORT_SCHEMA
from moderation.verdict import DetectionSignal, Verdict, verdict_fuse

ARTIFACT_KINDS = (
    "edit_mask",
    "edit_overlay",
    "aligned_reference",
    "forensic_map",
    "forensic_overlay",
    "faces_overlay",
)


@dataclass(frozen=True)
class DecodedImage:
    image: np.ndarray  # RGB uint8, upright
    format: str


# One stored artifact: (PNG bytes, width, height).
EncodedArtifact = tuple[bytes, int, int]


@dataclass
class Analysis:
    """One analysed image: the report document plus the arrays its artifacts are drawn from."""

    document: dict[str, Any]
    verdict: Verdict
    image: np.ndarray
    edit_mask: np.ndarray | None = None  # best match only
    aligned_reference: np.ndarray | None = None
    forensic_map: np.ndarray | None = None
    faces: list[dict[str, Any]] = field(default_factory=list)
    # Artifacts already encoded while the analysis ran (image_analyze(encode_artifacts=True)).
    encoded: dict[str, EncodedArtifact] = field(default_factory=dict)

    def artifact_images(self) -> dict[str, np.ndarray]:
        """Every artifact that applies, by ReportArtifact kind (rendered on demand)."""
        return {
            **_match_artifacts(self.image, self.edit_mask, self.aligned_reference),
            **_detection_artifacts(self.image, self.forensic_map, self.faces),
        }

    def artifact_pngs(self) -> dict[str, EncodedArtifact]:
        """Every artifact that applies as PNG, by kind; encoded now unless already done."""
        kinds = set(_match_artifact_kinds(self.edit_mask, self.aligned_reference))
        kinds |= set(_detection_artifact_kinds(self.forensic_map, self.faces))
        if kinds <= set(self.encoded):
            return {kind: self.encoded[kind] for kind in ARTIFACT_KINDS if kind in kinds}
        return {
            kind: self.encoded.get(kind) or _encoded(image)
            for kind, image in self.artifact_images().items()
        }


def _match_artifact_kinds(edit_mask: Any, aligned_reference: Any) -> list[str]:
    kinds = ["edit_mask", "edit_overlay"] if edit_mask is not None else []
    return kinds + (["aligned_reference"] if aligned_reference is not None else [])


def _detection_artifact_kinds(forensic_map: Any, faces: list[dict[str, Any]]) -> list[str]:
    kinds = ["forensic_map", "forensic_overlay"] if forensic_map is not None else []
    return kinds + (["faces_overlay"] if faces else [])


def _match_artifacts(
    image: np.ndarray, edit_mask: np.ndarray | None, aligned_reference: np.ndarray | None
) -> dict[str, np.ndarray]:
    images: dict[str, np.ndarray] = {}
    if edit_mask is not None:
        images["edit_mask"] = edit_mask
        images["edit_overlay"] = rendering.edit_overlay(image, edit_mask)
    if aligned_reference is not None:
        images["aligned_reference"] = aligned_reference
    return images


def _detection_artifacts(
    image: np.ndarray, forensic_map: np.ndarray | None, faces: list[dict[str, Any]]
) -> dict[str, np.ndarray]:
    images: dict[str, np.ndarray] = {}
    if forensic_map is not None:
        images["forensic_map"] = forensic_map
        images["forensic_overlay"] = rendering.forensic_overlay(image, forensic_map)
    if faces:
        images["faces_overlay"] = rendering.faces_overlay(image, faces)
    return images


def _encoded(image: np.ndarray) -> EncodedArtifact:
    return rendering.png_encode(image), image.shape[1], image.shape[0]


def _encode_all(images: dict[str, np.ndarray]) -> dict[str, EncodedArtifact]:
    return {kind: _encoded(image) for kind, image in images.items()}


def image_decode(content: bytes) -> DecodedImage:
    """Decode once through the upload gate (mediastore.images.decode_rgb makes every check:
    size, format allowlist, pixel cap, structure, EXIF); raises ImageRejected."""
    return DecodedImage(*decode_rgb(content))


_pool_lock = threading.Lock()
_pools: dict[str, ThreadPoolExecutor] = {}
# The helper threads' names: detection (then explicit-content regions) on one, text in the image
# on the other, so reading text overlaps both fact-check matching and detection (each is one
# core's work: onnxruntime and torch run single-threaded there).
DETECTION_THREAD = "detection"
TEXT_THREAD = "text"


def engine_pool(name: str = DETECTION_THREAD) -> ThreadPoolExecutor:
    """One helper thread per process and name, made on first use (after a prefork worker
    forked)."""
    with _pool_lock:
        if name not in _pools:
            _pools[name] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        return _pools[name]


def _detect(
    image: np.ndarray, encode_artifacts: bool
) -> tuple[detection_selectors.DetectionOutcome, float, float, dict[str, EncodedArtifact]]:
    """Detection, then (if asked) its artifacts' PNGs: the helper thread encodes them while
    fact-check matching still runs on the caller's thread. Returns the outcome, the
    milliseconds of each part and the PNGs."""
    began = time.perf_counter()
    outcome = detection_selectors.image_detection(image=image)
    elapsed = elapsed_ms(began)
    began = time.perf_counter()
    encoded: dict[str, EncodedArtifact] = {}
    if encode_artifacts and outcome.applicable:
        encoded = _encode_all(_detection_artifacts(image, outcome.forensic_map, outcome.faces))
    return outcome, elapsed, elapsed_ms(began), encoded


def _sensitive(image: np.ndarray) -> tuple[list[dict[str, Any]], float]:
    """The report's explicit-content regions, and the milliseconds they took."""
    began = time.perf_counter()
    return detection_selectors.sensitive_regions(image=image), elapsed_ms(began)


def _read_text(image: np.ndarray) -> tuple[dict[str, Any], float]:
    """The report's text in the image, and the milliseconds reading it took."""
    began = time.perf_counter()
    return detection_selectors.text_in_image(image=image), elapsed_ms(began)


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def image_analyze(
    *,
    content: bytes,
    input_name: str,
    text: str = "",
    decoded: DecodedImage | None = None,
    encode_artifacts: bool = False,
) -> Analysis:
    """Run the whole pipeline on one image's bytes (`decoded`: the caller already decoded them).

    `encode_artifacts`: also encode every artifact as PNG (Analysis.encoded), each engine's on
    its own thread as soon as that engine is done, for a caller that stores them all.
    Raises ImageRejected for bad input and detection.selectors.DetectionUnavailable when the
    detector files are broken.
    """
    started = time.perf_counter()
    decoded = decoded or image_decode(content)
    image = decoded.image
    timings: dict[str, float] = {"decode": elapsed_ms(started)}

    # Helper threads: one reads the text in the image, the other runs detection then the
    # explicit-content regions, both overlapping fact-check matching here.
    text_future = engine_pool(TEXT_THREAD).submit(_read_text, image)
    detection_future = engine_pool().submit(_detect, image, encode_artifacts)
    sensitive_future = engine_pool().submit(_sensitive, image)
    found, encoded = _matching_run(image, encode_artifacts, timings)
    height, width = image.shape[:2]
    with timed(timings, "metadata"):
        metadata = detection_selectors.media_metadata(
            content=content, image_format=decoded.format, width=width, height=height
        )
    with timed(timings, "fact_checks"):
        matches, case_links = fact_checks.matches_with_fact_checks(found.matches)
    related, text_in_image = _related(text, text_future, timings)
    outcome, detection_encoded = _detection_result(detection_future, timings)
    encoded.update(detection_encoded)
    # Extension of report/1: explicit-content regions, blurred on the review page by default.
    sensitive, timings["sensitive_regions"] = sensitive_future.result()

    verdict = _verdict(matches, case_links, outcome)
    timings["total"] = elapsed_ms(started)
    document = {
        doc.SCHEMA: REPORT_SCHEMA,
        doc.INPUT: input_name,
        doc.TEXT: text,
        doc.VERDICT: verdict.to_dict(),
        doc.MATCHES: matches,
        **_evidence(found, case_links, related, outcome),
        doc.SENSITIVE_REGIONS: sensitive,
        doc.TEXT_IN_IMAGE: text_in_image,
        doc.METADATA: metadata,
        doc.TIMINGS: _report_timings(timings, found.timings_ms, outcome.timings_ms),
        doc.MODELS: {**found.models, **outcome.models, **detection_selectors.TEXT_IN_IMAGE_MODEL},
        doc.MODEL_DETAILS: outcome.model_details,
    }
    return Analysis(
        document=document,
        verdict=verdict,
        image=image,
        edit_mask=found.edit_masks[0] if found.matches else None,
        aligned_reference=found.aligned_references[0] if found.matches else None,
        forensic_map=outcome.forensic_map if outcome.applicable else None,
        faces=list(outcome.faces),
        encoded=encoded,
    )


def _matching_run(
    image: np.ndarray, encode_artifacts: bool, timings: dict[str, float]
) -> tuple[factcheck_selectors.ImageMatches, dict[str, EncodedArtifact]]:
    """Fact-check matching of `image` on this thread (it reads the database: the caller's
    connection and transaction), with its artifacts' PNGs if asked. The helper thread's work
    overlaps it: both spend most of their time in native code that releases the GIL."""
    with timed(timings, "factcheck"):
        found = factcheck_selectors.image_matches(image=image)
    encoded: dict[str, EncodedArtifact] = {}
    if encode_artifacts and found.matches:
        with timed(timings, "match_artifacts"):
            encoded = _encode_all(
                _match_artifacts(image, found.edit_masks[0], found.aligned_references[0])
            )
    return found, encoded


def _detection_result(
    future: Future[
        tuple[detection_selectors.DetectionOutcome, float, float, dict[str, EncodedArtifact]]
    ],
    timings: dict[str, float],
) -> tuple[detection_selectors.DetectionOutcome, dict[str, EncodedArtifact]]:
    outcome, timings["detection"], artifacts_ms, encoded = future.result()
    if encoded:
        timings["detection_artifacts"] = artifacts_ms
    return outcome, encoded


def _related(
    caption: str, text_future: Future[tuple[dict[str, Any], float]], timings: dict[str, float]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Published fact-checks whose claims mean the same as the caption or the text read in the
    image (the sentence model loads on the first such text per process), and that text (an
    extension of report/1)."""
    with timed(timings, "related_fact_checks"):
        by_caption = fact_checks.related_fact_checks(caption)
    text_in_image, timings["text_in_image"] = text_future.result()
    with timed(timings, "related_fact_checks_text_in_image"):
        by_text = fact_checks.related_fact_checks(
            text_in_image["text"], matched_on=fact_checks.MATCHED_ON_TEXT_IN_IMAGE
        )
    return fact_checks.related_merged(by_caption, by_text), text_in_image


def _verdict(
    matches: list[dict[str, Any]],
    case_links: list[dict[str, Any]],
    outcome: detection_selectors.DetectionOutcome,
) -> Verdict:
    return verdict_fuse(
        matches=matches,
        fact_checks=case_links,
        detection=DetectionSignal(
            applicable=outcome.applicable,
            probability=outcome.detection.get("manipulation_probability"),
            reasons=list(outcome.reasons),
            not_applicable_reason=outcome.reason,
        ),
    )


def _evidence(
    found: factcheck_selectors.ImageMatches,
    case_links: list[dict[str, Any]],
    related: list[dict[str, Any]],
    outcome: detection_selectors.DetectionOutcome,
) -> dict[str, Any]:
    """The report's evidence keys besides the verified matches."""
    return {
        doc.CANDIDATES: found.candidates,
        # Extension of report/1: the closest originals verification rejected, with why (a lead
        # for the reviewer, not evidence: the verdict ignores them).
        doc.NEAR_MISSES: found.near_misses,
        # Extensions of report/1: published cases holding a matched original as evidence (also
        # on each match), and published fact-checks related to the caption by meaning.
        doc.FACT_CHECKS: case_links,
        doc.RELATED_FACT_CHECKS: related,
        doc.DETECTION: outcome.detection,
    }


@contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    """Record the milliseconds the block took as `timings[step]`."""
    began = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = elapsed_ms(began)


def _report_timings(
    timings: dict[str, float], factcheck: dict[str, float], detection: dict[str, float]
) -> dict[str, float]:
    """Flat name -> milliseconds; the engines' own steps are prefixed with their name."""
    return {
        **timings,
        **{f"factcheck.{step}": ms for step, ms in factcheck.items()},
        **{f"detection.{step}": ms for step, ms in detection.items()},
    }

"""Review test data made directly (no pipeline run): a submission with a realistic report/1
document, its artifacts, the matched reference and a review item."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import ApiClient
from factcheck.models import Reference
from factcheck.reference_source import reference_summary
from mediastore.services import media_store
from moderation.models import Report, ReportArtifact, ReviewItem, Submission

WIDTH, HEIGHT = 480, 320
EDIT_BOX = (300, 90, 110, 120)  # x, y, w, h of the pasted object in the query
FACE_BOX = (70, 60, 90, 110)


REASONS_MATCHED = [
    "A verified original from Example Agency matches this image (412 matching points).",
    "An object was added on the right (8.7% of the image).",
    "The forensic detectors agree: strongest signal in the same area.",
]
REASONS_BY_LABEL = {
    "likely_manipulated": [
        "No verified original was found.",
        "The detectors find signs of manipulation (82%), mostly on the right.",
    ],
    "no_evidence": [
        "No verified original was found.",
        "The detectors find no sign of manipulation (7%).",
    ],
}


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def scene(seed: int = 0) -> np.ndarray:
    """A calm landscape-like picture: sky gradient, hills, a sun, some texture."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, HEIGHT)[:, None]
    sky = np.stack([150 + 60 * y, 185 + 40 * y, 230 - 20 * y], axis=-1) * np.ones((1, WIDTH, 1))
    image = Image.fromarray(sky.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((360, 30, 420, 90), fill=(250, 220, 140))
    draw.polygon(
        [(0, 230), (140, 170), (300, 220), (480, 160), (480, 320), (0, 320)], fill=(92, 130, 88)
    )
    draw.polygon([(0, 270), (200, 240), (480, 280), (480, 320), (0, 320)], fill=(64, 104, 70))
    draw.ellipse(
        (*FACE_BOX[:2], FACE_BOX[0] + FACE_BOX[2], FACE_BOX[1] + FACE_BOX[3]), fill=(224, 186, 160)
    )
    pixels = np.asarray(image).astype(np.int16)
    pixels += rng.integers(-6, 7, size=pixels.shape, dtype=np.int16)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def edited(original: np.ndarray) -> np.ndarray:
    x, y, w, h = EDIT_BOX
    query = original.copy()
    query[y : y + h, x : x + w] = (170, 60, 55)
    query[y + 20 : y + h - 20, x + 20 : x + w - 20] = (200, 90, 70)
    return query


def edit_mask() -> np.ndarray:
    x, y, w, h = EDIT_BOX
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[y : y + h, x : x + w] = 255
    return mask


def forensic_map() -> np.ndarray:
    x, y, w, h = EDIT_BOX
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    blob = np.exp(-(((xx - x - w / 2) / (w * 0.7)) ** 2 + ((yy - y - h / 2) / (h * 0.7)) ** 2))
    return (blob * 235).astype(np.uint8)


def report_document(
    *, reference: Reference | None, label: str, probability: float
) -> dict[str, Any]:
    matches = []
    if reference is not None:
        x, y, w, h = EDIT_BOX
        matches.append(
            {
                "reference": reference_summary(reference),
                "similarity": 0.93,
                "inliers": 412,
                "transform": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
                "edited": label == "edited_copy",
                "edited_fraction": round(w * h / (WIDTH * HEIGHT), 4),
                "regions": [
                    {
                        "bbox": [x, y, w, h],
                        "area_fraction": round(w * h / (WIDTH * HEIGHT), 4),
                        "kind": "added",
                    }
                ],
            }
        )
    return {
        "schema": "report/1",
        "input": "upload.png",
        "verdict": {
            "label": label,
            "manipulation_probability": probability,
            "reasons": REASONS_MATCHED
            if reference is not None
            else REASONS_BY_LABEL.get(label, []),
        },
        "matches": matches,
        "detection": {
            "manipulation_probability": 0.71,
            "detectors": [
                {"name": "multitask", "version": "v1", "score": 0.74},
                {"name": "ela", "version": "1", "score": 0.62},
                {"name": "noise", "version": "1", "score": 0.41},
            ],
            "faces": [{"bbox": list(FACE_BOX), "manipulation_probability": 0.12}],
        },
        "metadata": {
            "width": WIDTH,
            "height": HEIGHT,
            "format": "PNG",
            "exif": {
                "Make": "ExampleCam",
                "Model": "X100",
                "DateTimeOriginal": "2024:05:01 10:12:00",
            },
            "c2pa": None,
        },
        "timings_ms": {"total": 812.4, "match": 301.2, "detect": 455.0},
        "models": {"pdq": "pdqhash-0.2.8", "multitask": "v1"},
    }


def reference_create(*, seed: int = 0) -> Reference:
    media = media_store(content=_png(scene(seed))).media
    return Reference.objects.get_or_create(
        media=media,
        defaults={
            "source": "Example Agency",
            "external_id": f"EA-{seed:05d}",
            "url": f"https://agency.example/photos/{seed}",
            "caption": "Hills at dawn, photographed for the agency archive.",
            "credit": "Photo: J. Doe / Example Agency",
            "published_at": dt.date(2024, 5, 2),
        },
    )[0]


def artifact_save(report: Report, kind: str, array: np.ndarray) -> ReportArtifact:
    name = f"reports/{report.submission_id}/v{report.version}/{kind}.png"
    stored = default_storage.save(name, ContentFile(_png(array)))
    return ReportArtifact.objects.create(
        report=report, kind=kind, file=stored, width=array.shape[1], height=array.shape[0]
    )


def review_item_create(
    *,
    seed: int = 0,
    label: str = "edited_copy",
    probability: float = 0.9,
    priority: int = 0,
    platform: str = "ExampleSNS",
    client: ApiClient | None = None,
    metadata: dict[str, Any] | None = None,
    text: str = "Breaking: look at what appeared over the hills this morning!",
    with_match: bool = True,
) -> ReviewItem:
    """A submission analysed into one report version with every artifact, waiting in the queue."""
    reference = reference_create(seed=seed) if with_match else None
    original = scene(seed)
    query = edited(original)
    media = media_store(content=_png(query)).media
    submission = Submission.objects.create(
        client=client,
        source=Submission.Source.API if client else Submission.Source.UPLOAD,
        external_id=f"post-{seed}-{timezone.now().timestamp()}",
        text=text,
        media=media,
        status=Submission.Status.ANALYZED,
        platform=platform,
        metadata=metadata or {"author": {"handle": "@someone"}, "reach": 1200},
    )
    report = Report.objects.create(
        submission=submission,
        version=1,
        document=report_document(reference=reference, label=label, probability=probability),
        label=label,
        manipulation_probability=probability,
    )
    artifact_save(report, ReportArtifact.Kind.FORENSIC_MAP, forensic_map())
    if reference is not None:
        artifact_save(report, ReportArtifact.Kind.EDIT_MASK, edit_mask())
        artifact_save(report, ReportArtifact.Kind.ALIGNED_REFERENCE, original)
    return ReviewItem.objects.create(submission=submission, priority=priority)


def report_version_add(item: ReviewItem, *, label: str, probability: float, reason: str) -> Report:
    """A newer report version (e.g. after a new reference was indexed)."""
    current = Report.objects.get(submission=item.submission, is_current=True)
    Report.objects.filter(pk=current.pk).update(is_current=False)
    document = {**current.document, "verdict": {**current.document["verdict"], "label": label}}
    return Report.objects.create(
        submission=item.submission,
        version=current.version + 1,
        document=document,
        label=label,
        manipulation_probability=probability,
        reason=reason,
    )


def near_miss_entry(
    reference: Reference,
    *,
    reason: str = "too few inliers",
    inliers: int = 7,
    pdq_distance: int | None = 80,
    embedding_similarity: float | None = 0.61,
) -> dict[str, Any]:
    """A report `near_misses` item as moderation.pipeline writes it."""
    return {
        "reference": reference_summary(reference),
        "reason": reason,
        "inliers": inliers,
        "pdq_distance": pdq_distance,
        "embedding_similarity": embedding_similarity,
    }


def near_misses_set(item: ReviewItem, near_misses: Any, *, version: int | None = None) -> Report:
    """Store `near_misses` (anything, malformed included) in a report version of the item
    (the current one by default)."""
    reports = Report.objects.filter(submission=item.submission)
    report = reports.get(version=version) if version else reports.get(is_current=True)
    report.document = {**report.document, "near_misses": near_misses}
    report.save(update_fields=["document"])
    return report

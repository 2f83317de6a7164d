"""Fakes of the two engines (fact-check matching, detection) so pipeline logic tests run fast.

`engines` replaces factcheck.selectors.image_matches / reference_ids_matching and
detection.selectors.image_detection / media_metadata / sensitive_regions / text_in_image; tests
set what they return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from detection import selectors as detection_selectors
from detection.selectors import DetectionOutcome
from factcheck import selectors as factcheck_selectors
from factcheck.selectors import ImageMatches


def match_item(
    *, reference_id: int = 7, edited: bool = True, inliers: int = 80, regions: list | None = None
) -> dict[str, Any]:
    regions = (
        regions
        if regions is not None
        else [{"bbox": [10, 12, 20, 16], "area_fraction": 0.1, "kind": "added"}]
    )
    return {
        "reference": {
            "id": str(reference_id),
            "external_id": f"orig-{reference_id}",
            "source": "agency",
            "url": "",
            "credit": "",
            "caption": "",
            "published_at": None,
        },
        "similarity": 0.9 if edited else 1.0,
        "inliers": inliers,
        "transform": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        "edited": edited,
        "edited_fraction": 0.1 if edited else 0.0,
        "regions": regions if edited else [],
    }


@dataclass
class FakeEngines:
    matches: list[dict[str, Any]] = field(default_factory=list)
    probability: float = 0.2
    applicable: bool = True
    faces: list[dict[str, Any]] = field(default_factory=list)
    recheck_matches: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    fail_with: Exception | None = None
    sensitive: list[dict[str, Any]] = field(default_factory=list)
    text_lines: list[str] = field(default_factory=list)

    def text_in_image(self, *, image: np.ndarray) -> dict[str, Any]:
        lines = [
            {"text": text, "bbox": [4, 4 + 12 * row, 40, 10], "confidence": 0.9}
            for row, text in enumerate(self.text_lines)
        ]
        return {"text": "\n".join(self.text_lines), "lines": lines}

    def sensitive_regions(self, *, image: np.ndarray) -> list[dict[str, Any]]:
        return list(self.sensitive)

    def image_matches(self, *, image: np.ndarray) -> ImageMatches:
        self.calls.append("image_matches")
        if self.fail_with is not None:
            raise self.fail_with
        return self._result(image, self.matches)

    def reference_ids_matching(self, *, image: np.ndarray, reference_ids: list[int]) -> Any:
        self.calls.append(f"reference_ids_matching:{sorted(reference_ids)}")
        return self._result(image, self.recheck_matches)

    @staticmethod
    def _result(image: np.ndarray, matches: list[dict[str, Any]]) -> ImageMatches:
        height, width = image.shape[:2]
        masks = []
        for match in matches:
            mask = np.zeros((height, width), np.uint8)
            for region in match["regions"]:
                x, y, w, h = region["bbox"]
                mask[y : y + h, x : x + w] = 255
            masks.append(mask)
        return ImageMatches(
            matches=matches,
            edit_masks=masks,
            aligned_references=[image.copy() for _ in matches],
            candidates=len(matches),
            timings_ms={"total": 1.0},
            models={"pdq": "fake"},
        )

    def image_detection(self, *, image: np.ndarray) -> DetectionOutcome:
        self.calls.append("image_detection")
        if not self.applicable:
            return DetectionOutcome(
                applicable=False,
                reason="the image is blank",
                detection={"manipulation_probability": None, "detectors": [], "faces": []},
                forensic_map=None,
                reasons=["the image is blank"],
            )
        detection = {
            "manipulation_probability": self.probability,
            "detectors": [{"name": "fake", "version": "1", "score": self.probability}],
            "faces": self.faces,
        }
        return DetectionOutcome(
            applicable=True,
            reason=None,
            detection=detection,
            forensic_map=np.full(image.shape[:2], round(255 * self.probability), np.uint8),
            faces=self.faces,
            reasons=[f"fake detector says {self.probability:.2f}"],
            models={"fake": "1"},
            timings_ms={"total": 1.0},
        )

    @staticmethod
    def media_metadata(*, content: bytes, image_format: str, width: int, height: int) -> dict:
        return {"width": width, "height": height, "format": image_format, "exif": {}, "c2pa": None}


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> FakeEngines:
    fake = FakeEngines()
    monkeypatch.setattr(factcheck_selectors, "image_matches", fake.image_matches)
    monkeypatch.setattr("moderation.recheck.reference_ids_matching", fake.reference_ids_matching)
    monkeypatch.setattr(detection_selectors, "image_detection", fake.image_detection)
    monkeypatch.setattr(detection_selectors, "media_metadata", fake.media_metadata)
    monkeypatch.setattr(detection_selectors, "sensitive_regions", fake.sensitive_regions)
    monkeypatch.setattr(detection_selectors, "text_in_image", fake.text_in_image)
    return fake


@pytest.fixture
def second_client(db):
    from accounts.services import api_client_create

    return api_client_create(name="Other SNS")

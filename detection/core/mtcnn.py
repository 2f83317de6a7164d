"""MTCNN face finder: facenet-pytorch's three-stage cascade (P-, R-, O-Net) with the weights its
wheel ships (pnet.pt, rnet.pt, onet.pt; nothing is downloaded). Boxes, a confidence and five
landmarks per face.

Importing this module raises ImportError when facenet-pytorch is not installed; the face finder
factory (`detection.core.faces.build_face_finder`) then falls back to YuNet or Haar. Torch
threads are left as the process set them (the detectors share them).
"""

from __future__ import annotations

import numpy as np
import torch
from facenet_pytorch import MTCNN

from detection.core.faces import MIN_FACE_SIDE, Face, found_faces

# MTCNN runs on a copy whose longer side is at most this many pixels: its cost grows with pixel
# count (the P-Net pyramid), and faces smaller than MTCNN_MIN_FACE px in that copy (~1/32 of the
# longer side) are below what the per-face scorer judges anyway. Chosen with
# scripts/bench_face_finders.py (docs/benchmarks.md).
MTCNN_MAX_SIDE = 640
# Smallest face searched for, in pixels of the downscaled copy (MTCNN's default is 20; every
# halving of it roughly doubles the pyramid's cost).
MTCNN_MIN_FACE = 20
# Pyramid step between scales; 0.709 (1/sqrt(2), MTCNN's default) halves the area per step.
MTCNN_SCALE_FACTOR = 0.709
# Per-stage face probability thresholds (P-Net, R-Net, O-Net): MTCNN's published defaults. A
# stricter O-Net cut (0.9) lost faces without removing a false positive in
# scripts/bench_face_finders.py (`--mtcnn 640:20:0.709:0.9`, docs/benchmarks.md).
MTCNN_STAGE_THRESHOLDS = (0.6, 0.7, 0.7)


class MtcnnFinder:
    """MTCNN on CPU; built once per process (the detection suite holds it)."""

    name = "mtcnn"

    def __init__(
        self,
        *,
        max_side: int = MTCNN_MAX_SIDE,
        min_face: int = MTCNN_MIN_FACE,
        scale_factor: float = MTCNN_SCALE_FACTOR,
        thresholds: tuple[float, float, float] = MTCNN_STAGE_THRESHOLDS,
    ) -> None:
        self.max_side, self.min_face = max_side, min_face
        self.model = MTCNN(
            keep_all=True,
            min_face_size=min_face,
            factor=scale_factor,
            thresholds=list(thresholds),
            device="cpu",
        ).eval()
        # P-Net's ceil-mode max pooling, the largest cost on the biggest pyramid levels, has a
        # much faster CPU kernel for channels-last tensors.
        self.model.to(memory_format=torch.channels_last)

    def find(self, image: np.ndarray) -> list[Face]:
        return found_faces(image, self.max_side, self._detect)

    def _detect(self, image: np.ndarray) -> list[Face]:
        # facenet's pyramid is empty (and its code fails) when the image is smaller than a face.
        if min(image.shape[:2]) < max(self.min_face, MIN_FACE_SIDE // 2):
            return []
        with torch.inference_mode():
            boxes, probabilities, points = self.model.detect(
                np.ascontiguousarray(image), landmarks=True
            )
        if boxes is None:
            return []
        faces = []
        for box, probability, landmarks in zip(boxes, probabilities, points, strict=True):
            x0, y0, x1, y1 = (float(v) for v in box)
            faces.append(
                Face(
                    (round(x0), round(y0), round(x1 - x0), round(y1 - y0)),
                    confidence=float(probability),
                    landmarks=tuple((float(x), float(y)) for x, y in landmarks),
                )
            )
        return faces

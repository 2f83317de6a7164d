"""Face alignment: a similarity transform (rotation, uniform scale, shift) that puts the two eyes
at canonical positions of a square crop, so every face is scored upright and framed alike."""

from __future__ import annotations

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

Point = tuple[float, float]

# Eye centres as fractions of the crop side. Chosen so the aligned crop frames the face like the
# unaligned crop (the finder's box plus faces.FACE_CROP_MARGIN on each side): MTCNN boxes are
# about 2.1 eye distances wide, so a box widened by 1.6 is ~3.3 eye distances (eyes 0.30 of the
# side apart), and the eyes sit ~0.1 side above the box centre.
CANONICAL_LEFT_EYE = (0.35, 0.40)
CANONICAL_RIGHT_EYE = (0.65, 0.40)
CANONICAL_EYE_DISTANCE = CANONICAL_RIGHT_EYE[0] - CANONICAL_LEFT_EYE[0]
# The crop keeps the face's own resolution (the scorer resizes it with area interpolation), within
# these bounds: a tiny face is not blown up past what warping can fill in, and a face filling a
# 50 MP photo does not make a crop of hundreds of megabytes.
MIN_ALIGNED_SIDE = 32
MAX_ALIGNED_SIDE = 1024


def aligned_side(left_eye: Point, right_eye: Point) -> int:
    """Side of the aligned crop that keeps the face's resolution (bounded)."""
    distance = float(np.hypot(right_eye[0] - left_eye[0], right_eye[1] - left_eye[1]))
    return int(
        np.clip(round(distance / CANONICAL_EYE_DISTANCE), MIN_ALIGNED_SIDE, MAX_ALIGNED_SIDE)
    )


def eye_alignment(left_eye: Point, right_eye: Point, side: int) -> np.ndarray:
    """2x3 similarity matrix mapping the image's eyes onto the canonical eyes of a side x side
    crop (left = the eye on the image's left). Coincident eyes have no alignment: ValueError."""
    source = np.array([left_eye, right_eye], dtype=np.float64)
    target = np.array([CANONICAL_LEFT_EYE, CANONICAL_RIGHT_EYE], dtype=np.float64) * side
    transform = SimilarityTransform.from_estimate(source, target)
    if not transform:
        raise ValueError(f"no alignment for eyes at {left_eye} and {right_eye}")
    return np.asarray(transform.params[:2])


def aligned_face(image: np.ndarray, left_eye: Point, right_eye: Point) -> np.ndarray:
    """Square crop with the eyes at the canonical positions; outside the image is mirrored (a
    constant border would add edges the scorer could take for blending seams)."""
    side = aligned_side(left_eye, right_eye)
    matrix = eye_alignment(left_eye, right_eye, side)
    return cv2.warpAffine(
        image, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )

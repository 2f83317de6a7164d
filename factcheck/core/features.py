"""SIFT local features with RootSIFT normalisation, serialisable for caching.

Keypoints are detected on a copy resized to `working_size` (SIFT cost grows with pixel count and
large originals add no useful keypoints at that scale) and mapped back to full-resolution pixel
coordinates, so homographies computed from them apply to the original images.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np

FEATURES_FORMAT = 1
DEFAULT_WORKING_SIZE = 800
DEFAULT_MAX_KEYPOINTS = 1500
# Lower than OpenCV's 0.04 so flat, low-contrast images (skies, illustrations) still get keypoints.
DEFAULT_CONTRAST_THRESHOLD = 0.02


@dataclass(frozen=True)
class FeatureConfig:
    working_size: int = DEFAULT_WORKING_SIZE
    max_keypoints: int = DEFAULT_MAX_KEYPOINTS
    contrast_threshold: float = DEFAULT_CONTRAST_THRESHOLD


@dataclass(frozen=True)
class Features:
    """`points` (n, 2) float32 x,y in full-resolution pixels; `descriptors` (n, 128) float32
    RootSIFT; `image_size` (height, width) of the full-resolution image."""

    points: np.ndarray
    descriptors: np.ndarray
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.points)

    @classmethod
    def empty(cls, image_size: tuple[int, int] = (0, 0)) -> Features:
        return cls(
            points=np.zeros((0, 2), np.float32),
            descriptors=np.zeros((0, 128), np.float32),
            image_size=image_size,
        )

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        # float16 halves the cache size; RootSIFT values are in [0, 1] so precision is ample.
        np.savez(
            buffer,
            format=np.array(FEATURES_FORMAT),
            points=self.points.astype(np.float32),
            descriptors=self.descriptors.astype(np.float16),
            image_size=np.array(self.image_size, dtype=np.int64),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Features:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            if int(data["format"]) != FEATURES_FORMAT:
                raise ValueError(f"unsupported features format {int(data['format'])}")
            height, width = (int(v) for v in data["image_size"])
            return cls(
                points=data["points"].astype(np.float32),
                descriptors=data["descriptors"].astype(np.float32),
                image_size=(height, width),
            )


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def scaled_size(shape: tuple[int, ...], scale: float, minimum: int = 1) -> tuple[int, int]:
    """(width, height) of a picture of `shape` (height, width, ...) resized by `scale`, each side
    rounded and at least `minimum` px: the size to hand cv2.resize (with fx/fy it samples by the
    factor, not by the sizes' ratio) and resize_matrix."""
    height, width = shape[:2]
    return max(minimum, round(width * scale)), max(minimum, round(height * scale))


def resize_to_max_side(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longer side is at most `max_side`; returns (image, scale applied)."""
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale >= 1.0:
        return image, 1.0
    return cv2.resize(image, scaled_size(image.shape, scale), interpolation=cv2.INTER_AREA), scale


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    """Hellinger-kernel normalisation (Arandjelovic & Zisserman 2012): L1-normalise, sqrt.
    Makes Euclidean matching behave like the Hellinger distance, which matches better."""
    descriptors = descriptors.astype(np.float32)
    descriptors /= descriptors.sum(axis=1, keepdims=True) + 1e-7
    root: np.ndarray = np.sqrt(descriptors)
    return root


# A SIFT descriptor is a 4 x 4 grid of 8-bin orientation histograms in the keypoint's frame.
# Mirroring the image mirrors that frame: its rows swap top for bottom and each gradient angle
# changes sign. `mirror_features` applies that permutation, so the mirrored query is verified
# without running SIFT again (tests/factcheck/core/test_features.py checks it against SIFT on
# the flipped image).
_MIRROR_ORDER = np.arange(128).reshape(4, 4, 8)[::-1][..., (-np.arange(8)) % 8].reshape(-1).copy()


def mirror_features(features: Features) -> Features:
    """The features of the horizontally mirrored image, from those of the image."""
    width = features.image_size[1]
    points = features.points.copy()
    points[:, 0] = width - 1 - points[:, 0]
    return Features(
        points=points,
        descriptors=np.ascontiguousarray(features.descriptors[:, _MIRROR_ORDER]),
        image_size=features.image_size,
    )


def mirror_matrix(width: int) -> np.ndarray:
    """3x3 map from pixel coordinates to those of the horizontally mirrored image (its own
    inverse), in the pixel-centre convention of `Features.points`."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def resize_matrix(size: tuple[int, int], resized: tuple[int, int]) -> np.ndarray:
    """3x3 map from pixel coordinates of a (width, height) image to those of its `cv2.resize` to
    `resized` (width, height), in the pixel-centre convention of `Features.points`: on each axis
    x -> (x + 0.5) * scale - 0.5. resize_matrix(b, a) is the inverse of resize_matrix(a, b)."""
    scale_x, scale_y = resized[0] / size[0], resized[1] / size[1]
    return np.array(
        [[scale_x, 0.0, 0.5 * scale_x - 0.5], [0.0, scale_y, 0.5 * scale_y - 0.5], [0.0, 0.0, 1.0]]
    )


def extract_features(image: np.ndarray, config: FeatureConfig | None = None) -> Features:
    config = config or FeatureConfig()
    gray = to_gray(image)
    small, scale = resize_to_max_side(gray, config.working_size)
    sift = cv2.SIFT.create(
        nfeatures=config.max_keypoints, contrastThreshold=config.contrast_threshold
    )
    keypoints, descriptors = sift.detectAndCompute(small, None)
    if descriptors is None or not keypoints:
        return Features.empty((int(gray.shape[0]), int(gray.shape[1])))
    # SIFT's nfeatures can return a few more than asked (ties); cap exactly.
    keypoints, descriptors = keypoints[: config.max_keypoints], descriptors[: config.max_keypoints]
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    # Pixel centres: x_full + 0.5 = (x_small + 0.5) / scale.
    points = (points + 0.5) / scale - 0.5
    return Features(
        points=points,
        descriptors=root_sift(descriptors),
        image_size=(int(gray.shape[0]), int(gray.shape[1])),
    )

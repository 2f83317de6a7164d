"""PDQ perceptual hashes.

A PDQ hash is 256 bits; we store it packed into 32 uint8 bytes because that is the layout FAISS
binary indexes expect (bit order: numpy's big-endian `packbits`, consistent on both sides).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pdqhash

PDQ_BITS = 256
PDQ_BYTES = PDQ_BITS // 8
# Facebook's reference implementation flags hashes with quality below 50 as unreliable (flat or
# nearly uniform images); callers may still index them but should not trust matches alone.
PDQ_MIN_QUALITY = 50
# PDQ works on a 512-px downsample anyway; shrinking first makes hashing large images ~10x faster
# without changing the hash materially.
PDQ_WORKING_SIZE = 512


@dataclass(frozen=True)
class PdqHash:
    """One packed hash (32 bytes) and its quality in [0, 100]."""

    bits: np.ndarray
    quality: int


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack a (..., 256) 0/1 array into (..., 32) uint8."""
    bits = np.asarray(bits)
    if bits.shape[-1] != PDQ_BITS:
        raise ValueError(f"expected {PDQ_BITS} bits, got shape {bits.shape}")
    return np.packbits(bits.astype(np.uint8), axis=-1)


def hamming_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Hamming distance between two packed hashes."""
    return int(
        np.unpackbits(np.bitwise_xor(np.asarray(a, np.uint8), np.asarray(b, np.uint8))).sum()
    )


def pdq_working_image(image: np.ndarray) -> np.ndarray:
    """The image as PDQ hashes it (at most `PDQ_WORKING_SIZE` px a side); hashing the result
    again gives the same hash, so callers that also need a small copy resize once."""
    return _prepare(image)


def _prepare(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("expected a uint8 RGB array of shape (H, W, 3)")
    height, width = image.shape[:2]
    scale = PDQ_WORKING_SIZE / max(height, width)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image)


def pdq_hash(image: np.ndarray) -> PdqHash:
    """PDQ hash of an RGB image."""
    bits, quality = pdqhash.compute(_prepare(image))
    return PdqHash(bits=pack_bits(bits), quality=int(quality))


def pdq_dihedral_hashes(image: np.ndarray) -> tuple[np.ndarray, int]:
    """The 8 hashes of the image's rotations/flips, packed as (8, 32) uint8, and the quality.

    Queries use all eight so a mirrored or rotated repost still finds its original, while the
    index stores only the canonical hash of each reference.
    """
    bits_list, quality = pdqhash.compute_dihedral(_prepare(image))
    return pack_bits(np.stack(bits_list)), int(quality)

"""Small labelled folders for the calibration tests: crops of scikit-image photos, half of them
edited by the training synthesizer (exact masks), written as real/, fake/, masks/."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data

from detection.evaluation.labelled_folder import write_labelled_folder
from detection.training.synth import Sample, manipulate, random_crop

SIDE = 96  # px: above imaging.MIN_IMAGE_SIDE, small enough for every detector to be quick


def _photos() -> list[np.ndarray]:
    return [
        cv2.resize(photo, (240, 180))
        for photo in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket())
    ]


def labelled_samples(count: int, seed: int = 0) -> list[Sample]:
    """count images, alternating real and edited (an edit that changed too little stays real)."""
    rng = np.random.default_rng(seed)
    photos = _photos()
    samples = []
    for index in range(count):
        first, second = rng.choice(len(photos), 2, replace=False)
        crop = random_crop(photos[first], SIDE, rng)
        sample = Sample(crop, np.zeros(crop.shape[:2], np.uint8), "real")
        if index % 2:
            edited = manipulate(crop, random_crop(photos[second], SIDE, rng), rng)
            sample = edited if edited.mask.any() else sample
        samples.append(sample)
    return samples


def labelled_folder(root: Path, count: int = 24, seed: int = 0) -> Path:
    write_labelled_folder(labelled_samples(count, seed), root)
    return root

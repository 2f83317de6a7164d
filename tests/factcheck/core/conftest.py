"""Shared images for factcheck core tests: generated scenes and skimage/sklearn samples only."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from factcheck.evaluation.evaledits import jpeg
from factcheck.evaluation.evalsources import generated_image


@pytest.fixture(scope="session")
def scene() -> np.ndarray:
    return generated_image(seed=11, size=(480, 640))


@pytest.fixture(scope="session")
def other_scene() -> np.ndarray:
    return generated_image(seed=22, size=(480, 640))


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    from skimage import data

    return data.coffee()


def _recompress_resize(image: np.ndarray, scale: float = 0.7, quality: int = 60) -> np.ndarray:
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return jpeg(cv2.resize(image, size, interpolation=cv2.INTER_AREA), quality)


@pytest.fixture(scope="session")
def recompress_resize():
    """Helper (importlib mode cannot import conftest): resize then JPEG-recompress."""
    return _recompress_resize

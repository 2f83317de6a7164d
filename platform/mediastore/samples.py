"""The scikit-image sample images Provenant's training and evaluation may read.

Bundled with scikit-image (no download) under its permissive licence. One list, so detection's
training sources and fact-check's evaluation sources agree on what is allowed; each takes its
part (`detection.training.sources`, `factcheck.evaluation.evalsources`). Plain Python without
Django: the Django-free training and evaluation packages import it.
"""

from __future__ import annotations

# Detection's splits list their sources in this order and evaluation draws from them by
# position: append, never reorder.
SKIMAGE_SAMPLES = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "clock",
    "colorwheel",
    "text",
    "logo",
)
# Scans of printed text, never part of the fact-check case sets: adding them would change every
# generated case and the numbers measured on them.
TEXT_SCANS = ("page", "text")

"""What an analyze worker imports stays the inference path: no training or evaluation code.

A fresh interpreter (this process has imported everything) boots Django and Celery as a worker
does, imports the pipeline and every module the inference path imports lazily, analyses one
image with the detectors (building the suite imports the network on first use), and reports the
training and evaluation modules it holds: there must be none.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
TRAINING_AND_EVALUATION = (
    "detection.training",
    "detection.evaluation",
    "factcheck.evaluation",
    "factcheck.training",
)
# Imported inside functions on the inference path, so importing the pipeline alone misses them.
LAZY_INFERENCE_MODULES = (
    "detection.core.inference",
    "detection.core.network",
    "detection.core.mtcnn",
    "factcheck.clip_model",
    "factcheck.core.clip",
    "factcheck.core.descriptor",
    "factcheck.embedding",
    "factcheck.indexing",
    "factcheck.reference_source",
)
PROBE = f"""
import json, sys
import django
django.setup()
from config.celery import app
app.loader.import_default_modules()  # the tasks modules, as a worker loads them at start
import numpy as np
import moderation.analysis, moderation.pipeline, moderation.tasks
for name in {LAZY_INFERENCE_MODULES!r}:
    __import__(name)
from detection.selectors import image_detection
image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
assert image_detection(image=image).applicable
prefixes = {TRAINING_AND_EVALUATION!r}
print(json.dumps(sorted(m for m in sys.modules if m.startswith(prefixes))))
"""


def test_the_inference_path_imports_no_training_or_evaluation_module(project_env) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_DIR,
        env=project_env(DJANGO_SETTINGS_MODULE="config.settings.test"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_probe_would_see_a_training_module() -> None:
    """The probe's prefixes name real packages, so an empty answer means something."""
    for package in TRAINING_AND_EVALUATION:
        __import__(package)
        assert package in sys.modules

"""CPU time of fingerprinting one reference, by step (what `add_references` pays per image).

    python scripts/bench_fingerprint_cost.py [--side 1024] [--images 20]

Offline: scikit-image's sample photos resized so the longer side is --side, encoded as JPEG
(quality 90) like an uploaded original. Each step is timed with the process CPU clock on one
thread (torch, OpenCV and FAISS pinned to one), so another job on the machine changes the figures
little. Prints JSON: mean CPU ms per image for decode, PDQ, the learned descriptor, SIFT features
and the total.
"""

from __future__ import annotations

import argparse
import io
import json
import time

import cv2
import numpy as np
import torch
from PIL import Image
from skimage import data as samples

from factcheck.core.descriptor import Descriptor
from factcheck.core.features import extract_features
from factcheck.core.fingerprints import pdq_hash
from mediastore.images import load_rgb

SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


def _originals(side: int, count: int) -> list[bytes]:
    encoded = []
    for index in range(count):
        image = getattr(samples, SAMPLES[index % len(SAMPLES)])()
        height, width = image.shape[:2]
        scale = side / max(height, width)
        resized = cv2.resize(image, (round(width * scale), round(height * scale)))
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(resized)).save(buffer, format="JPEG", quality=90)
        encoded.append(buffer.getvalue())
    return encoded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--images", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    descriptor = Descriptor.load()
    steps = {"decode": 0.0, "pdq": 0.0, "descriptor": 0.0, "sift": 0.0}
    originals = _originals(args.side, args.images)
    descriptor.describe([load_rgb(originals[0])])  # warm-up: first call builds torch kernels
    for content in originals:
        started = time.process_time()
        image = load_rgb(content)
        decoded = time.process_time()
        pdq_hash(image)
        hashed = time.process_time()
        descriptor.describe([image])
        described = time.process_time()
        extract_features(image)
        done = time.process_time()
        steps["decode"] += decoded - started
        steps["pdq"] += hashed - decoded
        steps["descriptor"] += described - hashed
        steps["sift"] += done - described
    result = {name: round(1000 * total / args.images, 1) for name, total in steps.items()}
    result["total"] = round(sum(result.values()), 1)
    print(json.dumps({"side": args.side, "images": args.images, "cpu_ms_per_image": result}))


if __name__ == "__main__":
    main()

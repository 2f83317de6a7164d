"""Coverage-guided fuzzing (atheris) of the image intake and the inbound webhook parser.

    python scripts/fuzz_intake.py intake  [-max_total_time=3600] [-rss_limit_mb=2048] [CORPUS_DIR]
    python scripts/fuzz_intake.py webhook [-max_total_time=3600] [CORPUS_DIR]

Any exception other than the parser's own refusal (ImageRejected, PayloadInvalid) is a crash:
libFuzzer stops and writes the input as crash-<sha1>. Seed CORPUS_DIR with the hostile corpus
(python scripts/hostile_corpus.py CORPUS_DIR) and a few valid images. The suite runs the bounded
Hypothesis version of both (tests/security/test_fuzz.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_DIR), str(REPO_DIR / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import atheris  # noqa: E402

with atheris.instrument_imports():
    import PIL.Image  # noqa: F401

    from mediastore import images, structure  # noqa: F401

import django  # noqa: E402

django.setup()
from integrations.inbound import PayloadInvalid, content_payload_parse  # noqa: E402


def fuzz_intake(data: bytes) -> None:
    for check in (images.inspect_image, images.load_rgb):
        with contextlib.suppress(images.ImageRejected):
            check(data)


def fuzz_webhook(data: bytes) -> None:
    with contextlib.suppress(PayloadInvalid):
        content_payload_parse(data)


TARGETS = {"intake": fuzz_intake, "webhook": fuzz_webhook}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: python scripts/fuzz_intake.py {{{','.join(TARGETS)}}} [libFuzzer args]")
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

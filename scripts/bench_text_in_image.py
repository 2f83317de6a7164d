"""Text in the image: how well and how fast the OCR reads generated text cards, and what it adds
to a whole 1024-px analysis.

    OMP_WAIT_POLICY=PASSIVE python scripts/bench_text_in_image.py [--pipeline-pairs 12]
        [--skip-pipeline]

1. Reading (no database): 1024x768 cards (detection.evaluation.text_cards) of two claim lines in
   every installed card font, at 24, 36 and 56 px, dark on light, light on dark and lettered on
   two photos; character recall (letters and digits in order, spaces ignored:
   difflib's matching blocks), word recall (expected words found among the words read) and
   milliseconds per read (wall p50 / p95 and process CPU p50, the engine built and warmed
   first; CPU time barely depends on what else loads the machine). Also the lines read on
   the bare photos (text found where there is none).
2. The whole analysis (`moderation.pipeline.image_analyze`, the task's code, with artifacts
   encoded as the task does) on 1024x768 text cards on photos, in pairs run back to back in
   alternating order: as shipped, and with the text reader replaced by one that reads nothing
   (so neither the OCR nor the claim matching of its text runs). Uses its own PostgreSQL database
   and DATA_DIR (defaults below), migrated on first use, holding one published fact-check per
   claim line and no references; reports p50 / p95 of `timings_ms.total` for each side, the
   added milliseconds, the process CPU time per analysis on each side, and how many cards'
   related fact-checks name their own claim from the text in the image.
"""

from __future__ import annotations

import argparse
import difflib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from measure import percentiles_ms

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/provenant_bench_text",
    "DATA_DIR": str(REPO_DIR / "var" / "bench-text"),
}
sys.path[:0] = [str(REPO_DIR), str(REPO_DIR / "platform")]
SIZES = (24, 36, 56)
# (text colour, background): dark on light, light on dark; photos get white lettering.
PLAIN = (((20, 20, 20), (250, 250, 250)), ((240, 240, 240), (30, 40, 60)))


def letters(text: str) -> str:
    return "".join(character for character in text.lower() if character.isalnum())


def character_recall(expected: str, read: str) -> float:
    want, got = letters(expected), letters(read)
    matcher = difflib.SequenceMatcher(None, want, got, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / max(1, len(want))


def word_recall(expected: str, read: str) -> float:
    words = [letters(word) for word in expected.split()]
    found = [letters(word) for word in read.split()]
    hits = 0
    for word in words:
        if word in found:
            found.remove(word)
            hits += 1
    return hits / max(1, len(words))


def cards() -> list[Any]:
    from detection.evaluation.text_cards import (
        CLAIM_LINES,
        available_fonts,
        available_photos,
        text_card,
    )

    made, turn = [], 0
    backgrounds: list[tuple[Any, Any]] = [
        *PLAIN,
        *[((255, 255, 255), p) for p in available_photos()[:2]],
    ]
    for font in available_fonts():
        for size in SIZES:
            for colour, background in backgrounds:
                lines = [
                    CLAIM_LINES[turn % len(CLAIM_LINES)],
                    CLAIM_LINES[(turn + 3) % len(CLAIM_LINES)],
                ]
                turn += 1
                made.append(
                    text_card(lines, font=font, size=size, colour=colour, background=background)
                )
    return made


def bench_reading() -> None:
    import numpy as np
    from PIL import Image

    from detection.core.text_in_image import read_text
    from detection.evaluation.text_cards import available_photos

    made = cards()
    read_text(made[0].image)  # build and warm the engine
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    for card in made:
        began, began_cpu = time.perf_counter(), time.process_time()
        text = read_text(card.image).text
        seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        expected = "\n".join(card.lines)
        row = (character_recall(expected, text), word_recall(expected, text), seconds, cpu)
        for key in (
            "all",
            f"font {card.font}",
            f"size {card.size}",
            f"background {card.background}",
        ):
            rows.setdefault(key, []).append(row)
    print(f"reading: {len(made)} cards of 1024x768, two claim lines each")
    header = ("cards", "char recall", "word recall", "p50 ms", "p95 ms", "CPU p50 ms")
    print(f"{'group':34} " + " ".join(f"{title:>11}" for title in header))
    for key, values in rows.items():
        timing = percentiles_ms([v[2] for v in values])
        cpu_ms = percentiles_ms([v[3] for v in values])
        characters = statistics.mean(v[0] for v in values)
        words = statistics.mean(v[1] for v in values)
        print(
            f"{key:34} {len(values):11d} {characters:11.3f} {words:11.3f} "
            f"{timing['p50']:11.0f} {timing['p95']:11.0f} {cpu_ms['p50']:11.0f}"
        )
    for photo in available_photos():
        with Image.open(photo) as opened:
            pixels = np.asarray(opened.convert("RGB").resize((1024, 768)))
        found = read_text(pixels)
        print(f"bare photo {photo.stem}: {len(found.lines)} lines read {found.text[:60]!r}")


def setup_database() -> None:
    """Its own database, migrated, with one published fact-check per claim line."""
    import django
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        if not db.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
            db.execute(f'create database "{name}"')
    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from accounts.models import User
    from accounts.roles import FACT_CHECKER
    from detection.evaluation.text_cards import CLAIM_LINES
    from factcheck.cases.models import Case
    from factcheck.cases.services import (
        ClaimInput,
        case_create,
        case_publish,
        case_rate,
        case_transition,
    )

    call_command("migrate", verbosity=0)
    actor, created = User.objects.get_or_create(username="bench-fact-checker")
    if created:
        actor.groups.add(Group.objects.get(name=FACT_CHECKER))
    for claim in CLAIM_LINES:
        if Case.objects.filter(title=claim[:60]).exists():
            continue
        case = case_create(title=claim[:60], actor=actor, claims=[ClaimInput(text=claim)])
        case_transition(case=case, actor=actor, to_status="investigating")
        case_rate(case=case, actor=actor, rating="false", explanation="Generated for a benchmark.")
        case_publish(case=case, actor=actor)


def bench_pipeline(pairs: int) -> None:
    import io

    from PIL import Image

    setup_database()  # Django first: the pipeline's modules need its apps
    from detection import selectors as detection_selectors
    from detection.evaluation.text_cards import (
        CLAIM_LINES,
        available_fonts,
        available_photos,
        text_card,
    )
    from moderation.fact_checks import MATCHED_ON_TEXT_IN_IMAGE
    from moderation.pipeline import image_analyze

    shipped = detection_selectors.text_in_image
    photos, fonts = available_photos(), available_fonts()

    def reads_nothing(*, image: Any) -> dict[str, Any]:
        return {"text": "", "lines": []}

    def content(turn: int) -> tuple[bytes, str]:
        claim = CLAIM_LINES[turn % len(CLAIM_LINES)]
        card = text_card(
            [claim],
            font=fonts[turn % len(fonts)],
            size=48,
            colour=(255, 255, 255),
            background=photos[turn % len(photos)],
        )
        buffer = io.BytesIO()
        Image.fromarray(card.image).save(buffer, format="JPEG", quality=90)
        return buffer.getvalue(), claim

    def analyse(data: bytes, with_ocr: bool) -> dict[str, Any]:
        detection_selectors.text_in_image = shipped if with_ocr else reads_nothing
        try:
            return image_analyze(
                content=data, input_name="card.jpg", encode_artifacts=True
            ).document
        finally:
            detection_selectors.text_in_image = shipped

    for warm in range(2):  # models and suites built, caches warm
        analyse(content(warm)[0], with_ocr=True)
    totals: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    steps: dict[str, list[float]] = {}
    found_own = 0
    for turn in range(pairs):
        data, claim = content(turn)
        for with_ocr in (True, False) if turn % 2 == 0 else (False, True):
            began_cpu = time.process_time()
            document = analyse(data, with_ocr)
            cpu[with_ocr].append(time.process_time() - began_cpu)
            timings = document["timings_ms"]
            totals[with_ocr].append(timings["total"] / 1000)
            if with_ocr:
                for step in ("text_in_image", "related_fact_checks_text_in_image", "detection",
                             "sensitive_regions", "factcheck"):  # fmt: skip
                    steps.setdefault(step, []).append(timings.get(step, 0.0))
                found_own += any(
                    entry.get("claim") == claim
                    and entry.get("matched_on") == MATCHED_ON_TEXT_IN_IMAGE
                    for entry in document["related_fact_checks"]
                )
    shipped_ms, without_ms = percentiles_ms(totals[True]), percentiles_ms(totals[False])
    print(f"whole analysis, 1024x768 text cards on photos, {pairs} pairs (alternating order)")
    for side, ms in (
        ("with text in the image", shipped_ms),
        ("without (reads nothing)", without_ms),
    ):
        print(f"  {side:26} p50 {ms['p50']:7.0f} ms  p95 {ms['p95']:7.0f} ms")
    added = [a - b for a, b in zip(totals[True], totals[False], strict=True)]
    print(
        f"  added per pair: median {1000 * statistics.median(added):.0f} ms; "
        f"ratio of p50s {shipped_ms['p50'] / without_ms['p50']:.2f}"
    )
    cpu_added = statistics.median(cpu[True]) - statistics.median(cpu[False])
    print(
        f"  process CPU per analysis: median {1000 * statistics.median(cpu[True]):.0f} ms with, "
        f"{1000 * statistics.median(cpu[False]):.0f} ms without ({1000 * cpu_added:.0f} ms added)"
    )
    for step, values in steps.items():
        print(f"  step {step}: median {statistics.median(values):.0f} ms")
    print(
        f"  cards whose related fact-checks name their claim, from the image: {found_own}/{pairs}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline-pairs", type=int, default=12)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.1f}")
    bench_reading()
    if not args.skip_pipeline:
        bench_pipeline(args.pipeline_pairs)
    print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""CPU cost of hostile uploads at the mediastore gate (issue 14, item 2).

    python scripts/bench_intake_cost.py [--before]
    python scripts/bench_intake_cost.py --survey DIR...

Prints, as CPU seconds of this process (time.process_time), what inspect_image and load_rgb
spend on every file of the hostile corpus and its accepted cases (in all, and the slowest);
then, best of 3, what they and the structure walk alone spend on each 25 MB block flood of
scripts/hostile_corpus.py and on issue 14's scan bomb (7000x7000 flat progressive JPEG, its last
48-byte scan repeated 30,000 times, 1.7 MB); and, for accepted images, the decode of a
7000x7000 progressive JPEG with Pillow's 10 scans and with the most scans MAX_JPEG_SCAN_PIXELS
lets through there (each extra one the costliest of the 10), next to an ordinary 24-megapixel
photo JPEG (scikit-image's astronaut scaled to 6000x4000, quality 95). `--before` adds what
Pillow alone spends opening and decoding each file (once): what inspect_image cost when it
decoded before any structure check (minutes of CPU for the bomb).

`--survey` walks every .jpg/.jpeg/.png/.gif/.webp file under the folders instead and prints how
many the walk refuses (by code) and, per format, the most blocks, scans and trailing bytes any
file has: how far real images stay from the limits.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_DIR / "platform"), str(REPO_DIR / "scripts")]

import hostile_corpus  # noqa: E402
from PIL import Image  # noqa: E402

from mediastore.images import (  # noqa: E402
    MAX_JPEG_SCAN_PIXELS,
    ImageRejected,
    inspect_image,
    load_rgb,
)
from mediastore.structure import (  # noqa: E402
    StructureError,
    container_format,
    structure_check,
)

SIDE = 7000
SURVEY_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}
REPEATS = 30_000


def cpu(call: Callable[[], object], runs: int = 3) -> tuple[float, str]:
    """Best CPU time of `runs` calls, and the answer (accepted, or the refusal code)."""
    best, answer = float("inf"), ""
    for _ in range(runs):
        started = time.process_time()
        try:
            call()
            answer = "accepted"
        except (ImageRejected, StructureError) as error:
            answer = error.code
        best = min(best, time.process_time() - started)
    return best, answer


def gate_row(name: str, content: bytes, image_format: str, before: bool) -> str:
    walk, _ = cpu(lambda: structure_check(content, image_format))
    inspected, answer = cpu(lambda: inspect_image(content))
    loaded, loaded_answer = cpu(lambda: load_rgb(content))
    assert answer == loaded_answer, (name, answer, loaded_answer)
    row = (
        f"| {name} | {len(content) / 2**20:.2f} MiB | {answer} | {walk:.3f} | {inspected:.3f} "
        f"| {loaded:.3f} |"
    )
    return row + (f" {decode_seconds(content, runs=1):.2f} |" if before else "")


def decode_seconds(content: bytes, runs: int = 2) -> float:
    def decode() -> None:
        with Image.open(io.BytesIO(content)) as image:
            image.load()

    return cpu(decode, runs=runs)[0]


def corpus_summary() -> str:
    files = hostile_corpus.corpus() + hostile_corpus.accepted_cases()
    total, slowest, slowest_name = 0.0, 0.0, ""
    for item in files:
        for check in (inspect_image, load_rgb):
            seconds, _ = cpu(partial(check, item.content), runs=1)
            total += seconds
            if seconds > slowest:
                slowest, slowest_name = seconds, f"{check.__name__}({item.name})"
    return (
        f"hostile corpus, {len(files)} files x (inspect_image, load_rgb): {total:.2f} s in all, "
        f"slowest {1000 * slowest:.0f} ms ({slowest_name})"
    )


def photo_jpeg() -> bytes:
    from skimage import data, transform

    pixels = transform.resize(data.astronaut(), (4000, 6000), order=1, preserve_range=True)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype("uint8")).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def survey(folders: list[str]) -> None:
    refused: dict[str, int] = {}
    per_format: dict[str, int] = {}
    most: dict[str, dict[str, tuple[int, str]]] = {}
    count = 0
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() not in SURVEY_SUFFIXES or not path.is_file():
                continue
            content = path.read_bytes()
            image_format = container_format(content)
            if image_format is None:
                continue
            count += 1
            per_format[image_format] = per_format.get(image_format, 0) + 1
            try:
                found = structure_check(content, image_format)
            except StructureError as error:
                refused[error.code] = refused.get(error.code, 0) + 1
                print(f"refused {path}: {error}")
                continue
            facts = {
                "blocks": found.blocks,
                "scans": found.scans,
                "trailing_bytes": len(content) - found.end,
            }
            for fact, value in facts.items():
                best = most.setdefault(image_format, {}).get(fact, (-1, ""))
                if value > best[0]:
                    most[image_format][fact] = (value, str(path))
    print(f"{count} images {per_format}, refused by the walk: {refused or 'none'}")
    for image_format, records in sorted(most.items()):
        for fact, (value, where) in records.items():
            print(f"{image_format} most {fact}: {value} ({where})")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--survey"]:
        survey(argv[1:])
        return 0
    before = "--before" in argv
    print(corpus_summary(), flush=True)
    print()
    bomb = hostile_corpus.jpeg_scan_bomb(side=SIDE, repeats=REPEATS)
    extra_column = (" Pillow alone s |", "---|") if before else ("", "")
    print("| input | size | answer | walk s | inspect_image s | load_rgb s |" + extra_column[0])
    print("|---|---|---|---|---|---|" + extra_column[1], flush=True)
    for name, (why, build) in hostile_corpus.FLOODS.items():
        content = build(hostile_corpus.FLOOD_BYTES)
        image_format = name.split("_")[0].upper()
        print(gate_row(f"{name} ({why})", content, image_format, before), flush=True)
    name = f"scan bomb {SIDE}x{SIDE}, {REPEATS:,} repeats"
    print(gate_row(name, bomb, "JPEG", before), flush=True)

    photo = photo_jpeg()
    photo_walk, _ = cpu(lambda: structure_check(photo, "JPEG"))
    photo_inspect, _ = cpu(lambda: inspect_image(photo))
    base = hostile_corpus.jpeg_scan_bomb(side=SIDE, repeats=0)
    base_decode = decode_seconds(base)
    extra = 20
    per_scan = [
        (decode_seconds(hostile_corpus.jpeg_scan_bomb(side=SIDE, repeats=extra, scan=scan))
         - base_decode) / extra
        for scan in range(10)
    ]  # fmt: skip
    costliest = max(range(10), key=per_scan.__getitem__)
    allowed = MAX_JPEG_SCAN_PIXELS // (SIDE * SIDE)
    worst = hostile_corpus.jpeg_scan_bomb(side=SIDE, repeats=allowed - 10, scan=costliest)
    worst_inspect, answer = cpu(lambda: inspect_image(worst), runs=2)
    print()
    print(
        f"24-megapixel photo, {len(photo) / 2**20:.1f} MiB: walk {1000 * photo_walk:.0f} ms, "
        f"inspect_image {1000 * photo_inspect:.0f} ms"
    )
    print(f"decode of a {SIDE}x{SIDE} progressive JPEG, 10 scans: {base_decode:.2f} s")
    print(
        "decode cost per extra scan, by scan of Pillow's script (ms): "
        + ", ".join(f"{1000 * seconds:.1f}" for seconds in per_scan)
    )
    print(
        f"inspect_image of the costliest accepted one ({allowed} scans, scan {costliest} "
        f"repeated): {worst_inspect:.2f} s, {answer}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

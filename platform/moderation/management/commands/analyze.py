"""`manage.py analyze PATH... [--text CAPTION] [--json] [--artifacts DIR]` (DESIGN.md contract).

Runs moderation.pipeline.image_analyze (images) or moderation.video_pipeline.video_analyze
(videos, told apart by their first bytes), the code behind the Celery task, synchronously.
Nothing is written to the database: the command only reads the references it matches against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from detection.selectors import DetectionUnavailable
from mediastore.refusals import MediaRejected
from mediastore.videos import SNIFF_BYTES, looks_like_video
from moderation.pipeline import Analysis, image_analyze
from moderation.rendering import png_encode
from moderation.report_document import verdict_of
from moderation.video_pipeline import VideoAnalysis, video_analyze


def input_files(paths: list[str]) -> list[Path]:
    """Files in the order given; a folder contributes its files, sorted, recursively."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        else:
            files.append(path)  # a missing file is reported in its turn
    return files


def write_video_artifacts(analysis: VideoAnalysis, folder: Path) -> list[Path]:
    """annotated.mp4 and, when spans changed, contact_sheet.png."""
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    annotated = analysis.annotated
    if annotated is not None:
        target = folder / "annotated.mp4"
        target.write_bytes(annotated.video)
        written.append(target)
        if annotated.contact_sheet is not None:
            target = folder / "contact_sheet.png"
            target.write_bytes(png_encode(annotated.contact_sheet))
            written.append(target)
    return written


def write_artifacts(analysis: Analysis, folder: Path) -> list[Path]:
    """edit_mask.png (best match only, when there is one) and forensic_map.png."""
    written = []
    for name, array in (
        ("edit_mask.png", analysis.edit_mask),
        ("forensic_map.png", analysis.forensic_map),
    ):
        if array is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        target.write_bytes(png_encode(array))
        written.append(target)
    return written


def summary_line(path: Path, document: dict[str, Any]) -> str:
    verdict = verdict_of(document)
    first = verdict.reasons[0] if verdict.reasons else ""
    probability = verdict.manipulation_probability or 0.0
    return f"{path}: {verdict.label} (manipulation probability {probability:.2f}) - {first}"


class Command(BaseCommand):
    help = "Analyse images and videos with the moderation pipeline and print their reports."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--text", default="", help="Caption or post text sent with them.")
        parser.add_argument(
            "--json", action="store_true", help="Print one report/1 document per input (JSONL)."
        )
        parser.add_argument(
            "--artifacts",
            metavar="DIR",
            help="Write DIR/<stem>/edit_mask.png and DIR/<stem>/forensic_map.png for images, "
            "DIR/<stem>/annotated.mp4 and DIR/<stem>/contact_sheet.png for videos.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        files = input_files(options["paths"])
        artifacts = Path(options["artifacts"]) if options["artifacts"] else None
        failed = 0
        for path in tqdm(files, desc="analyze", unit="file", disable=len(files) < 2):
            analysis: Analysis | VideoAnalysis
            try:
                content = path.read_bytes()
                if looks_like_video(content[:SNIFF_BYTES]):
                    analysis = video_analyze(
                        content=content,
                        input_name=str(path),
                        text=options["text"],
                        annotate=artifacts is not None,
                    )
                else:
                    analysis = image_analyze(
                        content=content, input_name=str(path), text=options["text"]
                    )
            except OSError as error:
                failed += 1
                self.stderr.write(f"{path}: cannot read the file ({error.strerror or error})")
                continue
            except MediaRejected as error:
                failed += 1
                self.stderr.write(f"{path}: {error}")
                continue
            except DetectionUnavailable as error:  # affects every file: stop now
                raise CommandError(str(error)) from None
            if options["json"]:
                self.stdout.write(json.dumps(analysis.document, ensure_ascii=False))
            else:
                self.stdout.write(summary_line(path, analysis.document))
            if artifacts is None:
                continue
            if isinstance(analysis, VideoAnalysis):
                write_video_artifacts(analysis, artifacts / path.stem)
            else:
                write_artifacts(analysis, artifacts / path.stem)
        if failed:
            raise CommandError(f"{failed} of {len(files)} inputs could not be analysed")

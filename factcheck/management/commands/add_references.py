from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from factcheck.services import reference_add
from mediastore.refusals import MediaRejected

DEFAULT_SOURCE = "local"


def image_files(paths: list[str]) -> list[Path]:
    """Every file under the given paths, sorted, so runs are repeatable."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        else:
            raise CommandError(f"no such file or directory: {raw}")
    return files


class Command(BaseCommand):
    help = (
        "Add every image and video under PATH as a verified original (idempotent by content). "
        "Files that cannot be read or are not acceptable images or videos are skipped and "
        "listed; the command then exits 1 after adding the others."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--source", default=DEFAULT_SOURCE, help="Who vouches for them.")

    def handle(self, *args: Any, **options: Any) -> None:
        files = image_files(options["paths"])
        added = existing = 0
        skipped: list[str] = []
        for path in tqdm(files, desc="references", unit="file", disable=not files):
            try:
                result = reference_add(
                    content=path.read_bytes(), source=options["source"], external_id=path.stem
                )
            except OSError as error:  # unreadable: permissions, vanished, I/O error
                skipped.append(f"{path}: cannot read the file ({error.strerror or error})")
                continue
            except MediaRejected as error:
                skipped.append(f"{path}: {error}")
                continue
            except ValueError as error:
                raise CommandError(str(error)) from None
            added += result.created
            existing += not result.created
        for line in skipped:
            self.stderr.write(f"skipped {line}")
        self.stdout.write(f"{added} added, {existing} already present, {len(skipped)} skipped")
        if skipped:  # the rest were added: exit non-zero so scripts notice the skipped ones
            raise CommandError(f"{len(skipped)} of {len(files)} files skipped (listed above)")

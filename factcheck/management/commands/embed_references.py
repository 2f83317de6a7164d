from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from factcheck.embedding import EmbeddingUnavailable
from factcheck.services import EMBED_BATCH_SIZE, references_embed
from factcheck.signals import references_indexed_send


class Command(BaseCommand):
    help = (
        "Compute the configured global embedding (the learned descriptor, or CLIP) of every "
        "reference stored without one in that space (--all: of every reference), then rebuild "
        "the indexes once. Run it after switching or upgrading the embedding model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=EMBED_BATCH_SIZE,
            help=f"originals decoded and embedded at once (default {EMBED_BATCH_SIZE})",
        )
        parser.add_argument(
            "--all", action="store_true", help="re-embed every reference, not only stale ones"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        bars: list[tqdm] = []  # opened by the first batch, so a refusal prints its error alone

        def progress(done: int, total: int) -> None:
            if not bars:
                bars.append(tqdm(total=total, desc="references", unit="img"))
            bars[0].update(done - bars[0].n)

        try:
            result = references_embed(
                batch_size=options["batch_size"], everything=options["all"], progress=progress
            )
        except EmbeddingUnavailable as error:
            raise CommandError(str(error)) from None
        finally:
            for bar in bars:
                bar.close()
        references_indexed_send(result.index.indexed_ids)
        for line in result.skipped:
            self.stderr.write(f"skipped {line}")
        self.stdout.write(
            f"{result.embedded} embedded ({result.tag}), {len(result.skipped)} skipped"
        )
        for summary in result.index.summaries:
            self.stdout.write(f"{summary.name}: version {summary.version}, {summary.count} entries")
        if result.skipped:  # the others were embedded and indexed: exit non-zero to be noticed
            raise CommandError(f"{len(result.skipped)} originals could not be read (listed above)")

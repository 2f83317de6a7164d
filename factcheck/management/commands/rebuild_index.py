from typing import Any

from django.core.management.base import BaseCommand

from factcheck.hooks import references_indexed
from factcheck.indexing import index_rebuild


class Command(BaseCommand):
    help = "Rebuild the fingerprint indexes from the database and publish them as a new version."

    def handle(self, *args: Any, **options: Any) -> None:
        change = index_rebuild()
        for summary in change.summaries:
            self.stdout.write(f"{summary.name}: version {summary.version}, {summary.count} entries")
        references_indexed(change.indexed_ids)

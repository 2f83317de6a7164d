from typing import Any

from django.core.management.base import BaseCommand

from factcheck.indexing import index_rebuild
from factcheck.signals import references_indexed_send


class Command(BaseCommand):
    help = "Rebuild the fingerprint indexes from the database and publish them as a new version."

    def handle(self, *args: Any, **options: Any) -> None:
        change = index_rebuild()
        for summary in change.summaries:
            self.stdout.write(f"{summary.name}: version {summary.version}, {summary.count} entries")
        references_indexed_send(change.indexed_ids)

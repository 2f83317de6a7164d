from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.fetching import inbound_fetches_resume
from integrations.outbound import RESUME_LOOKBACK, deliveries_resume

MAX_SINCE_HOURS = 24 * 7


class Command(BaseCommand):
    help = (
        "Queue retries held in the database that are due and repair what lost tasks left "
        "behind: create missing deliveries for recent events, queue overdue deliveries and "
        "stalled media fetches again. The `beat` process runs the same job every "
        "WEBHOOKS_RESUME_EVERY_SECONDS; it never sends a delivered event twice nor makes a "
        "second submission."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            type=float,
            default=RESUME_LOOKBACK.total_seconds() / 3600,
            metavar="HOURS",
            help="Look back this far.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 < options["since"] <= MAX_SINCE_HOURS:
            raise CommandError(f"--since must be more than 0 and at most {MAX_SINCE_HOURS} hours")
        since = timedelta(hours=options["since"])
        resumed = deliveries_resume(since=since)
        fetches = inbound_fetches_resume(since=since)
        self.stdout.write(
            f"{resumed.events_examined} event(s) without deliveries examined, "
            f"{resumed.deliveries_created} delivery(ies) created, "
            f"{resumed.deliveries_queued} held delivery retry(ies) queued, "
            f"{resumed.deliveries_requeued} overdue delivery(ies) and {fetches} media "
            "fetch(es) queued again."
        )

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from ops.services import worker_ping, worker_pong_wait

DEFAULT_TIMEOUT_SECONDS = 10.0


class Command(BaseCommand):
    help = "Send a ping task and wait for a worker to answer it (checks broker, worker and DB)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["timeout"] <= 0:
            raise CommandError("--timeout must be positive")
        token = secrets.token_hex(16)
        with transaction.atomic():
            worker_ping(token=token)
        pong = worker_pong_wait(token=token, timeout=options["timeout"])
        if pong is None:
            raise CommandError(f"no worker answered within {options['timeout']:g} s")
        self.stdout.write(f"worker {pong.worker} (Python {pong.python_version}) answered")

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ApiClient
from integrations.endpoints import DEFAULT_ROTATION_OVERLAP, EndpointError, webhook_secret_rotate


class Command(BaseCommand):
    help = (
        "Issue a new webhook signing secret for a client; its older secrets keep working for "
        "--expire-old-in hours so the client can switch without dropping a webhook."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client", help="The client's slug.")
        parser.add_argument(
            "--expire-old-in",
            type=float,
            default=DEFAULT_ROTATION_OVERLAP.total_seconds() / 3600,
            metavar="HOURS",
            help="Hours the older secrets stay valid (0: expire them now). Default: %(default)s.",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        client = ApiClient.objects.filter(slug=options["client"]).first()
        if client is None:
            raise CommandError(f"no client with the slug {options['client']!r}")
        overlap = timedelta(hours=options["expire_old_in"])
        try:
            secret = webhook_secret_rotate(client=client, expire_old_in=overlap)
        except EndpointError as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps({"client": client.slug, "webhook_secret": secret}))
            return
        self.stdout.write(f"New webhook secret for {client.slug!r} (shown once): {secret}")
        self.stdout.write(f"Older secrets stop working in {options['expire_old_in']:g} hour(s).")

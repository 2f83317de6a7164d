import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import ClientError, api_client_create

CALLBACK_URL_ERRORS = ("invalid_callback_url", "unsafe_callback_url")


class Command(BaseCommand):
    help = "Create an API client (an SNS platform or integration) with a token and webhook secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Display name; its slug identifies the client.")
        parser.add_argument(
            "--callback-url",
            default="",
            help="Where outbound events are sent; it must lead to a public address.",
        )
        parser.add_argument("--json", action="store_true", help="Print the credentials as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            issued = api_client_create(name=options["name"], callback_url=options["callback_url"])
        except ClientError as error:
            prefix = "--callback-url: " if error.code in CALLBACK_URL_ERRORS else ""
            raise CommandError(f"{prefix}{error}") from None
        for warning in issued.warnings:
            self.stderr.write(f"warning: --callback-url: {warning}")
        credentials = {
            "client": issued.client.slug,
            "token": issued.token,
            "webhook_secret": issued.webhook_secret,
        }
        if options["json"]:
            self.stdout.write(json.dumps(credentials))
            return
        self.stdout.write(f"Created API client {issued.client.slug!r}. Shown once, store them now:")
        self.stdout.write(f"  token:          {issued.token}")
        self.stdout.write(f"  webhook secret: {issued.webhook_secret}")

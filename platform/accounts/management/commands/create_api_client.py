import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import URLValidator

from accounts.services import ClientError, api_client_create


class Command(BaseCommand):
    help = "Create an API client (an SNS platform or integration) with a token and webhook secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Display name; its slug identifies the client.")
        parser.add_argument("--callback-url", default="", help="Where outbound events are sent.")
        parser.add_argument("--json", action="store_true", help="Print the credentials as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        callback_url = options["callback_url"]
        if callback_url:
            try:
                URLValidator(schemes=["http", "https"])(callback_url)
            except ValidationError:
                raise CommandError(
                    f"--callback-url: not an http(s) URL: {callback_url!r}"
                ) from None
        try:
            issued = api_client_create(name=options["name"], callback_url=callback_url)
        except ClientError as error:
            raise CommandError(str(error)) from None
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

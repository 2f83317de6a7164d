from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ApiClient
from integrations.endpoints import EndpointError, endpoint_url_warnings, webhook_endpoint_save
from integrations.models import WebhookEndpoint
from moderation.events import EVENT_TYPES


class Command(BaseCommand):
    help = (
        "Add or change where a client's outbound events go (--url, --events, --disable), or "
        "list its endpoints (no --url)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client", help="The client's slug.")
        parser.add_argument(
            "--url",
            help="The endpoint's http(s) URL (created if new); it must lead to a public address.",
        )
        parser.add_argument(
            "--events",
            help=f"Comma-separated event types ({', '.join(EVENT_TYPES)}); 'all' or empty: all.",
        )
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--disable", action="store_true", help="Stop sending to the URL.")
        state.add_argument(
            "--enable", action="store_true", help="Send to it again (the default for --url)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = ApiClient.objects.filter(slug=options["client"]).first()
        if client is None:
            raise CommandError(f"no client with the slug {options['client']!r}")
        if not options["url"]:
            if options["events"] is not None or options["disable"] or options["enable"]:
                raise CommandError("--events, --disable and --enable need --url")
            self._list(client)
            return
        events = options["events"]
        event_types = None
        if events is not None:
            names = [name.strip() for name in events.split(",") if name.strip()]
            event_types = [] if names in ([], ["all"]) else names
        try:
            endpoint = webhook_endpoint_save(
                client=client,
                url=options["url"],
                event_types=event_types,
                is_active=not options["disable"],
            )
        except EndpointError as error:
            raise CommandError(f"--url: {error}") from None
        for warning in endpoint_url_warnings(endpoint.url):
            self.stderr.write(f"warning: --url: {warning}")
        self._print(endpoint)

    def _list(self, client: ApiClient) -> None:
        endpoints = WebhookEndpoint.objects.filter(client=client)
        if not endpoints:
            self.stdout.write(f"{client.slug!r} has no webhook endpoints.")
        for endpoint in endpoints:
            self._print(endpoint)

    def _print(self, endpoint: WebhookEndpoint) -> None:
        events = ",".join(endpoint.event_types) or "all"
        state = "active" if endpoint.is_active else f"disabled ({endpoint.disabled_reason})"
        self.stdout.write(f"{endpoint.url}  events={events}  {state}")

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations (webhooks)"

    def ready(self) -> None:
        from integrations.outbound import deliveries_create_for_event
        from moderation.events import on_event

        on_event(deliveries_create_for_event)

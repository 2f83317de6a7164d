from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations (webhooks)"

    def ready(self) -> None:
        from accounts.services import callback_url_check_register
        from integrations.endpoints import callback_url_check
        from integrations.outbound import deliveries_create_for_event
        from moderation.events import on_event

        on_event(deliveries_create_for_event)
        callback_url_check_register(callback_url_check)

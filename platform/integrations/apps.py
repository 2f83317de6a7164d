from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations (webhooks)"

    def ready(self) -> None:
        from accounts.signals import callback_url_checking
        from integrations.endpoints import callback_url_receiver
        from integrations.outbound import event_created_receiver
        from moderation.events import event_created

        # Neither moderation nor accounts imports integrations: they send, we receive.
        event_created.connect(event_created_receiver, dispatch_uid="integrations.outbound")
        callback_url_checking.connect(callback_url_receiver, dispatch_uid="integrations.endpoints")

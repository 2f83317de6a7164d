from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"

    def ready(self) -> None:
        from factcheck.signals import references_indexed
        from moderation.recheck import references_indexed_receiver

        # New verified originals re-check recent submissions (factcheck never imports us).
        references_indexed.connect(
            references_indexed_receiver, dispatch_uid="moderation.recheck.references_indexed"
        )

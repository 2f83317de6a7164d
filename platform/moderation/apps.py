from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"

    def ready(self) -> None:
        from factcheck.hooks import on_references_indexed
        from moderation.recheck import references_indexed_listener

        # New verified originals re-check recent submissions (factcheck never imports us).
        on_references_indexed(references_indexed_listener)

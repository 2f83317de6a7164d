from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and audit"

    def ready(self) -> None:
        import accounts.schema  # noqa: F401 - registers the OpenAPI auth extension
        from accounts.roles import sync_roles_after_migrate

        # Permissions exist only after every app migrated, so role groups are synced then.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="accounts.sync_roles")

import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.roles import ADMIN, FACT_CHECKER, MODERATOR
from accounts.services import audit_record

DEMO_PASSWORD_FILE = "demo-admin.txt"


class Command(BaseCommand):
    help = "Create (once) a demo superuser with every role for local trials; needs DEBUG on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup only runs with DEBUG on (the development profile)")
        username = options["username"]
        password_file = settings.DATA_DIR / DEMO_PASSWORD_FILE
        user = User.objects.filter(username=username).first()
        if user is None:
            password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, password=password, email="")
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
            audit_record(actor=None, action="user.create_demo_admin", target=user)
        user.groups.add(*Group.objects.filter(name__in=[ADMIN, MODERATOR, FACT_CHECKER]))
        password = password_file.read_text().strip() if password_file.exists() else "(unchanged)"
        self.stdout.write(f"demo login: {username} / {password}")

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from library import demo as library_demo
from portal import demo as portal_demo


class Command(BaseCommand):
    help = "Load the demo content and the demo accounts (idempotent; refuses unless DEBUG is on)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo accounts have published passwords: refusing with DEBUG off")
        changes = library_demo.load()
        self.stdout.write("demo content: " + ("; ".join(changes) if changes else "up to date"))
        logins = portal_demo.create_accounts()
        discussions = portal_demo.load_discussions()
        self.stdout.write("demo discussions: " + ("; ".join(discussions) or "up to date"))
        self.stdout.write("demo accounts (e-mail / password):")
        for role, email, password in logins:
            self.stdout.write(f"  {role:<12} {email:<24} {password}")

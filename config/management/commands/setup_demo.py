import contextlib
import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from library import demo as library_demo
from portal import demo as portal_demo


@contextlib.contextmanager
def quiet(logger_name):
    """Wagtail logs a line for every page it creates, edits and publishes: a hundred lines here,
    that someone starting the site would have to scroll past."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def summary(changes):
    return f"{len(changes)} change{'s' if len(changes) != 1 else ''}" if changes else "up to date"


class Command(BaseCommand):
    help = (
        "Load the demo content and the demo accounts (idempotent; refused on a deployment, "
        "DEBUG=false). -v 2 lists every change."
    )

    def handle(self, *args, **options):
        if not settings.DEVELOPMENT:
            raise CommandError("demo accounts have published passwords: refusing with DEBUG off")
        with quiet("wagtail"):
            changes = library_demo.load()
            logins = portal_demo.create_accounts()
            discussions = portal_demo.load_discussions()
        self.stdout.write(f"demo content: {summary(changes)} ({library_demo.describe()})")
        self.stdout.write(f"demo discussions: {summary(discussions)}")
        if options["verbosity"] > 1:
            for change in [*changes, *discussions]:
                self.stdout.write(f"  {change}")
        self.stdout.write("demo log-ins, one per role (e-mail / password):")
        for role, email, password in logins:
            self.stdout.write(f"  {role:<12} {email:<24} {password}")

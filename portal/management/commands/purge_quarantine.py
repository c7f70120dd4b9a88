from django.conf import settings
from django.core.management.base import BaseCommand

from portal.actions.attachments import purge_quarantine


class Command(BaseCommand):
    help = (
        "Delete hash-list evidence older than QUARANTINE_RETENTION_DAYS (run once a day, e.g. "
        "from a systemd timer)."
    )

    def handle(self, *args, **options):
        purged = purge_quarantine()
        self.stdout.write(
            f"quarantined files purged: {purged} "
            f"(retention {settings.QUARANTINE_RETENTION_DAYS} days)"
        )

from django.conf import settings
from django.core.management.base import BaseCommand

from search.analytics import purge_search_counts


class Command(BaseCommand):
    help = (
        "Delete search counts older than SEARCH_ANALYTICS_RETENTION_DAYS "
        "(run once a day, e.g. from a systemd timer)."
    )

    def handle(self, *args, **options):
        deleted = purge_search_counts.call()
        self.stdout.write(
            f"search counts older than {settings.SEARCH_ANALYTICS_RETENTION_DAYS} days deleted: "
            f"{deleted}"
        )

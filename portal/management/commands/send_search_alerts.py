from django.core.management.base import BaseCommand

from portal.alerts import send_scheduled_alerts


class Command(BaseCommand):
    help = (
        "E-mail the daily and weekly saved-search alerts that are due "
        "(run once a day, e.g. from a systemd timer)."
    )

    def handle(self, *args, **options):
        sent = send_scheduled_alerts.call()
        self.stdout.write(f"search alerts sent: {sent}")

from django.core.management.base import BaseCommand

from portal.notify import send_daily_digests


class Command(BaseCommand):
    help = "E-mail the daily digest to members who chose it (run once a day, e.g. from cron)."

    def handle(self, *args, **options):
        sent = send_daily_digests.call()
        self.stdout.write(f"daily digests sent: {sent}")

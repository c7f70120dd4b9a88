from django.core.management.base import BaseCommand

from portal.actions.forum import scan_pending_files


class Command(BaseCommand):
    help = (
        "Pass attached files that wait for clamd through the safety pipeline (run every few "
        "minutes, e.g. from a systemd timer; a task worker also retries on its own)."
    )

    def handle(self, *args, **options):
        decided = scan_pending_files.call()
        self.stdout.write(f"pending files decided: {decided}")

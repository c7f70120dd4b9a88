from django.core.management.base import BaseCommand
from django.utils import timezone

from search.backends.base import EngineError
from search.engines import database_engine, remote_engine
from search.indexing import apply_pending_changes
from search.models import IndexEntry, PendingIndexChange


class Command(BaseCommand):
    help = "Show the search engines' state and the outbox; --apply drains the outbox now."

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="apply pending index changes")

    def handle(self, *args, apply=False, **options):
        self.stdout.write(
            f"database index: {IndexEntry.objects.count()} entries "
            f"({database_engine().status().get('vendor', '')})"
        )
        engine = remote_engine()
        if engine is not None:
            try:
                status = engine.status()
                self.stdout.write(
                    f"{engine.name}: {status['documents']} documents in "
                    f"{status['index']} (alias {engine.alias})"
                )
            except EngineError as error:
                self.stdout.write(f"{engine.name}: unreachable ({error})")
        pending = PendingIndexChange.objects.order_by("created_at")
        oldest = pending.first()
        self.stdout.write(
            f"outbox: {pending.count()} pending"
            + (
                f", oldest from {oldest.created_at:%Y-%m-%d %H:%M:%S} "
                f"({(timezone.now() - oldest.created_at).total_seconds():.0f} s ago), "
                f"{oldest.attempts} attempts, last error: {oldest.last_error or '-'}"
                if oldest
                else ""
            )
        )
        if apply:
            applied, failed = apply_pending_changes()
            self.stdout.write(f"applied {applied}, still pending {failed}")

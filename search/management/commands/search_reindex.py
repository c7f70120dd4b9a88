import sys
import time

from django.core.management.base import BaseCommand, CommandError

from search import registry, results_cache
from search.backends.base import EngineError
from search.engines import database_engine, remote_engine
from search.indexing import apply_pending_changes, rebuild_database_index
from search.models import IndexEntry, PendingIndexChange


class Progress:
    """A one-line progress bar on a terminal, plain lines otherwise."""

    def __init__(self, stream, label, total):
        self.stream, self.label, self.total = stream, label, max(total, 1)
        self.started = time.monotonic()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, done):
        width = 30
        filled = int(width * done / self.total)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        bar = "#" * filled + "." * (width - filled)
        line = f"{self.label} [{bar}] {done}/{self.total} ({rate:.0f}/s)"
        if self.tty:
            self.stream.write("\r" + line)
            self.stream.flush()
        elif done >= self.total:
            self.stream.write(line + "\n")

    def finish(self):
        if self.tty:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Rebuild the search index from the content: a new index, then an atomic alias swap."

    def handle(self, *args, **options):
        progress = Progress(sys.stdout, "database index", len(registry.all_keys()))
        rebuild_database_index(progress)
        progress.finish()
        database_engine().rebuild(IndexEntry.objects.none(), 0)
        engine = remote_engine()
        if engine is None:
            self.stdout.write(f"database engine: {IndexEntry.objects.count()} entries")
            return
        count = IndexEntry.objects.count()
        # Changes made while the rebuild runs land in the outbox; the rows present now are
        # covered by the rebuild, so they can go once the new index is live.
        covered = list(PendingIndexChange.objects.values_list("pk", flat=True))
        progress = Progress(sys.stdout, f"{engine.name} index", count)
        started = time.monotonic()
        try:
            name = engine.rebuild(IndexEntry.objects.order_by("pk").iterator(2000), count, progress)
        except EngineError as error:
            raise CommandError(f"rebuild failed, the old index is still live: {error}") from None
        progress.finish()
        results_cache.changed()
        PendingIndexChange.objects.filter(pk__in=covered).delete()
        apply_pending_changes()
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"{engine.name}: {count} entries into {name} in {elapsed:.1f} s "
            f"({count / max(elapsed, 1e-6):.0f}/s); alias {engine.alias} now points to it"
        )

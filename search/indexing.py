"""Keeping the indexes in step with the content, without ever losing an update.

A content change calls `search.record_change(key)` inside its own transaction: the database
engine's IndexEntry row is rewritten right there, and when an external engine is configured an
outbox row (PendingIndexChange) is written too. After commit a task applies the outbox to the
engine; rows are deleted only once the engine has taken them, so an engine that is down just
means they wait. A change answers afresh the cached searches of those who find the entry, before
it and after it (search.results_cache): at once for the database index, and when the engine takes
it for the external engine, from the visibilities its outbox row records.

Forum threads change with every post and their entry reads all their posts, so posting calls
`search.record_change(key, soon=True)` instead: after commit a task re-indexes the thread, at
most once per REINDEX_DELAY_SECONDS for a busy thread when a worker runs tasks
(TASK_BACKEND=database).
"""

import datetime
import logging

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from django_tasks import task

from search import registry, results_cache
from search.backends.base import EngineError
from search.engines import remote_engine
from search.models import IndexEntry, PendingIndexChange

logger = logging.getLogger(__name__)
APPLY_BATCH = 500
MAX_RETRY_DELAY_SECONDS = 300
REINDEX_DELAY_SECONDS = 1
# How long a key counts as waiting for its task: past this (no worker running, say) the next
# change queues another task.
REINDEX_MARK_SECONDS = 60


# Sent once the transaction that made them searchable commits, with keys=[the entries' keys]:
# saved searches' immediate alerts listen (search knows nothing of them).
entries_added = Signal()


def reindex(*keys):
    """Re-index the objects with these keys; call inside the transaction that changed them."""
    if not keys:
        return
    external = remote_engine() is not None
    added, affected = [], set()
    # The visibilities the entries had are read under the locks their rewriting takes anyway, so
    # a reindex of the same keys committing meanwhile is not missed; locks need a transaction,
    # and are taken in key order, so two reindexes of the same keys queue rather than deadlock.
    with transaction.atomic(savepoint=False):
        before = dict(
            IndexEntry.objects.select_for_update()
            .filter(key__in=keys)
            .order_by("key")
            .values_list("key", "visibility")
        )
        for key, fields in registry.entries(keys).items():
            if fields is None:
                IndexEntry.objects.filter(key=key).delete()
            else:
                _, created = IndexEntry.objects.update_or_create(
                    key=key, defaults=fields, create_defaults={**fields, "added_at": timezone.now()}
                )
                if created:
                    added.append(key)
            after = fields["visibility"] if fields else None
            visibilities = sorted({before.get(key), after} - {None})
            affected.update(visibilities)
            if external:
                PendingIndexChange.objects.create(key=key, visibilities=visibilities)
        results_cache.changed_for(affected)
        if external:
            transaction.on_commit(schedule_apply)
        if added:
            transaction.on_commit(lambda: entries_added.send(sender=IndexEntry, keys=added))


def reindex_after_commit(*keys):
    """Re-index these keys in a task once the current transaction commits, so a change whose
    entry is costly to build is not kept waiting for it; search sees it a moment later.

    A key already waiting for its task is left to it: the task reads the content when it runs,
    after the mark is cleared, so it includes this change."""
    keys = [key for key in keys if cache.add(_waiting_mark(key), 1, REINDEX_MARK_SECONDS)]
    if keys:
        transaction.on_commit(lambda: _enqueue(reindex_task, [keys], REINDEX_DELAY_SECONDS))


def _waiting_mark(key):
    return f"search:reindex-waiting:{key}"


@task()
def reindex_task(keys):
    cache.delete_many([_waiting_mark(key) for key in keys])
    with transaction.atomic():
        reindex(*keys)


def _enqueue(task_function, args, delay_seconds):
    backend = task_function.get_backend()
    if delay_seconds and backend.supports_defer:
        run_after = timezone.now() + datetime.timedelta(seconds=delay_seconds)
        task_function.using(run_after=run_after).enqueue(*args)
    else:
        task_function.enqueue(*args)


def schedule_apply(delay_seconds=0):
    _enqueue(apply_pending_changes_task, [], delay_seconds)


def drain_pending_changes_later():
    """Queue the outbox's drain if changes are waiting: for a task worker that (re)starts, since
    a task interrupted by an outage leaves its changes pending with no task to apply them."""
    if remote_engine() is not None and PendingIndexChange.objects.exists():
        schedule_apply()


@task()
def apply_pending_changes_task():
    applied, failed = apply_pending_changes()
    if failed:
        attempts = PendingIndexChange.objects.order_by("-attempts").values_list(
            "attempts", flat=True
        )[:1]
        schedule_apply(min(MAX_RETRY_DELAY_SECONDS, 2 ** (attempts[0] if attempts else 1)))
    return applied


def apply_pending_changes(batch=APPLY_BATCH):
    """Apply the outbox to the external engine; returns (applied, failed) row counts."""
    engine = remote_engine()
    if engine is None:
        PendingIndexChange.objects.all().delete()
        return 0, 0
    applied = 0
    while True:
        rows = list(PendingIndexChange.objects.values_list("pk", "key", "visibilities")[:batch])
        if not rows:
            return applied, 0
        ids = [pk for pk, _, _ in rows]
        keys = {key for _, key, _ in rows}
        entries = list(IndexEntry.objects.filter(key__in=keys))
        try:
            engine.upsert(entries)
            engine.delete(sorted(keys - {entry.key for entry in entries}))
        except EngineError as error:
            PendingIndexChange.objects.filter(pk__in=ids).update(
                attempts=F("attempts") + 1, last_error=str(error)[:1000]
            )
            logger.warning("search outbox: %d changes wait for the engine (%s)", len(ids), error)
            return applied, PendingIndexChange.objects.count()
        PendingIndexChange.objects.filter(pk__in=ids).delete()
        if all(visibilities for _, _, visibilities in rows):
            results_cache.changed_for({v for _, _, visibilities in rows for v in visibilities})
        else:  # a row written before outbox rows recorded them: who it affects is unknown
            results_cache.changed()
        applied += len(ids)


def rebuild_database_index(progress=None, batch=500):
    """Recompute every IndexEntry from the content (used by search_reindex), in batches."""
    done = 0
    with transaction.atomic():
        added_at = dict(IndexEntry.objects.values_list("key", "added_at"))
        IndexEntry.objects.all().delete()
        now = timezone.now()
        for entries in registry.all_entries(batch):
            IndexEntry.objects.bulk_create(
                IndexEntry(key=key, added_at=added_at.get(key) or now, **fields)
                for key, fields in entries
            )
            done += len(entries)
            if progress:
                progress(done)
        results_cache.changed()
    return done

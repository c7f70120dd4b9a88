"""`manage.py db_worker`: django-tasks-db's worker, made to outlive the database.

Upstream's worker exits on the first database error it meets outside a task (a restart of
PostgreSQL is enough), and then the search outbox and notification e-mails wait until someone
starts it again. This one waits and tries again with growing back-off instead, and every time it
(re)starts it queues the search outbox's drain, so changes left pending by an interrupted task are
applied without anyone acting. deploy/ supervises the process anyway.
"""

import contextlib
import logging
import time

from django.db import DatabaseError, InterfaceError, connections
from django_tasks_db.management.commands import db_worker

from search.indexing import drain_pending_changes_later

logger = logging.getLogger("portal.worker")
FIRST_RETRY_SECONDS = 1
MAX_RETRY_SECONDS = 30
# A worker that ran this long before failing starts its back-off afresh.
STEADY_SECONDS = 60


class Command(db_worker.Command):
    help = "Run the background task worker; database outages make it wait, never exit."

    def handle(self, **options):
        delay = FIRST_RETRY_SECONDS
        while True:
            started = time.monotonic()
            try:
                drain_pending_changes_later()
                return super().handle(**options)
            except (DatabaseError, InterfaceError) as error:
                if time.monotonic() - started > STEADY_SECONDS:
                    delay = FIRST_RETRY_SECONDS
                logger.warning(
                    "task worker: database unavailable (%s); trying again in %d s",
                    str(error).strip().splitlines()[0] if str(error).strip() else error,
                    delay,
                )
                with contextlib.suppress(Exception):  # the connection is broken either way
                    connections.close_all()
                time.sleep(delay)
                delay = min(MAX_RETRY_SECONDS, delay * 2)

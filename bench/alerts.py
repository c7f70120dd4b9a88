"""A daily saved-search alert run over 10,000 saved searches: time, SQL queries, searches run and
e-mails sent, and the saved searches page's new-result counts for one person.

Runs on a fresh database of the profile the environment selects (a temporary SQLite file by
default; DATABASE_URL for PostgreSQL, SEARCH_URL for OpenSearch), with the demo library, people
of every kind (members, applicants, suspended members), their saved searches with daily alerts
last sent two days ago, and new entries since: library items and members' discussions whose
words some saved searches ask for. Two shapes side by side: saved searches sharing `--distinct`
queries (people follow the same topics), and every saved search different. E-mail goes to
Django's in-memory outbox, so what is measured is building the alerts, not an SMTP server.
Prints a table and writes bench/results/alerts-<database>.json.

    .venv/bin/python bench/alerts.py [--saved 10000] [--people 2000] [--distinct 200] [--runs 3]
"""

import argparse
import datetime
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPICS = [
    "encryption", "grooming", "hashing", "sextortion", "livestreaming", "helpline", "survivors",
    "deterrence", "classifiers", "reporting", "age assurance", "safety by design", "prevention",
    "csam", "e2ee", "photodna", "moderation", "policy", "evidence", "victims",
]  # fmt: skip
FILTERS = [
    "", "&type=report", "&type=guide", "&content=library", "&theme=technology", "&sort=newest",
]  # fmt: skip
NEW_ITEMS, NEW_THREADS = 40, 10


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def make_people(count):
    """Members, applicants and suspended members in the proportions 6:3:1, made in bulk."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from portal.models import Membership, User

    password = make_password(None)
    users = User.objects.bulk_create(
        User(username=f"bench{i}", email=f"bench{i}@example.org", password=password)
        for i in range(count)
    )
    now = timezone.now()
    Membership.objects.bulk_create(
        Membership(
            user=user,
            status=Membership.Status.PENDING if i % 10 in (6, 7, 8) else Membership.Status.APPROVED,
            full_name=f"Bench {i}",
            organisation="Bench",
            job_title="Analyst",
            country="UK",
            reason="Benchmark.",
            agreed_to_code_at=now,
            suspended_at=now if i % 10 == 9 else None,
        )
        for i, user in enumerate(users)
    )
    return users


def queries(distinct, rng):
    pool = [f"q={topic.replace(' ', '+')}{extra}" for topic in TOPICS for extra in FILTERS]
    pool += [f"q={a}+{b}" for a in TOPICS for b in TOPICS if a != b]
    rng.shuffle(pool)
    return pool[:distinct]


def unique_query(number):
    """A query of its own for each number below 15,240, that new entries can still match."""
    topic = TOPICS[number % len(TOPICS)].replace(" ", "+")
    extra = FILTERS[(number // len(TOPICS)) % len(FILTERS)]
    return f"q={topic}{extra}&year_from={1900 + number // (len(TOPICS) * len(FILTERS))}"


def make_saved_searches(users, total, pool, rng):
    from django.utils import timezone

    from portal.models import SavedSearch

    SavedSearch.objects.all().delete()
    past = timezone.now() - datetime.timedelta(days=2)
    SavedSearch.objects.bulk_create(
        (
            SavedSearch(
                user=users[i % len(users)],
                name=f"Saved {i}",
                query=pool[i % len(pool)] if pool else unique_query(i),
                alert=SavedSearch.Alert.DAILY,
                seen_at=past,
                alerted_at=past,
            )
            for i in range(total)
        ),
        batch_size=2000,
    )


def add_new_entries(rng):
    """New library items and members' discussions, added to the index after the last alerts."""
    from django.utils import timezone

    from search.models import IndexEntry

    today = timezone.localdate()
    rows = []
    for i in range(NEW_ITEMS + NEW_THREADS):
        thread = i >= NEW_ITEMS
        words = " ".join(rng.sample(TOPICS, 3))
        rows.append(
            IndexEntry(
                key=f"{'thread' if thread else 'item'}:{900_000 + i}",
                kind="thread" if thread else "item",
                object_id=900_000 + i,
                visibility="members" if thread else "public",
                title=f"New {'discussion' if thread else 'report'} on {words}",
                summary=f"About {words}.",
                body=f"A longer text on {words} for practitioners.",
                type="" if thread else rng.choice(["report", "guide"]),
                themes="technology",
                language="en",
                date=today,
                year=today.year,
                url=f"/library/new-{i}/",
                added_at=timezone.now(),
            )
        )
    IndexEntry.objects.bulk_create(rows)


class QueryCounter:
    """Counts the SQL statements run inside it (Django's query log keeps only the last 9,000)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)


def alert_run():
    """One daily run, timed and its queries counted; the alerts are then made due again."""
    from django.core import mail
    from django.utils import timezone

    from portal.alerts import send_scheduled_alerts
    from portal.models import SavedSearch

    mail.outbox = []
    with QueryCounter() as counter:
        started = time.perf_counter()
        sent = send_scheduled_alerts.call()
        seconds = time.perf_counter() - started
    past = timezone.now() - datetime.timedelta(days=2)
    SavedSearch.objects.update(alerted_at=past)
    return {"seconds": seconds, "queries": counter.count, "emails": sent}


def list_page_counts(user):
    """The saved searches page's counts for one person's saved searches."""
    from portal.alerts import new_counts

    saved = list(user.saved_searches.all()[:20])
    timings = []
    for _ in range(20):
        with QueryCounter() as counter:
            started = time.perf_counter()
            new_counts(user, saved)
            timings.append((time.perf_counter() - started) * 1000)
    return {
        "saved_searches": len(saved),
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "queries": counter.count,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saved", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--distinct", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="portal-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from library import demo
    from search.engines import engine_name
    from search.indexing import rebuild_database_index
    from search.models import IndexEntry

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rng = random.Random(16)
    call_command("migrate", verbosity=0)
    demo.load()
    rebuild_database_index()
    IndexEntry.objects.update(added_at=timezone.now() - datetime.timedelta(days=30))
    users = make_people(args.people)
    add_new_entries(rng)
    if engine_name() != "database":
        call_command("search_reindex", verbosity=0)

    rows = []
    for shape, pool in (
        (f"{args.distinct} distinct queries", queries(args.distinct, rng)),
        ("every query different", []),
    ):
        make_saved_searches(users, args.saved, pool, rng)
        runs = [alert_run() for _ in range(args.runs if pool else 1)]
        seconds = [run["seconds"] for run in runs]
        rows.append(
            {
                "shape": shape,
                "saved_searches": args.saved,
                "people": args.people,
                "runs": len(runs),
                "median_s": round(statistics.median(seconds), 2),
                "max_s": round(max(seconds), 2),
                "queries": runs[0]["queries"],
                "emails": runs[0]["emails"],
                "per_saved_search_ms": round(1000 * statistics.median(seconds) / args.saved, 3),
            }
        )
    page = list_page_counts(users[0])

    print(
        f"alert run: {args.saved:,} daily saved searches of {args.people:,} people; "
        f"{NEW_ITEMS} new items, {NEW_THREADS} new discussions; engine {engine_name()} on "
        f"{connection.vendor}"
    )
    print(
        f"{'shape':<26} {'median s':>9} {'max s':>7} {'ms/search':>10} {'queries':>8} "
        f"{'e-mails':>8}"
    )
    for row in rows:
        print(
            f"{row['shape']:<26} {row['median_s']:>9} {row['max_s']:>7} "
            f"{row['per_saved_search_ms']:>10} {row['queries']:>8} {row['emails']:>8}"
        )
    ratio = rows[1]["median_s"] / rows[0]["median_s"] if rows[0]["median_s"] else 0
    print(f"every query different / shared queries: {ratio:.1f}×")
    print(
        f"saved searches page, new counts for {page['saved_searches']} saved searches: "
        f"median {page['median_ms']} ms, p95 {page['p95_ms']} ms, {page['queries']} queries"
    )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"alerts-{connection.vendor}.json").write_text(
        json.dumps(
            {
                "engine": engine_name(),
                "database": connection.vendor,
                "new_items": NEW_ITEMS,
                "new_threads": NEW_THREADS,
                "runs": rows,
                "ratio_unique_to_shared": round(ratio, 2),
                "list_page": page,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""Where a reply's time goes: `portal.actions.forum.create_post` up to its commit and the work
after it (live events to the channel layer, the task for re-indexing), as the web process does it
for the poster's acknowledgement. Same settings and data as bench/realtime.py (PostgreSQL beside
BENCH_POSTGRES_URL/TEST_POSTGRES_URL, else SQLite; Redis --redis-db, flushed).

Prints the median and p95 ms per reply, the queries one reply runs, and cProfile's top entries
by cumulative and by own time; writes bench/results/write_path.json.

    .venv/bin/python bench/write_path.py --posts 300 --redis-db 9
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import realtime  # noqa: E402 - needs the project root on sys.path
from bench.pages import percentile  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def reply(forum, member, thread, number):
    from django.db import transaction

    # The consumer's way: the action in its own transaction, on-commit work run at the commit.
    with transaction.atomic():
        forum.create_post(member, thread, realtime.post_source(number))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--database", choices=["auto", "sqlite", "postgres"], default="auto")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--output", default="write_path.json")
    args = parser.parse_args()
    args.members, args.posters, args.page_posts = 10, 1, 200
    var_dir = Path(tempfile.mkdtemp(prefix="portal-write-path-"))
    _, postgres = realtime.prepare_environment(args, var_dir)
    try:
        import django

        django.setup()
        import redis
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from portal.actions import forum
        from portal.models import Thread

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        call_command("migrate", verbosity=0)
        data = realtime.build_data(args)
        thread_id = data["thread"].pk
        from portal.models import User

        member = User.objects.get(username="member000")
        thread = Thread.objects.get(pk=thread_id)
        for number in range(20):  # warm caches, connections and the member's follow
            reply(forum, member, thread, number)
        with CaptureQueriesContext(connection) as captured:
            reply(forum, member, thread, 0)
        queries = [query["sql"] for query in captured.captured_queries]
        timings = []
        profile = cProfile.Profile()
        for number in range(args.posts):
            started = time.perf_counter()
            profile.enable()
            reply(forum, member, thread, number)
            profile.disable()
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
        print(f"{connection.vendor}, {args.posts} replies, load {os.getloadavg()[0]:.1f}")
        median, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
        print(f"reply: median {median:.1f} ms, p95 {p95:.1f} ms")
        print(f"queries per reply: {len(queries)}")
        for sql in queries:
            print(f"  {sql[:150]}")
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / args.output).write_text(
            json.dumps(
                {
                    "database": connection.vendor,
                    "posts": args.posts,
                    "median_ms": round(median, 2),
                    "p95_ms": round(p95, 2),
                    "queries": queries,
                    "load": os.getloadavg(),
                },
                indent=1,
            )
        )
        connection.close()
    finally:
        if postgres:
            from django.db import connections

            from bench.library_pages import drop_postgres

            connections.close_all()
            drop_postgres(*postgres)
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Server time and SQL query count per page type, through Django's test client.

Runs on a fresh database of the profile the environment selects (a temporary SQLite file by
default), loaded with the demo content. Prints a table and writes bench/results/pages.json.

    .venv/bin/python bench/pages.py [--requests 200]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = {"home": "/", "health": "/healthz", "sign-in": "/accounts/login/"}


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="portal-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from library import demo

    call_command("migrate", verbosity=0)
    demo.load()
    client = Client(HTTP_HOST="127.0.0.1")
    rows = []
    for name, url in PAGES.items():
        client.get(url)  # warm caches and imports
        timings = []
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        query_count = len(queries.captured_queries)
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        rows.append(
            {
                "page": name,
                "url": url,
                "status": response.status_code,
                "median_ms": round(statistics.median(timings), 2),
                "p95_ms": round(percentile(timings, 0.95), 2),
                "queries": query_count,
            }
        )

    print(f"{'page':<10} {'status':>6} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for row in rows:
        print(
            f"{row['page']:<10} {row['status']:>6} {row['median_ms']:>10} {row['p95_ms']:>8} "
            f"{row['queries']:>8}"
        )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "pages.json").write_text(
        json.dumps(
            {"database": connection.vendor, "requests": args.requests, "pages": rows}, indent=2
        )
    )


if __name__ == "__main__":
    main()

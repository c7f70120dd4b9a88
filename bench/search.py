"""Search latency and indexing speed with 1,000, 10,000 and 100,000 library items, per engine.

For each database (the profile's by default: a temporary SQLite file, or a fresh PostgreSQL
database beside DATABASE_URL) a worker process migrates, loads the demo content and then, for each
size in turn, adds generated library items in bulk (bench/library_pages.generate_items) and:

1. indexes them: times search.indexing.rebuild_database_index() (the IndexEntry rows; stopped and
   rolled back after --reindex-budget seconds, its rate then taken from the part done), fills the
   entries it did not reach with a bench-only bulk loader checked against the library's source,
   times DatabaseEngine.rebuild() (the full-text data), Wagtail's own index for the new items
   (what `manage.py update_index` does for them: index.add_items in chunks of 1,000) and, with
   --opensearch, RemoteEngine.rebuild() from the IndexEntry rows into a fresh index;
2. times, per engine (database, and OpenSearch with --opensearch), after one warm-up pass and
   over --requests calls rotating through realistic queries: the library search page through
   Django's test client (all facets and highlights), the same with two facet filters, the bare
   engine.search() call and service.autocomplete(); and, once per size, Wagtail's stock search
   for the same queries (page of 20, count, and .facet() on each FilterField of LibraryItemPage:
   resource_type and publication_date), with the ratio ours/stock;
3. profiles the slowest query of the largest size per engine with cProfile.

Prints a table per database and size, writes bench/results/search.json and draws
bench/results/search-latency.png (matplotlib if installed, else Pillow).

    .venv/bin/python bench/search.py [--sizes 1000,10000,100000]
        [--opensearch http://127.0.0.1:59200] [--databases profile|sqlite,postgres]
        [--postgres-url postgres://…] [--requests 50] [--reindex-budget 60]
        [--stock-timeout 45] [--merge] [--chart-only]

SEARCH_URL and REDIS_URL are ignored (the engine is switched per measurement; the cache is
local); OpenSearch indexes go under a fresh alias bench-search-<random> and are deleted at the end.
"""

import argparse
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# This file's name is the app's: the project root must come before bench/ (which Python puts
# first, as the script's folder), or `import search` would find this script instead of the app.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))
sys.path.append(str(BENCH))  # for library_pages

from bench.pages import percentile  # noqa: E402 - needs the project root on sys.path

RESULTS = ROOT / "bench" / "results"
# Realistic queries built from library_pages' vocabulary (topics, audiences, regions): single
# words, two-word searches, a quoted phrase, broad and narrow.
QUERIES = [
    "grooming",
    "sextortion",
    "end-to-end encryption",
    '"hash matching"',
    "age assurance",
    "police investigators",
    "helplines",
    "South-East Asia",
    "trauma-informed practice",
    "schools",
    "deterrence messaging",
    "livestreamed abuse",
]
# Unquoted queries with stop words: their totals are compared across engines (a correctness check,
# not timed).
CHECK_QUERIES = ["guidance for schools", "abuse of children", "the police"]
PREFIXES = [
    "gro",
    "sext",
    "end-to",
    "hash m",
    "age ass",
    "online g",
    "tackl",
    "guidance on",
    "child h",
    "under",
    "2021 thr",
    "peer",
]
# Wagtail can only facet on FilterFields; LibraryItemPage declares these two (by attname).
STOCK_FACETS = ["resource_type_id", "publication_date"]
MIN_REQUESTS = 10
TARGETS = {
    "opensearch_median_ms": 25,
    "opensearch_p95_ms": 60,
    "stock_p95_ratio": 0.5,
    "reindex_items_per_s": 2000,
    "sqlite_10k_median_ms": 50,
    "autocomplete_median_ms": 50,
}


def summary(timings):
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
        "n": len(timings),
    }


class Clock:
    def __init__(self):
        self.started = time.perf_counter()

    def log(self, message):
        print(f"[{time.perf_counter() - self.started:7.1f} s] {message}", flush=True)


# --- Parent: one worker process per database, then tables, JSON and chart -------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--opensearch", default="", help="OpenSearch URL, e.g. http://…:59200")
    parser.add_argument(
        "--databases",
        default="profile",
        help="profile (SQLite, or PostgreSQL when DATABASE_URL says so), or sqlite,postgres",
    )
    parser.add_argument("--postgres-url", default="", help="server for --databases postgres")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument(
        "--reindex-budget",
        type=float,
        default=60,
        help="seconds rebuild_database_index may run per size before it is stopped (0: no cap)",
    )
    parser.add_argument(
        "--measure-budget",
        type=float,
        default=45,
        help="seconds per measurement after which it stops (at least 10 requests)",
    )
    parser.add_argument(
        "--stock-timeout",
        type=float,
        default=45,
        help="seconds after which one Wagtail stock search is stopped (counted as that long)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile run")
    parser.add_argument(
        "--merge", action="store_true", help="keep other databases' results in search.json"
    )
    parser.add_argument("--chart-only", action="store_true", help="redraw from search.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.size_list = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if args.opensearch.startswith("opensearch+"):
        args.opensearch = args.opensearch.removeprefix("opensearch+")

    if args.worker:
        worker(args)
        return
    if args.chart_only:
        report = json.loads((RESULTS / "search.json").read_text())
        draw_chart(report, RESULTS / "search-latency.png")
        return

    given_url = os.environ.get("DATABASE_URL", "")
    databases = []
    for name in args.databases.split(","):
        name = name.strip()
        if name == "profile":
            name = "postgres" if given_url.startswith("postgres") else "sqlite"
        databases.append(name)
    if "postgres" in databases and not (args.postgres_url or given_url.startswith("postgres")):
        raise SystemExit("--databases postgres needs --postgres-url or a postgres DATABASE_URL")

    started = time.perf_counter()
    runs = []
    for database in databases:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = handle.name
        command = [sys.executable, __file__, *sys.argv[1:], "--worker", database, "--out", out]
        print(f"=== {database} ===", flush=True)
        child = subprocess.Popen(command)
        # A TERM to this process ends the worker too, which then cleans up after itself.
        signal.signal(signal.SIGTERM, lambda *_, child=child: child.terminate())
        returncode = child.wait()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if returncode != 0:
            print(f"{database}: worker failed with exit code {returncode}", flush=True)
            Path(out).unlink(missing_ok=True)
            continue
        runs.append(json.loads(Path(out).read_text()))
        Path(out).unlink()
    if not runs:
        raise SystemExit("no results")

    report = {
        "sizes": args.size_list,
        "requests": args.requests,
        "queries": QUERIES,
        "prefixes": PREFIXES,
        "stock_facets": STOCK_FACETS,
        "targets": TARGETS,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "search.json"
    if args.merge and path.exists():
        previous = json.loads(path.read_text())
        ran = {run["database"] for run in runs}
        report["runs"] = [r for r in previous.get("runs", []) if r["database"] not in ran] + runs
    for run in report["runs"]:
        print_run(run)
    print_targets(report)
    path.write_text(json.dumps(report, indent=2) + "\n")
    chart = draw_chart(report, RESULTS / "search-latency.png")
    print(f"\nwrote {path.relative_to(ROOT)} and {chart}; took {report['wall_seconds']:.0f} s")


def fmt(measure):
    if not measure:
        return "—"
    return f"{measure['median_ms']:.1f} / {measure['p95_ms']:.1f}"


def ratio(ours, stock, key):
    if not ours or not stock or not stock.get(key):
        return None
    return round(ours[key] / stock[key], 3)


def print_run(run):
    engines = list(run["sizes"][0]["engines"]) if run["sizes"] else []
    for entry in run["sizes"]:
        index = entry["index"]
        rebuild = index["database_rebuild"]
        lines = [
            f"\n{run['database']} {run['version']}, {entry['size']:,} generated items "
            f"({entry['live_items']:,} live, {entry['index_entries']:,} index entries); "
            f"generated in {entry['generation_seconds']:.1f} s; load average "
            f"{entry['load_average_before'][0]} before, {entry['load_average_after'][0]} after",
            f"  rebuild_database_index: {rebuild['items_per_s']:,.0f} items/s "
            + (
                f"({rebuild['items']:,} in {rebuild['seconds']:.1f} s)"
                if rebuild["complete"]
                else f"(sampled: stopped after {rebuild['items']:,} of {rebuild['wanted']:,} in "
                f"{rebuild['seconds']:.1f} s, rolled back; a full run ≈ "
                f"{rebuild['wanted'] / max(rebuild['items_per_s'], 1e-9) / 60:.1f} min)"
            ),
            f"  DatabaseEngine.rebuild (full-text data): {index['fulltext_rebuild_seconds']:.1f} s;"
            f" bench bulk fill of {index['bulk_fill']['items']:,} entries:"
            f" {index['bulk_fill']['seconds']:.1f} s",
            f"  Wagtail index (update_index for the {index['wagtail']['items']:,} new items): "
            f"{index['wagtail']['seconds']:.1f} s, {index['wagtail']['items_per_s']:,.0f} items/s",
        ]
        if index.get("opensearch"):
            remote = index["opensearch"]
            lines.append(
                f"  OpenSearch rebuild: {remote['items']:,} entries in {remote['seconds']:.1f} s, "
                f"{remote['items_per_s']:,.0f} items/s"
            )
        print("\n".join(lines))
        header = f"  {'median / p95 ms':<36}" + "".join(f"{e:>22}" for e in engines)
        print(header)
        rows = [
            ("search page, HTTP (all facets)", "e2e"),
            ("search page + 2 filters, HTTP", "e2e_filtered"),
            ("engine.search()", "engine"),
            ("  OpenSearch client.search() only", "client_search"),
            ("  OpenSearch server 'took'", "server_took"),
            ("service.autocomplete()", "autocomplete"),
        ]
        for label, key in rows:
            print(
                f"  {label:<36}"
                + "".join(f"{fmt(entry['engines'][e].get(key)):>22}" for e in engines)
            )
        print(
            f"  {'SQL queries per search page':<36}"
            + "".join(f"{entry['engines'][e]['queries_per_request']:>22}" for e in engines)
        )
        totals = {e: entry["engines"][e]["check_totals"] for e in engines}
        for text in CHECK_QUERIES:
            found = {e: totals[e][text] for e in engines}
            if min(found.values()) == 0 < max(found.values()):
                print(f"  !! {text!r}: results per engine {found}")
        stock = entry["stock"]
        bound = "≥ " if stock.get("timeouts") else ""  # calls stopped at the timeout
        print(f"  {'Wagtail stock: search+count+facets':<36}{bound + fmt(stock['total']):>22}")
        if stock.get("timeouts"):
            print(f"    ({stock['timeouts']} of the calls stopped at {stock['timeout_s']:g} s)")
        print(f"  {'  of which search + count':<36}{fmt(stock['search']):>22}")
        print(f"  {'  of which 2 facet() calls':<36}{fmt(stock['facets']):>22}")
        for label, key in (("page/stock", "e2e"), ("engine/stock", "engine")):
            cells = []
            for e in engines:
                ours = entry["engines"][e].get(key)
                cells.append(
                    ("≤ " if bound else "")
                    + f"{ratio(ours, stock['total'], 'median_ms') or 0:.3f} / "
                    f"{ratio(ours, stock['total'], 'p95_ms') or 0:.3f}"
                )
            print(f"  {'ratio ' + label + ' (med / p95)':<36}" + "".join(f"{c:>22}" for c in cells))
    for engine, profile in run.get("profiles", {}).items():
        print(
            f"\n{run['database']}/{engine}: cProfile of {profile['requests']} search pages for "
            f"{profile['query']!r} at {profile['size']:,} items "
            f"({profile['ms_per_request']:.1f} ms each under the profiler); top own time:"
        )
        for row in profile["top_tottime"][:12]:
            print(
                f"    {row['tottime_s']:7.3f} s own {row['cumtime_s']:8.3f} s cum"
                f"  {row['function']}"
            )


def print_targets(report):
    print("\ntargets")
    for run in report["runs"]:
        sizes = run["sizes"]
        if not sizes:
            continue
        largest = sizes[-1]
        opensearch = largest["engines"].get("opensearch", {}).get("e2e")
        if opensearch:
            print(
                f"  {run['database']}: OpenSearch at {largest['size']:,}: median "
                f"{opensearch['median_ms']} ms (< 25), p95 {opensearch['p95_ms']} ms (< 60)"
            )
        for entry in sizes:
            for engine, measures in entry["engines"].items():
                r = ratio(measures.get("e2e"), entry["stock"]["total"], "p95_ms")
                bound = "≤ " if entry["stock"].get("timeouts") else ""
                print(
                    f"  {run['database']}/{engine} at {entry['size']:,}: page p95 / stock p95 = "
                    f"{bound}{r} (≤ 0.5 means ≥ 2× faster); autocomplete median "
                    f"{measures['autocomplete']['median_ms']} ms (< 50)"
                )
            remote = entry["index"].get("opensearch")
            print(
                f"  {run['database']} reindex at {entry['size']:,}: database "
                f"{entry['index']['database_rebuild']['items_per_s']:,.0f} items/s"
                + (f", OpenSearch {remote['items_per_s']:,.0f} items/s" if remote else "")
                + " (≥ 2,000)"
            )
            if run["database"] == "sqlite" and entry["size"] == 10_000:
                e2e = entry["engines"]["database"]["e2e"]
                print(f"  sqlite at 10,000: page median {e2e['median_ms']} ms (< 50)")


# --- Chart ----------------------------------------------------------------------------------


def chart_series(report):
    """[(label, [(size, median_ms)], dashed)] for each database/engine and Wagtail stock."""
    series = []
    for run in report["runs"]:
        engines = {}
        stock = []
        for entry in run["sizes"]:
            for engine, measures in entry["engines"].items():
                engines.setdefault(engine, []).append((entry["size"], measures["e2e"]["median_ms"]))
            stock.append((entry["size"], entry["stock"]["total"]["median_ms"]))
        for engine, points in engines.items():
            label = (
                f"database engine ({run['database']})"
                if engine == "database"
                else f"{engine} (site DB {run['database']})"
            )
            series.append((label, points, False))
        stopped = any(entry["stock"].get("timeouts") for entry in run["sizes"])
        label = f"Wagtail stock search + 2 facets, ORM call ({run['database']})"
        if stopped:
            label += "; ≥: calls stopped at the timeout"
        series.append((label, stock, True))
    return series


def draw_chart(report, path):
    series = chart_series(report)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return draw_chart_pillow(series, path)
    figure, axes = plt.subplots(figsize=(9, 5.5), dpi=110)
    for label, points, dashed in series:
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, "--" if dashed else "-", marker="o", label=label)
        axes.annotate(
            f"{'≥ ' if '≥' in label else ''}{ys[-1]:,.0f} ms",
            (xs[-1], ys[-1]),
            textcoords="offset points",
            xytext=(6, 0),
            fontsize=8,
            va="center",
        )
    axes.axhline(25, color="grey", linestyle=":", linewidth=1)
    axes.text(
        max(report["sizes"]), 25, "25 ms target ", fontsize=8, color="grey", va="bottom", ha="right"
    )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(report["sizes"], [f"{s:,}" for s in report["sizes"]])
    axes.set_xlabel("library items (generated)")
    axes.set_ylabel("median latency, ms (log scale)")
    axes.set_title("Library search page, end to end (HTTP via test client, all facets)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path.relative_to(ROOT)


def draw_chart_pillow(series, path):
    import math

    from PIL import Image, ImageDraw

    width, height, margin = 900, 560, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    xs = [x for _, points, _ in series for x, _ in points]
    ys = [y for _, points, _ in series for _, y in points]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs)) + 1e-9
    y0, y1 = math.log10(max(min(ys), 0.1)), math.log10(max(ys)) + 1e-9

    def at(x, y):
        px = margin + (math.log10(x) - x0) / (x1 - x0) * (width - 2 * margin)
        py = height - margin - (math.log10(y) - y0) / (y1 - y0) * (height - 2 * margin)
        return px, py

    draw.rectangle([margin, margin, width - margin, height - margin], outline="black")
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
    for number, (label, points, _) in enumerate(series):
        colour = colours[number % len(colours)]
        draw.line([at(x, y) for x, y in points], fill=colour, width=3)
        draw.text((margin + 10, margin + 10 + 16 * number), label, fill=colour)
    for x in sorted(set(xs)):
        draw.text((at(x, 10**y0)[0] - 15, height - margin + 8), f"{x:,}", fill="black")
    draw.text((10, 10), "median end-to-end latency (ms, log) vs library items", fill="black")
    image.save(path)
    return path.relative_to(ROOT)


# --- Worker: one database ---------------------------------------------------------------------


def worker(args):
    from library_pages import drop_postgres, fresh_postgres

    # Stopped with TERM (or INT, which a shell's background job ignores), still drop the
    # PostgreSQL database, the OpenSearch indexes and the temporary folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    os.environ.pop("SEARCH_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["VAR_DIR"] = var_dir = tempfile.mkdtemp(prefix="portal-bench-search-")
    postgres = None
    if args.worker == "postgres":
        server = args.postgres_url or os.environ["DATABASE_URL"]
        os.environ["DATABASE_URL"], name = fresh_postgres(server)
        postgres = (server, name)
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    alias = f"bench-search-{uuid.uuid4().hex[:8]}"
    try:
        result = run_worker(args, alias)
        Path(args.out).write_text(json.dumps(result, indent=2, default=str))
    finally:
        if args.opensearch:
            delete_opensearch_indexes(args.opensearch, alias)
        if postgres:
            from django.db import connections

            connections.close_all()
            drop_postgres(*postgres)
        shutil.rmtree(var_dir, ignore_errors=True)


def delete_opensearch_indexes(url, alias):
    try:
        from opensearchpy import OpenSearch

        OpenSearch(url, timeout=30).indices.delete(index=f"{alias}-*", allow_no_indices=True)
    except Exception as error:  # noqa: BLE001 - cleanup is best effort; say what is left
        print(f"could not delete the OpenSearch indexes {alias}-*: {error}", flush=True)


def run_worker(args, alias):
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from library_pages import check_tree_and_pages, generate_items

    from library import demo
    from library.models import LibraryItemPage

    clock = Clock()
    client = Client(HTTP_HOST="127.0.0.1")
    call_command("migrate", verbosity=0)
    demo.load()
    with connection.cursor() as cursor:
        cursor.execute(
            "select sqlite_version()" if connection.vendor == "sqlite" else "show server_version"
        )
        version = cursor.fetchone()[0]
    setup_seconds = time.perf_counter() - clock.started
    clock.log(
        f"{connection.vendor} {version}: migrated and loaded the demo in {setup_seconds:.1f} s"
    )
    opensearch = (
        {"ENGINE": "opensearch", "URL": args.opensearch, "INDEX": alias}
        if args.opensearch
        else None
    )

    result = {
        "database": connection.vendor,
        "version": version,
        "debug": settings.DEBUG,
        "setup_seconds": round(setup_seconds, 1),
        "opensearch": args.opensearch or None,
        "sizes": [],
    }
    generated = 0
    for size in args.size_list:
        started = time.perf_counter()
        added, generated = size - generated, size
        phases = generate_items(added, args.seed + size)
        generation_seconds = time.perf_counter() - started
        check_tree_and_pages(client, generated)
        clock.log(f"{size:,}: generated {added:,} more items in {generation_seconds:.1f} s")
        index = build_indexes(args, clock, opensearch)
        entry = {
            "size": size,
            "live_items": LibraryItemPage.objects.live().count(),
            "index_entries": index.pop("entries"),
            "generation_seconds": round(generation_seconds, 2),
            "generation_phases": {k: round(v, 2) for k, v in phases.items()},
            "index": index,
            "engines": {},
        }
        checks = query_setup()
        entry["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
        entry["engines"]["database"] = measure_engine(args, clock, client, checks, None)
        if opensearch:
            entry["engines"]["opensearch"] = measure_engine(args, clock, client, checks, opensearch)
        entry["stock"] = measure_stock(args, clock)
        entry["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        result["sizes"].append(entry)
    if not args.no_profile:
        result["profiles"] = {
            engine: profile_slowest(client, result["sizes"][-1], engine, opensearch)
            for engine in result["sizes"][-1]["engines"]
        }
        clock.log("profiled")
    result["worker_seconds"] = round(time.perf_counter() - clock.started, 1)
    return result


# --- Indexing --------------------------------------------------------------------------------


class _OverBudget(Exception):
    def __init__(self, done):
        self.done = done


def build_indexes(args, clock, opensearch):
    from django.test.utils import override_settings

    from library.models import LibraryItemPage, ThemePage
    from search.engines import database_engine, remote_engine
    from search.indexing import rebuild_database_index
    from search.models import IndexEntry

    index = {}
    total_wanted = LibraryItemPage.objects.live().public().count()
    total_wanted += ThemePage.objects.live().public().count()
    gc.collect()
    started = time.perf_counter()

    def progress(done):
        # Called every 200 entries inside rebuild_database_index's transaction (and once more
        # after it): raising there stops the rebuild and rolls it back.
        over = args.reindex_budget and time.perf_counter() - started > args.reindex_budget
        if over and done < total_wanted:
            raise _OverBudget(done)

    try:
        count = rebuild_database_index(progress)
        complete = True
    except _OverBudget as stop:
        count, complete = stop.done, False
    seconds = time.perf_counter() - started
    index["database_rebuild"] = {
        "items": count,
        "wanted": total_wanted,
        "seconds": round(seconds, 2),
        "items_per_s": round(count / seconds, 1),
        "complete": complete,
    }
    clock.log(
        f"rebuild_database_index: {count:,} items in {seconds:.1f} s "
        f"({count / seconds:,.0f}/s){'' if complete else ', stopped at the budget, rolled back'}"
    )

    started = time.perf_counter()
    filled = bulk_fill_entries()
    index["bulk_fill"] = {"items": filled, "seconds": round(time.perf_counter() - started, 2)}

    started = time.perf_counter()
    database_engine().rebuild(IndexEntry.objects.none(), 0)
    index["fulltext_rebuild_seconds"] = round(time.perf_counter() - started, 2)
    index["entries"] = IndexEntry.objects.count()

    started = time.perf_counter()
    added = update_wagtail_index()
    seconds = time.perf_counter() - started
    index["wagtail"] = {
        "items": added,
        "seconds": round(seconds, 2),
        "items_per_s": round(added / seconds, 1) if added else None,
    }
    clock.log(
        f"bulk fill {filled:,} entries in {index['bulk_fill']['seconds']:.1f} s; full-text "
        f"rebuild {index['fulltext_rebuild_seconds']:.1f} s; Wagtail index {added:,} items in "
        f"{seconds:.1f} s"
    )

    if opensearch:
        with override_settings(SEARCH=opensearch):
            engine = remote_engine()
            count = IndexEntry.objects.count()
            started = time.perf_counter()
            engine.rebuild(IndexEntry.objects.order_by("pk").iterator(2000), count)
            seconds = time.perf_counter() - started
            documents = engine.status()["documents"]
        if documents != count:
            raise SystemExit(f"OpenSearch holds {documents} documents, expected {count}")
        index["opensearch"] = {
            "items": count,
            "seconds": round(seconds, 2),
            "items_per_s": round(count / seconds, 1),
        }
        clock.log(f"OpenSearch rebuild: {count:,} in {seconds:.1f} s ({count / seconds:,.0f}/s)")
    return index


def bulk_fill_entries(check_sample=40):
    """Bench only: IndexEntry rows for the live items that have none (those rebuild_database_index
    did not reach within its budget), computed set-wise instead of item by item. A sample of them
    is compared with search.registry.entries, so the index is the one the app would build."""
    import random

    from django.db import transaction
    from wagtail.models import Site

    from library.models import LibraryItemPage, LibraryItemPublisher, ThemePage
    from library.search_source import item_key, stream_text
    from search.models import IndexEntry
    from search.registry import entries

    present = set(IndexEntry.objects.filter(kind="item").values_list("object_id", flat=True))
    missing = [
        pk
        for pk in LibraryItemPage.objects.live().public().values_list("pk", flat=True)
        if pk not in present
    ]
    if not missing:
        return 0
    root = Site.objects.get(is_default_site=True).root_page.url_path  # "/home/"
    themes_field = LibraryItemPage._meta.get_field("themes")
    through = themes_field.remote_field.through
    item_column = f"{themes_field.m2m_field_name()}_id"
    theme_column = themes_field.m2m_reverse_field_name()
    public_themes = set(ThemePage.objects.live().public().values_list("pk", flat=True))
    with transaction.atomic():
        for start in range(0, len(missing), 2000):
            chunk = missing[start : start + 2000]
            publishers, themes = {}, {}
            for page_id, slug, name in (
                LibraryItemPublisher.objects.filter(page_id__in=chunk)
                .order_by("page_id", "sort_order", "pk")
                .values_list("page_id", "publisher__slug", "publisher__name")
            ):
                publishers.setdefault(page_id, []).append((slug, name))
            for page_id, theme_id, slug, path in through.objects.filter(
                **{f"{item_column}__in": chunk}
            ).values_list(
                item_column, f"{theme_column}_id", f"{theme_column}__slug", f"{theme_column}__path"
            ):
                if theme_id in public_themes:
                    themes.setdefault(page_id, []).append((path, slug))
            with_attachments = set(
                LibraryItemPage.objects.filter(pk__in=chunk, attachments__isnull=False).values_list(
                    "pk", flat=True
                )
            )
            rows = []
            for values in LibraryItemPage.objects.filter(pk__in=chunk).values_list(
                "pk",
                "title",
                "summary",
                "body",
                "resource_type__slug",
                "resource_type__name",
                "language",
                "publication_date",
                "url_path",
            ):
                pk, title, summary, body, type_slug, type_name, language, day, url_path = values
                if pk in with_attachments:  # documents need text extraction: the app's way
                    fields = entries([item_key(pk)])[item_key(pk)]
                else:
                    fields = {
                        "kind": "item",
                        "object_id": pk,
                        "title": title,
                        "summary": summary,
                        "body": stream_text(body),
                        "attachments": "",
                        "publishers": " ".join(s for s, _ in publishers.get(pk, [])),
                        "publisher_names": ", ".join(n for _, n in publishers.get(pk, [])),
                        "type": type_slug,
                        "type_name": type_name,
                        "themes": " ".join(s for _, s in sorted(themes.get(pk, []))),
                        "language": language,
                        "date": day,
                        "year": day.year,
                        "url": "/" + url_path[len(root) :],
                    }
                rows.append(IndexEntry(key=item_key(pk), **fields))
            IndexEntry.objects.bulk_create(rows, batch_size=500)
    for pk in random.Random(len(missing)).sample(missing, min(check_sample, len(missing))):
        expected = entries([item_key(pk)])[item_key(pk)]
        stored = IndexEntry.objects.filter(key=item_key(pk)).values(*expected).get()
        if stored != expected:
            differing = {k: (stored[k], expected[k]) for k in expected if stored[k] != expected[k]}
            raise SystemExit(
                f"bench bulk fill differs from the app's entry for item {pk}: {differing}"
            )
    return len(missing)


def update_wagtail_index(chunk_size=1000):
    """What `manage.py update_index` does for LibraryItemPage, for the items not yet in Wagtail's
    index (the bulk generator bypasses its signal handlers). Returns the number added."""
    from django.contrib.contenttypes.models import ContentType
    from modelsearch.backends import get_search_backend
    from wagtail.search.models import IndexEntry as WagtailIndexEntry

    from library.models import LibraryItemPage

    content_type = ContentType.objects.get_for_model(LibraryItemPage)
    present = set(
        WagtailIndexEntry.objects.filter(content_type=content_type).values_list(
            "object_id", flat=True
        )
    )
    wanted = [
        pk
        for pk in LibraryItemPage.get_indexed_objects().values_list("pk", flat=True)
        if str(pk) not in present
    ]
    index = get_search_backend().get_index_for_model(LibraryItemPage)
    for start in range(0, len(wanted), chunk_size):
        chunk = list(
            LibraryItemPage.get_indexed_objects()
            .filter(pk__in=wanted[start : start + chunk_size])
            .order_by("pk")
        )
        index.add_items(LibraryItemPage, chunk)
    return len(wanted)


# --- Measuring --------------------------------------------------------------------------------


def query_setup():
    from library.models import ThemePage

    theme = ThemePage.objects.live().order_by("path").values_list("slug", flat=True).first()
    return {"filters": {"type": "report", "theme": theme}}


def timed(call, inputs, requests, budget, warm_up=True, min_requests=MIN_REQUESTS):
    """Warm up with one call per input, then time up to `requests` calls rotating through the
    inputs; stops early (after `min_requests`) once `budget` seconds have passed."""
    for value in inputs if warm_up else ():
        call(value)
    gc.collect()
    timings, per_input = [], {}
    started = time.perf_counter()
    for number in range(requests):
        value = inputs[number % len(inputs)]
        before = time.perf_counter()
        call(value)
        elapsed = (time.perf_counter() - before) * 1000
        timings.append(elapsed)
        per_input.setdefault(value, []).append(elapsed)
        if number + 1 >= min_requests and time.perf_counter() - started > budget:
            break
    result = summary(timings)
    result["per_query_median_ms"] = {
        value: round(statistics.median(values), 2) for value, values in per_input.items()
    }
    return result


def search_url(text, filters=None):
    return "/library/?" + urlencode({"q": text, **(filters or {})})


def measure_engine(args, clock, client, checks, opensearch):
    from contextlib import nullcontext

    from django.db import connection
    from django.http import QueryDict
    from django.test.utils import CaptureQueriesContext, override_settings

    from search import service
    from search.engines import search_engine
    from search.query import SearchRequest, parse_text

    name = "opensearch" if opensearch else "database"
    context = override_settings(SEARCH=opensearch) if opensearch else nullcontext()
    measures = {}
    with context:
        engine = search_engine()
        if engine.name != name:
            raise SystemExit(f"expected the {name} engine, got {engine.name}")
        totals = {}
        for text in QUERIES:
            api = client.get("/api/search/?" + urlencode({"q": text})).json()
            if api["engine"] != name or api["degraded"]:
                raise SystemExit(
                    f"{text!r}: answered by {api['engine']}, degraded {api['degraded']}"
                )
            totals[text] = api["total"]
        checks_totals = {
            text: client.get("/api/search/?" + urlencode({"q": text})).json()["total"]
            for text in CHECK_QUERIES
        }

        def page(url):
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url}: status {response.status_code}")

        urls = [search_url(text) for text in QUERIES]
        measures["e2e"] = timed(page, urls, args.requests, args.measure_budget)
        filtered = [search_url(text, checks["filters"]) for text in QUERIES]
        measures["e2e_filtered"] = timed(page, filtered, args.requests, args.measure_budget)
        with CaptureQueriesContext(connection) as queries:
            page(urls[0])
        measures["queries_per_request"] = len(queries.captured_queries)

        prepared = {}
        synonyms = service.synonym_map()
        for text in QUERIES:
            request = SearchRequest.from_params(QueryDict(urlencode({"q": text})))
            prepared[text] = (request, parse_text(request.text, synonyms))
        measures["engine"] = timed(
            lambda text: engine.search(*prepared[text], ["public"]),
            QUERIES,
            args.requests,
            args.measure_budget,
        )
        if opensearch:
            from search.backends.remote import build_search

            took = []

            def raw(text):
                body = build_search(*prepared[text], ["public"]).to_dict()
                took.append(engine.client.search(index=engine.alias, body=body)["took"])

            measures["client_search"] = timed(raw, QUERIES, args.requests, args.measure_budget)
            measures["server_took"] = summary(took[len(QUERIES) :])
        anonymous = ["public"]  # the visibilities of someone signed out
        measures["autocomplete"] = timed(
            lambda prefix: service.autocomplete(prefix, anonymous),
            PREFIXES,
            args.requests,
            args.measure_budget,
        )
        measures["autocomplete_counts"] = {
            prefix: len(service.autocomplete(prefix, anonymous)) for prefix in PREFIXES
        }
    measures["totals"] = totals
    measures["check_totals"] = checks_totals
    clock.log(
        f"{name}: page {fmt(measures['e2e'])}, filtered {fmt(measures['e2e_filtered'])}, "
        f"engine {fmt(measures['engine'])}, autocomplete {fmt(measures['autocomplete'])} ms"
    )
    return measures


class _StockTimeout(Exception):
    pass


@contextmanager
def statement_timeout(seconds):
    """Stop the database work inside after `seconds` (SQLite: the whole block, by interrupting
    the connection; PostgreSQL: each statement, by statement_timeout); raises _StockTimeout."""
    from django.db import connection, transaction

    if connection.vendor == "sqlite":
        connection.ensure_connection()
        timer = threading.Timer(seconds, connection.connection.interrupt)
        timer.start()
        try:
            yield
        except Exception as error:  # Django's OperationalError, or sqlite3's from a fetch
            if "interrupted" in str(error):
                raise _StockTimeout from error
            raise
        finally:
            timer.cancel()
        return
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
            yield
    except Exception as error:  # Django's OperationalError, or psycopg's QueryCanceled
        if "statement timeout" in str(error):
            raise _StockTimeout from error
        raise


def measure_stock(args, clock):
    """Wagtail's own search (the project's WAGTAILSEARCH_BACKENDS: the database backend) for the
    same queries: a page of 20 results, the count, and one facet() per FilterField. A call that
    runs past --stock-timeout is stopped and counted at the timeout (so figures are then lower
    bounds)."""
    from library.models import LibraryItemPage

    parts = {"search": [], "facets": []}
    totals = {}
    timeouts = []

    def stock(text):
        before = time.perf_counter()
        try:
            with statement_timeout(args.stock_timeout):
                results = LibraryItemPage.objects.live().search(text)
                page = list(results[:20])
                total = results.count()
                middle = time.perf_counter()
                facets = [results.facet(field) for field in STOCK_FACETS]
        except _StockTimeout:
            timeouts.append(text)
            totals[text] = {"timed_out_after_s": round(time.perf_counter() - before, 1)}
            return
        after = time.perf_counter()
        parts["search"].append((middle - before) * 1000)
        parts["facets"].append((after - middle) * 1000)
        totals[text] = {"total": total, "page": len(page), "facet_values": [len(f) for f in facets]}

    # One warm-up call first; when it takes seconds (Wagtail's database backend at 10,000 items
    # and more), that is all the warm-up, and 3 timed calls (2 after a timeout) must do.
    before = time.perf_counter()
    stock(QUERIES[0])
    slow = time.perf_counter() - before > 1.0
    warm_parts = len(parts["search"])
    measured = timed(
        stock,
        QUERIES,
        args.requests,
        args.measure_budget,
        warm_up=not slow,
        min_requests=(2 if timeouts else 3) if slow else MIN_REQUESTS,
    )
    skip = warm_parts if slow else warm_parts + len(QUERIES)  # the warm-up calls that finished
    result = {
        "total": measured,
        "search": summary(parts["search"][skip:]) if parts["search"][skip:] else None,
        "facets": summary(parts["facets"][skip:]) if parts["facets"][skip:] else None,
        "timeouts": len(timeouts),
        "timeout_s": args.stock_timeout,
        "totals": totals,
    }
    clock.log(
        f"Wagtail stock: {fmt(measured)} ms (search+count {fmt(result['search'])}, "
        f"facets {fmt(result['facets'])}; {len(timeouts)} stopped at {args.stock_timeout} s)"
    )
    return result


def profile_slowest(client, entry, engine, opensearch, requests=10):
    """cProfile `requests` search pages of the engine's slowest query at this size."""
    import cProfile
    import pstats
    from contextlib import nullcontext

    from django.test.utils import override_settings

    per_query = entry["engines"][engine]["e2e"]["per_query_median_ms"]
    url = max(per_query, key=per_query.get)
    text = QUERIES[[search_url(q) for q in QUERIES].index(url)]
    context = override_settings(SEARCH=opensearch) if engine == "opensearch" else nullcontext()
    profiler = cProfile.Profile()
    with context:
        client.get(url)
        started = time.perf_counter()
        profiler.enable()
        for _ in range(requests):
            client.get(url)
        profiler.disable()
        elapsed = time.perf_counter() - started
    stats = pstats.Stats(profiler)

    def rows(key, count=15):
        entries = sorted(stats.stats.items(), key=lambda item: item[1][key], reverse=True)
        output = []
        for (filename, line, function), (_, calls, tottime, cumtime, _) in entries[:count]:
            short = filename.replace(str(ROOT) + "/", "").replace(
                ".venv/lib/python3.11/site-packages/", ""
            )
            output.append(
                {
                    "function": f"{short}:{line}({function})",
                    "calls": calls,
                    "tottime_s": round(tottime, 4),
                    "cumtime_s": round(cumtime, 4),
                }
            )
        return output

    return {
        "query": text,
        "size": entry["size"],
        "requests": requests,
        "ms_per_request": round(elapsed / requests * 1000, 1),
        "top_tottime": rows(2),
        "top_cumtime": rows(3, 25),
    }


if __name__ == "__main__":
    main()

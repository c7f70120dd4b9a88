"""Search as users meet it: over HTTP, against uvicorn processes as deployed (DEBUG off,
PostgreSQL, Redis, OpenSearch), at concurrency 1 and 8, beside the engine's own `took`.

Two steps, so the data is generated once and measured as often as needed:

    .venv/bin/python bench/search_http.py prepare --size 100000 \
        --postgres-url postgres://…/any --opensearch http://127.0.0.1:59200 --name bench_perf_data
    .venv/bin/python bench/search_http.py measure --name bench_perf_data \
        --postgres-url postgres://…/any --opensearch http://127.0.0.1:59200 \
        [--baseline /path/to/other/checkout] [--requests 150] [--concurrency 1,8] \
        [--engine opensearch|database]
    .venv/bin/python bench/search_http.py profile --name bench_perf_data … [--requests 150]
    .venv/bin/python bench/search_http.py rebuild --name bench_perf_data … [--rebuilds 3]
    .venv/bin/python bench/search_http.py drop --name bench_perf_data --postgres-url … \
        --opensearch …

`prepare` makes a PostgreSQL database named --name, migrates, loads the demo content, adds
--size generated items (bench/library_pages.generate_items), builds the search entries and
Wagtail's index (bench/search.build_indexes), then times RemoteEngine.rebuild() into the
OpenSearch alias --name (items/s). `measure` starts uvicorn servers (config/serving.py) on that
data: this checkout as deployed ("ours": its results cache on; the bench asks the same queries
over and over, so after the warm-up its searches are answered from the cache), this checkout
with the cache off ("uncached": every search reaches the engine, as a query nobody asked in the
last SEARCH_RESULTS_CACHE_SECONDS does), and --baseline (e.g. a `git worktree` of an earlier
commit, with the same interpreter); for each it times with a keep-alive client (asyncio streams, one
connection per concurrent user): the search page with all facets, the page with two filters, the
JSON API and autocomplete, rotating through bench/search.py's queries; then Wagtail's stock
search (search, count and its two facets) at a bench-only URL (bench/search_http_urls.py);
and the engine's own `took` for the same queries, asked of OpenSearch directly (with
`--engine database` the servers search in PostgreSQL instead, and there is no separate floor).
Rounds of the servers alternate, so both meet the same machine load. Prints median / p95 / p99
tables and ratios, writes bench/results/search-http.json (search-http-database.json).
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# bench/search.py shares its name with the search app: the project root must come first.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))
sys.path.append(str(BENCH))

from bench.pages import percentile  # noqa: E402
from bench.search import PREFIXES, QUERIES  # noqa: E402

RESULTS = ROOT / "bench" / "results"
REDIS_DB = 10


def database_url(server, name):
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def environment(args, var_dir):
    return {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url(args.postgres_url, args.name),
        "REDIS_URL": f"redis://127.0.0.1:56379/{args.redis_db}",
        "SEARCH_URL": "database" if args.engine == "database" else f"opensearch+{args.opensearch}",
        "SEARCH_INDEX": args.name.replace("_", "-"),
        "DEBUG": "false",
        "SECRET_KEY": "bench-search-http-not-secret",
        "CHANNEL_LAYER_ENCRYPTION_KEYS": "bench-search-http-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "SITE_URL": "http://127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "bench.search_http_settings",
    }


def setup_django(args, var_dir):
    os.environ.update(environment(args, var_dir))
    import django

    django.setup()


# --- prepare / drop ----------------------------------------------------------------------------


def prepare(args):
    import psycopg

    with psycopg.connect(args.postgres_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{args.name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{args.name}"')
    var_dir = Path(tempfile.mkdtemp(prefix="portal-bench-http-"))
    setup_django(args, var_dir)
    from django.core.management import call_command
    from django.test.utils import override_settings

    from bench.library_pages import generate_items
    from bench.search import Clock, build_indexes
    from library import demo
    from search.models import IndexEntry

    clock = Clock()
    with override_settings(SEARCH={"ENGINE": "database"}):
        call_command("migrate", verbosity=0)
        demo.load()
        generate_items(args.size, 1 + args.size)
        clock.log(f"generated {args.size:,} items")
        budget = argparse.Namespace(reindex_budget=args.reindex_budget)
        index = build_indexes(budget, clock, None)
    rebuilds = time_rebuilds(args, clock)
    count = IndexEntry.objects.count()
    report = {
        "size": args.size,
        "index_entries": count,
        "index": index,
        "opensearch_rebuild_items_per_s": rebuilds,
        "load_average": os.getloadavg(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search-http-prepare.json").write_text(json.dumps(report, indent=2, default=str))


def time_rebuilds(args, clock):
    """RemoteEngine.rebuild() of the OpenSearch alias from the IndexEntry rows, --rebuilds
    times; returns items/s of each."""
    from django.test.utils import override_settings

    from search.engines import remote_engine
    from search.models import IndexEntry

    opensearch = {"ENGINE": "opensearch", "URL": args.opensearch, "INDEX": index_alias(args)}
    rates = []
    with override_settings(SEARCH=opensearch):
        engine = remote_engine()
        count = IndexEntry.objects.count()
        for _ in range(args.rebuilds):
            started = time.perf_counter()
            engine.rebuild(IndexEntry.objects.order_by("pk").iterator(2000), count)
            seconds = time.perf_counter() - started
            rates.append(round(count / seconds, 1))
            clock.log(
                f"OpenSearch rebuild: {count:,} in {seconds:.1f} s ({count / seconds:,.0f}/s)"
            )
    return rates


def rebuild(args):
    """Time RemoteEngine.rebuild() of this checkout on the prepared data (run this script from
    another checkout's bench/ to time that one's)."""
    setup_django(args, Path(tempfile.mkdtemp(prefix="portal-bench-http-")))
    from bench.search import Clock

    rates = time_rebuilds(args, Clock())
    print(f"{ROOT}: OpenSearch rebuild items/s {rates}, load average {os.getloadavg()[0]:.1f}")


def index_alias(args):
    return args.name.replace("_", "-")


def drop(args):
    import psycopg
    from opensearchpy import OpenSearch

    with psycopg.connect(args.postgres_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{args.name}" WITH (FORCE)')
    OpenSearch(args.opensearch).indices.delete(index=f"{index_alias(args)}*", allow_no_indices=True)


# --- the load generator -------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: GET a path, return (status, body bytes)."""

    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None

    async def get(self, path):
        status_line = b""
        for _ in range(2):  # a keep-alive connection the server closed while idle is reopened
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n\r\n"
            self.writer.write(request.encode())
            status_line = await self.reader.readline()
            if status_line:
                break
            self.writer.close()
            self.writer = None
        status = int(status_line.split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        else:  # chunked
            parts = []
            while size := int((await self.reader.readline()).strip(), 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            body = b"".join(parts)
        if headers.get("connection") == "close":
            self.writer.close()
            self.writer = None
        return status, body

    def close(self):
        if self.writer is not None:
            self.writer.close()


async def load(port, paths, requests, concurrency):
    """`requests` GETs spread over `concurrency` keep-alive connections; returns ms each."""
    connections = [Connection(port) for _ in range(concurrency)]
    for connection in connections:  # open and warm every connection
        await connection.get(paths[0])
    queue = list(range(requests))
    timings = []

    async def user(connection):
        while queue:
            number = queue.pop()
            path = paths[number % len(paths)]
            before = time.perf_counter()
            status, _ = await connection.get(path)
            timings.append((time.perf_counter() - before) * 1000)
            if status != 200:
                raise RuntimeError(f"{path}: status {status}")

    await asyncio.gather(*(user(c) for c in connections))
    for connection in connections:
        connection.close()
    return timings


def summary(timings):
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
        "p99_ms": round(percentile(timings, 0.99), 2),
        "n": len(timings),
    }


# --- measure ------------------------------------------------------------------------------------


def start_server(tree, env, log_dir, label):
    from bench.realtime import free_port
    from config.serving import server_command

    port = free_port()
    log = (log_dir / f"{label}.log").open("w")
    process = subprocess.Popen(
        server_command(port), cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    return {"port": port, "process": process, "log": log_dir / f"{label}.log"}


def wait_ready(server):
    import socket

    deadline = time.monotonic() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", server["port"]), timeout=1).close()
            return
        except OSError:
            if server["process"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{server['log'].read_text()}") from None
            time.sleep(0.2)


def engine_took(args, filters, requests):
    """OpenSearch's own `took` (ms) for the page's query, all facets, asked directly."""
    from django.http import QueryDict
    from django.test.utils import override_settings

    from search import service
    from search.backends.remote import build_search
    from search.engines import remote_engine
    from search.query import SearchRequest, parse_text

    opensearch = {"ENGINE": "opensearch", "URL": args.opensearch, "INDEX": index_alias(args)}
    took = {"page": [], "filtered": []}
    with override_settings(SEARCH=opensearch):
        engine = remote_engine()
        synonyms = service.synonym_map()
        for kind, extra in (("page", {}), ("filtered", filters)):
            bodies = []
            for text in QUERIES:
                request = SearchRequest.from_params(QueryDict(urlencode({"q": text, **extra})))
                bodies.append(build_search(request, parse_text(request.text, synonyms), ["public"]))
            for number in range(requests + len(bodies)):
                body = bodies[number % len(bodies)].to_dict()
                answer = engine.client.search(index=engine.alias, body=body)
                if number >= len(bodies):  # the first pass warms up
                    took[kind].append(answer["took"])
    return {kind: summary(values) for kind, values in took.items()}


def measure(args):
    var_dir = Path(tempfile.mkdtemp(prefix="portal-bench-http-"))
    setup_django(args, var_dir)
    from django.core.management import call_command

    from library.models import ThemePage

    call_command("collectstatic", interactive=False, verbosity=0)
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    theme = ThemePage.objects.live().order_by("path").values_list("slug", flat=True).first()
    filters = {"type": "report", "theme": theme}
    kinds = {
        "page": ["/library/?" + urlencode({"q": q}) for q in QUERIES],
        "filtered": ["/library/?" + urlencode({"q": q, **filters}) for q in QUERIES],
        "api": ["/api/search/?" + urlencode({"q": q}) for q in QUERIES],
        "autocomplete": ["/api/search/autocomplete/?" + urlencode({"q": p}) for p in PREFIXES],
        "stock": ["/bench/stock-search/?" + urlencode({"q": q}) for q in QUERIES],
    }
    env = environment(args, var_dir)
    # "uncached" is this checkout searching afresh every time (no results cache): what a query
    # nobody asked in the last RESULTS_CACHE_SECONDS costs. The baseline checkout has no bench
    # settings of its own: it serves the site's.
    trees = {
        "uncached": (ROOT, {**env, "SEARCH_RESULTS_CACHE_SECONDS": "0"}),
        "ours": (ROOT, env),
    }
    if args.baseline:
        baseline_env = {**env, "DJANGO_SETTINGS_MODULE": "config.settings"}
        trees = {"baseline": (Path(args.baseline).resolve(), baseline_env), **trees}
    servers = {
        label: start_server(tree, tree_env, var_dir, label)
        for label, (tree, tree_env) in trees.items()
    }
    load_before = os.getloadavg()
    results = {label: {} for label in servers}
    try:
        for server in servers.values():
            wait_ready(server)
        for concurrency in args.concurrency_list:
            for kind, paths in kinds.items():
                labels = ["ours"] if kind == "stock" else list(servers)
                requests = args.requests * (1 if concurrency == 1 else 2)
                if kind == "stock":
                    requests = max(len(paths) * 2, requests // 3)
                for label in labels:  # warm-up: every URL once
                    asyncio.run(load(servers[label]["port"], paths, len(paths), 1))
                timings = {label: [] for label in labels}
                rounds = args.rounds
                for _ in range(rounds):  # alternate, so both meet the same load
                    for label in labels:
                        timings[label] += asyncio.run(
                            load(servers[label]["port"], paths, requests // rounds, concurrency)
                        )
                for label in labels:
                    name = "stock" if kind == "stock" else label
                    results[label if kind != "stock" else "ours"].setdefault(f"c{concurrency}", {})[
                        kind if kind != "stock" else "stock"
                    ] = summary(timings[label])
                    print(
                        f"  c={concurrency} {kind:<13} {name:<9} "
                        f"{summary(timings[label])['median_ms']:7.1f} ms median, "
                        f"{summary(timings[label])['p95_ms']:7.1f} p95",
                        flush=True,
                    )
    finally:
        for server in servers.values():
            server["process"].terminate()
        for server in servers.values():
            server["process"].wait(timeout=15)
    # The database engine's floor is its SQL, inside the page's time; only OpenSearch's is apart.
    took = engine_took(args, filters, args.requests) if args.engine == "opensearch" else None
    report = {
        "engine": args.engine,
        "name": args.name,
        "requests": args.requests,
        "concurrency": args.concurrency_list,
        "queries": QUERIES,
        "prefixes": PREFIXES,
        "filters": filters,
        "servers": {label: str(tree) for label, (tree, _) in trees.items()},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
        "opensearch_took": took,
    }
    from library.models import LibraryItemPage

    report["items"] = LibraryItemPage.objects.live().count()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "search-http.json" if args.engine == "opensearch" else f"search-http-{args.engine}.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)


def print_report(report):
    labels = list(report["results"])
    print(
        f"\nsearch over HTTP, {report['items']:,} live items; uvicorn, DEBUG off, PostgreSQL, "
        f"Redis, the {report['engine']} engine; load average "
        f"{report['load_average_before'][0]} before, {report['load_average_after'][0]} after"
    )
    rows = [
        ("search page (all facets)", "page"),
        ("search page + 2 filters", "filtered"),
        ("JSON API", "api"),
        ("autocomplete", "autocomplete"),
    ]
    for concurrency in report["concurrency"]:
        key = f"c{concurrency}"
        print(f"\nconcurrency {concurrency}: median / p95 / p99 ms")
        print(
            f"  {'':<28}"
            + "".join(f"{label:>24}" for label in labels)
            + f"{'ours/' + labels[0]:>16}"
        )
        for title, kind in rows:
            cells = [report["results"][label][key][kind] for label in labels]
            line = f"  {title:<28}" + "".join(
                f"{c['median_ms']:>8.1f}{c['p95_ms']:>8.1f}{c['p99_ms']:>8.1f}" for c in cells
            )
            if len(cells) > 1:
                line += f"{cells[-1]['median_ms'] / cells[0]['median_ms']:>16.2f}"
            print(line)
        stock = report["results"]["ours"][key]["stock"]
        page = report["results"]["ours"][key]["page"]
        print(
            f"  {'Wagtail stock (+2 facets)':<28}{stock['median_ms']:>8.1f}{stock['p95_ms']:>8.1f}"
            f"{stock['p99_ms']:>8.1f}   ratio page/stock: median "
            f"{page['median_ms'] / stock['median_ms']:.3f}, "
            f"p95 {page['p95_ms'] / stock['p95_ms']:.3f}"
        )
    took = report["opensearch_took"]
    if took is None:
        return
    print(
        f"\nOpenSearch took (the floor), median / p95 / p99 ms: page "
        f"{took['page']['median_ms']} / {took['page']['p95_ms']} / {took['page']['p99_ms']}; "
        f"filtered {took['filtered']['median_ms']} / {took['filtered']['p95_ms']} / "
        f"{took['filtered']['p99_ms']}"
    )


def profile(args):
    """cProfile --requests search pages (all facets) in this process, as a server would run them
    (the same settings, DEBUG off), and the SQL queries one page makes."""
    import cProfile
    import pstats

    setup_django(args, Path(tempfile.mkdtemp(prefix="portal-bench-http-")))
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client(HTTP_HOST="127.0.0.1")
    paths = ["/library/?" + urlencode({"q": q}) for q in QUERIES]
    for path in paths:
        client.get(path)
    with CaptureQueriesContext(connection) as queries:
        client.get(paths[0])
    print(f"{len(queries.captured_queries)} SQL queries per search page:")
    for query in queries.captured_queries:
        print(f"  {query['time']} s  {query['sql'][:160]}")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for number in range(args.requests):
        client.get(paths[number % len(paths)])
    profiler.disable()
    elapsed = (time.perf_counter() - started) / args.requests * 1000
    print(f"\n{args.requests} search pages, {elapsed:.1f} ms each under the profiler")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumtime").print_stats(40)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["prepare", "measure", "profile", "rebuild", "drop"])
    parser.add_argument("--name", default="bench_search_http")
    parser.add_argument("--postgres-url", required=True, help="any database on the server")
    parser.add_argument("--opensearch", required=True)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--reindex-budget", type=float, default=10)
    parser.add_argument("--rebuilds", type=int, default=1)
    parser.add_argument("--baseline", default="")
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--redis-db", type=int, default=REDIS_DB)
    parser.add_argument(
        "--engine",
        choices=["opensearch", "database"],
        default="opensearch",
        help="the engine the servers search with (prepare and rebuild always use OpenSearch)",
    )
    args = parser.parse_args()
    args.concurrency_list = [int(c) for c in args.concurrency.split(",")]
    {"prepare": prepare, "measure": measure, "profile": profile, "rebuild": rebuild, "drop": drop}[
        args.step
    ](args)


if __name__ == "__main__":
    main()

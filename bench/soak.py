"""Soak: WebSocket sockets and a steady mix of HTTP requests against uvicorn processes for minutes,
watching PostgreSQL connections, memory, errors and latency.

Each web process holds at most DATABASE_POOL_SIZE PostgreSQL connections (config.env.database);
this checks that the bound holds under sustained load, and that memory and latency stay flat.

Setup (bench/realtime.py's machinery): a fresh PostgreSQL database beside BENCH_POSTGRES_URL or
TEST_POSTGRES_URL (dropped afterwards), migrated, static files collected, `manage.py setup_demo`
(library pages and demo discussions), the search index built; --members approved members with
session cookies and --threads threads of 30 posts. Redis database --redis-db (9) is flushed.
--servers uvicorn processes as deployed (DEBUG=false) and the task worker (`manage.py db_worker`)
run beside each other, each with its own PGAPPNAME (soak-web-1, soak-web-2, soak-worker), so
pg_stat_activity tells their connections apart.

Load: --sockets WebSocket clients (realtime.py's listener processes: resume, heartbeat every 25 s,
reconnect and resume as static/js/live.js does), spread over the threads and the servers; then for
--minutes, --rate HTTP requests per second (open loop, each to a server at random), in every ten:
2 library search pages (/library/?q=..., half with two facet filters), 2 search API calls,
2 autocomplete calls, 1 home page, 2 thread pages and 1 reply (POST /portal/t/<id>/reply/ with the
CSRF cookie and token from that member's thread page), both as signed-in members. PORTAL_POST_RATE
is raised (realtime.py), so replies are never rate-limited; each reply reaches its thread's
sockets, which are counted against what was posted.

Every --interval seconds: connections to the bench database by process and state, each server's
and the worker's RSS (/proc/<pid>/status) and CPU time, HTTP statuses, socket closes and
reconnects, and lines containing "Traceback" in the processes' logs. At the end: a table
(connections' peak and median against the bound, servers x pool + the worker's pool; memory at
start, after --warmup seconds of load and at the end, and CPU; errors; latency per request kind
after the warm-up, and p95 per minute) and bench/results/soak.json with every sample.

    TEST_POSTGRES_URL=postgres://... .venv/bin/python bench/soak.py [--minutes 10] [--servers 2]
        [--sockets 200] [--rate 10] [--opensearch http://127.0.0.1:59200]
"""

import argparse
import collections
import concurrent.futures
import contextlib
import http.cookiejar
import itertools
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.library_pages import drop_postgres, update_search_index  # noqa: E402
from bench.pages import percentile  # noqa: E402 - needs the project root on sys.path
from bench.realtime import (  # noqa: E402
    RESULTS,
    WorkerProcess,
    cpu_seconds,
    dash,
    make_person,
    post_source,
    prepare_environment,
    session_cookie,
    start_servers,
    start_task_worker,
    stop_processes,
)
from bench.search import PREFIXES, QUERIES, delete_opensearch_indexes  # noqa: E402

# One cycle of ten requests; shuffled once, so replies are evenly spread.
REQUEST_MIX = ["search page"] * 2 + ["search api"] * 2 + ["autocomplete"] * 2
REQUEST_MIX += ["home"] + ["thread page"] * 2 + ["reply"]
POSTS_PER_THREAD = 30
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
URL_IN_ERROR = re.compile(r"url: \S+ ")  # so that one failure reads alike on every URL


# --- Setup --------------------------------------------------------------------------------------


def build_data(args):
    """Members with session cookies, and threads for them to read, reply in and watch."""
    from django.conf import settings

    from portal.actions import forum
    from portal.models import Category, User

    members = [make_person(f"soak{i:03d}") for i in range(args.members)]
    # Replies make every earlier poster a follower; their e-mails would fill the worker's log
    # (console backend). Notifications are still created.
    User.objects.filter(pk__in=[m.pk for m in members]).update(email_frequency="off")
    category = Category.objects.create(name="Soak", slug="soak")
    rng = random.Random(1)
    thread_ids = []
    for index in range(args.threads):
        thread = forum.create_thread(
            members[index], category, f"Soak thread {index + 1}", post_source(0, rng)
        )
        for number in range(1, POSTS_PER_THREAD):
            forum.create_post(members[number % len(members)], thread, post_source(number, rng))
        thread.refresh_from_db()
        thread_ids.append((thread.pk, thread.last_change))
    return {
        "threads": thread_ids,
        "members": [
            {"session": session_cookie(member), "csrf": None}  # csrf: (cookie, form token)
            for member in members
        ],
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
    }


def search_filters():
    """Two facet filters that match demo items, as bench/search.py uses."""
    from library.models import ThemePage

    theme = ThemePage.objects.live().order_by("path").values_list("slug", flat=True).first()
    return {"type": "report", "theme": theme}


# --- HTTP load ----------------------------------------------------------------------------------


class HttpLoad:
    """A steady rate of requests, sent whatever the servers are doing (open loop), each timed from
    its sending to its last byte."""

    def __init__(self, ports, data, filters, concurrency):
        self.ports = ports
        self.data = data
        self.filters = filters
        self.mix = REQUEST_MIX[:]
        random.Random(2).shuffle(self.mix)
        self.local = threading.local()
        self.executor = concurrent.futures.ThreadPoolExecutor(concurrency)
        self.results = []  # (seconds since the load started, kind, status or exception, ms)
        self.replies = collections.Counter()  # thread id -> replies accepted
        self.exceptions = collections.Counter()  # "kind: message" -> count
        self.started = None
        self.stopping = threading.Event()

    def session(self):
        # Keep-alive per worker thread, as a browser holds its connection; no cookie jar, since
        # each request names its member in its own Cookie header.
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.cookies.set_policy(
                http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
            )
        return self.local.session

    def thread_page(self, base, member, thread_id):
        cookies = [member["session"]]
        if member["csrf"]:
            cookies.append(f"{self.data['csrf_cookie_name']}={member['csrf'][0]}")
        response = self.session().get(
            f"{base}/portal/t/{thread_id}/",
            headers={"Cookie": "; ".join(cookies)},
            timeout=30,
        )
        token = CSRF_FIELD.search(response.text)
        cookie = response.cookies.get(self.data["csrf_cookie_name"])
        if token and (cookie or member["csrf"]):
            member["csrf"] = (cookie or member["csrf"][0], token.group(1))
        return response

    def reply(self, base, member, thread_id, source):
        csrf_cookie, token = member["csrf"]
        response = self.session().post(
            f"{base}/portal/t/{thread_id}/reply/",
            data={
                "csrfmiddlewaretoken": token,
                "source": source,
                "idempotency_key": uuid.uuid4().hex,
            },
            headers={
                "Cookie": f"{member['session']}; {self.data['csrf_cookie_name']}={csrf_cookie}"
            },
            allow_redirects=False,
            timeout=30,
        )
        if response.status_code == 302:
            self.replies[thread_id] += 1
        return response

    def send(self, index, kind):
        # Chosen at random, not by `index`: the mix repeats every ten requests, so anything
        # picked by index modulo a small number would always go with the same kind.
        pick = random.Random(index)
        base = f"http://127.0.0.1:{pick.choice(self.ports)}"
        member = pick.choice(self.data["members"])
        thread_id, _ = pick.choice(self.data["threads"])
        query = pick.choice(QUERIES)
        get = self.session().get
        if kind == "search page":
            filters = self.filters if pick.random() < 0.5 else {}
            return get(f"{base}/library/?{urlencode({'q': query, **filters})}", timeout=30)
        if kind == "search api":
            return get(f"{base}/api/search/?{urlencode({'q': query})}", timeout=30)
        if kind == "autocomplete":
            prefix = pick.choice(PREFIXES)
            return get(f"{base}/api/search/autocomplete/?{urlencode({'q': prefix})}", timeout=30)
        if kind == "home":
            return get(f"{base}/", timeout=30)
        if kind == "thread page":
            return self.thread_page(base, member, thread_id)
        return self.reply(base, member, thread_id, post_source(index, pick))

    def one(self, index):
        kind = self.mix[index % len(self.mix)]
        began = time.monotonic()
        try:
            status = self.send(index, kind).status_code
        except requests.RequestException as error:
            status = type(error).__name__
            # A failure the servers never saw leaves nothing in their logs: keep what it was.
            message = URL_IN_ERROR.sub("", str(error))
            self.exceptions[f"{kind}: {message}"[:300]] += 1
        elapsed_ms = (time.monotonic() - began) * 1000
        self.results.append((round(began - self.started, 3), kind, status, round(elapsed_ms, 2)))

    def prime_csrf(self):
        """Each member opens a thread page once, to get the CSRF cookie and token its replies
        send; unreported, and it warms the servers."""
        thread_id, _ = self.data["threads"][0]

        def open_page(index, member):
            base = f"http://127.0.0.1:{self.ports[index % len(self.ports)]}"
            return self.thread_page(base, member, thread_id)

        list(self.executor.map(open_page, itertools.count(), self.data["members"]))
        missing = sum(1 for member in self.data["members"] if not member["csrf"])
        if missing:
            raise SystemExit(f"{missing} members got no CSRF token from the thread page")

    def run(self, rate, seconds):
        self.started = time.monotonic()
        for index in itertools.count():
            due = self.started + index / rate
            if due - self.started >= seconds or self.stopping.is_set():
                break
            time.sleep(max(0, due - time.monotonic()))
            self.executor.submit(self.one, index)
        self.executor.shutdown(wait=True)


# --- Sampling -----------------------------------------------------------------------------------


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None  # the process has gone


def tracebacks(log_path):
    """The last line (the exception) of each traceback in a log."""
    found = []
    lines = log_path.read_text(errors="replace").splitlines()
    for index, line in enumerate(lines):
        if "Traceback" in line:
            rest = (later for later in lines[index + 1 :] if later and not later[0].isspace())
            found.append(next(rest, "(log ends inside the traceback)")[:200])
    return found


def connection_counts(cursor, database):
    cursor.execute(
        "SELECT coalesce(nullif(application_name, ''), 'unnamed'), coalesce(state, 'unknown'),"
        " count(*) FROM pg_stat_activity WHERE datname = %s GROUP BY 1, 2",
        [database],
    )
    counts = {}
    for name, state, count in cursor.fetchall():
        counts.setdefault(name, {})[state] = count
    return counts


def socket_stats(listeners):
    """Closes, reconnects and messages so far: an empty round from each listener process."""
    stats = {"closes": collections.Counter(), "reconnects": 0, "errors": [], "kinds": {}}
    for listener in listeners:
        listener.send("DONE {}")
        result = listener.expect("RESULT")
        stats["closes"].update(result["closes"])
        stats["reconnects"] += result["reconnects"]
        stats["errors"] += result["errors"]
        for kind, count in result["message_kinds"].items():
            stats["kinds"][kind] = stats["kinds"].get(kind, 0) + count
    return stats


class Sampler:
    def __init__(self, processes, database, admin_url):
        import psycopg

        self.processes = processes  # name -> {"process": Popen, "log": Path}
        self.database = database
        # Connected to the server's own database, not the bench one, so it is not counted.
        self.admin = psycopg.connect(admin_url, autocommit=True)
        self.max_connections = int(self.admin.execute("SHOW max_connections").fetchone()[0])
        self.samples = []
        self.started = time.monotonic()

    def sample(self, phase, load, listeners):
        with self.admin.cursor() as cursor:
            connections = connection_counts(cursor, self.database)
        statuses = collections.Counter(str(status) for _, _, status, _ in load.results)
        sockets = socket_stats(listeners) if listeners else None
        row = {
            "t": round(time.monotonic() - self.started, 1),
            "phase": phase,
            "load_s": round(time.monotonic() - load.started, 1) if load.started else None,
            "connections": connections,
            "connections_total": sum(sum(states.values()) for states in connections.values()),
            "rss_mb": {name: rss_mb(p["process"].pid) for name, p in self.processes.items()},
            "cpu_s": {name: cpu_seconds(p["process"].pid) for name, p in self.processes.items()},
            # Others share the machine's cores: its load explains slow stretches.
            "load_1m": os.getloadavg()[0],
            "exited": {
                name: p["process"].poll()
                for name, p in self.processes.items()
                if p["process"].poll() is not None
            },
            "requests": len(load.results),
            "statuses": dict(statuses),
            "socket_closes": dict(sockets["closes"]) if sockets else {},
            "reconnects": sockets["reconnects"] if sockets else 0,
            "socket_errors": sockets["errors"] if sockets else [],
            "socket_messages": sockets["kinds"] if sockets else {},
            "tracebacks": {name: len(tracebacks(p["log"])) for name, p in self.processes.items()},
        }
        self.samples.append(row)
        return row


# --- Report -------------------------------------------------------------------------------------


def latency(results, since, until=float("inf")):
    """Per request kind, of the requests sent from `since` to `until` seconds into the load."""
    by_kind = {kind: [] for kind in REQUEST_MIX}
    for began, kind, status, elapsed_ms in results:
        if since <= began < until:
            by_kind[kind].append((status, elapsed_ms))
    rows = {}
    for kind, entries in by_kind.items():
        timings = [ms for _, ms in entries]
        rows[kind] = {
            "requests": len(entries),
            "median_ms": round(statistics.median(timings), 1) if timings else None,
            "p95_ms": round(percentile(timings, 0.95), 1) if timings else None,
            "p99_ms": round(percentile(timings, 0.99), 1) if timings else None,
            "max_ms": round(max(timings), 1) if timings else None,
            "failed": sum(1 for status, _ in entries if not is_success(status)),
        }
    return rows


def is_success(status):
    return isinstance(status, int) and 200 <= status < 400


def summarise(args, sampler, load, data):
    samples = sampler.samples
    names = list(sampler.processes)
    bound = (args.servers + 1) * args.pool_size  # the servers' pools and the worker's
    per_process = {}
    for name in sorted({name for s in samples for name in s["connections"]}):
        totals = [sum(s["connections"].get(name, {}).values()) for s in samples]
        per_process[name] = {"peak": max(totals), "median": statistics.median(totals)}
    totals = [s["connections_total"] for s in samples]
    peak_sample = max(samples, key=lambda s: s["connections_total"])
    loaded = [s for s in samples if s["phase"] != "connect"]
    warm = next((s for s in loaded if s["phase"] == "steady"), loaded[-1])
    start, end = samples[0], samples[-1]
    load_first = loaded[0]
    processes = {
        name: {
            "start_mb": start["rss_mb"][name],
            "warm_mb": warm["rss_mb"][name],
            "end_mb": end["rss_mb"][name],
            "cpu_percent": round(
                100
                * (end["cpu_s"][name] - load_first["cpu_s"][name])
                / (end["t"] - load_first["t"])
            ),
        }
        for name in names
    }
    failures = collections.Counter()
    for _, kind, status, _ in load.results:
        if not is_success(status):
            failures[f"{kind} {status}"] += 1
    expected_messages = sum(
        load.replies[thread_id] * sockets
        for (thread_id, _), sockets in zip(data["threads"], sockets_per_thread(args), strict=True)
    )
    return {
        "connections": {
            "bound": bound,
            "max_connections": sampler.max_connections,
            "per_process": per_process,
            "all": {"peak": max(totals), "median": statistics.median(totals)},
            "at_peak": peak_sample["connections"],
            "above_bound": sum(1 for total in totals if total > bound),
        },
        "processes": processes,
        "warm_after_s": warm["load_s"],
        "machine_load_1m": {
            "median": statistics.median(s["load_1m"] for s in loaded),
            "max": max(s["load_1m"] for s in loaded),
        },
        "errors": {
            "http_5xx": sum(
                1 for _, _, status, _ in load.results if isinstance(status, int) and status >= 500
            ),
            "http_failures": dict(failures),
            "http_exceptions": dict(load.exceptions),
            "socket_closes": end["socket_closes"],
            "reconnects": end["reconnects"],
            "socket_errors": end["socket_errors"],
            "tracebacks": {
                name: collections.Counter(tracebacks(p["log"]))
                for name, p in sampler.processes.items()
            },
            "exited": end["exited"],
        },
        "socket_posts": {
            "received": end["socket_messages"].get("post", 0),
            "expected": expected_messages,
        },
        "requests": len(load.results),
        "replies": sum(load.replies.values()),
        "latency_after_warmup": latency(load.results, args.warmup_seconds),
        # Does latency creep up over the run?
        "latency_by_minute": [
            latency(load.results, minute * 60, (minute + 1) * 60)
            for minute in range(math.ceil(args.minutes))
        ],
    }


def print_table(args, summary, samples_count, load_seconds):
    connections = summary["connections"]
    print()
    print(
        f"Soak: {load_seconds / 60:.1f} min of load, {args.servers} uvicorn processes, "
        f"{args.sockets} sockets on {args.threads} threads, {args.rate} requests/s "
        f"({summary['requests']} sent, {summary['replies']} replies accepted), "
        f"{samples_count} samples every {args.interval} s; {os.cpu_count()} cores shared, "
        f"load average median {summary['machine_load_1m']['median']:.1f}, "
        f"max {summary['machine_load_1m']['max']:.1f}"
    )
    print()
    print(
        f"PostgreSQL connections to the bench database per sample (bound {connections['bound']} = "
        f"{args.servers} x pool {args.pool_size} + worker's pool {args.pool_size}; "
        f"server max_connections {connections['max_connections']})"
    )
    print(f"{'process':<14} {'peak':>5} {'median':>7}")
    for name, row in connections["per_process"].items():
        print(f"{name:<14} {row['peak']:>5} {row['median']:>7g}")
    print(f"{'all':<14} {connections['all']['peak']:>5} {connections['all']['median']:>7g}")
    at_peak = "; ".join(
        f"{name} " + ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
        for name, states in sorted(connections["at_peak"].items())
    )
    print(f"at the peak: {at_peak}")
    print(f"samples above the bound: {connections['above_bound']}")
    print()
    print(
        f"Memory (RSS, MB; start: before the sockets; warm: after {summary['warm_after_s']:.0f} s "
        "of load; end: after the load) and CPU (% of one core during the load)"
    )
    print(
        f"{'process':<14} {'start':>7} {'warm':>7} {'end':>7} {'end-warm':>9} {'end-start':>10} "
        f"{'cpu %':>6}"
    )
    for name, row in summary["processes"].items():
        growth = [
            f"{row['end_mb'] - row[base]:+.1f}" if row["end_mb"] and row[base] else "-"
            for base in ("warm_mb", "start_mb")
        ]
        print(
            f"{name:<14} {row['start_mb']:>7} {row['warm_mb']:>7} {row['end_mb']:>7} "
            f"{growth[0]:>9} {growth[1]:>10} {row['cpu_percent']:>6}"
        )
    print()
    errors = summary["errors"]
    print("Errors")
    print(f"HTTP 5xx: {errors['http_5xx']}")
    print(f"failed requests (kind status): {errors['http_failures'] or 'none'}")
    for message, count in errors["http_exceptions"].items():
        print(f"  {count} x {message}")
    closes = errors["socket_closes"] or "none"
    print(f"socket closes (by code): {closes}; reconnects {errors['reconnects']}")
    print(f"socket error messages: {errors['socket_errors'] or 'none'}")
    posts = summary["socket_posts"]
    print(f"post messages received by sockets: {posts['received']} of {posts['expected']} expected")
    for name, found in errors["tracebacks"].items():
        print(f"tracebacks in {name}'s log: {sum(found.values())}")
        for line, count in found.most_common(5):
            print(f"  {count} x {line}")
    if errors["exited"]:
        print(f"processes that exited: {errors['exited']}")
    print()
    print(f"HTTP latency after the first {args.warmup_seconds:.0f} s (ms)")
    print(
        f"{'kind':<14} {'requests':>8} {'median':>7} {'p95':>7} {'p99':>7} {'max':>7} {'failed':>7}"
    )
    for kind, row in summary["latency_after_warmup"].items():
        print(
            f"{kind:<14} {row['requests']:>8} {dash(row['median_ms']):>7} "
            f"{dash(row['p95_ms']):>7} {dash(row['p99_ms']):>7} {dash(row['max_ms']):>7} "
            f"{row['failed']:>7}"
        )
    print()
    kinds = list(summary["latency_after_warmup"])
    print("HTTP p95 by minute of load (ms)")
    print(f"{'minute':<7}" + "".join(f"{kind:>14}" for kind in kinds))
    for minute, row in enumerate(summary["latency_by_minute"], 1):
        print(f"{minute:<7}" + "".join(f"{dash(row[kind]['p95_ms']):>14}" for kind in kinds))


def write_results(args, summary, samples, load_before, started):
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.output).write_text(
        json.dumps(
            {
                "command": " ".join([".venv/bin/python", "bench/soak.py", *sys.argv[1:]]),
                "cpus": os.cpu_count(),
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
                "wall_s": round(time.time() - started, 1),
                "settings": {
                    "minutes": args.minutes,
                    "servers": args.servers,
                    "sockets": args.sockets,
                    "threads": args.threads,
                    "rate": args.rate,
                    "pool_size": args.pool_size,
                    "warmup_s": args.warmup_seconds,
                    "search": "opensearch" if args.opensearch else "database",
                    "request_mix": REQUEST_MIX,
                },
                "summary": summary,
                "samples": samples,
            },
            indent=1,
        )
    )


# --- Running ------------------------------------------------------------------------------------


def sockets_per_thread(args):
    counts = [args.sockets // args.threads] * args.threads
    for index in range(args.sockets % args.threads):
        counts[index] += 1
    return counts


def start_listeners(args, ports, data):
    """One realtime.py listener process per thread, its sockets alternating between servers."""
    listeners = []
    threads = zip(data["threads"], sockets_per_thread(args), strict=True)
    for index, ((thread_id, change), count) in enumerate(threads):
        config = {
            "count": count,
            "ports": ports[index % len(ports) :] + ports[: index % len(ports)],
            "cookies": [member["session"] for member in data["members"]],
            "thread": thread_id,
            "after": change,
            "heartbeat": 25,
            "connect_concurrency": 32,
            "round_timeout": 0,
            "idle_timeout": 0,
        }
        listeners.append(
            WorkerProcess("listener", config, args.var_dir / f"listener-{thread_id}.log")
        )
    return listeners


def soak(args, data, environment, filters, admin_url, database):
    processes = {}
    listeners = []
    load = None
    try:
        worker = start_task_worker({**environment, "PGAPPNAME": "soak-worker"}, args.var_dir)
        processes["soak-worker"] = {"process": worker, "log": args.var_dir / "db_worker.log"}
        for number in range(1, args.servers + 1):
            # One at a time, each with its own PGAPPNAME.
            name = f"soak-web-{number}"
            environment_named = {**environment, "PGAPPNAME": name}
            (processes[name],) = start_servers(1, environment_named, args.var_dir, "uvicorn")
        ports = [p["port"] for name, p in processes.items() if name != "soak-worker"]
        sampler = Sampler(processes, database, admin_url)
        load = HttpLoad(ports, data, filters, args.concurrency)
        sampler.sample("connect", load, [])
        # Sampled while the sockets connect and resume: their opening burst is a likely peak.
        listeners = start_listeners(args, ports, data)
        ready = []
        connecting = threading.Thread(
            target=lambda: ready.extend(listener.expect("READY") for listener in listeners)
        )
        connecting.start()
        while connecting.is_alive():
            connecting.join(args.interval)
            sampler.sample("connect", load, [])
        if len(ready) < len(listeners):
            raise RuntimeError(f"a listener process failed; see {args.var_dir}/listener-*.log")
        print(
            f"sockets: {sum(r['sockets'] for r in ready)} connected, "
            f"{sum(r['failed'] for r in ready)} failed {[f for r in ready for f in r['failures']]}",
            flush=True,
        )
        load.prime_csrf()
        load_seconds = args.minutes * 60
        runner = threading.Thread(target=load.run, args=(args.rate, load_seconds))
        runner.start()
        next_sample = time.monotonic()
        while runner.is_alive():
            next_sample += args.interval
            runner.join(max(0, next_sample - time.monotonic()))
            elapsed = time.monotonic() - load.started
            phase = "warmup" if elapsed < args.warmup_seconds else "steady"
            row = sampler.sample(phase, load, listeners)
            if len(sampler.samples) % max(1, round(60 / args.interval)) == 0:
                print(
                    f"  {elapsed:5.0f} s: {row['connections_total']} connections, "
                    f"{row['requests']} requests, RSS "
                    + ", ".join(f"{n} {mb}" for n, mb in row["rss_mb"].items())
                    + f" MB, reconnects {row['reconnects']}",
                    flush=True,
                )
        # Let the last replies reach the sockets before counting them.
        time.sleep(3)
        sampler.sample("end", load, listeners)
        return sampler, load, load_seconds
    finally:
        if load:
            load.stopping.set()
        for listener in listeners:
            with contextlib.suppress(OSError):  # it may have exited
                listener.send("QUIT")
        stop_processes([listener.process for listener in listeners])
        stop_processes([p["process"] for p in processes.values()])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="minutes of load")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4, help="threads the sockets watch")
    parser.add_argument("--rate", type=float, default=10, help="HTTP requests per second")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--interval", type=float, default=5, help="seconds between samples")
    parser.add_argument(
        "--warmup",
        type=float,
        default=60,
        help="seconds of load before memory's 'warm' sample and the latency figures (at most a "
        "fifth of the run)",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=int(os.environ.get("DATABASE_POOL_SIZE") or 8),
        help="DATABASE_POOL_SIZE for the servers and the worker",
    )
    parser.add_argument(
        "--concurrency", type=int, default=64, help="HTTP requests in flight at most"
    )
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--opensearch", help="search with OpenSearch at this URL, not the database")
    parser.add_argument("--output", default="soak.json", help="file name in bench/results/")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    # Connection counts are the point: realtime.prepare_environment must pick PostgreSQL.
    parser.set_defaults(database="postgres")
    args = parser.parse_args()
    args.warmup_seconds = min(args.warmup, args.minutes * 60 / 5)

    args.var_dir = Path(tempfile.mkdtemp(prefix="portal-soak-"))
    started = time.time()
    load_before = os.getloadavg()
    # Labels the setup's own connections, should any outlive it.
    os.environ["PGAPPNAME"] = "soak-setup"
    environment, postgres = prepare_environment(args, args.var_dir)
    environment["DATABASE_POOL_SIZE"] = str(args.pool_size)
    search_index = f"bench-soak-{uuid.uuid4().hex[:8]}"
    if args.opensearch:
        environment.update(SEARCH_URL=f"opensearch+{args.opensearch}", SEARCH_INDEX=search_index)
    os.environ.update(environment)
    environment = dict(os.environ)  # the processes' environment: this one's, as realtime.py's
    try:
        import django

        django.setup()
        import redis
        from django.core.management import call_command
        from django.db import connection

        from search.engines import search_engine

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        # setup_demo refuses with DEBUG off (its accounts have published passwords); this
        # database is thrown away at the end.
        subprocess.run(
            [sys.executable, "manage.py", "setup_demo"],
            cwd=ROOT,
            env={**environment, "DEBUG": "true"},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        data = build_data(args)
        update_search_index()
        filters = search_filters()
        engine = search_engine().name
        # The pool would keep the setup's connections open beside the servers'.
        connection.close()
        connection.close_pool()
        print(
            f"setup: {args.members} members, {args.threads} threads, demo content, "
            f"{engine} search "
            f"({time.time() - started:.0f} s)",
            flush=True,
        )
        sampler, load, load_seconds = soak(
            args, data, environment, filters, postgres[0], postgres[1]
        )
        summary = summarise(args, sampler, load, data)
        print_table(args, summary, len(sampler.samples), load_seconds)
        write_results(args, summary, sampler.samples, load_before, started)
        print(f"\nwrote {RESULTS / args.output} ({time.time() - started:.0f} s)")
    finally:
        from django.db import connections

        connections.close_all()
        drop_postgres(*postgres)
        if args.opensearch:
            delete_opensearch_indexes(args.opensearch, search_index)
        if args.keep:
            print(f"kept {args.var_dir}")
        else:
            shutil.rmtree(args.var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

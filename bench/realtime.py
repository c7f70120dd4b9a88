"""WebSocket fan-out: N members watching one thread live through the Redis channel layer, and the
thread page's server time and query count with 1,000 posts.

Setup: a fresh database (a new PostgreSQL database beside BENCH_POSTGRES_URL or TEST_POSTGRES_URL
when set, dropped afterwards; else a SQLite file in a temporary folder), migrated, static files
collected (the servers run with DEBUG=false); a category, one thread of --page-posts posts (1,000),
--members approved member accounts, --posters poster accounts and a moderator, each with a
session made through Django's login (force_login), so sockets carry real session cookies. Redis
comes from REDIS_URL or TEST_REDIS_URL with its database number replaced by --redis-db (9), which
is flushed before each configuration. PORTAL_POST_RATE is raised to 100000/60 for everyone.

1. The thread page (in process, Django's test client, CaptureQueriesContext): first, middle and
   last page, as a member and as a moderator, --page-repetitions timings each.
2. For each client count in --clients, server count in --servers, server kind in --server-kinds
   (uvicorn as deployed; daphne to compare) and channel layer in --layers: that many real server
   processes (`python -m uvicorn config.asgi:application ...`, DEBUG=false) beside the task
   worker (`manage.py db_worker`); one or more listener processes (--client-processes; no
   Django; websockets' sans-I/O protocol on uvloop) open the sockets, split across the servers,
   sharing the members' cookies round-robin; each sends {"type": "resume", "after": <thread's
   last change>} and waits for caught_up. Listeners send the browser's heartbeat ({"type":
   "ping"} every --heartbeat seconds, random phase) and, when a socket closes, reconnect and
   resume from the last change they hold, as static/js/live.js does.
   A separate poster process sends {"type": "post"} messages over WebSocket, as
   static/js/thread.js does, from poster accounts' sockets (a consumer handles one message at a
   time and ThreadConsumer caps a socket at 30 messages per 10 s, so posts are spread out):
     - a warm-up round, not reported: --warmup posts at 2 per second (templates, connections);
     - a rate round per --rates value: --posts posts at that fixed rate (open loop), each poster
       socket posting once every 2 s;
     - a max-throughput round: --burst-posts posts from --burst-posters sockets, each sending its
       next post as soon as its last was acknowledged (closed loop, at most 2.5 per second each).
   Every listener socket stamps the receive time of each post (time.time(), the same clock as the
   poster's send stamp) as its bytes reach the process, before parsing them, so that one process
   holding hundreds of sockets does not count its own work as latency. Latency = receive - send,
   split into the poster's acknowledgement (`posted`, sent once create_post has committed and
   published) and ack -> receive (fan-out).
   Lost = posts x sockets - received by the end of the round (--round-timeout after the last
   post); order is checked through each message's `previous` (it must equal the change last
   received on that socket) and duplicates through `number`. Sustained posts/s = posts / (last
   delivery to the last socket - first send), given nothing was lost.

Prints a table and writes bench/results/realtime.json (--output). Everything (servers, listeners,
poster, PostgreSQL, Redis, and whatever else runs on the machine) shares its cores: the JSON
records per round each process's CPU time, the servers' run-queue wait and the load average.

    .venv/bin/python bench/realtime.py [--clients 100,500,1000] [--servers 1,2] [--posts 200]
        [--rates 5] [--burst-posts 200] [--burst-posters 40] [--heartbeat 25]
        [--server-kinds uvicorn,daphne] [--layers pubsub,list]
"""

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import percentile  # noqa: E402 - needs the project root on sys.path
from config.serving import server_command  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SOCKET_MESSAGES_PER_SECOND = 2.5  # below ThreadConsumer's cap of 30 messages per 10 seconds
POSTER_INTERVAL_SECONDS = 2  # in a rate round, each poster socket posts once per this interval
WARMUP_RATE = 2.0  # posts per second in the unreported warm-up round
TOPICS = [
    "end-to-end encryption",
    "financial sextortion",
    "age assurance",
    "hash matching",
    "online grooming",
    "self-generated imagery",
    "livestreamed abuse",
    "survivor support services",
]


def post_source(seq, rng=random):
    topic = rng.choice(TOPICS)
    return (
        f"Thanks for sharing this. In our helpline data we saw the same pattern: reports about "
        f"**{topic}** rose sharply after the school holidays, and most came from parents rather "
        f"than young people themselves. Has anyone compared this with the figures in the latest "
        f"[transparency reports](https://example.org/reports/{seq})? We would also like to hear "
        f"how other services triage these cases at the weekend. (post {seq})"
    )


def ms(seconds):
    return round(seconds * 1000, 2)


def summary(latencies_ms):
    if not latencies_ms:
        return {"median_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "median_ms": round(statistics.median(latencies_ms), 2),
        "p99_ms": round(percentile(latencies_ms, 0.99), 2),
        "max_ms": round(max(latencies_ms), 2),
    }


# --- WebSocket clients (websockets' sans-I/O protocol on uvloop; no Django in these processes) ---


class Endpoint:
    """Where a seat connects, and as whom (a session cookie); `tls` for nginx's HTTPS port."""

    def __init__(self, port, thread_id, cookie, tls=False):
        self.port = port
        scheme = "s" if tls else ""
        self.url = f"ws{scheme}://127.0.0.1:{port}/ws/threads/{thread_id}/"
        self.origin = f"http{scheme}://127.0.0.1:{port}"
        self.cookie = cookie
        self.tls = tls_client_context() if tls else None


@functools.cache
def tls_client_context():
    # nginx's loopback certificate is self-signed for the run; what is measured is the TLS work.
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class SeatProtocol(asyncio.Protocol):
    """One client socket. The receive time is taken when the bytes reach the process, before
    they are parsed, and parsing is cheap (~25 us a post), so one listener process holding
    hundreds of sockets adds little of its own work to the latency it measures."""

    def __init__(self, seat, endpoint):
        from websockets.client import ClientProtocol
        from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
        from websockets.typing import Origin
        from websockets.uri import parse_uri

        self.seat = seat
        self.endpoint = endpoint
        self.connection = ClientProtocol(
            parse_uri(endpoint.url),
            origin=Origin(endpoint.origin),
            # Browsers offer per-message compression; the server decides (config/serving.py).
            extensions=[ClientPerMessageDeflateFactory()],
            max_size=None,
        )
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        request = self.connection.connect()
        request.headers["Cookie"] = self.endpoint.cookie
        self.connection.send_request(request)
        self.flush()

    def data_received(self, data):
        from websockets.frames import Opcode
        from websockets.http11 import Response

        received = time.time()
        self.connection.receive_data(data)
        for event in self.connection.events_received():
            if isinstance(event, Response):
                if event.status_code == 101:
                    self.seat.opened(self)
            elif event.opcode is Opcode.TEXT:
                self.seat.message(event.data, received)
        self.flush()

    def eof_received(self):
        self.connection.receive_eof()
        self.flush()

    def flush(self):
        # Answers the server's pings and closing handshake as well as sending.
        for data in self.connection.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()
        if self.connection.close_expected():
            self.transport.close()

    def send_text(self, text):
        self.connection.send_text(text.encode())
        self.flush()

    def close(self):
        self.connection.send_close(1000)
        self.flush()

    def connection_lost(self, exc):
        closing = self.connection.close_rcvd
        code, reason = (closing.code, closing.reason) if closing else (1006, repr(exc))
        self.seat.closed(self, code, reason)


class Seat:
    """One browser tab's socket, which comes back as static/js/live.js does: on an unexpected
    close it reconnects after 0.25-0.5 s (doubling, up to 30 s) and resumes from the last change
    it holds, so the server replays what it missed."""

    def __init__(self, loop, endpoint, concurrency):
        self.loop = loop
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.protocol = None
        self.ready = loop.create_future()  # caught up (listeners) or open (posters)
        self.closes = []
        self.reconnects = 0
        self.attempt = 0
        self.stopping = False

    async def connect(self):
        async with self.concurrency:
            await self.open()
            await asyncio.wait_for(asyncio.shield(self.ready), 120)

    async def open(self):
        await self.loop.create_connection(
            lambda: SeatProtocol(self, self.endpoint),
            "127.0.0.1",
            self.endpoint.port,
            ssl=self.endpoint.tls,
        )

    def opened(self, protocol):
        self.protocol = protocol
        self.attempt = 0

    def send(self, message):
        if self.protocol is not None:
            self.protocol.send_text(json.dumps(message))
            return True
        return False

    def closed(self, protocol, code, reason):
        if protocol is self.protocol:
            self.protocol = None
        self.closes.append(code)
        if self.stopping or code == 4403:
            if not self.ready.done():
                self.ready.set_exception(ConnectionError(f"closed {code} {reason}"))
            return
        delay = min(30, 0.5 * 2**self.attempt) * (0.5 + random.random() / 2)
        self.attempt += 1
        self.reconnects += 1
        self.loop.call_later(delay, lambda: asyncio.ensure_future(self.reconnect()))

    async def reconnect(self):
        try:
            await self.open()
        except OSError as error:
            self.closed(None, repr(error), "")

    def stop(self):
        self.stopping = True
        if self.protocol is not None:
            self.protocol.close()


class Listener(Seat):
    """A member's open thread page: resumes, then records when each post arrives."""

    def __init__(self, loop, endpoint, concurrency, hub):
        super().__init__(loop, endpoint, concurrency)
        self.hub = hub
        self.change = None
        self.reset()

    def reset(self):
        self.got = {}
        self.duplicates = self.order_errors = self.bytes = 0
        self.kinds = {}

    def opened(self, protocol):
        super().opened(protocol)
        after = self.hub.after if self.change is None else self.change
        self.send({"type": "resume", "after": after})

    def message(self, payload, received):
        message = json.loads(payload)
        kind = message.get("type")
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if kind == "post" or kind == "skip":
            if message.get("previous") != self.change:
                self.order_errors += 1
            self.change = message["change"]
            if kind == "post":
                self.bytes += len(payload)
                number = message["number"]
                if number in self.got:
                    self.duplicates += 1
                elif number >= self.hub.first:
                    self.got[number] = received
                    self.hub.received += 1
        elif kind == "caught_up":
            self.change = message["change"]
            if not self.ready.done():
                self.ready.set_result(received)
        elif kind == "error":
            self.hub.errors.append(message)


class Poster(Seat):
    """A poster's socket: never resumes (so the server streams it no posts), sends posts and
    hears back their numbers; after a reconnect it sends again what is unacknowledged, with the
    same idempotency key, as thread.js does."""

    def __init__(self, loop, endpoint, concurrency):
        super().__init__(loop, endpoint, concurrency)
        self.pending = {}  # key -> (message, future)
        self.errors = []

    def opened(self, protocol):
        super().opened(protocol)
        if not self.ready.done():
            self.ready.set_result(time.time())
        for message, _ in self.pending.values():
            self.send(message)

    def post(self, message):
        future = self.loop.create_future()
        self.pending[message["key"]] = (message, future)
        self.send(message)
        return future

    def message(self, payload, received):
        message = json.loads(payload)
        kind = message.get("type")
        if kind == "posted" or (kind == "error" and message.get("key") in self.pending):
            _, future = self.pending.pop(message["key"])
            if kind == "error":
                self.errors.append(message)
            future.set_result((received, message.get("number")))
        elif kind == "error":
            self.errors.append(message)


# --- Listener process ---------------------------------------------------------------------------


class ListenerHub:
    def __init__(self, config):
        self.config = config
        self.after = config["after"]
        self.first = 1 << 62
        self.received = 0
        self.errors = []


def emit(kind, data=None):
    sys.stdout.write(f"@@{kind} {json.dumps(data)}\n")
    sys.stdout.flush()


async def read_commands(loop):
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if not line or line == "QUIT":
            return
        yield line


async def listener_main(config):
    loop = asyncio.get_running_loop()
    hub = ListenerHub(config)
    concurrency = asyncio.Semaphore(config["connect_concurrency"])
    seats = []
    for index in range(config["count"]):
        port = config["ports"][index % len(config["ports"])]
        cookie = config["cookies"][index % len(config["cookies"])]
        seats.append(
            Listener(
                loop, Endpoint(port, config["thread"], cookie, config["tls"]), concurrency, hub
            )
        )
    started = time.time()
    results = await asyncio.gather(*(seat.connect() for seat in seats), return_exceptions=True)
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    connect_ms = [
        (seat.ready.result() - started) * 1000
        for seat in seats
        if seat.ready.done() and not seat.ready.exception()
    ]
    emit(
        "READY",
        {
            "sockets": len(seats) - len(failures),
            "failures": failures[:5],
            "failed": len(failures),
            "connect_all_s": round(time.time() - started, 2),
            "connect": summary(connect_ms),
        },
    )
    heartbeat = asyncio.ensure_future(heartbeats(seats, config["heartbeat"]))
    cpu_started = time.process_time()
    async for line in read_commands(loop):
        command, _, rest = line.partition(" ")
        if command == "ROUND":
            hub.first = int(rest)
            hub.received = 0
            hub.errors = []
            for seat in seats:
                seat.reset()
                seat.closes = []
                seat.reconnects = 0
            cpu_started = time.process_time()
            emit("ROUND-OK")
        elif command == "DONE":
            sent = {int(number): times for number, times in json.loads(rest).items()}
            emit("RESULT", await round_result(hub, seats, sent, config, cpu_started))
    heartbeat.cancel()
    for seat in seats:
        seat.stop()
    await asyncio.sleep(1)


async def heartbeats(seats, interval):
    """Each socket pings every `interval` seconds from a random phase, as live.js does."""
    if not interval or not seats:
        return
    order = list(seats)
    random.shuffle(order)
    step = interval / len(order)
    while True:
        for seat in order:
            seat.send({"type": "ping"})
            await asyncio.sleep(step)


async def round_result(hub, seats, sent, config, cpu_started):
    """Wait until every socket has every sent post (or nothing has arrived for a while)."""
    expected = len(sent) * len(seats)
    deadline = time.time() + config["round_timeout"]
    last_count, last_change = -1, time.time()
    while hub.received < expected and time.time() < deadline:
        if hub.received != last_count:
            last_count, last_change = hub.received, time.time()
        elif time.time() - last_change > config["idle_timeout"]:
            break
        await asyncio.sleep(0.05)
    latencies = []
    after_ack = []
    last_delivery = {}
    lost = duplicates = order_errors = payload_bytes = messages = 0
    kinds = {}
    closes = {}
    for seat in seats:
        duplicates += seat.duplicates
        order_errors += seat.order_errors
        payload_bytes += seat.bytes
        for kind, count in seat.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
        for code in seat.closes:
            closes[str(code)] = closes.get(str(code), 0) + 1
        for number, (sent_at, acked_at) in sent.items():
            received = seat.got.get(number)
            if received is None:
                lost += 1
                continue
            messages += 1
            latencies.append(round((received - sent_at) * 1000, 3))
            after_ack.append(round((received - acked_at) * 1000, 3))
            if received > last_delivery.get(number, 0):
                last_delivery[number] = received
    return {
        "sockets": len(seats),
        "latencies": latencies,
        "after_ack": after_ack,
        "last_delivery": last_delivery,
        "lost": lost,
        "duplicates": duplicates,
        "order_errors": order_errors,
        "unexpected": hub.received - messages,
        "closes": closes,
        "reconnects": sum(seat.reconnects for seat in seats),
        "errors": hub.errors[:5],
        "message_kinds": kinds,
        "mean_post_bytes": round(payload_bytes / messages) if messages else None,
        "cpu_s": round(time.process_time() - cpu_started, 2),
    }


# --- Poster process -----------------------------------------------------------------------------


class PosterPool:
    def __init__(self, loop, ports, thread_id, cookies, ack_timeout, tls):
        concurrency = asyncio.Semaphore(16)
        self.loop = loop
        self.ack_timeout = ack_timeout
        self.seats = [
            Poster(loop, Endpoint(ports[i % len(ports)], thread_id, cookie, tls), concurrency)
            for i, cookie in enumerate(cookies)
        ]

    async def connect(self):
        await asyncio.gather(*(seat.connect() for seat in self.seats))

    def close(self):
        for seat in self.seats:
            seat.stop()

    async def post(self, seat, key, seq):
        sent_at = time.time()
        source = f"{post_source(seq)} (sent {sent_at:.6f})"
        try:
            acked_at, number = await asyncio.wait_for(
                seat.post({"type": "post", "source": source, "key": key}), self.ack_timeout
            )
        except TimeoutError:
            # never acknowledged: counted as a post error, and the round goes on without it
            seat.pending.pop(key, None)
            seat.errors.append({"key": key, "error": f"no answer in {self.ack_timeout} s"})
            acked_at, number = time.time(), None
        return {"key": key, "sent": sent_at, "acked": acked_at, "number": number}

    async def at_rate(self, label, count, rate):
        """Open loop: post i goes out at start + i/rate whatever the server is doing, from a
        different socket each time (one post per socket every POSTER_INTERVAL seconds): a
        consumer handles one message at a time, so fewer, busier sockets would measure their own
        queue rather than the server's."""
        wanted = max(2, math.ceil(rate * POSTER_INTERVAL_SECONDS))
        seats = self.seats[: min(len(self.seats), wanted)]
        started = time.monotonic() + 0.2
        tasks = []
        for index in range(count):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            seat = seats[index % len(seats)]
            tasks.append(asyncio.ensure_future(self.post(seat, f"{label}-{index}", index)))
        return await asyncio.gather(*tasks), len(seats)

    async def flat_out(self, label, count, seats_used):
        """Closed loop: each poster socket sends its next post when the last is acknowledged, no
        faster than the consumer's per-socket cap allows."""
        seats = self.seats[:seats_used]
        queue = list(range(count))
        results = []
        gap = 1 / SOCKET_MESSAGES_PER_SECOND

        async def run(seat):
            while queue:
                index = queue.pop(0)
                began = time.monotonic()
                results.append(await self.post(seat, f"{label}-{index}", index))
                await asyncio.sleep(max(0, gap - (time.monotonic() - began)))

        await asyncio.gather(*(run(seat) for seat in seats))
        return results, len(seats)


async def poster_main(config):
    loop = asyncio.get_running_loop()
    pool = PosterPool(
        loop,
        config["ports"],
        config["thread"],
        config["cookies"],
        config["ack_timeout"],
        config["tls"],
    )
    await pool.connect()
    emit("READY", {"sockets": len(pool.seats)})
    async for line in read_commands(loop):
        command, label, count, value = line.split()
        cpu_started = time.process_time()
        for seat in pool.seats:
            seat.errors = []
            seat.closes = []
        if command == "RATE":
            posted, used = await pool.at_rate(label, int(count), float(value))
        else:
            posted, used = await pool.flat_out(label, int(count), int(value))
        emit(
            "POSTED",
            {
                "posted": posted,
                "sockets": used,
                "errors": [e for seat in pool.seats for e in seat.errors][:5],
                "closes": [c for seat in pool.seats for c in seat.closes][:20],
                "cpu_s": round(time.process_time() - cpu_started, 2),
            },
        )
    pool.close()
    await asyncio.sleep(0.5)


# --- Orchestration ------------------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU seconds of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_wait_seconds(pid):
    """Seconds the process's threads spent runnable but waiting for a CPU (Linux schedstat): how
    much the other processes on this machine held it back."""
    total = 0
    for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(path.read_text().split()[1])
    return total / 1e9


def redis_cpu(client):
    info = client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


SERVER_COMMANDS = {
    # as deployed (config/serving.py)
    "uvicorn": server_command,
    "daphne": lambda port: (
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        + ["config.asgi:application"]
    ),
    # as deployed but with Python's own garbage collector settings, to measure config/asgi.py's
    "stock-gc": lambda port: server_command(port, "bench.realtime_asgi:application"),
    # as deployed, from the checkout given with --baseline (an earlier commit, say)
    "baseline": server_command,
}


def start_servers(count, environment, log_dir, kind, tree=ROOT):
    servers = []
    for _ in range(count):
        port = free_port()
        log = (log_dir / f"{kind}-{port}.log").open("w")
        process = subprocess.Popen(
            SERVER_COMMANDS[kind](port),
            cwd=tree,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        servers.append({"port": port, "process": process, "log": log_dir / f"{kind}-{port}.log"})
    deadline = time.monotonic() + 90
    for server in servers:
        while True:
            try:
                socket.create_connection(("127.0.0.1", server["port"]), timeout=1).close()
                break
            except OSError:
                if server["process"].poll() is not None or time.monotonic() > deadline:
                    stop_processes([s["process"] for s in servers])
                    raise RuntimeError(
                        f"{kind} did not start:\n{server['log'].read_text()}"
                    ) from None
                time.sleep(0.2)
    return servers


def start_task_worker(environment, log_dir):
    """The deployment's task worker (`manage.py db_worker`), which re-indexes threads after
    posts and sends e-mail; it shares the machine's cores with the servers, as it would."""
    log = (log_dir / "db_worker.log").open("w")
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--interval", "0.2"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_processes(processes):
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class WorkerProcess:
    """A listener or the poster: this script in a subprocess, driven by lines on stdin and
    answering with `@@KIND json` lines on stdout."""

    def __init__(self, role, config, log_path):
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, __file__, f"--{role}", json.dumps(config)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
        )

    def send(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, kind):
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(
                    f"worker exited (code {self.process.poll()}); see {self.log.name}"
                )
            if line.startswith(f"@@{kind} "):
                return json.loads(line.split(" ", 1)[1])


def redis_url_for_bench(database):
    url = os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    if not url:
        url = "redis://127.0.0.1:56379/0"
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def prepare_environment(args, var_dir):
    database_url = None
    postgres = None
    given = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL") or ""
    if args.database == "postgres" and not given:
        raise SystemExit("--database postgres needs BENCH_POSTGRES_URL or TEST_POSTGRES_URL")
    if given and args.database != "sqlite":
        from bench.library_pages import fresh_postgres

        database_url, name = fresh_postgres(given)
        postgres = (given, name)
    else:
        database_url = f"sqlite:///{var_dir / 'db.sqlite3'}"
    environment = {
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url_for_bench(args.redis_db),
        "DEBUG": "false",
        "SECRET_KEY": "bench-realtime-not-secret",
        "CHANNEL_LAYER_ENCRYPTION_KEYS": "bench-realtime-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "PORTAL_POST_RATE": "100000/60",
        # The services profile: e-mail, thread re-indexing and other tasks are queued in the
        # database for the task worker instead of being done inside the request.
        "TASK_BACKEND": "database",
        "LOG_LEVEL": "WARNING",
        "SITE_URL": "http://127.0.0.1",
    }
    os.environ.update(environment)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return environment, postgres


def make_person(name, role="member"):
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from portal.models import Membership

    user = get_user_model().objects.create_user(
        username=name, email=f"{name}@example.org", password=None
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    Membership.objects.create(
        user=user,
        status=Membership.Status.APPROVED,
        role=Membership.Role.MODERATOR if role == "moderator" else Membership.Role.MEMBER,
        full_name=f"{name.title()} Person",
        organisation="Example Trust",
        job_title="Practitioner",
        country="United Kingdom",
        reason="Benchmark.",
        agreed_to_code_at=timezone.now(),
    )
    return user


def session_cookie(user):
    from django.conf import settings
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def build_data(args):
    """A category, one thread with --page-posts posts (some hidden, some edited), the accounts
    and their session cookies."""
    from django.db.models import Max

    from portal import sanitize
    from portal.actions import forum
    from portal.models import Category, Post, PostRevision, Thread, User

    rng = random.Random(1)
    moderator = make_person("moderator", "moderator")
    members = [make_person(f"member{i:03d}") for i in range(args.members)]
    posters = [make_person(f"poster{i:03d}") for i in range(args.posters)]
    # Posters follow the thread once they post; they are robots and want no notifications, so
    # each post does not also create (and e-mail) a notification per poster.
    User.objects.filter(pk__in=[p.pk for p in posters]).update(
        notify_replies=False, notify_mentions=False, email_frequency="off"
    )
    category = Category.objects.create(name="Technology", slug="technology")
    thread = forum.create_thread(
        moderator, category, "Benchmark: what are you seeing this month?", post_source(1, rng)
    )
    authors = members + [moderator]
    rendered = {}
    posts = []
    for number in range(2, args.page_posts + 1):
        source = post_source(number, rng)
        if source not in rendered:
            rendered[source] = sanitize.render_markdown(source)
        hidden = number % 37 == 0
        posts.append(
            Post(
                thread=thread,
                number=number,
                change=number,
                author=authors[number % len(authors)],
                source=source,
                html=rendered[source],
                state=Post.State.HIDDEN if hidden else Post.State.VISIBLE,
                moderation_reason="Off topic." if hidden else "",
            )
        )
    Post.objects.bulk_create(posts, batch_size=500)
    edited = Post.objects.filter(thread=thread, number__gt=1, number__lt=args.page_posts)
    PostRevision.objects.bulk_create(
        PostRevision(post=post, source=post.source, created=post.created, editor=post.author)
        for post in edited.filter(number__in=range(23, args.page_posts, 23))
    )
    last = Post.objects.filter(thread=thread).aggregate(Max("number"))["number__max"]
    visible_replies = Post.objects.filter(thread=thread, state="visible", number__gt=1).count()
    Thread.objects.filter(pk=thread.pk).update(
        last_number=last, last_change=last, reply_count=visible_replies
    )
    thread.refresh_from_db()
    return {
        "thread": thread,
        "moderator": moderator,
        "members": members,
        "member_cookies": [session_cookie(member) for member in members],
        "poster_cookies": [session_cookie(poster) for poster in posters],
    }


def measure_thread_page(data, repetitions):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.library_pages import query_shape
    from portal.queries import POSTS_PER_PAGE

    thread = data["thread"]
    pages = math.ceil(thread.posts.count() / POSTS_PER_PAGE)
    urls = {
        "first": f"/portal/t/{thread.pk}/?page=1",
        "middle": f"/portal/t/{thread.pk}/?page={(pages + 1) // 2}",
        "last": f"/portal/t/{thread.pk}/?page={pages}",
    }
    rows = []
    for role, user in (("member", data["members"][0]), ("moderator", data["moderator"])):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        for page, url in urls.items():
            response = client.get(url)  # warm caches and imports
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            # Read them now: every request (the timed ones below) clears the connection's log.
            captured = list(queries.captured_queries)
            shapes = {}
            for query in captured:
                shape = query_shape(query["sql"])
                shapes[shape] = shapes.get(shape, 0) + 1
            timings = []
            for _ in range(repetitions):
                started = time.perf_counter()
                client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
            rows.append(
                {
                    "role": role,
                    "page": page,
                    "url": url,
                    "status": response.status_code,
                    "bytes": len(response.content),
                    "median_ms": round(statistics.median(timings), 2),
                    "p95_ms": round(percentile(timings, 0.95), 2),
                    "queries": len(captured),
                    "sql_ms": round(sum(float(q["time"]) for q in captured) * 1000, 2),
                    "repeated": {shape: n for shape, n in shapes.items() if n >= 5},
                }
            )
    return {"posts": thread.posts.count(), "pages": pages, "rows": rows}


def last_number(thread_id):
    from django.db import close_old_connections

    from portal.models import Thread

    close_old_connections()
    return Thread.objects.values_list("last_number", "last_change").get(pk=thread_id)


def run_configuration(args, data, environment, clients, server_count, log_dir, redis_client):
    redis_client.flushdb()
    task_worker = start_task_worker(environment, log_dir)
    kind = environment["BENCH_SERVER"]
    tree = Path(args.baseline) if kind == "baseline" else ROOT
    servers = start_servers(server_count, environment, log_dir, kind, tree)
    pids = [server["process"].pid for server in servers]
    ports = [server["port"] for server in servers]
    proxy = None
    if args.through == "nginx":
        # As deployed: every socket through nginx (TLS, least_conn over the processes).
        proxy = start_nginx([server["port"] for server in servers], log_dir, clients)
        ports = [proxy.https_port]
    thread_id = data["thread"].pk
    _, change = last_number(thread_id)
    listeners = []
    workers = []
    rows = []
    try:
        per_process = [clients // args.client_processes] * args.client_processes
        for index in range(clients % args.client_processes):
            per_process[index] += 1
        connect_started = time.time()
        for index, count in enumerate(per_process):
            config = {
                "count": count,
                "ports": ports[index % len(ports) :] + ports[: index % len(ports)],
                "tls": proxy is not None,
                "cookies": data["member_cookies"],
                "thread": thread_id,
                "after": change,
                "heartbeat": args.heartbeat,
                "connect_concurrency": args.connect_concurrency,
                "round_timeout": args.round_timeout,
                "idle_timeout": args.idle_timeout,
            }
            log_path = log_dir / f"listener-{clients}-{server_count}-{index}.log"
            listeners.append(WorkerProcess("listener", config, log_path))
        ready = [listener.expect("READY") for listener in listeners]
        connect = {
            "sockets": sum(r["sockets"] for r in ready),
            "failed": sum(r["failed"] for r in ready),
            "failures": [f for r in ready for f in r["failures"]][:5],
            "all_connected_s": round(time.time() - connect_started, 2),
            "median_ms": max(r["connect"]["median_ms"] or 0 for r in ready),
            "p99_ms": max(r["connect"]["p99_ms"] or 0 for r in ready),
        }
        print(
            f"  {clients} clients on {server_count} server(s): {connect['sockets']} connected "
            f"({connect['failed']} failed) in {connect['all_connected_s']} s",
            flush=True,
        )
        config = {
            "ports": ports,
            "thread": thread_id,
            "cookies": data["poster_cookies"],
            "ack_timeout": args.round_timeout,
            "tls": proxy is not None,
        }
        poster = WorkerProcess("poster", config, log_dir / f"poster-{clients}-{server_count}.log")
        workers.append(poster)
        poster.expect("READY")
        rows = post_rounds(args, thread_id, pids, listeners, poster, redis_client, connect)
        for row in rows:
            row.update({"clients": clients, "servers": server_count})
    finally:
        for worker in listeners + workers:
            with contextlib.suppress(OSError):
                worker.send("QUIT")
        stop_processes([worker.process for worker in listeners + workers])
        if proxy:
            proxy.stop()
        stop_processes([server["process"] for server in servers] + [task_worker])
    return rows


def start_nginx(web_ports, log_dir, clients):
    """Debian's nginx with deploy/nginx's site in front of the servers, started the way
    deploy/topology.py starts it for the tested topology."""
    from deploy.topology import Topology

    workdir = Path(tempfile.mkdtemp(prefix="nginx-", dir=log_dir))
    proxy = Topology(workdir, "postgres://unused@127.0.0.1/unused")
    proxy.web_ports = web_ports
    # Each proxied socket holds two connections in nginx: the client's and the upstream one.
    proxy.nginx_worker_connections = 2 * clients + 1024
    for folder in ("logs", "nginx/temp"):
        (workdir / folder).mkdir(parents=True)
    proxy.start_nginx()
    return proxy


def post_rounds(args, thread_id, pids, listeners, poster, redis_client, connect):
    # The warm-up round fills the servers' caches (templates, connections) and is not reported:
    # otherwise one slow first post, reaching every socket, could stand for 1% of a round.
    rounds = [("warmup", WARMUP_RATE)] if args.warmup else []
    rounds += [("rate", rate) for rate in args.rates]
    if args.burst_posts:
        rounds.append(("max", None))
    rows = []
    for kind, rate in rounds:
        time.sleep(args.settle)
        number, _ = last_number(thread_id)
        for listener in listeners:
            listener.send(f"ROUND {number + 1}")
            listener.expect("ROUND-OK")
        server_cpu = [cpu_seconds(pid) for pid in pids]
        server_wait = [runqueue_wait_seconds(pid) for pid in pids]
        load_before = os.getloadavg()[0]
        redis_before = redis_cpu(redis_client)
        wall = time.time()
        label = f"{kind}-{number}"
        if kind in ("warmup", "rate"):
            count = args.warmup if kind == "warmup" else args.posts
            poster.send(f"RATE {label} {count} {rate}")
        else:
            poster.send(f"MAX {label} {args.burst_posts} {args.burst_posters}")
        posted = poster.expect("POSTED")
        sent = {p["number"]: [p["sent"], p["acked"]] for p in posted["posted"] if p["number"]}
        for listener in listeners:
            listener.send("DONE " + json.dumps(sent))
        results = [listener.expect("RESULT") for listener in listeners]
        wall = time.time() - wall
        server_cpu = [
            round(cpu_seconds(pid) - before, 2)
            for pid, before in zip(pids, server_cpu, strict=True)
        ]
        server_wait = [
            round(runqueue_wait_seconds(pid) - before, 2)
            for pid, before in zip(pids, server_wait, strict=True)
        ]
        row = round_row(
            kind,
            rate,
            posted,
            sent,
            results,
            wall,
            server_cpu,
            round(redis_cpu(redis_client) - redis_before, 2),
            connect,
        )
        row["cpu_s"]["servers_runqueue_wait"] = server_wait
        row["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        if kind != "warmup":
            rows.append(row)
        print(
            f"    {kind:<4} {row['posts']:>4} posts at {row['post_rate']}/s: "
            f"median {row['median_ms']} ms, p99 {row['p99_ms']} ms, max {row['max_ms']} ms, "
            f"ack p50 {row['ack']['median_ms']} ms, fan-out p99 {row['after_ack']['p99_ms']} ms, "
            f"{row['sustained_posts_per_s']} posts/s delivered, lost {row['lost']}, "
            f"post errors {row['post_errors']}",
            flush=True,
        )
    return rows


def round_row(kind, rate, posted, sent, results, wall, server_cpu, redis_cpu_s, connect):
    poster_sockets = posted["sockets"]
    poster_cpu = posted["cpu_s"]
    posted_closes = posted["closes"]
    posted_errors = posted["errors"]
    posted = posted["posted"]
    latencies = [value for result in results for value in result["latencies"]]
    last_delivery = {}
    for result in results:
        for number, at in result["last_delivery"].items():
            last_delivery[int(number)] = max(at, last_delivery.get(int(number), 0))
    first_send = min(times[0] for times in sent.values()) if sent else 0
    last_send = max(times[0] for times in sent.values()) if sent else 0
    done = max(last_delivery.values()) if last_delivery else 0
    post_span = last_send - first_send
    # per post: when its last socket got it, after it was sent
    completion = [
        (last_delivery[number] - sent_at) * 1000
        for number, (sent_at, _) in sent.items()
        if number in last_delivery
    ]
    acks = [(p["acked"] - p["sent"]) * 1000 for p in posted if p["number"]]
    after_ack = [value for result in results for value in result["after_ack"]]
    lost = sum(r["lost"] for r in results)
    return {
        "round": kind,
        "target_rate": rate,
        "posts": len(sent),
        "post_errors": len(posted) - len(sent),
        "poster_sockets": poster_sockets,
        "post_rate": round((len(sent) - 1) / post_span, 1) if post_span > 0 else None,
        "sockets": sum(r["sockets"] for r in results),
        "deliveries": len(latencies),
        **summary(latencies),
        "p90_ms": round(percentile(latencies, 0.90), 2) if latencies else None,
        "fan_out_complete": summary(completion),
        "ack": summary(acks),
        "after_ack": summary(after_ack),
        "sustained_posts_per_s": round(len(sent) / (done - first_send), 1)
        if done > first_send and lost == 0
        else None,
        "delivery_span_s": round(done - first_send, 2) if done else None,
        "lost": lost,
        "duplicates": sum(r["duplicates"] for r in results),
        "order_errors": sum(r["order_errors"] for r in results),
        "unexpected": sum(r["unexpected"] for r in results),
        "socket_closes": merge_counts(r["closes"] for r in results),
        "reconnects": sum(r["reconnects"] for r in results),
        "poster_closes": posted_closes,
        "poster_errors": posted_errors,
        "errors": [e for r in results for e in r["errors"]][:5],
        "message_kinds": merge_counts(r["message_kinds"] for r in results),
        "mean_post_bytes": results[0]["mean_post_bytes"] if results else None,
        "wall_s": round(wall, 2),
        "cpu_s": {
            "servers": server_cpu,
            "listeners": [r["cpu_s"] for r in results],
            "poster": poster_cpu,
            "redis": redis_cpu_s,
        },
        "connect": connect,
    }


def merge_counts(counts):
    merged = {}
    for count in counts:
        for key, value in count.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def dash(value):
    return "-" if value is None else value


def print_tables(pages, rows):
    print()
    print(
        f"Thread page with {pages['posts']} posts ({pages['pages']} pages), server time in process"
    )
    print(f"{'role':<10} {'page':<7} {'status':>6} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for row in pages["rows"]:
        print(
            f"{row['role']:<10} {row['page']:<7} {row['status']:>6} {row['median_ms']:>10} "
            f"{row['p95_ms']:>8} {row['queries']:>8}"
        )
    print()
    header = (
        f"{'N':>5} {'srv':>3} {'server':<7} {'layer':<6} {'round':<5} {'posts':>5} {'rate/s':>7} "
        f"{'median':>7} {'p99':>8} "
        f"{'max':>8} {'sust/s':>7} {'lost':>5} {'order':>5} {'dup':>4} {'recon':>5} {'ack p50':>8} "
        f"{'fan p50':>8} {'fan p99':>8} {'cpu srv':>12} {'cpu cli':>7} {'load':>5}"
    )
    print(header)
    for row in rows:
        cpu = row["cpu_s"]
        server_pct = "+".join(f"{100 * c / row['wall_s']:.0f}" for c in cpu["servers"])
        client_pct = f"{100 * sum(cpu['listeners']) / row['wall_s']:.0f}"
        print(
            f"{row['clients']:>5} {row['servers']:>3} {row['server']:<7} {row['layer']:<6} "
            f"{row['round']:<5} "
            f"{row['posts']:>5} "
            f"{row['post_rate'] or '-':>7} {row['median_ms'] or '-':>7} {row['p99_ms'] or '-':>8} "
            f"{row['max_ms'] or '-':>8} {row['sustained_posts_per_s'] or '-':>7} {row['lost']:>5} "
            f"{row['order_errors']:>5} {row['duplicates']:>4} {row['reconnects']:>5} "
            f"{row['ack']['median_ms'] or '-':>8} "
            f"{dash(row['after_ack']['median_ms']):>8} {dash(row['after_ack']['p99_ms']):>8} "
            f"{server_pct + '%':>12} {client_pct + '%':>7} {max(row['load_average']):>5}"
        )
    print(
        "latencies in ms from the post's send to its receipt by a client; ack: send -> the "
        "poster's `posted` reply (the server's create_post, which publishes on commit); fan: "
        "the poster's ack -> receipt by a client (channel layer and fan-out); sust/s: posts per "
        "second until the last delivery of the round; cpu: % of one core per server process and "
        "of the listener processes; recon: listener reconnects during the round; load: the "
        "machine's 1-minute load average (2 cores), the higher of round start and end"
    )


def write_results(args, pages, rows, configurations, started, load_before):
    from django.db import connection

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.output).write_text(
        json.dumps(
            {
                "command": " ".join([".venv/bin/python", "bench/realtime.py", *sys.argv[1:]]),
                "database": connection.vendor,
                "debug": False,
                "channel_layers": {
                    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
                    "list": "channels_redis.core.RedisChannelLayer",
                },
                "cpus": os.cpu_count(),
                "load_average_before": load_before,
                "heartbeat_s": args.heartbeat,
                "members": args.members,
                "posters": args.posters,
                "wall_s": round(time.time() - started, 1),
                "configurations": configurations,
                "thread_page": pages,
                "realtime": rows,
            },
            indent=2,
        )
    )


def parse_list(text, kind=int):
    return [kind(value) for value in text.split(",") if value.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="100,500,1000", help="comma-separated socket counts")
    parser.add_argument("--servers", default="1,2", help="comma-separated server process counts")
    parser.add_argument("--posts", type=int, default=200, help="posts per rate round")
    parser.add_argument("--rates", default="5", help="comma-separated posts/s, one round each")
    parser.add_argument("--burst-posts", type=int, default=200, help="0: no max-throughput round")
    parser.add_argument("--burst-posters", type=int, default=40)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--heartbeat", type=float, default=25, help="seconds; 0: no heartbeats")
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--connect-concurrency", type=int, default=32)
    parser.add_argument("--page-posts", type=int, default=1000)
    parser.add_argument("--page-repetitions", type=int, default=20)
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--database", choices=["auto", "sqlite", "postgres"], default="auto")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument(
        "--through",
        choices=["direct", "nginx"],
        default="direct",
        help="nginx: clients connect over TLS to deploy/nginx's site in front of the servers",
    )
    parser.add_argument(
        "--round-timeout",
        type=float,
        default=180,
        help="seconds after the last post was sent; what has not arrived by then counts as lost",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=60,
        help="end a round early when no post has arrived for this long after the last was sent",
    )
    parser.add_argument("--settle", type=float, default=2, help="seconds of quiet between rounds")
    parser.add_argument(
        "--server-kinds",
        default="uvicorn",
        help=f"comma-separated ASGI servers to run the site on: {', '.join(SERVER_COMMANDS)}",
    )
    parser.add_argument(
        "--baseline",
        help="a checkout of the project (git worktree add ...) whose site the 'baseline' server "
        "kind serves, beside this one's",
    )
    parser.add_argument("--warmup", type=int, default=20, help="posts sent before measuring")
    parser.add_argument(
        "--layers",
        default="pubsub",
        help="comma-separated channel layers: pubsub (the project's) and list (channels-redis's "
        "RedisChannelLayer; see bench/realtime_settings.py)",
    )
    parser.add_argument("--output", default="realtime.json", help="file name in bench/results/")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--listener", help=argparse.SUPPRESS)
    parser.add_argument("--poster", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.listener:
        uvloop.run(listener_main(json.loads(args.listener)))
        return
    if args.poster:
        uvloop.run(poster_main(json.loads(args.poster)))
        return

    args.clients = parse_list(args.clients)
    args.servers = parse_list(args.servers)
    args.rates = parse_list(args.rates, float)
    args.layers = parse_list(args.layers, str)
    args.server_kinds = parse_list(args.server_kinds, str)
    if set(args.server_kinds) - set(SERVER_COMMANDS):
        parser.error(f"--server-kinds: {', '.join(SERVER_COMMANDS)}")
    if ("baseline" in args.server_kinds) != bool(args.baseline):
        parser.error("the baseline server kind and --baseline go together")
    if set(args.layers) - {"pubsub", "list"}:
        parser.error("--layers: pubsub, list")
    args.posters = max(
        args.burst_posters,
        math.ceil(max(args.rates or [1]) * POSTER_INTERVAL_SECONDS),
        math.ceil(max(args.rates or [1]) / SOCKET_MESSAGES_PER_SECOND) + 1,
    )
    var_dir = Path(tempfile.mkdtemp(prefix="portal-realtime-"))
    started = time.time()
    load_before = os.getloadavg()
    environment, postgres = prepare_environment(args, var_dir)
    environment = {**os.environ, **environment, "DJANGO_SETTINGS_MODULE": "bench.realtime_settings"}
    try:
        import django

        django.setup()
        import redis
        from django.core.management import call_command
        from django.db import connection

        redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
        redis_client.flushdb()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        data = build_data(args)
        print(
            f"setup: {connection.vendor}, thread {data['thread'].pk} with "
            f"{data['thread'].last_number} posts, {args.members} members, {args.posters} posters "
            f"({time.time() - started:.0f} s)",
            flush=True,
        )
        pages = {"rows": [], "posts": 0, "pages": 0}
        if not args.skip_pages:
            pages = measure_thread_page(data, args.page_repetitions)
        connection.close()
        rows = []
        configurations = []
        for clients in args.clients:
            for server_count in args.servers:
                for kind, layer in itertools.product(args.server_kinds, args.layers):
                    began = time.time()
                    setup = {"BENCH_CHANNEL_LAYER": layer, "BENCH_SERVER": kind}
                    new_rows = run_configuration(
                        args,
                        data,
                        {**environment, **setup},
                        clients,
                        server_count,
                        var_dir,
                        redis_client,
                    )
                    for row in new_rows:
                        row.update(layer=layer, server=kind)
                    rows += new_rows
                    configurations.append(
                        {
                            "clients": clients,
                            "servers": server_count,
                            "server": kind,
                            "layer": layer,
                            "wall_s": round(time.time() - began, 1),
                        }
                    )
                    # after each configuration, so an interrupted run keeps what it measured
                    write_results(args, pages, rows, configurations, started, load_before)
        print_tables(pages, rows)
        write_results(args, pages, rows, configurations, started, load_before)
        print(f"wrote {RESULTS / args.output} ({time.time() - started:.0f} s)")
    finally:
        if postgres:
            from django.db import connections

            from bench.library_pages import drop_postgres

            connections.close_all()
            drop_postgres(*postgres)
        if args.keep:
            print(f"kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

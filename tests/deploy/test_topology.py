"""The site as deploy/ installs it, on loopback (deploy/topology.py): Debian's nginx terminating
TLS in front of two uvicorn processes with DEBUG off, started from the systemd units' command
lines, the task worker, PgBouncer in transaction pooling in front of a PostgreSQL of the test's
own, and the test Redis and OpenSearch.

Chromium goes through nginx only: two members whose sockets are held by different web processes
see each other's posts live; a document downloads; static files come with a year-long cache;
every security header arrives. Then PostgreSQL restarts under load, behind PgBouncer, and the
same web processes answer again.

One topology for the module: it copies the running site's database (migrated, demo loaded) so
that it does not migrate and load the demo a second time."""

import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from deploy.topology import Topology
from tests.conftest import ROOT, free_port, manage
from tests.e2e.test_forum import (
    LIVE,
    reply_live,
    sign_in,
    start_thread,
    wait_until_live,
)
from tests.e2e.test_library_pages import ITEM

pytestmark = pytest.mark.browser

# Every header the site's own responses carry (tests/test_headers.py, deploy/README.md).
SECURITY_HEADERS = (
    "content-security-policy",
    "referrer-policy",
    "permissions-policy",
    "x-content-type-options",
    "cross-origin-opener-policy",
    "x-frame-options",
    "strict-transport-security",
)
YEAR = "public, max-age=31536000, immutable"
# The topology's certificate is self-signed.
INSECURE = ssl.create_default_context()
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE


def postgres_tool(name):
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else shutil.which(name)


class OwnPostgres:
    """A PostgreSQL of the test's own (services/postgres/run), so it can be restarted."""

    def __init__(self, home):
        self.environment = {**os.environ, "POSTGRES_PORT": str(free_port()), "POSTGRES_HOME": home}

    def run(self, action):
        script = ROOT / "services" / "postgres" / "run"
        result = subprocess.run(
            [script, action], env=self.environment, capture_output=True, text=True, timeout=90
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


@pytest.fixture(scope="module")
def own_postgres(postgres_url):
    if not shutil.which("pgbouncer") or not shutil.which("nginx"):
        if os.environ.get("CI") == "true":
            pytest.fail("nginx and pgbouncer are required under CI=true (apt-get install them)")
        pytest.skip("nginx or pgbouncer not installed: Debian's packages run the topology")
    home = tempfile.mkdtemp(prefix="portal-topology-pg-")
    os.chmod(home, 0o755)  # PostgreSQL runs as its own user when root starts it
    server = OwnPostgres(home)
    url = server.run("start").partition("=")[2]
    yield server, url
    server.run("stop")
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def topology(own_postgres, running_site, redis_url, opensearch_url, tmp_path_factory):
    server, url = own_postgres
    started = time.monotonic()
    # The topology starts from a backup of the running site, restored into its empty database.
    backup = tmp_path_factory.mktemp("backup")
    workdir = Path(tempfile.mkdtemp(prefix="portal-topology-"))
    site = Topology(
        workdir,
        url,
        {
            "REDIS_URL": redis_url,
            "SEARCH_URL": "opensearch+" + opensearch_url,
            "SEARCH_INDEX": running_site.environment["SEARCH_INDEX"],
            "PORTAL_POST_RATE": "1000/60",
        },
    )
    try:
        manage("backup", str(backup), env=running_site.environment)
        restored = {
            "DATABASE_URL": url,
            "MEDIA_ROOT": str(workdir / "var" / "media"),
            "PRIVATE_FILES_ROOT": str(workdir / "var" / "private"),
        }
        manage("restore", str(backup), env=restored)
        copied = time.monotonic()
        site.start()
        print(
            f"\ntopology: backup restored in {copied - started:.1f} s, "
            f"up {time.monotonic() - copied:.1f} s later"
        )
        yield site
    finally:
        site.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def thread_sockets(topology, thread_path):
    """How many sockets on the thread each web process has accepted, from its access log."""
    return {
        port: topology.log_path(f"web-{port}")
        .read_text()
        .count(f'"WebSocket {thread_path}" [accepted]')
        for port in topology.web_ports
    }


def open_and_find_process(page, url, topology, thread_path):
    """Opens the thread (or starts it, when `url` is a callable) and returns the port of the
    web process that took the page's socket on it."""
    before = thread_sockets(topology, thread_path) if thread_path else None
    url = url() if callable(url) else page.goto(url) and url
    thread_path = thread_path or re.sub(r"^https://[^/]+/portal/t/", "/ws/threads/", url)
    wait_until_live(page)
    after = thread_sockets(topology, thread_path)
    before = before or dict.fromkeys(after, 0)
    (port,) = [port for port in after if after[port] > before[port]]
    return port, url, thread_path


def main_text(html):
    """The words of a page's <main>, without its markup."""
    main = html[html.index("<main") : html.index("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


def test_members_on_different_processes_talk_live_through_nginx(browser, topology, running_site):
    def member_page(role):
        context = browser.new_context(base_url=topology.url, ignore_https_errors=True)
        context.set_default_timeout(15_000)
        page = context.new_page()
        # Only the thread's socket reaches the site: nginx then hands the second member's to
        # the process holding fewer, which is the one the first member's is not on.
        page.route_web_socket("**/ws/portal/", lambda socket: socket.close())
        sign_in(page, f"{role}@example.org", f"demo-{role}-portal")
        return page

    moderator, member = member_page("moderator"), member_page("member")
    first = moderator.goto("/")
    missing = [name for name in SECURITY_HEADERS if name not in first.headers]
    assert not missing, f"lost between Django and the browser: {missing}"
    assert first.headers["strict-transport-security"].startswith("max-age=63072000")

    title = f"Through the proxy {uuid.uuid4().hex[:8]}"
    moderator_process, url, thread_path = open_and_find_process(
        moderator, lambda: start_thread(moderator, title, "Who is here?"), topology, None
    )
    member_process, _, _ = open_and_find_process(member, url, topology, thread_path)
    assert member_process != moderator_process, "both sockets landed on one web process"

    text = f"Across processes {uuid.uuid4().hex[:8]}"
    reply_live(member, text)
    expect(moderator.locator("article.post", has_text=text)).to_be_visible(timeout=LIVE)
    answer = f"Heard you {uuid.uuid4().hex[:8]}"
    reply_live(moderator, answer)
    expect(member.locator("article.post", has_text=answer)).to_be_visible(timeout=LIVE)

    # One scrape of one process counts the sockets of both; nginx keeps /metrics from visitors.
    scraped = read(f"http://127.0.0.1:{topology.web_ports[0]}/metrics")
    assert float(re.search(r"^portal_open_websockets (\S+)$", scraped, re.M)[1]) >= 2
    assert fetch(topology.url + "/metrics") == 404

    # The restored site serves the pages the backed-up one did; a document goes through nginx
    # to Django's privacy check; static files come from nginx's disk.
    item = member.goto(ITEM)
    assert item.ok
    assert main_text(read(running_site.url + ITEM)) == main_text(read(topology.url + ITEM))
    with member.expect_download() as download_info:
        member.get_by_role("link", name="Download the report").click()
    assert download_info.value.failure() is None
    assert Path(download_info.value.path()).read_bytes()[:5] == b"%PDF-"
    stylesheet = member.locator("link[rel=stylesheet]").first.get_attribute("href")
    assert re.search(r"\.[0-9a-f]{12}\.css$", stylesheet), stylesheet
    static = member.request.get(stylesheet)
    assert static.ok and static.headers["cache-control"] == YEAR
    assert static.headers["x-content-type-options"] == "nosniff"

    health = member.request.get("/healthz")
    assert health.ok
    checks = health.json()["checks"]
    assert health.json()["status"] == "ok", checks
    assert checks["search"]["engine"] == "opensearch"
    member.context.close()
    moderator.context.close()


def fetch(url):
    """The status of a visitor's GET, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=15, context=INSECURE) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def read(url):
    with urllib.request.urlopen(url, timeout=15, context=INSECURE) as response:
        return response.read().decode()


def pgbouncer_pools(topology):
    """PgBouncer's SHOW POOLS for the site's database, as {column: value}."""
    result = subprocess.run(
        [
            postgres_tool("psql"),
            f"postgres://portal@127.0.0.1:{topology.pgbouncer_port}/pgbouncer",
            "-AXc",
            "SHOW POOLS",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    header, *rows = result.stdout.splitlines()
    names = header.split("|")
    pools = [dict(zip(names, row.split("|"), strict=False)) for row in rows if "|" in row]
    return next(pool for pool in pools if pool["database"] == "portal")


def test_a_database_restart_under_load_recovers_without_restarting_the_site(topology, own_postgres):
    server, _ = own_postgres
    web = {name: process for name, process in topology.processes.items() if name.startswith("web")}
    pages = [f"{topology.url}/", f"{topology.url}{ITEM}"]
    answers = []
    stop = threading.Event()

    def load(page):
        while not stop.is_set():
            answers.append((time.monotonic(), fetch(page)))

    workers = [threading.Thread(target=load, args=(page,)) for page in pages * 2]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1)
        pools = pgbouncer_pools(topology)
        # Two web processes and the worker hold their own pools of PgBouncer clients; PostgreSQL
        # sees at most the four server connections PgBouncer keeps.
        clients = int(pools["cl_active"]) + int(pools["cl_waiting"])
        servers = int(pools["sv_active"]) + int(pools["sv_idle"]) + int(pools["sv_used"])
        assert servers <= 4 < clients, pools
        restarted = time.monotonic()
        server.run("stop")
        server.run("start")
        back = time.monotonic()
        deadline = back + 30
        while time.monotonic() < deadline:
            recent = [status for at, status in answers[-8:] if at > back]
            if len(recent) == 8 and set(recent) == {200}:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=20)
    after = [status for at, status in answers if at > back]
    assert after[-8:] == [200] * 8, f"no recovery within 30 s: {after[-20:]}"
    recovered = next(at for at, status in answers if at > back and status == 200) - back
    print(f"\nrestart took {back - restarted:.1f} s; first page {recovered:.1f} s after it")
    assert all(process.poll() is None for process in web.values()), "a web process exited"
    assert fetch(f"{topology.url}/healthz") == 200

"""Shared fixtures: where the real services are, and how to reach them.

A test that needs a service asks for its fixture. Where the service's URL is unset the test skips
and says which variable to set; under CI=true it fails instead, so CI can never pass by skipping.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import sync_playwright

from config.serving import server_command

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))


def require_service(variable, what):
    value = os.environ.get(variable, "")
    if value and os.environ.get("PORTAL_SERVICE_TESTS") == "later":
        # tests/run_profiles.py: the services profile, which CI requires, runs this test next.
        pytest.skip(f"{what}: runs in the services profile")
    if not value:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is required under CI=true, but {variable} is unset")
        pytest.skip(f"{what} not available: set {variable} to run this test")
    return value


@pytest.fixture(scope="session")
def postgres_url():
    return require_service("TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def redis_url():
    return require_service("TEST_REDIS_URL", "Redis")


@pytest.fixture(scope="session")
def opensearch_url():
    return require_service("TEST_OPENSEARCH_URL", "OpenSearch")


@pytest.fixture(scope="session")
def clamd_url():
    """A clamd with the test signatures (services/clamav/run start prints its URL)."""
    return require_service("TEST_CLAMD_URL", "ClamAV")


@pytest.fixture(scope="session")
def chromium_path():
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required under CI=true, but it is not installed")
        pytest.skip("Chromium not available: install Debian's chromium or set CHROMIUM_PATH")
    return path


# Chromium as root in a sandbox-less container, on a machine with no outside network: these flags
# stop it reaching for Google's services at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One Chromium for the run, shared by the e2e and deployment tests (Playwright's sync API
    allows one per thread)."""
    screenshots = ARTIFACTS / "screenshots"  # tests.e2e.browser.SCREENSHOTS
    screenshots.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {screenshots}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port_url(scheme):
    """A URL on loopback where nothing listens, for tests of unreachable services."""
    return f"{scheme}://127.0.0.1:{free_port()}"


def manage(*args, env=None, check=True, timeout=300):
    """Run manage.py in a subprocess with the given environment additions."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def fresh_database_url(tmp_path_factory):
    """An empty database of the running profile's kind, apart from the test database.

    Tests that start the real server need committed data the server process can see, so they get
    their own database: a SQLite file, or a new PostgreSQL database dropped afterwards.
    """
    profile_url = os.environ.get("DATABASE_URL", "")
    if not profile_url.startswith("postgres"):
        yield f"sqlite:///{tmp_path_factory.mktemp('site') / 'db.sqlite3'}"
        return
    import psycopg

    name = f"portal_site_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(profile_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(profile_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(profile_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RunningSite:
    def __init__(self, url, process, log_path, environment=None):
        self.url = url
        self.process = process
        self.log_path = log_path
        self.environment = environment or {}  # what manage() needs to reach the same data

    def log(self):
        return self.log_path.read_text(errors="replace")


def serve(environment, log_path, port=None):
    """Starts the site as deployed (uvicorn) on a free port (or the one given) with the given
    environment; returns once it accepts."""
    port = port or free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            server_command(port),
            cwd=ROOT,
            env={**os.environ, **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    site = RunningSite(f"http://127.0.0.1:{port}", process, log_path, environment)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return site
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the site did not start:\n{site.log()}")
            time.sleep(0.2)


@pytest.fixture(scope="session")
def running_site(fresh_database_url, tmp_path_factory):
    """The real site, started as in production: migrate, demo content, uvicorn serving ASGI."""
    port = free_port()
    environment = {
        "DATABASE_URL": fresh_database_url,
        "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
        "PRIVATE_FILES_ROOT": str(tmp_path_factory.mktemp("private")),
        # An engine index of its own, apart from what in-process tests index.
        "SEARCH_INDEX": f"site-{uuid.uuid4().hex[:10]}",
        # The address it is served at, which setup_demo gives the Wagtail site.
        "SITE_URL": f"http://127.0.0.1:{port}",
    }
    manage("migrate", "--noinput", env=environment)
    setup = manage("setup_demo", env=environment)
    manage("check_services", env=environment)
    site = serve(environment, tmp_path_factory.mktemp("server") / "server.log", port)
    site.setup_output = setup.stdout + setup.stderr
    site.environment = environment  # tests/deploy copies its database and media
    yield site
    site.process.terminate()
    site.process.wait(timeout=10)


@pytest.fixture
def in_memory_layer(settings):
    """Channels' in-memory channel layer, for tests that need no Redis (set afresh each time)."""
    from channels.layers import channel_layers

    from config.layers import memory_layer

    settings.CHANNEL_LAYERS = {"default": memory_layer()}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def demo_site(db):
    """The demo content loaded into the test database; returns the home page."""
    from library import demo
    from library.models import HomePage

    demo.load()
    return HomePage.objects.get()


@pytest.fixture(scope="session", autouse=True)
def private_files(tmp_path_factory):
    """Attachments and the quarantine in a folder of the run's own, never the checkout's var/."""
    from django.conf import settings
    from django.test import override_settings

    root = tmp_path_factory.mktemp("private")
    storages = {
        **settings.STORAGES,
        "attachments": {**settings.STORAGES["attachments"], "OPTIONS": {"location": root / "a"}},
        "quarantine": {**settings.STORAGES["quarantine"], "OPTIONS": {"location": root / "q"}},
    }
    with override_settings(STORAGES=storages, PRIVATE_FILES_ROOT=root):
        yield root


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The production hasher is slow on purpose; in-process tests hash hundreds of passwords.
    Servers started by the tests (running_site) keep the real one."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Rate-limit counters and presence live in the cache and are keyed by user id, which the
    database reuses from test to test: every test starts with an empty cache."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield

"""The task worker outlives PostgreSQL: restarted under a running worker, the database comes back,
and an item published afterwards reaches the search engine without anyone acting.

The test runs a PostgreSQL cluster of its own (services/postgres/run on another port and folder)
so it can stop it; the shared one is left alone."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import psycopg
import pytest
import requests

from tests.conftest import ROOT, free_port, manage

PUBLISH_SCRIPT = """
from library.models import LibraryItemPage
item = LibraryItemPage.objects.live().order_by("pk").first()
item.title = "{title}"
item.save_revision().publish()
"""


@pytest.fixture
def own_postgres(postgres_url):
    home = tempfile.mkdtemp(prefix="portal-pg-")
    os.chmod(home, 0o755)  # the server runs as the postgres user
    environment = {**os.environ, "POSTGRES_PORT": str(free_port()), "POSTGRES_HOME": home}
    script = str(ROOT / "services" / "postgres" / "run")

    def run(action):
        return subprocess.run(
            [script, action], env=environment, capture_output=True, text=True, check=True
        ).stdout

    url = run("start").strip().partition("=")[2]
    yield url, run
    run("stop")
    shutil.rmtree(home, ignore_errors=True)


def pending_changes(url):
    with psycopg.connect(url, connect_timeout=2) as connection:
        query = "SELECT count(*) FROM site_search_pendingindexchange"
        return connection.execute(query).fetchone()[0]


def engine_hits(opensearch_url, index, title):
    response = requests.post(
        f"{opensearch_url}/{index}/_search",
        json={"query": {"match_phrase": {"title": title}}},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["hits"]["total"]["value"]


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except (psycopg.OperationalError, requests.RequestException):
            pass  # not up yet
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s")
        time.sleep(0.5)


def test_worker_survives_a_database_restart_and_drains_what_follows(
    own_postgres, opensearch_url, tmp_path
):
    url, postgres = own_postgres
    index = f"worker-{uuid.uuid4().hex[:8]}"
    environment = {
        "DATABASE_URL": url,
        "TASK_BACKEND": "database",
        "SEARCH_URL": f"opensearch+{opensearch_url}",
        "SEARCH_INDEX": index,
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    manage("migrate", "--noinput", env=environment)
    manage("setup_demo", env=environment)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay"],
            cwd=ROOT,
            env={**os.environ, **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: pending_changes(url) == 0, 60, "the demo content's indexing")

        postgres("stop")
        with pytest.raises(psycopg.OperationalError):
            pending_changes(url)  # the server is down
        # The worker meets the outage (once a pooled connection's wait, 5 s, has passed) and
        # stays up, waiting.
        wait_for(
            lambda: "task worker: database unavailable" in log_path.read_text(),
            60,
            "the worker noticing the outage",
        )
        assert worker.poll() is None, log_path.read_text()[-3000:]
        postgres("start")

        title = f"Published after the restart {uuid.uuid4().hex[:6]}"
        manage("shell", "-c", PUBLISH_SCRIPT.format(title=title), env=environment)
        wait_for(
            lambda: pending_changes(url) == 0 and engine_hits(opensearch_url, index, title) == 1,
            60,
            "the item published after the restart reaching the engine",
        )
        assert worker.poll() is None, log_path.read_text()[-3000:]
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        requests.delete(f"{opensearch_url}/{index}*", timeout=5)

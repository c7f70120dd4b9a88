"""Search on a cluster: three OpenSearch nodes on loopback, started by the project's launcher
(`services/opensearch/run cluster`), with every shard kept on two nodes. One node is killed while
items are published and searched: every search is still answered by the cluster, no change is lost,
and once the node has rejoined the index equals the database."""

import os
import socket
import subprocess
import time

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import QueryDict

from portal.policy import search_visibilities
from search import service
from search.engines import remote_engine
from search.indexing import apply_pending_changes
from search.models import PendingIndexChange
from search.query import SearchRequest
from tests.conftest import ROOT, require_service
from tests.library.helpers import make_item
from tests.search.conftest import (
    database_contents,
    drop_engine_index,
    engine_contents,
    engine_settings,
    load_indexed_library,
)

pytestmark = pytest.mark.django_db
NODES = 3
LAUNCHER = ROOT / "services" / "opensearch" / "run"


def free_port_run(count):
    """The first of `count` consecutive free loopback ports."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError(f"no run of {count} free ports on loopback")


class Cluster:
    def __init__(self, home):
        self.environment = {
            **os.environ,
            "OPENSEARCH_HOME": str(home),
            "OPENSEARCH_NODES": str(NODES),
            "OPENSEARCH_PORT": str(free_port_run(NODES)),
            "OPENSEARCH_TRANSPORT_PORT": str(free_port_run(NODES)),
            "OPENSEARCH_START_TIMEOUT": "180",
        }

    def run(self, *args):
        result = subprocess.run(
            [str(LAUNCHER), "cluster", *args],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def start(self):
        self.url = self.run("start").strip().removeprefix("OPENSEARCH_URL=")
        return self


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_service("TEST_OPENSEARCH_URL", "OpenSearch (its launcher starts the cluster)")
    cluster = Cluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster
    cluster.run("stop")


@pytest.fixture
def clustered_search(settings, cluster):
    settings.SEARCH = {
        **engine_settings("opensearch"),
        "URL": cluster.url,
        "SHARDS": NODES,
        "REPLICAS": 1,
    }
    yield settings
    drop_engine_index()


def wait_for_green(engine):
    engine.client.cluster.health(
        index=engine.alias, wait_for_status="green", timeout="90s", request_timeout=95
    )


def apply_until_drained(seconds=60):
    """Apply the outbox as the worker's retries would, until nothing waits (or time is up)."""
    deadline = time.monotonic() + seconds
    while True:
        applied, waiting = apply_pending_changes()
        if not waiting or time.monotonic() > deadline:
            return waiting
        time.sleep(0.5)


def search_for(words):
    request = SearchRequest.from_params(QueryDict(f"q={words}"))
    return service.run_search(request, search_visibilities(AnonymousUser()))


def test_losing_a_node_loses_no_change_and_no_search(cluster, clustered_search):
    assert len(cluster.url.split(",")) == NODES
    load_indexed_library()
    engine = remote_engine()
    wait_for_green(engine)
    assert engine_contents() == database_contents()

    cluster.run("kill", "1")
    published = []
    for number in range(4):
        item = make_item(f"Cluster resilience brief {number}")
        published.append(item)
        apply_pending_changes()  # a write meeting the lost node's shards waits in the outbox
        started = time.monotonic()
        results = search_for("hashing")
        took = time.monotonic() - started
        assert results.degraded is False, f"a search fell back to the database after {took:.1f} s"
        assert results.total > 0

    cluster.run("restart", "1")
    assert apply_until_drained() == 0
    assert not PendingIndexChange.objects.exists()
    wait_for_green(engine)
    assert engine_contents() == database_contents()
    found = {hit.title for hit in search_for("cluster resilience brief").hits}
    assert found >= {item.title for item in published}
    assert engine.client.cluster.health()["number_of_nodes"] == NODES

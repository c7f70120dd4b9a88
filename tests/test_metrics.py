"""Prometheus metrics: what requests, sockets, searches and the outbox record, and who may read
/metrics."""

import os
import subprocess
import sys

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections
from django.http import QueryDict
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from config.asgi import application
from portal.actions import forum
from portal.models import Category
from portal.policy import search_visibilities
from search import service
from search.models import PendingIndexChange
from search.query import SearchRequest
from tests.conftest import ROOT, closed_port_url
from tests.people import make_person


def scrape(client):
    """{(sample name, frozenset of its labels): value} from /metrics."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.mark.django_db
def test_a_request_is_timed_under_its_route_pattern(client):
    labels = frozenset({"route": "favicon.ico", "method": "GET", "status": "3xx"}.items())
    before = scrape(client).get(("portal_request_seconds_count", labels), 0)
    client.get("/favicon.ico")
    client.get("/portal/threads/4711/")
    after = scrape(client)
    assert after[("portal_request_seconds_count", labels)] == before + 1
    routes = {
        dict(labels)["route"] for name, labels in after if name == "portal_request_seconds_count"
    }
    assert not any("4711" in route for route in routes), "a raw path became a label"


@pytest.mark.django_db
def test_outbox_backlog_is_read_when_scraped(client):
    assert scrape(client)[("portal_search_outbox_pending", frozenset())] == 0
    PendingIndexChange.objects.bulk_create(
        PendingIndexChange(key=f"library.item:{n}") for n in range(3)
    )
    figures = scrape(client)
    assert figures[("portal_search_outbox_pending", frozenset())] == 3
    assert figures[("portal_search_outbox_oldest_seconds", frozenset())] >= 0
    assert ("portal_task_queue_ready", frozenset()) in figures


@pytest.mark.django_db
def test_a_search_the_database_answers_is_counted(settings):
    settings.SEARCH = {"ENGINE": "opensearch", "URL": closed_port_url("http"), "INDEX": "metrics"}
    before = REGISTRY.get_sample_value("portal_search_fallbacks_total")
    request = SearchRequest.from_params(QueryDict("q=hashing"))
    results = service.run_search(request, search_visibilities(AnonymousUser()))
    assert results.degraded is True
    assert REGISTRY.get_sample_value("portal_search_fallbacks_total") > before


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["203.0.113.7", "10.0.0.2", "2001:db8::1"])
def test_metrics_are_refused_to_other_addresses(client, address):
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == 404
    assert b"portal_" not in response.content


@pytest.mark.django_db
def test_an_allowed_address_reads_the_metrics(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.2"]
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.2").status_code == 200
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_a_post_handed_to_the_channel_layer_is_timed(
    in_memory_layer, django_capture_on_commit_callbacks
):
    author = make_person("member", "author")
    category = Category.objects.create(name="Prevention", slug="prevention")
    with django_capture_on_commit_callbacks(execute=True):
        thread = forum.create_thread(author, category, "Helpline scripts", "What works for you?")
    before = REGISTRY.get_sample_value("portal_live_delivery_seconds_count")
    with django_capture_on_commit_callbacks(execute=True):
        forum.create_post(author, thread, "Short ones.")
    assert REGISTRY.get_sample_value("portal_live_delivery_seconds_count") == before + 1


SITE_ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def open_sockets():
    return REGISTRY.get_sample_value("portal_open_websockets")


@pytest.mark.django_db(transaction=True)
async def test_open_sockets_follow_connect_and_disconnect(in_memory_layer):
    before = open_sockets()
    accepted = WebsocketCommunicator(application, "/ws/ping/", headers=[SITE_ORIGIN])
    connected, _ = await accepted.connect()
    assert connected
    assert open_sockets() == before + 1
    # A socket refused at connect (no one signed in) was never counted, so its disconnect takes
    # none away.
    refused = WebsocketCommunicator(application, "/ws/portal/", headers=[SITE_ORIGIN])
    connected, _ = await refused.connect()
    assert not connected
    await refused.disconnect()
    assert open_sockets() == before + 1
    await accepted.disconnect()
    assert open_sockets() == before
    await sync_to_async(connections.close_all)()


def test_processes_sharing_a_folder_are_scraped_as_one(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, any process's scrape adds up every process's counters, and
    the open sockets of processes that have ended no longer count."""
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(code):
        return subprocess.run(
            [sys.executable, "-c", f"import metrics\n{code}"],
            env=environment,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    for _ in range(2):
        run("metrics.SEARCH_FALLBACKS.inc()\nmetrics.OPEN_SOCKETS.inc()")
    scraped = run("metrics.OPEN_SOCKETS.inc(3)\nprint(metrics.exposition()[0].decode())")
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }
    assert samples["portal_search_fallbacks_total"] == 2
    assert samples["portal_open_websockets"] == 3

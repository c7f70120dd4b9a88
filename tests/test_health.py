"""/healthz reports every part: the database down means 503; search or Redis down means degraded."""

import datetime

import pytest
from channels.layers import channel_layers
from django.utils import timezone

from config import cache as cache_settings
from config.layers import redis_layer
from tests.conftest import closed_port_url

pytestmark = pytest.mark.django_db


def test_all_parts_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "search", "scanner"}
    assert all(check["ok"] for check in body["checks"].values())
    assert response["Cache-Control"].startswith("max-age=0")


def test_search_engine_down_is_degraded_not_down(client, settings):
    settings.SEARCH = {"ENGINE": "opensearch", "URL": closed_port_url("http")}
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["search"]["ok"] is False
    assert body["checks"]["search"]["variable"] == "SEARCH_URL"


def test_redis_down_is_degraded_not_down(client, settings):
    """Redis only carries hints and counts (config.cache, config.layers): the site stays up."""
    unreachable = closed_port_url("redis")
    settings.CACHES = cache_settings.redis_caches(unreachable)
    settings.CHANNEL_LAYERS = {"default": redis_layer(unreachable)}
    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    for part in ("cache", "channel_layer"):
        assert body["checks"][part]["ok"] is False
        assert body["checks"][part]["variable"] == "REDIS_URL"
    assert body["checks"]["database"]["ok"] is True


def test_pending_index_changes_report_their_age(client, settings):
    from search.models import PendingIndexChange

    PendingIndexChange.objects.create(key="item:1")
    PendingIndexChange.objects.filter(key="item:1").update(
        created_at=timezone.now() - datetime.timedelta(minutes=3)
    )
    search = client.get("/healthz").json()["checks"]["search"]
    assert search["pending_index_changes"] == 1
    assert 175 <= search["oldest_pending_seconds"] <= 240

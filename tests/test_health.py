"""/healthz reports every part; a required part down means 503, search down means degraded."""

import pytest

from config.layers import redis_layer
from tests.conftest import closed_port_url

pytestmark = pytest.mark.django_db


def test_all_parts_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "search"}
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


def test_required_part_down_is_503(client, settings):
    settings.CHANNEL_LAYERS = {"default": redis_layer(closed_port_url("redis"))}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["channel_layer"]["ok"] is False
    assert body["checks"]["channel_layer"]["variable"] == "REDIS_URL"

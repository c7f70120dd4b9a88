"""The site starts as it does in production (migrate, demo content, uvicorn) and serves pages."""

import json
import urllib.request

from websockets.sync.client import connect


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode()


def test_site_serves_the_home_page(running_site):
    status, body = fetch(running_site.url + "/")
    assert status == 200
    assert "Protectors&#x27; Portal" in body or "Protectors' Portal" in body
    assert "Everything in the library is open to everyone." in body


def test_site_reports_health(running_site):
    status, body = fetch(running_site.url + "/healthz")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_static_files_are_served(running_site):
    status, body = fetch(running_site.url + "/static/css/site.css")
    assert status == 200
    assert "--brand" in body


def test_websocket_frames_are_not_compressed(running_site):
    """Browsers offer per-message compression; the site declines it (config/serving.py)."""
    origin = running_site.url
    url = origin.replace("http://", "ws://") + "/ws/ping/"
    with connect(url, origin=origin, compression="deflate") as socket:
        assert "Sec-WebSocket-Extensions" not in socket.response.headers
        socket.send(json.dumps({"type": "ping", "payload": "hello"}))
        assert json.loads(socket.recv(timeout=10))["payload"] == "hello"

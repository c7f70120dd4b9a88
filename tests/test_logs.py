"""Every log line of a request carries its id, which the response returns; LOG_FORMAT=json writes
one JSON object a line."""

import io
import json
import logging

import pytest

from config.logs import JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("django.request")
    # The console leaves 4xx lines to the access log (settings.LOGGING); here they are the lines
    # of a request that show its id.
    level = logger.level
    logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_request_logs_under_the_proxys_id(client, json_log):
    response = client.get("/no-such-page/", headers={"X-Request-ID": "0f3c9a7e21b44d6e"})
    assert response.status_code == 404
    assert response["X-Request-ID"] == "0f3c9a7e21b44d6e"
    (entry,) = json_log()
    assert entry["request_id"] == "0f3c9a7e21b44d6e"
    assert (entry["level"], entry["logger"]) == ("WARNING", "django.request")
    assert "/no-such-page/" in entry["message"]


def test_an_id_that_is_not_one_is_replaced(client, json_log):
    response = client.get("/no-such-page/", headers={"X-Request-ID": 'x" injected=1'})
    given = response["X-Request-ID"]
    assert len(given) == 32 and int(given, 16) >= 0
    assert [entry["request_id"] for entry in json_log()] == [given]

"""The real backing services answer: PostgreSQL, Redis and the OpenSearch node."""

import pytest

from search import engines


def test_postgresql_answers(postgres_url):
    import psycopg

    with psycopg.connect(postgres_url, connect_timeout=5) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
    assert int(version.split(".")[0]) >= 13


def test_redis_answers(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    assert client.ping() is True


def test_opensearch_node_answers(opensearch_url, settings):
    settings.SEARCH = {"ENGINE": "opensearch", "URL": opensearch_url}
    status = engines.engine_status()
    assert status["engine"] == "opensearch"
    assert status["version"].startswith(("2.", "3."))
    health = engines.client().cluster.health()
    assert health["status"] in {"yellow", "green"}


def test_unreachable_engine_raises_a_clear_error(settings):
    from tests.conftest import closed_port_url

    settings.SEARCH = {"ENGINE": "opensearch", "URL": closed_port_url("http")}
    with pytest.raises(engines.EngineUnavailable, match="did not answer"):
        engines.engine_status()

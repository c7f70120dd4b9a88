"""Which search engine serves public search, and whether it is reachable.

settings.SEARCH names the engine ("database", "opensearch" or "elasticsearch") and its URL; this
module is the one place that turns that into an engine object.
"""

from functools import cache

from django.conf import settings

CONNECT_TIMEOUT_SECONDS = 3


class EngineUnavailable(Exception):
    """The configured search engine did not answer."""


def engine_name():
    return settings.SEARCH["ENGINE"]


def index_alias():
    return settings.SEARCH.get("INDEX", "portal-library")


@cache
def _client(engine, url):
    if engine == "opensearch":
        from opensearchpy import OpenSearch

        return OpenSearch(url, timeout=CONNECT_TIMEOUT_SECONDS, max_retries=0)
    if engine == "elasticsearch":
        from elasticsearch import Elasticsearch

        return Elasticsearch(url, request_timeout=CONNECT_TIMEOUT_SECONDS, max_retries=0)
    raise ValueError(f"no client for the {engine!r} engine")


def client():
    """The engine's client (opensearch-py or elasticsearch-py); not for the database engine."""
    return _client(settings.SEARCH["ENGINE"], settings.SEARCH["URL"])


def database_engine():
    from search.backends.database import DatabaseEngine

    return DatabaseEngine()


def remote_engine():
    """The configured OpenSearch/Elasticsearch engine, or None on the database profile."""
    if engine_name() == "database":
        return None
    from search.backends.remote import RemoteEngine

    return RemoteEngine(engine_name(), client(), index_alias())


def search_engine():
    """The engine that answers public searches."""
    return remote_engine() or database_engine()


def engine_status():
    """{"engine": ..., "version": ...}; raises EngineUnavailable if the node does not answer."""
    engine = engine_name()
    if engine == "database":
        from django.db import connection

        return {"engine": "database", "vendor": connection.vendor}
    try:
        info = client().info()
    except Exception as error:  # each client raises its own connection errors
        raise EngineUnavailable(
            f"{engine} at {settings.SEARCH['URL']} did not answer: {error}"
        ) from None
    return {"engine": engine, "version": info["version"]["number"]}

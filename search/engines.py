"""Which search engine serves public search, and whether it is reachable.

settings.SEARCH names the engine ("database", "opensearch" or "elasticsearch") and its URL; this
module is the one place that turns that into an engine object.
"""

from functools import cache

from django.conf import settings

CONNECT_TIMEOUT_SECONDS = 3
# Writes come from the task worker, never from a page a person waits for, and a cluster that has
# just lost a node holds them until a replica takes over: they may wait that long.
WRITE_TIMEOUT_SECONDS = 30


class EngineUnavailable(Exception):
    """The configured search engine did not answer."""


def engine_name():
    return settings.SEARCH["ENGINE"]


def index_alias():
    return settings.SEARCH.get("INDEX", "portal-library")


@cache
def _client(engine, url, timeout):
    nodes = url.split(",")
    # With several nodes a request that finds one down or stalled is sent to the next; with one
    # there is nowhere else to go, and the search falls back to the database engine at once.
    retries = len(nodes) - 1
    if engine == "opensearch":
        from opensearchpy import OpenSearch

        # A rebuild keeps several bulk requests in flight (RemoteEngine.rebuild): each keeps its
        # connection open instead of opening a new one per request.
        return OpenSearch(
            nodes,
            timeout=timeout,
            max_retries=retries,
            retry_on_timeout=retries > 0,
            pool_maxsize=4,
        )
    if engine == "elasticsearch":
        from elasticsearch import Elasticsearch

        return Elasticsearch(
            nodes, request_timeout=timeout, max_retries=retries, retry_on_timeout=retries > 0
        )
    raise ValueError(f"no client for the {engine!r} engine")


def client(timeout=CONNECT_TIMEOUT_SECONDS):
    """The engine's client (opensearch-py or elasticsearch-py); not for the database engine."""
    return _client(settings.SEARCH["ENGINE"], settings.SEARCH["URL"], timeout)


def database_engine():
    from search.backends.database import DatabaseEngine

    return DatabaseEngine()


def remote_engine():
    """The configured OpenSearch/Elasticsearch engine, or None on the database profile."""
    if engine_name() == "database":
        return None
    from search.backends.remote import RemoteEngine

    return RemoteEngine(
        engine_name(),
        client(),
        index_alias(),
        writer=client(WRITE_TIMEOUT_SECONDS),
        shards=settings.SEARCH.get("SHARDS", 1),
        replicas=settings.SEARCH.get("REPLICAS", 0),
    )


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

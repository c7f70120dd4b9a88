"""The site's Prometheus metrics: the objects every app records into, and the text a scrape reads.

Any app may import this package; it imports no project app. Figures that are read from the
database when scraped (outbox backlog, task queue depth) are collectors that config registers
for the scrape (config.metrics), since only config may look into every app.

Several uvicorn processes serve the site, each with its own counters. When the environment sets
PROMETHEUS_MULTIPROC_DIR (a folder emptied at every start; see deploy/README.md), each process
writes its figures there and a scrape, whichever process answers it, adds them up.
"""

import atexit
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# Seconds; from a cached page (a few ms) to a slow search or upload (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REQUEST_LATENCY = Histogram(
    "portal_request_seconds",
    "Time to answer an HTTP request, by route pattern, method and status class (2xx, 4xx...).",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)

OPEN_SOCKETS = Gauge(
    "portal_open_websockets",
    "WebSockets accepted and not yet closed.",
    multiprocess_mode="livesum",
)

LIVE_DELIVERY = Histogram(
    "portal_live_delivery_seconds",
    "Time from a post's commit to its event being handed to the channel layer.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)

SEARCH_FALLBACKS = Counter(
    "portal_search_fallbacks",
    "Searches the database answered because the search engine failed.",
)


def exposition(*collectors):
    """(body, content type) of a scrape: this process's metrics, or every process's when
    PROMETHEUS_MULTIPROC_DIR is set, and the figures of `collectors`, read now."""
    if MULTIPROCESS:
        recorded = CollectorRegistry()
        multiprocess.MultiProcessCollector(recorded)
    else:
        recorded = REGISTRY
    sources = (recorded, *collectors)
    return generate_latest(_Scrape(sources)), CONTENT_TYPE_LATEST


class _Scrape:
    """What one scrape reads: every metric of every source, in order."""

    def __init__(self, sources):
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source.collect()


if MULTIPROCESS:
    # A process that has ended no longer holds sockets open: its live gauge files go with it
    # (counters and histograms stay, so totals never go down).
    atexit.register(lambda: multiprocess.mark_process_dead(os.getpid()))

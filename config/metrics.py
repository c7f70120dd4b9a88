"""Prometheus metrics over HTTP: request latency recorded for every request, and /metrics,
which only the addresses in METRICS_ALLOWED_IPS may read (everyone else gets a 404).

The metric objects live in the `metrics` package, which every app may import; the figures read
from the database at each scrape are here, since only config may look into every app.
"""

import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tasks_db.models import DBTaskResult
from prometheus_client.core import GaugeMetricFamily

import metrics
from search.models import PendingIndexChange

# Requests no route matched (Wagtail's page tree matches most paths, so these are rare: 404s
# outside it). One label for all of them keeps the number of series bounded.
UNMATCHED_ROUTE = "(unmatched)"
# Any other method is counted as "other", for the same reason.
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class RequestLatencyMiddleware:
    """Records each request's time under its route pattern (`portal/threads/<id:pk>/`), never
    its path, so the number of series stays bounded whatever URLs are asked for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        metrics.REQUEST_LATENCY.labels(
            route=match.route if match else UNMATCHED_ROUTE,
            method=request.method if request.method in KNOWN_METHODS else "other",
            status=f"{response.status_code // 100}xx",
        ).observe(time.perf_counter() - started)
        return response


class BacklogCollector:
    """Figures read from the database when scraped: the search outbox (changes not yet in the
    engine, and how long the oldest has waited) and the task queue (tasks ready to run)."""

    def collect(self):
        now = timezone.now()
        pending = PendingIndexChange.objects.order_by("created_at")
        oldest = pending.values_list("created_at", flat=True).first()
        yield GaugeMetricFamily(
            "portal_search_outbox_pending",
            "Library changes waiting to reach the search engine.",
            value=pending.count(),
        )
        yield GaugeMetricFamily(
            "portal_search_outbox_oldest_seconds",
            "Age of the oldest change waiting to reach the search engine (0 when none).",
            value=(now - oldest).total_seconds() if oldest else 0,
        )
        yield GaugeMetricFamily(
            "portal_task_queue_ready",
            "Background tasks ready to run and not yet started (database task backend).",
            value=DBTaskResult.objects.ready().count(),
        )


@require_GET
@never_cache
def metrics_view(request):
    """The metrics in Prometheus' text format, for the addresses in METRICS_ALLOWED_IPS."""
    if request.META.get("REMOTE_ADDR") not in settings.METRICS_ALLOWED_IPS:
        raise Http404
    body, content_type = metrics.exposition(BacklogCollector())
    return HttpResponse(body, content_type=content_type)

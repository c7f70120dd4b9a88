"""The editors' search report in the Wagtail admin (Reports → Searches): top queries, queries
with no results, queries whose results nobody opens, and searches day by day. The charts are
SVG drawn here, on the server: no script, nothing from elsewhere, within the admin's CSP."""

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView
from wagtail.admin.auth import permission_denied
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from search import analytics, registry

PERMISSION = "site_search.view_search_analytics"
PERIODS = (7, 30, 90)  # days the report can cover
DEFAULT_PERIOD = 30
CHART_WIDTH, CHART_HEIGHT, CHART_AXIS = 720, 200, 24  # the daily chart's drawing units
BAR_WIDTH = 120  # a table row's bar


def may_view(user):
    return user.has_perm(PERMISSION)


@dataclass
class Segment:
    x: float
    y: float
    width: float
    height: float
    kind: str  # "without-results", "opened", "other": the CSS class that colours it


def _period(request):
    try:
        days = int(request.GET.get("days", DEFAULT_PERIOD))
    except ValueError:
        days = DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD


def daily_chart(days):
    """Stacked bars, one per day: searches that found nothing, searches after which a result was
    opened, and the rest; with the y-axis maximum and the first and last days' labels."""
    peak = max((day["searches"] for day in days), default=0) or 1
    slot = CHART_WIDTH / max(len(days), 1)
    usable = CHART_HEIGHT - CHART_AXIS
    segments = []
    for index, day in enumerate(days):
        rest = max(day["searches"] - day["without_results"] - day["opened"], 0)
        y = usable
        for kind, count in (
            ("without-results", day["without_results"]),
            ("opened", day["opened"]),
            ("other", rest),
        ):
            height = usable * count / peak
            if height:
                y -= height
                segments.append(Segment(index * slot + 1, y, max(slot - 2, 1), height, kind))
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "baseline": usable,
        "label_y": CHART_HEIGHT - 6,
        "segments": segments,
        "peak": peak,
        "first": days[0]["day"] if days else None,
        "last": days[-1]["day"] if days else None,
    }


def _rows(queries):
    """Report rows: the sums, the shares as percentages, a bar's width, and the two actions."""
    peak = max((row["searches"] for row in queries), default=0) or 1
    synonym_add = reverse("wagtailsnippets_site_search_synonym:add")
    return [
        {
            **row,
            "no_results_share": round(100 * row["without_results"] / row["searches"]),
            "opened_share": round(100 * row["opened"] / row["searches"]),
            "average_results": round(row["results_total"] / row["searches"], 1),
            "bar": BAR_WIDTH * row["searches"] / peak,
            "add_synonym_url": f"{synonym_add}?{urlencode({'terms': row['query']})}",
            "search_url": registry.search_page_url(urlencode({"q": row["query"]})),
        }
        for row in queries
    ]


class SearchReportView(WagtailAdminTemplateMixin, TemplateView):
    template_name = "search/admin/search_report.html"
    page_title = "Searches"
    header_icon = "search"

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.page_title}]

    def dispatch(self, request, *args, **kwargs):
        if not may_view(request.user):
            return permission_denied(request)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        days = _period(self.request)
        since = timezone.localdate() - datetime.timedelta(days=days - 1)
        totals = analytics.daily_totals(since)
        return {
            **super().get_context_data(**kwargs),
            "days": days,
            "periods": PERIODS,
            "minimum": settings.SEARCH_ANALYTICS_MIN_SEARCHES,
            "retention": settings.SEARCH_ANALYTICS_RETENTION_DAYS,
            "totals": totals,
            "sums": {
                key: sum(day[key] for day in totals)
                for key in ("searches", "without_results", "opened", "withheld")
            },
            "chart": daily_chart(totals),
            "bar_width": BAR_WIDTH,
            "can_add_synonym": self.request.user.has_perm("site_search.add_synonym"),
            "sections": [
                {
                    "id": "top",
                    "title": "Top queries",
                    "empty": "No query was searched often enough to show.",
                    "rows": _rows(analytics.top_queries(since)),
                },
                {
                    "id": "no-results",
                    "title": "Queries with no results",
                    "empty": "Every query shown found something.",
                    "rows": _rows(analytics.queries_without_results(since)),
                },
                {
                    "id": "never-opened",
                    "title": "Queries whose results nobody opens",
                    "empty": "For every query shown, someone opened a result.",
                    "rows": _rows(analytics.queries_never_opened(since)),
                },
            ],
        }

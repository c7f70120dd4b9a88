"""What people search for, kept as aggregates for editors: per day and normalised query, how
many searches, how many found nothing, how many results they found in all, and after how many
a result was opened. Nothing about who searched: no user, no address, no session.

A search is counted when its words are new to the page it came from: refining it (filters, sort,
paging), which reloads the page with the same words, counts as the same search. Searches that
could find members' discussions are counted without their text (as WITHHELD). Editors see a query
only once at least SEARCH_ANALYTICS_MIN_SEARCHES searches made it, and rows older than
SEARCH_ANALYTICS_RETENTION_DAYS are deleted by `purge_search_counts` (a scheduled task).
"""

import datetime
import logging
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django_tasks import task

from search.models import SearchCount
from search.query import MAX_QUERY_LENGTH
from search.registry import PUBLIC

logger = logging.getLogger(__name__)
WITHHELD = ""  # the query under which searches that could find discussions are counted
LIBRARY_ONLY = ["library"]  # the content filter of a search that finds public entries only


def normalise(text):
    """Lower-case, spaces collapsed: "Photo  DNA" and "photo dna" are one query."""
    return " ".join(text.lower().split())[:MAX_QUERY_LENGTH]


def recorded_query(request, visibilities):
    """The query a search is counted under: its normalised text, or WITHHELD when it could find
    entries beyond the public ones (members' discussions)."""
    members_only = any(visibility != PUBLIC for visibility in visibilities)
    if members_only and request.content != LIBRARY_ONLY:
        return WITHHELD
    return normalise(request.text)


def _refines(referrer, query):
    """Whether the page the search came from showed the same words (a filter, sort or page of the
    same search). Same-origin pages send their full address (Referrer-Policy
    strict-origin-when-cross-origin); other sites send none, so their searches count."""
    words = parse_qs(urlsplit(referrer or "").query).get("q", [""])[0]
    return bool(words) and normalise(words) == normalise(query)


def record_search(request, results, visibilities, referrer=""):
    """Count one search with words, unless it refines the one on the page it came from. A failed
    write is logged and never fails the search."""
    if not request.text or _refines(referrer, request.text):
        return
    query = recorded_query(request, visibilities)
    day = timezone.localdate()
    changes = {
        "searches": F("searches") + 1,
        "without_results": F("without_results") + (0 if results.total else 1),
        "results_total": F("results_total") + results.total,
    }
    try:
        with transaction.atomic():
            if SearchCount.objects.filter(day=day, query=query).update(**changes):
                return
            try:
                with transaction.atomic():
                    SearchCount.objects.create(
                        day=day,
                        query=query,
                        searches=1,
                        without_results=0 if results.total else 1,
                        results_total=results.total,
                    )
            except IntegrityError:  # another request created today's row first
                SearchCount.objects.filter(day=day, query=query).update(**changes)
    except DatabaseError as error:
        logger.warning("search analytics: a search was not counted (%s)", error)


def record_opened(text):
    """Count a result opened after a search for the text today, at most once per search."""
    query = normalise(text or "")
    if query == WITHHELD:
        return
    SearchCount.objects.filter(
        day=timezone.localdate(), query=query, opened__lt=F("searches")
    ).update(opened=F("opened") + 1)


@task()
def purge_search_counts():
    """Delete the counts older than the retention period; returns how many rows went."""
    days = settings.SEARCH_ANALYTICS_RETENTION_DAYS
    oldest = timezone.localdate() - datetime.timedelta(days=days)
    deleted, _ = SearchCount.objects.filter(day__lt=oldest).delete()
    return deleted


# --- The editors' report ---------------------------------------------------------------------


def _queries(since):
    """Per query shown to editors over the days since `since`: the sums of its counts, for the
    queries made at least settings.SEARCH_ANALYTICS_MIN_SEARCHES times (never WITHHELD)."""
    return (
        SearchCount.objects.filter(day__gte=since)
        .exclude(query=WITHHELD)
        .values("query")
        .annotate(
            searches=Sum("searches"),
            without_results=Sum("without_results"),
            results_total=Sum("results_total"),
            opened=Sum("opened"),
            days=Count("day"),
        )
        .filter(searches__gte=settings.SEARCH_ANALYTICS_MIN_SEARCHES)
    )


def top_queries(since, limit=20):
    return list(_queries(since).order_by("-searches", "query")[:limit])


def queries_without_results(since, limit=20):
    return list(
        _queries(since).filter(without_results__gt=0).order_by("-without_results", "query")[:limit]
    )


def queries_never_opened(since, limit=20):
    """Queries that found something, yet after none of their searches was a result opened."""
    return list(
        _queries(since)
        .filter(opened=0, results_total__gt=0)
        .exclude(without_results=F("searches"))
        .order_by("-searches", "query")[:limit]
    )


def daily_totals(since):
    """[{day, searches, without_results, opened, withheld}] for every day since `since`, days
    without searches included: everyone's searches, summed, no query named."""
    sums = {
        row["day"]: row
        for row in SearchCount.objects.filter(day__gte=since)
        .values("day")
        .annotate(
            # before `searches` names the sum, while it still names the column
            withheld=Sum("searches", filter=Q(query=WITHHELD)),
            searches=Sum("searches"),
            without_results=Sum("without_results"),
            opened=Sum("opened"),
        )
    }
    today = timezone.localdate()
    days = []
    day = since
    while day <= today:
        row = sums.get(day, {})
        days.append(
            {
                "day": day,
                "searches": row.get("searches") or 0,
                "without_results": row.get("without_results") or 0,
                "opened": row.get("opened") or 0,
                "withheld": row.get("withheld") or 0,
            }
        )
        day += datetime.timedelta(days=1)
    return days

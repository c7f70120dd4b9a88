"""What is new for saved searches: the counts on the saved searches page, and the e-mail alerts.

"New" means added to search after a moment (the saved search's seen_at or alerted_at): library
items once published, discussions once started. What a person may find is asked of the policy
each time, so an applicant, or a member since suspended, never hears of a members-only result.

Alerts go out from the task worker: immediate ones when search reports new entries (a task per
commit that added any), daily and weekly ones from `manage.py send_search_alerts`, run from a
timer. One search runs per distinct query and audience, however many people saved it.
"""

import datetime
from collections import defaultdict

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.dispatch import receiver
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from portal import policy
from portal.models import SavedSearch
from search import service
from search.indexing import entries_added
from search.pages import FACET_TITLES
from search.query import SLUG_FACETS, SORTS, SearchRequest

UNSUBSCRIBE_SALT = "portal.search-alert"
LISTED = 20  # results an alert lists; it counts the rest
# An alert is due when this long has passed since the last; an hour's slack lets a daily timer
# that runs a little early still find yesterday's alerts due.
PERIODS = {
    SavedSearch.Alert.DAILY: datetime.timedelta(days=1) - datetime.timedelta(hours=1),
    SavedSearch.Alert.WEEKLY: datetime.timedelta(days=7) - datetime.timedelta(hours=1),
}
KIND_GROUPS = {"thread": "discussions"}  # entry kinds listed apart from the library's
# How long entries that a still-open transaction held back wait before immediate alerts look again.
RECHECK_SECONDS = 30
RECHECK_MARK = "alerts:immediate:recheck"


def search_request(saved):
    return SearchRequest.from_params(QueryDict(saved.query))


def new_counts(user, saved_searches):
    """{saved search id: how many results were added since it was last opened}."""
    visibilities = policy.search_visibilities(user)
    saved_searches = list(saved_searches)
    if not saved_searches:
        return {}
    added = service.added_since(min(saved.seen_at for saved in saved_searches))
    counts = {}
    for saved in saved_searches:
        keys = [key for key, moment in added.items() if moment > saved.seen_at]
        results = service.search_among(search_request(saved), keys, visibilities)
        counts[saved.pk] = results.total
    return counts


def descriptions(saved_searches):
    """{saved search id: the search in words}: its text in quotes, then its filters as the
    search page's chips name them."""
    labels = service.facet_labels()
    described = {}
    for saved in saved_searches:
        request = search_request(saved)
        parts = [f"“{request.text}”"] if request.text else ["Everything"]
        for facet in SLUG_FACETS:
            names = [labels.get(facet, {}).get(value, value) for value in getattr(request, facet)]
            if names:
                parts.append(f"{FACET_TITLES[facet]}: {', '.join(names)}")
        if request.year_from or request.year_to:
            parts.append(f"Year: {request.year_from or '…'}–{request.year_to or '…'}")
        if request.sort != "relevance":
            parts.append(f"Sorted: {SORTS[request.sort].lower()}")
        described[saved.pk] = " · ".join(parts)
    return described


# --- Alerts ---------------------------------------------------------------------------------


def unsubscribe_token(saved):
    return signing.dumps({"saved": saved.pk}, salt=UNSUBSCRIBE_SALT)


def saved_search_for_token(token):
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return SavedSearch.objects.filter(pk=data.get("saved")).select_related("user").first()


def _send(saved, hits):
    user = saved.user
    unsubscribe = settings.SITE_URL + reverse(
        "portal:saved-search-unsubscribe", args=[unsubscribe_token(saved)]
    )
    groups = defaultdict(list)
    for hit in hits[:LISTED]:
        groups[KIND_GROUPS.get(hit.kind, "library")].append(hit)
    context = {
        "user": user,
        "saved": saved,
        "library": groups["library"],
        "discussions": groups["discussions"],
        "count": len(hits),
        "unlisted": max(len(hits) - LISTED, 0),
        "site_url": settings.SITE_URL,
        "open_url": settings.SITE_URL + reverse("portal:open-saved-search", args=[saved.pk]),
        "manage_url": settings.SITE_URL + reverse("portal:saved-searches"),
        "unsubscribe": unsubscribe,
    }
    message = EmailMultiAlternatives(
        subject=f"[Protectors' Portal] {len(hits)} new for “{saved.name}”",
        body=render_to_string("portal/email/search_alert.txt", context),
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    html = render_to_string("portal/email/search_alert.html", context)
    message.attach_alternative(html, "text/html")
    message.send()


def run_alerts(saved_searches, added, until):
    """E-mail each saved search what it finds among `added` ({key: when added}) after its
    alerted_at and up to `until`, and move its alerted_at on to `until`; returns how many e-mails
    went out. The search for those who share a query and an audience runs once."""
    groups = defaultdict(list)
    for saved in saved_searches:
        if saved.user.is_active:
            audience = tuple(policy.search_visibilities(saved.user))
            groups[(saved.query, audience)].append(saved)
    sent = 0
    for (_, audience), members in groups.items():
        since = min(saved.alerted_at for saved in members)
        keys = [key for key, moment in added.items() if since < moment <= until]
        if not keys:
            continue
        # Every new match, so each member can be sent those after their own alerted_at.
        results = service.search_among(
            search_request(members[0]), keys, list(audience), limit=len(keys)
        )
        alerted = []
        for saved in members:
            hits = [hit for hit in results.hits if added[hit.key] > saved.alerted_at]
            if hits:
                _send(saved, hits)
                alerted.append(saved.pk)
        # Noted per group, not per e-mail (a write each is most of a run's time): a run that
        # fails in the middle of a group sends that group's e-mails again next time.
        SavedSearch.objects.filter(pk__in=alerted).update(alerted_at=until)
        sent += len(alerted)
    SavedSearch.objects.filter(
        pk__in=[saved.pk for saved in saved_searches], alerted_at__lt=until
    ).update(alerted_at=until)
    return sent


@task()
def send_scheduled_alerts():
    """The daily and weekly alerts that are due; returns how many e-mails went out."""
    now = timezone.now()
    sent = 0
    for alert, period in PERIODS.items():
        due = list(
            SavedSearch.objects.filter(alert=alert, alerted_at__lte=now - period).select_related(
                "user__membership"
            )
        )
        if due:
            # Settled before reading: what commits after the read is then past `until`.
            until = service.settled_moment()
            added = service.added_since(min(saved.alerted_at for saved in due))
            sent += run_alerts(due, added, until=until)
    return sent


@task()
def send_immediate_alerts():
    """Alerts for everything added since each immediate alert's last (so a run also covers what
    other runs, queued by other commits, have not yet), up to the newest entry read, or to
    service.settled_moment() when a transaction still open may yet add entries stamped before
    that one: those wait for the next run rather than being passed over, and a run is queued
    RECHECK_SECONDS later for them."""
    immediate = list(
        SavedSearch.objects.filter(alert=SavedSearch.Alert.IMMEDIATE).select_related(
            "user__membership"
        )
    )
    if not immediate:
        return 0
    settled = service.settled_moment()  # before reading: see send_scheduled_alerts
    added = service.added_since(min(saved.alerted_at for saved in immediate))
    if not added:
        return 0
    newest = max(added.values())
    if newest > settled:
        send_immediate_alerts_later()
    return run_alerts(immediate, added, until=min(newest, settled))


def send_immediate_alerts_later():
    """One queued look at a time, however many runs meet the same open transaction. Without a
    worker that runs deferred tasks (TASK_BACKEND=immediate), the next commit that adds entries
    runs the alerts instead."""
    if not send_immediate_alerts.get_backend().supports_defer:
        return
    # The mark lapses before the queued run starts, so that run can queue the next look.
    if cache.add(RECHECK_MARK, True, timeout=RECHECK_SECONDS // 2):
        run_after = timezone.now() + datetime.timedelta(seconds=RECHECK_SECONDS)
        send_immediate_alerts.using(run_after=run_after).enqueue()


@receiver(entries_added)
def entries_were_added(sender, keys, **kwargs):
    """Search made entries findable (sent after their commit): queue the immediate alerts."""
    if SavedSearch.objects.filter(alert=SavedSearch.Alert.IMMEDIATE).exists():
        send_immediate_alerts.enqueue()

"""Saved searches: keeping a library search under a name, noting what of it has been seen, and
choosing its e-mail alert. Anyone signed in may keep searches; what each finds is asked of the
policy whenever it runs (portal.alerts), never stored."""

from urllib.parse import urlencode

from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from portal import audit
from portal.actions import ActionError, checked_text, require
from portal.models import SavedSearch
from search.query import SLUG_FACETS, SearchRequest

MAX_SAVED_SEARCHES = 50
SEARCH_PARAMETERS = ("q", *SLUG_FACETS, "year_from", "year_to", "sort")  # the page's state


def canonical_query(query):
    """The search's state as a query string: its known parameters as the page reads them, in a
    fixed order, without the page number, so one search is saved once."""
    request = SearchRequest.from_params(QueryDict(query))
    pairs = [("q", request.text)] if request.text else []
    pairs += [(facet, value) for facet in SLUG_FACETS for value in getattr(request, facet)]
    pairs += [
        (bound, str(getattr(request, bound)))
        for bound in ("year_from", "year_to")
        if getattr(request, bound)
    ]
    if request.sort != "relevance":
        pairs.append(("sort", request.sort))
    return urlencode(pairs)


def _owned(user, saved):
    require(user.is_authenticated and user.is_active and saved.user_id == user.pk)


@transaction.atomic
def save_search(user, *, name, query):
    """Keep the search; a search already kept is returned as it is. Returns (saved, created)."""
    require(user.is_authenticated and user.is_active)
    name = checked_text(name, "name", "a name for the search", 120)
    query = canonical_query(query or "")
    existing = SavedSearch.objects.filter(user=user, query=query).first()
    if existing:
        return existing, False
    if SavedSearch.objects.filter(user=user).count() >= MAX_SAVED_SEARCHES:
        raise ActionError(
            f"You have {MAX_SAVED_SEARCHES} saved searches, the most you can keep: delete one "
            "you no longer need first.",
            "name",
        )
    now = timezone.now()
    saved = SavedSearch.objects.create(
        user=user, name=name, query=query, seen_at=now, alerted_at=now
    )
    return saved, True


@transaction.atomic
def set_alert(user, saved, alert):
    """Choose how often to be e-mailed. Turning an alert on starts it from when the search was
    last opened, so the first e-mail holds what is new and unseen, nothing older."""
    _owned(user, saved)
    if alert not in SavedSearch.Alert.values:
        raise ActionError("Choose how often to be e-mailed.", "alert")
    if saved.alert == SavedSearch.Alert.OFF and alert != SavedSearch.Alert.OFF:
        saved.alerted_at = saved.seen_at
    saved.alert = alert
    saved.save(update_fields=["alert", "alerted_at"])


def mark_seen(user, saved):
    """Opening a saved search: what it finds from now on is new."""
    _owned(user, saved)
    SavedSearch.objects.filter(pk=saved.pk).update(seen_at=timezone.now())


@transaction.atomic
def delete_saved_search(user, saved):
    _owned(user, saved)
    saved.delete()


@transaction.atomic
def stop_alert(saved):
    """One-click unsubscribe from the alert's own e-mail: its signed link is the proof."""
    SavedSearch.objects.filter(pk=saved.pk).update(alert=SavedSearch.Alert.OFF)
    audit.record("saved_search.unsubscribed", actor=saved.user, subject=saved.user)

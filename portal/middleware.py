"""Session rules for signed-in people."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.utils.cache import add_never_cache_headers

STARTED = "portal_session_started"
LAST_SEEN = "portal_session_last_seen"
# Writing the session on every request would cost a database write per page; a minute's
# resolution is plenty for an idle timeout measured in tens of minutes.
LAST_SEEN_RESOLUTION_SECONDS = 60


class SessionLifetimeMiddleware:
    """Sign people out after SESSION_IDLE_TIMEOUT seconds without a request, and in any case
    SESSION_ABSOLUTE_LIFETIME seconds after signing in; and keep every response to a signed-in
    person out of shared and browser caches, since it may carry members-only content."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            self.enforce_lifetime(request)
        signed_in = request.user.is_authenticated
        response = self.get_response(request)
        if signed_in or request.user.is_authenticated:
            add_never_cache_headers(response)  # no-store, private, no-cache, max-age=0
        return response

    def enforce_lifetime(self, request):
        now = time.time()
        session = request.session
        started = session.setdefault(STARTED, now)
        last_seen = session.get(LAST_SEEN, now)
        if (
            now - last_seen > settings.SESSION_IDLE_TIMEOUT
            or now - started > settings.SESSION_ABSOLUTE_LIFETIME
        ):
            logout(request)
            messages.info(
                request, "You were signed out to keep your account safe. Please sign in again."
            )
            return
        if now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS or LAST_SEEN not in session:
            session[LAST_SEEN] = now

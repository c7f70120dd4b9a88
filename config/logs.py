"""Log records that say which request they belong to, and one JSON object a line (LOG_FORMAT=json)
for log collectors.

nginx gives every request an id (X-Request-ID, deploy/nginx/proxy-headers.conf); RequestIdMiddleware
keeps it, or makes one when no proxy did, for the length of the request and returns it in the
response, so a member's report of a failed page can be found in every process's log."""

import contextvars
import json
import logging
import re
import uuid

request_id = contextvars.ContextVar("request_id", default="")
# What a proxy may send as an id: nginx's 32 hex digits, a UUID, or similar; anything else is
# replaced rather than written into the logs.
ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Set, not reset afterwards: Django logs a failed response ("Not Found: ...") after the
        # middleware has returned. Each request sets its own; under ASGI each runs in a context
        # of its own.
        given = request.headers.get("X-Request-ID", "")
        request_id.set(given if ACCEPTED_ID.match(given) else uuid.uuid4().hex)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id.get()
        return response


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (empty outside requests)."""

    def filter(self, record):
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)

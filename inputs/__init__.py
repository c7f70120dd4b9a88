"""Reading what people send: whole numbers and text, the same way at every door.

Requests, WebSocket frames and management commands all take integers and text from strangers.
Python's own parsing is too generous for that: `"²".isdigit()` is true but `int("²")` fails,
`int()` accepts Arabic-Indic digits, underscores and surrounding spaces, and a 5,000-digit
number raises instead of returning. NUL bytes are valid Python text that PostgreSQL refuses.
Every parameter passes through here instead, and this module imports nothing of the project's,
so every app may use it.
"""

import re

# ASCII digits only; the length cap keeps int() far from Python's 4,300-digit limit, and every
# value within what a database's 64-bit integer column holds.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")
_LARGEST = 10**18 - 1
# Control characters other than tab, line feed and carriage return, and the NUL among them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def integer(raw, *, default=None, low=None, high=None):
    """`raw` as an int when it is a plain ASCII whole number within [low, high]; else `default`.

    Accepts an int in the same range (WebSocket frames carry JSON numbers); refuses bools,
    floats, signs, spaces, separators and non-ASCII digits.
    """
    if isinstance(raw, bool):
        return default
    if isinstance(raw, int) and 0 <= raw <= _LARGEST:
        value = raw
    elif isinstance(raw, str) and _WHOLE_NUMBER.fullmatch(raw):
        value = int(raw)
    else:
        return default
    if (low is not None and value < low) or (high is not None and value > high):
        return default
    return value


def integers(raws, *, low=None, high=None, limit=None):
    """The values of `raws` that are whole numbers in range, in order, at most `limit`."""
    values = []
    for raw in raws:
        value = integer(raw, low=low, high=high)
        if value is not None:
            values.append(value)
            if limit is not None and len(values) >= limit:
                break
    return values


def clean_text(value):
    """Text without NUL and other control characters (tab and line breaks stay) and without
    surrogates that cannot be encoded (from a broken UTF-8 or JSON escape). Nothing else changes:
    passwords pass through here too, and must hash as they were typed."""
    if not value:
        return value
    value = _CONTROL.sub("", value)
    if not value.isascii():
        value = value.encode("utf-8", "ignore").decode("utf-8")
    return value


class IdConverter:
    """The `<id:pk>` path converter (registered in config/urls.py): a whole number as `integer`
    reads it. Django's `<int:pk>` passes any length on, and a number no database column holds
    fails in the query instead of finding nothing; this one leaves such a URL unmatched (404)."""

    regex = _WHOLE_NUMBER.pattern

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)

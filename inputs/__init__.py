"""Reading what people send: whole numbers and text, the same way at every door.

Requests, WebSocket frames and management commands all take integers and text from strangers.
Python's own parsing is too generous for that: `"²".isdigit()` is true but `int("²")` fails,
`int()` accepts Arabic-Indic digits, underscores and surrounding spaces, and a 5,000-digit
number raises instead of returning. NUL bytes are valid Python text that PostgreSQL refuses.
Every parameter passes through here instead, and this module imports nothing of the project's,
so every app may use it.
"""

import re
import unicodedata

# ASCII digits only; the length cap keeps int() far from Python's 4,300-digit limit.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")
# Control characters other than tab, line feed and carriage return, and the NUL among them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def integer(raw, *, default=None, low=None, high=None):
    """`raw` as an int when it is a plain ASCII whole number within [low, high]; else `default`.

    Accepts an int as it is (WebSocket frames carry JSON numbers); refuses bools, floats,
    signs, spaces, separators and non-ASCII digits.
    """
    if isinstance(raw, bool):
        return default
    if isinstance(raw, int):
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
    """Text without NUL and other control characters (tab and line breaks stay), NFC-normalised
    so the same words are stored and searched the same way. Surrogates that cannot be encoded
    (from a broken UTF-8 or JSON escape) are dropped."""
    if not value:
        return value
    if not value.isascii():
        value = value.encode("utf-8", "ignore").decode("utf-8")
        value = unicodedata.normalize("NFC", value)
    return _CONTROL.sub("", value)

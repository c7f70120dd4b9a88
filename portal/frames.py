"""The frames a socket receives, read before anything acts on them.

`read_message` reads a frame against MESSAGES, the shape of every message type a socket accepts,
and raises Refused for anything else: too big, binary, nested too deep, not JSON, of a type the
socket does not act on, or with a field of the wrong shape. The refusal says what the client is
told (portal.consumers answers it with an error frame).
"""

import json
import re

import inputs

MAX_MESSAGE_BYTES = 64 * 1024
# No message nests deeper than a list in an object; the limit leaves room and stops a frame such
# as "[[[[…" before the JSON decoder recurses into it.
MAX_DEPTH = 4
MAX_CHANGE = 2**31 - 1  # change numbers are PositiveIntegerFields
MAX_ID = 2**63 - 1  # primary keys are BigAutoFields
MAX_KEY_LENGTH = 64  # Post.idempotency_key

# The fields of each message type: field -> (type, required, limit). An int is a JSON whole number
# (not true or false) from 0 to the limit; a str has at most `limit` characters (None: as many as
# the frame holds) and is read without control characters; a list is read as its first `limit`
# whole numbers, anything else in it ignored. A field that is not required may be null or absent
# (then it is None). Fields not named are ignored.
MESSAGES = {
    "resume": {"after": (int, True, MAX_CHANGE)},
    "post": {
        "source": (str, True, None),
        "key": (str, True, MAX_KEY_LENGTH),
        "quoted": (int, False, MAX_ID),
    },
    "typing": {},
    "ping": {"payload": (str, False, 200)},
    "watch": {"categories": (list, True, 50)},
}

# A JSON string, or the rest of the frame if it never ends. It cannot backtrack, so removing every
# string from a frame takes time linear in its length.
JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
# A reply's idempotency key, found without decoding a frame too big to decode.
REPLY_KEY = re.compile(rf'"key"\s*:\s*"([^"\\]{{1,{MAX_KEY_LENGTH}}})"')


class Refused(Exception):
    """A frame the socket does not act on, and what the client is told about it."""

    def __init__(self, code, message, key=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.key = key

    def frame(self):
        frame = {"type": "error", "code": self.code, "message": self.message}
        if self.key:
            frame["key"] = self.key
        return frame


def read_message(text_data, bytes_data, accepted):
    """The type of a message of one of the `accepted` types and its fields, read as MESSAGES
    describes them; raises Refused for anything else."""
    if len(text_data if text_data is not None else bytes_data) > MAX_MESSAGE_BYTES:
        key = REPLY_KEY.search(text_data) if text_data is not None else None
        raise Refused(
            "too_big",
            "This message is too long to send. Please shorten your post; it has not been posted.",
            inputs.clean_text(key[1]) if key else None,
        )
    if text_data is None:
        raise Refused("binary", "Messages are JSON text, not binary.")
    if nests_deeper_than(text_data, MAX_DEPTH):
        raise Refused("json", "This message is nested too deeply.")
    try:
        message = json.loads(text_data)
    except ValueError:
        raise Refused("json", "Expected JSON.") from None
    if not isinstance(message, dict):
        raise Refused("json", "Expected a JSON object.")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in accepted:
        raise Refused("type", "Unknown message.")
    # A refused reply is named by its key when that can be read: the page will not send it again.
    key = clean_field(message.get("key"), str, MAX_KEY_LENGTH)
    fields = {}
    for name, (python_type, required, limit) in MESSAGES[kind].items():
        value = message.get(name)
        fields[name] = None if value is None else clean_field(value, python_type, limit)
        if fields[name] is None and (required or value is not None):
            raise Refused(name, f"{name} must be {describe(python_type, limit)}.", key)
    return kind, fields


def nests_deeper_than(text, limit):
    """Whether the JSON in `text` nests deeper than `limit`, counted without decoding it:
    brackets inside strings do not count."""
    depth = 0
    for bracket in NOT_BRACKETS.sub("", JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def clean_field(value, python_type, limit):
    """`value` read as a field of the type, or None when it is not one."""
    if python_type is int:
        return inputs.integer(value, low=0, high=limit) if isinstance(value, int) else None
    if python_type is str:
        fits = isinstance(value, str) and (limit is None or len(value) <= limit)
        return inputs.clean_text(value) if fits else None
    return (
        inputs.integers(value, low=0, high=MAX_ID, limit=limit) if isinstance(value, list) else None
    )


def describe(python_type, limit):
    if python_type is int:
        return f"a whole number from 0 to {limit:,}"
    if python_type is str:
        return f"text of at most {limit:,} characters" if limit else "text"
    return "a list of numbers"

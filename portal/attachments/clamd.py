"""A small client for clamd's INSTREAM command, over a unix or TCP socket.

The protocol (clamd(8)): send `zINSTREAM\\0`, then the data in chunks, each preceded by its length
as a 4-byte big-endian number, then a zero length; clamd answers with one NUL-terminated line:
`stream: OK`, `stream: <signature> FOUND` or `... ERROR`. A connection serves one command, so
nothing is pooled.
"""

import socket
from urllib.parse import urlsplit

CHUNK = 256 * 1024


class ClamdUnreachable(Exception):
    """clamd did not answer: not connected, timed out, or the connection broke."""


class ClamdError(Exception):
    """clamd answered but could not scan (e.g. the stream was over its StreamMaxLength)."""


def connect(url, timeout):
    parts = urlsplit(url)
    try:
        if parts.scheme == "unix":
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.settimeout(timeout)
            try:
                connection.connect(parts.path)
            except OSError:
                connection.close()
                raise
            return connection
        return socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    except OSError as error:
        raise ClamdUnreachable(f"cannot connect to clamd at {url}: {error}") from error


def instream(url, data, timeout):
    """Scan `data`; returns the signature name clamd found, or None when the data is clean."""
    view = memoryview(data)
    with connect(url, timeout) as connection:
        try:
            try:
                connection.sendall(b"zINSTREAM\0")
                for start in range(0, len(view), CHUNK):
                    chunk = view[start : start + CHUNK]
                    connection.sendall(len(chunk).to_bytes(4, "big") + chunk)
                connection.sendall(b"\0\0\0\0")
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd stops reading a stream over its StreamMaxLength; its reply waits
            reply = _read_reply(connection)
        except OSError as error:
            raise ClamdUnreachable(f"clamd at {url} stopped answering: {error}") from error
    if reply.endswith(" FOUND"):
        return reply.removeprefix("stream: ").removesuffix(" FOUND")
    if reply == "stream: OK":
        return None
    if not reply:
        raise ClamdUnreachable(f"clamd at {url} closed the connection without an answer")
    raise ClamdError(reply)


def ping(url, timeout=2):
    with connect(url, timeout) as connection:
        try:
            connection.sendall(b"zPING\0")
            return _read_reply(connection) == "PONG"
        except OSError as error:
            raise ClamdUnreachable(f"clamd at {url} stopped answering: {error}") from error


def _read_reply(connection):
    reply = b""
    while not reply.endswith(b"\0"):
        try:
            received = connection.recv(4096)
        except ConnectionResetError:
            break
        if not received:
            break
        reply += received
    return reply.rstrip(b"\0").decode("utf-8", "replace").strip()

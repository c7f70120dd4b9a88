"""The command that serves the site in production (`make serve`, deploy/README.md): uvicorn on one
port, HTTP and WebSocket, no lifespan events (Django has none). The tests' running site and
bench/realtime.py start it from here, so they serve the site the way it is deployed.

WebSocket frames are not compressed, although browsers offer it: a live post goes to every socket
on its thread, and compressing it once per socket (zlib, ~2 KB) would cost the server more than
the bytes it saves on a page of text."""

import sys


def server_command(port, application="config.asgi:application"):
    address = ["--host", "127.0.0.1", "--port", str(port)]
    options = ["--lifespan", "off", "--ws-per-message-deflate", "false"]
    return [sys.executable, "-m", "uvicorn", application, *address, *options]

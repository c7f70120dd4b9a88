"""The command that serves the site in production (`make serve`, deploy/README.md): uvicorn on one
port, HTTP and WebSocket, no lifespan events (Django has none). The tests' running site and
bench/realtime.py start it from here, so they serve the site the way it is deployed."""

import sys


def server_command(port, application="config.asgi:application"):
    address = ["--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "uvicorn", application, *address, "--lifespan", "off"]

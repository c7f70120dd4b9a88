"""Logging filters for what the site prints to its console."""

import logging


class SuccessfulStaticRequests(logging.Filter):
    """Drops the development server's line for each stylesheet, script and icon it served, so the
    console shows one line per page and every failure."""

    def filter(self, record):
        details = record.args if isinstance(record.args, dict) else {}
        path, status = str(details.get("path", "")), details.get("status", 500)
        return not (path.startswith(("/static/", "/favicon.ico")) and status < 400)

"""PostgreSQL's own client programs (pg_dump, pg_restore) run against the site's database."""

import os
import shutil
import subprocess
from pathlib import Path

from django.core.management.base import CommandError
from django.db import connection


def tool_path(name):
    """The newest installed version's program: Debian keeps each under its version's folder."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda program: int(program.parent.parent.name),
    )
    found = str(versions[-1]) if versions else shutil.which(name)
    if not found:
        raise CommandError(f"{name} not found: install PostgreSQL's client (postgresql-client)")
    return found


def run_tool(name, *args):
    """Runs `name` on the database of DATABASE_URL; the password goes in the environment."""
    if connection.vendor != "postgresql":
        raise CommandError(f"{name} needs PostgreSQL; with SQLite, copy the file instead")
    database = connection.settings_dict
    given = {
        "PGHOST": database["HOST"],
        "PGPORT": str(database["PORT"] or ""),
        "PGUSER": database["USER"],
        "PGPASSWORD": database["PASSWORD"],
        "PGDATABASE": database["NAME"],
    }
    environment = {**os.environ, **{name: value for name, value in given.items() if value}}
    result = subprocess.run(  # noqa: S603 - a fixed program, arguments from the command
        [tool_path(name), *args], env=environment, capture_output=True, text=True
    )
    if result.returncode:
        raise CommandError(f"{name} failed: {result.stderr.strip()[-2000:]}")

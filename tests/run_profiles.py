"""Run the test suite under both profiles: embedded (SQLite, in-memory layer, database search),
and services (PostgreSQL, Redis, OpenSearch) when TEST_POSTGRES_URL, TEST_REDIS_URL and
TEST_OPENSEARCH_URL say where they are. Under CI=true the services profile is required.
TEST_CLAMD_URL, when set, becomes the services profile's CLAMD_URL (the attachment scan tests
need it, and fail without it under CI=true).

The browser tests (marker `browser`) and the tests that need a service run in the services profile
only, when it runs; otherwise the embedded run includes them (and they skip, or fail under CI,
where a service is missing). When both profiles run, their pytest processes run side by side, each
with its own temporary folder: the services profile in parts (services_parts: its browser tests,
the portal's tests, the rest, which prints as it goes) and the embedded profile, whose output
follows with the others' when all have ended (`TEST_PROFILES_IN_TURN=true` runs them one after
the other instead).
Extra arguments go to pytest, e.g. `make test PYTEST_ARGS="-k health -x"`.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROFILE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SEARCH_URL",
    "TASK_BACKEND",
    "EMAIL_URL",
    "SEARCH_INDEX",
    "PORTAL_SERVICE_TESTS",
    "CLAMD_URL",
    "ATTACHMENT_SCAN",
)
SERVICE_URLS = ("TEST_POSTGRES_URL", "TEST_REDIS_URL", "TEST_OPENSEARCH_URL")


class Profile:
    def __init__(self, name, overrides, pytest_args):
        self.name = name
        self.environment = {k: v for k, v in os.environ.items() if k not in PROFILE_VARIABLES}
        self.environment.update(overrides)
        self.pytest_args = pytest_args

    @property
    def folder(self):
        """The profile's name as a folder name: tools configured with a path (redis-sentinel's
        `dir`) split it at spaces."""
        return re.sub(r"[^a-z0-9]+", "-", self.name)

    def command(self, basetemp):
        return [
            sys.executable,
            "-m",
            "pytest",
            "--durations=15",
            f"--basetemp={basetemp}",
            *self.pytest_args,
        ]

    def report(self, code, started):
        print(
            f"=== {self.name} profile: exit {code} in {time.monotonic() - started:.0f} s ===",
            flush=True,
        )


def run_in_turn(profiles, scratch):
    results = {}
    for profile in profiles:
        print(f"\n=== {profile.name} profile ===", flush=True)
        started = time.monotonic()
        code = subprocess.call(profile.command(scratch / profile.folder), env=profile.environment)
        profile.report(code, started)
        results[profile.name] = code
    return results


def run_side_by_side(profiles, scratch):
    """Two cores do the work of two: the embedded profile is mostly CPU in one process, the
    services profile waits on the browser and the services for much of its time."""
    started = time.monotonic()
    running = []
    for position, profile in enumerate(profiles):
        # The first profile streams; the others are kept in a file so their lines do not mix.
        log = None if position == 0 else open(scratch / f"{profile.folder}.log", "w+")  # noqa: SIM115
        if log is None:
            print(f"\n=== {profile.name} profile ===", flush=True)
        process = subprocess.Popen(
            profile.command(scratch / profile.folder),
            env=profile.environment,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
        )
        running.append((profile, process, log))
    results = {}
    for profile, process, log in running:
        code = process.wait()
        if log:
            log.seek(0)
            print(f"\n=== {profile.name} profile (ran beside the first) ===", flush=True)
            sys.stdout.write(log.read())
            log.close()
        profile.report(code, started)
        results[profile.name] = code
    return results


def services_environment(postgres_url, redis_url):
    """The services profile's variables for one pytest process: the database and the Redis
    database it names, which the tests' own fixtures (TEST_*) then use too."""
    return {
        "DATABASE_URL": postgres_url,
        "TEST_POSTGRES_URL": postgres_url,
        "REDIS_URL": redis_url,
        "TEST_REDIS_URL": redis_url,
        "SEARCH_URL": "opensearch+" + os.environ["TEST_OPENSEARCH_URL"],
        # An index name of this run's own: a node that `make run` or another run used holds a
        # `portal-library` index the tests would otherwise read.
        "SEARCH_INDEX": f"tests-{uuid.uuid4().hex[:10]}",
        "CLAMD_URL": os.environ.get("TEST_CLAMD_URL", ""),
    }


def beside(url, database):
    """The same server with another database: a PostgreSQL database name or a Redis number."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def create_database(url):
    import psycopg

    name = urlsplit(url).path.strip("/")
    with psycopg.connect(beside(url, "postgres"), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def services_parts(pytest_args):
    """The services profile as pytest processes that run side by side, each on a database and a
    Redis database of its own (Redis numbers its databases, and config.layers keeps their
    channels apart): the browser tests, and the rest; on a whole run (no pytest arguments) the
    rest is split again, the portal's tests apart, so that two cores stay busy to the end."""
    postgres_url, redis_url = os.environ["TEST_POSTGRES_URL"], os.environ["TEST_REDIS_URL"]
    database = urlsplit(postgres_url).path.strip("/")
    redis_database = int(urlsplit(redis_url).path.strip("/") or 0)
    parts = [
        ("services, browser tests", "browser", ["-m", "browser", *pytest_args]),
        ("services", "", ["-m", "not browser", *pytest_args]),
    ]
    if not pytest_args:
        parts[1:] = [
            ("services", "", ["-m", "not browser", "--ignore=tests/portal"]),
            ("services, portal tests", "portal", ["-m", "not browser", "tests/portal"]),
        ]
    profiles = []
    for number, (name, suffix, arguments) in enumerate(parts):
        own_postgres = beside(postgres_url, f"{database}_{suffix}") if suffix else postgres_url
        if suffix:
            create_database(own_postgres)
        own_redis = beside(redis_url, (redis_database + number) % 16)
        profiles.append(Profile(name, services_environment(own_postgres, own_redis), arguments))
    # The longest part streams its output as it goes.
    return sorted(profiles, key=lambda profile: profile.name != "services")


def main(pytest_args):
    missing = [name for name in SERVICE_URLS if not os.environ.get(name)]
    if missing:
        profiles = [Profile("embedded", {}, pytest_args)]
    else:
        profiles = [
            *services_parts(pytest_args),
            Profile(
                "embedded", {"PORTAL_SERVICE_TESTS": "later"}, ["-m", "not browser", *pytest_args]
            ),
        ]
    with tempfile.TemporaryDirectory(prefix="portal-tests-") as scratch:
        scratch = Path(scratch)
        in_turn = len(profiles) == 1 or os.environ.get("TEST_PROFILES_IN_TURN") == "true"
        results = (run_in_turn if in_turn else run_side_by_side)(profiles, scratch)
    if missing:
        message = f"services profile not run: {', '.join(missing)} unset"
        if os.environ.get("CI") == "true":
            print(f"FAILED: {message} (required under CI)", flush=True)
            return 1
        print(f"NOTE: {message}; `.ci/run` starts the services and sets them", flush=True)
    print(
        "\n"
        + ", ".join(
            f"{name}: {'passed' if code == 0 else 'FAILED'}" for name, code in results.items()
        ),
        flush=True,
    )
    return max(results.values())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

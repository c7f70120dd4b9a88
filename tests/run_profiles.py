"""Run the test suite under both profiles: embedded (SQLite, in-memory layer, database search),
then services (PostgreSQL, Redis, OpenSearch) when TEST_POSTGRES_URL, TEST_REDIS_URL and
TEST_OPENSEARCH_URL say where they are. Under CI=true the services profile is required.
TEST_CLAMD_URL, when set, becomes the services profile's CLAMD_URL (the attachment scan tests
need it, and fail without it under CI=true).

The browser tests (marker `browser`) and the tests that need a service run in the services profile
only, when it runs; otherwise the embedded run includes them (and they skip, or fail under CI,
where a service is missing). Extra arguments go to pytest, e.g.
`make test PYTEST_ARGS="-k health -x"`.
"""

import os
import subprocess
import sys
import time
import uuid

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


def run(profile, overrides, pytest_args):
    environment = {k: v for k, v in os.environ.items() if k not in PROFILE_VARIABLES}
    environment.update(overrides)
    print(f"\n=== {profile} profile ===", flush=True)
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "--durations=15", *pytest_args]
    code = subprocess.call(command, env=environment)
    print(
        f"=== {profile} profile: exit {code} in {time.monotonic() - started:.0f} s ===", flush=True
    )
    return code


def main(pytest_args):
    missing = [name for name in SERVICE_URLS if not os.environ.get(name)]
    # When the services profile runs, the tests that need a service or a browser run there only:
    # each once, against the production-like set-up, and CI stays within its time.
    if missing:
        results = {"embedded": run("embedded", {}, pytest_args)}
    else:
        results = {
            "embedded": run(
                "embedded", {"PORTAL_SERVICE_TESTS": "later"}, ["-m", "not browser", *pytest_args]
            )
        }
    if missing:
        message = f"services profile not run: {', '.join(missing)} unset"
        if os.environ.get("CI") == "true":
            print(f"FAILED: {message} (required under CI)", flush=True)
            return 1
        print(f"NOTE: {message}; `.ci/run` starts the services and sets them", flush=True)
    else:
        results["services"] = run(
            "services",
            {
                "DATABASE_URL": os.environ["TEST_POSTGRES_URL"],
                "REDIS_URL": os.environ["TEST_REDIS_URL"],
                "SEARCH_URL": "opensearch+" + os.environ["TEST_OPENSEARCH_URL"],
                # An index name of this run's own: a node that `make run` or another run used
                # holds a `portal-library` index the tests would otherwise read.
                "SEARCH_INDEX": f"tests-{uuid.uuid4().hex[:10]}",
                "CLAMD_URL": os.environ.get("TEST_CLAMD_URL", ""),
            },
            pytest_args,
        )
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

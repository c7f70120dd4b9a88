"""Settings come from the environment; bad values fail with one line naming the variable."""

import pytest

from config import env
from tests.conftest import closed_port_url, manage

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-enough-7f3a9c1e2b4d6f8a0c",
    "ALLOWED_HOSTS": "portal.example.org",
    "CLAMD_URL": "unix:///run/clamav/clamd.ctl",
    # The services profile sets REDIS_URL, with which production needs channel-layer keys.
    "CHANNEL_LAYER_ENCRYPTION_KEYS": "a-channel-layer-key-for-the-production-settings",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", {"ENGINE": "database", "URL": ""}),
        ("database", {"ENGINE": "database", "URL": ""}),
        (
            "opensearch+http://127.0.0.1:9200",
            {"ENGINE": "opensearch", "URL": "http://127.0.0.1:9200"},
        ),
        (
            "elasticsearch+https://es.example.org",
            {"ENGINE": "elasticsearch", "URL": "https://es.example.org"},
        ),
        (
            "opensearch+https://node1:9200,node2:9200,node3",
            {"ENGINE": "opensearch", "URL": "https://node1:9200,https://node2:9200,https://node3"},
        ),
    ],
)
def test_search_url_names_engine_and_address(monkeypatch, raw, expected):
    monkeypatch.setenv("SEARCH_URL", raw)
    assert env.search("SEARCH_URL") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "http://127.0.0.1:9200",
        "solr+http://x",
        "opensearch+ftp://x",
        "opensearch+http://host:notaport",
    ],
)
def test_bad_search_url_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("SEARCH_URL", raw)
    with pytest.raises(env.ConfigError, match="^SEARCH_URL: "):
        env.search("SEARCH_URL")


def test_email_url(monkeypatch):
    monkeypatch.setenv(
        "EMAIL_URL", "smtp+tls://mailer:p%40ss@smtp.example.org?from=portal@example.org"
    )
    settings = env.email("EMAIL_URL")
    assert settings["EMAIL_HOST"] == "smtp.example.org"
    assert settings["EMAIL_PORT"] == 587
    assert settings["EMAIL_HOST_PASSWORD"] == "p@ss"
    assert settings["EMAIL_USE_TLS"] is True
    assert settings["DEFAULT_FROM_EMAIL"] == "portal@example.org"
    monkeypatch.delenv("EMAIL_URL")
    assert env.email("EMAIL_URL")["EMAIL_BACKEND"].endswith("console.EmailBackend")


@pytest.mark.parametrize(
    ("variables", "variable"),
    [
        ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://db/portal"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
        ({"SEARCH_URL": "opensearch://nowhere"}, "SEARCH_URL"),
        ({"EMAIL_URL": "pigeon://loft"}, "EMAIL_URL"),
        ({"DEBUG": "perhaps"}, "DEBUG"),
        ({"DEBUG": "false"}, "SECRET_KEY"),
        ({**PRODUCTION, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"TASK_BACKEND": "celery"}, "TASK_BACKEND"),
        ({**PRODUCTION, "ATTACHMENT_SCAN": "off"}, "ATTACHMENT_SCAN"),
    ],
)
def test_bad_value_fails_with_one_line(variables, variable):
    result = manage("check", env=variables, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable}: ")


@pytest.mark.parametrize(
    ("variables", "variable"),
    [
        ({"DATABASE_URL": closed_port_url("postgres") + "/portal"}, "DATABASE_URL"),
    ],
)
def test_unreachable_service_fails_with_one_line(variables, variable):
    result = manage("check_services", env=variables, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable}: ")
    assert "unreachable" in lines[0]


def test_unreachable_redis_degrades():
    """Rate limits then count per process and live events wait for heartbeats (config.cache)."""
    result = manage("check_services", env={"REDIS_URL": closed_port_url("redis")}, check=False)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert [line.split(" unreachable")[0] for line in warnings] == [
        "warning: REDIS_URL: cache",
        "warning: REDIS_URL: channel_layer",
    ], result.stderr
    assert "services degraded" in result.stdout


def test_unreachable_search_engine_degrades_unless_required():
    search = {"SEARCH_URL": "opensearch+" + closed_port_url("http")}
    degraded = manage("check_services", env=search, check=False)
    assert degraded.returncode == 0, degraded.stderr
    assert degraded.stderr.startswith("warning: SEARCH_URL: search unreachable, falling back")
    required = manage("check_services", "--require-search", env=search, check=False)
    assert required.returncode == 2
    assert required.stderr.startswith("configuration error: SEARCH_URL: search unreachable")


def test_production_settings_pass_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_cookies_are_host_prefixed_and_secure():
    script = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_NAME, "
        "s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0)"
    )
    result = manage("shell", "-v", "0", "-c", script, env=PRODUCTION)
    assert result.stdout.split() == ["__Host-sessionid", "__Host-csrftoken", "True", "True"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "sentinel://10.0.0.1:26379,10.0.0.2:26380/portal",
            ("portal", [("10.0.0.1", 26379), ("10.0.0.2", 26380)], 0),
        ),
        ("sentinel://[::1]:26379/portal?db=3", ("portal", [("::1", 26379)], 3)),
    ],
)
def test_sentinels_name_the_service_and_where_to_ask(raw, expected):
    assert env.sentinel_parts(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "redis://127.0.0.1:6379/0",
        "sentinel://host:26379",
        "sentinel://host/portal",
        "sentinel://host:1/a/b",
        "sentinel://h:1/p?db=x",
    ],
)
def test_bad_sentinels_name_the_variable(monkeypatch, raw):
    monkeypatch.setenv("REDIS_SENTINELS", raw)
    with pytest.raises(env.ConfigError, match="^REDIS_SENTINELS: "):
        env.redis_sentinels("REDIS_SENTINELS")


def test_pgbouncer_leaves_nothing_open_across_transactions():
    config = env.database("DATABASE_URL", "postgres://portal@127.0.0.1:6432/portal", pgbouncer=True)
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert config["OPTIONS"]["prepare_threshold"] is None
    assert config["OPTIONS"]["pool"]["max_size"] == 8
    with pytest.raises(env.ConfigError, match="^DATABASE_PGBOUNCER: "):
        env.database("DATABASE_URL", "sqlite:///db.sqlite3", pgbouncer=True)


def test_production_with_redis_needs_channel_layer_keys():
    """Posts pass through the channel layer: in production they must not sit in Redis readable.
    (tests/deploy runs the site with DEBUG=false, Redis and keys.)"""
    variables = {
        **PRODUCTION,
        "REDIS_URL": closed_port_url("redis") + "/0",
        "CHANNEL_LAYER_ENCRYPTION_KEYS": "",
    }
    result = manage("check", env=variables, check=False)
    assert result.stderr.strip().startswith("configuration error: CHANNEL_LAYER_ENCRYPTION_KEYS: ")

"""Reading settings from environment variables.

Every value the site takes from its environment passes through here, so a bad value fails the same
way everywhere: a `ConfigError` whose message starts with the variable's name. `manage.py` and the
ASGI entry point turn it into one line on stderr instead of a stack trace.
"""

import os
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url


class ConfigError(Exception):
    """A setting from the environment is missing, malformed or unreachable."""

    def __init__(self, variable, problem):
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


def text(name, default=""):
    return os.environ.get(name, default).strip()


def flag(name, default):
    raw = text(name)
    if not raw:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, f"expected true or false, got {raw!r}")


def integer(name, default):
    raw = text(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {raw!r}") from None


def rate(name, default):
    """A rate written "count/seconds", such as "8/60"; returns (count, seconds)."""
    raw = text(name) or default
    count, _, seconds = raw.partition("/")
    if not (count.isdigit() and seconds.isdigit() and int(count) > 0 and int(seconds) > 0):
        raise ConfigError(name, f"expected count/seconds such as 8/60, got {raw!r}")
    return int(count), int(seconds)


def word_list(name, default=()):
    raw = text(name)
    if not raw:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def database(name, default_url, pool_size=8, pgbouncer=False):
    """DATABASES["default"] from a URL. PostgreSQL connections come from a pool of at most
    `pool_size` per process, however many requests, sockets and threads it serves: without it,
    every thread kept a connection of its own, and one process with 200 sockets once reached the
    server's limit of 100.

    `pgbouncer`: the URL names a PgBouncer in transaction pooling, which hands each transaction
    whichever server connection is free. Nothing may then outlive a transaction on the server:
    no server-side cursors (Django holds them open across transactions for .iterator()) and no
    prepared statements (Django's default; pinned here so an OPTIONS change cannot bring them
    back). The process keeps its own small pool of connections to PgBouncer, which are cheap,
    and PgBouncer shares a few server connections among all processes."""
    url = text(name) or default_url
    try:
        config = dj_database_url.parse(url)
    except Exception as error:  # dj-database-url raises bare ValueErrors and KeyErrors
        raise ConfigError(name, f"not a database URL ({error})") from None
    engine = config.get("ENGINE", "")
    if engine not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
        raise ConfigError(name, "only sqlite:// and postgres:// URLs are supported")
    if engine.endswith("postgresql"):
        config["OPTIONS"] = {
            **config.get("OPTIONS", {}),
            # A request waits up to `timeout` seconds for a free connection before it fails.
            "pool": {"min_size": min(2, pool_size), "max_size": pool_size, "timeout": 5},
        }
        # With a pool, Django checks each connection as it is taken, so one the server dropped
        # (a restart) is replaced rather than handed out.
        config["CONN_HEALTH_CHECKS"] = True
        if pgbouncer:
            config["DISABLE_SERVER_SIDE_CURSORS"] = True
            config["OPTIONS"]["prepare_threshold"] = None
    elif pgbouncer:
        raise ConfigError("DATABASE_PGBOUNCER", "needs a postgres:// DATABASE_URL")
    else:
        # One ASGI process serves requests on several threads. WAL lets readers run beside the
        # writer; IMMEDIATE transactions take the write lock up front (a deferred one that reads
        # then writes fails at once with "database is locked" instead of waiting), and writers
        # wait up to the timeout for each other.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


def redis_url(name):
    """A redis:// or rediss:// URL, or "" when the variable is unset."""
    url = text(name)
    if url and urlsplit(url).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(name, f"expected a redis:// or rediss:// URL, got {url!r}")
    return url


def clamd_url(name):
    """Where clamd listens: unix:///path/clamd.sock or tcp://host:port, or "" when unset."""
    url = text(name)
    if not url:
        return ""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not (
        (parts.scheme == "unix" and parts.path and not parts.netloc)
        or (parts.scheme == "tcp" and parts.hostname and port)
    ):
        raise ConfigError(
            name, f"expected unix:///path/to/clamd.sock or tcp://host:port, got {url!r}"
        )
    return url


def redis_sentinels(name):
    """REDIS_SENTINELS: `sentinel://host:26379,host:26380,host:26381/service` (optionally
    `?db=N`), the Sentinels that know which Redis is the primary of `service`; "" when unset.
    Returned as given once checked: config.cache and config.layers read it with sentinel_parts."""
    url = text(name)
    if url:
        try:
            sentinel_parts(url)
        except ValueError as error:
            raise ConfigError(name, f"{error}, got {url!r}") from None
    return url


def sentinel_parts(url):
    """(service, [(host, port), ...], db) from a sentinel:// URL; ValueError if it is not one."""
    expected = "expected sentinel://host:port,host:port/service"
    parts = urlsplit(url)
    service = parts.path.strip("/")
    if parts.scheme != "sentinel" or not parts.netloc or not service or "/" in service:
        raise ValueError(expected)
    hosts = []
    for address in parts.netloc.split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(expected)
        hosts.append((host.strip("[]"), int(port)))
    db = parse_qs(parts.query).get("db", ["0"])[0]
    if not db.isdigit():
        raise ValueError("db must be a whole number")
    return service, hosts, int(db)


SEARCH_ENGINES = ("database", "opensearch", "elasticsearch")


def search(name):
    """Parse SEARCH_URL: `<engine>+<http|https>://host:port`, or unset for the database engine.

    A cluster lists its nodes, comma-separated: `opensearch+http://node1:9200,node2:9200`.
    Returns {"ENGINE": ..., "URL": ...}, URL being the node addresses, comma-separated. The engine
    kind rides in the scheme so one variable says both which adapter to use and where the nodes are.
    """
    raw = text(name)
    if not raw or raw == "database":
        return {"ENGINE": "database", "URL": ""}
    scheme, separator, rest = raw.partition("://")
    engine, _, transport = scheme.partition("+")
    if engine not in SEARCH_ENGINES or transport not in {"http", "https"} or not separator:
        raise ConfigError(
            name,
            "expected opensearch+http://host:port, elasticsearch+https://host:port or 'database', "
            f"got {raw!r}",
        )
    netloc, slash, path = rest.partition("/")
    nodes = []
    for host in netloc.split(","):
        parts = urlsplit(f"{transport}://{host}{slash}{path}")
        if not parts.hostname:
            raise ConfigError(name, f"a node address is missing in {raw!r}")
        try:
            parts.port  # noqa: B018 - urlsplit validates the port lazily
        except ValueError:
            raise ConfigError(name, f"bad port in {raw!r}") from None
        nodes.append(parts.geturl())
    return {"ENGINE": engine, "URL": ",".join(nodes)}


def email(name):
    """Parse EMAIL_URL into Django e-mail settings; unset means print mail to the console.

    smtp://user:password@host:25, smtp+tls://…:587 (STARTTLS) or smtp+ssl://…:465; an optional
    ?from=address query sets DEFAULT_FROM_EMAIL.
    """
    raw = text(name)
    if not raw or raw == "console://":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parts = urlsplit(raw)
    if parts.scheme not in {"smtp", "smtp+tls", "smtp+ssl"} or not parts.hostname:
        raise ConfigError(
            name, f"expected smtp://, smtp+tls:// or smtp+ssl://host:port, got {raw!r}"
        )
    try:
        port = parts.port or {"smtp": 25, "smtp+tls": 587, "smtp+ssl": 465}[parts.scheme]
    except ValueError:
        raise ConfigError(name, "bad port") from None
    settings = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
        "EMAIL_USE_SSL": parts.scheme == "smtp+ssl",
    }
    sender = parse_qs(parts.query).get("from")
    if sender:
        settings["DEFAULT_FROM_EMAIL"] = sender[0]
    return settings

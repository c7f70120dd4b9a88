import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import connections

from config.cache import memory_caches
from tests.conftest import manage, serve


@pytest.fixture
def forum_settings(settings):
    """A cache of the test's own (post-rate counts and presence live there) and room to post
    freely, without first posts held for approval."""
    settings.CACHES = {
        alias: {**cache, "LOCATION": uuid.uuid4().hex} for alias, cache in memory_caches().items()
    }
    settings.PORTAL_POST_RATE = (1000, 60)
    settings.PORTAL_HOLD_FIRST_POSTS = 0
    return settings


@pytest.fixture
async def close_consumer_connections():
    """Consumers open database connections in asgiref's shared thread; close them there, or the
    test database cannot be dropped at the end of the run."""
    yield
    await sync_to_async(connections.close_all)()


# The Redis database the multi-process tests empty and use: this many past the one TEST_REDIS_URL
# names, which other tests share (tests/run_profiles.py gives its parts the next few).
OWN_REDIS_DB_OFFSET = 8


@pytest.fixture
def shared_redis_environment(fresh_database_url, redis_url, tmp_path):
    """The environment of a site whose processes share one migrated database and one empty
    Redis database (cache, rate-limit counts and channel layer)."""
    shared_database = int(urlsplit(redis_url).path.strip("/") or 0)
    own_database = (shared_database + OWN_REDIS_DB_OFFSET) % 16
    own_redis_url = urlunsplit(urlsplit(redis_url)._replace(path=f"/{own_database}"))
    own_redis = redis.Redis.from_url(own_redis_url)
    own_redis.flushdb()
    environment = {
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": own_redis_url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "SEARCH_INDEX": f"site-{uuid.uuid4().hex[:10]}",
    }
    manage("migrate", "--noinput", env=environment)
    yield environment
    own_redis.flushdb()


@pytest.fixture
def two_processes(shared_redis_environment, tmp_path):
    """Two web processes of the same site, as behind a load balancer."""
    sites = [serve(shared_redis_environment, tmp_path / f"server-{name}.log") for name in "ab"]
    yield sites
    for site in sites:
        site.process.terminate()
        site.process.wait(timeout=10)

"""Fixtures for the library tests: the demo site, people in Wagtail's groups, isolated media.

The demo site takes seconds to build, so each test module builds it once, inside a transaction
that is rolled back when the module ends; every test runs in its own savepoint within it (the
usual pytest-django `db` behaviour), so what one test changes, the next never sees. Builders for
items and readers for responses live in helpers.py.
"""

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings

from library import demo
from library.models import HomePage, LibraryIndexPage, ThemeIndexPage
from tests.library.helpers import make_user
from tests.people import make_person


@pytest.fixture(scope="module")
def module_media(tmp_path_factory):
    """Uploaded and generated files go to a throw-away folder, never to var/media."""
    with override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media"))):
        yield


@pytest.fixture(autouse=True)
def isolated_caches(module_media):
    """Wagtail caches site root paths; a rolled-back page must not linger there."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="module")
def demo_content(module_media, django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        demo.load()
        yield
        transaction.set_rollback(True)


@pytest.fixture
def demo_site(demo_content, db):
    """The demo content (loaded once per module, see above); returns the home page."""
    return HomePage.objects.get()


@pytest.fixture
def editor(db):
    return make_user("editor", ["Editors"])


@pytest.fixture
def contributor(db):
    return make_user("contributor", ["Contributors"])


@pytest.fixture
def moderator(db):
    return make_user("moderator", ["Moderators"])


@pytest.fixture
def member(db):
    return make_person("member")


@pytest.fixture
def superuser(db):
    return make_user("admin", is_superuser=True, is_staff=True)


@pytest.fixture
def library_index(demo_site):
    return LibraryIndexPage.objects.get()


@pytest.fixture
def theme_index(demo_site):
    return ThemeIndexPage.objects.get()

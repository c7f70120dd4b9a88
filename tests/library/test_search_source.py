"""Library changes reach the search index: taxonomy renames, theme changes and view restrictions
(library/search_source.py)."""

import pytest
from wagtail.models import PageViewRestriction

from library.models import LibraryItemPage, Publisher, ResourceType, ThemePage
from library.search_source import item_key
from search.models import IndexEntry
from tests.search.conftest import load_indexed_library, own_index  # noqa: F401 - a fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_index")]


@pytest.fixture
def library(db):
    load_indexed_library()


def entry(slug):
    return IndexEntry.objects.get(key=item_key(LibraryItemPage.objects.get(slug=slug).pk))


def test_publisher_rename_reaches_its_items(library):
    publisher = Publisher.objects.get(slug="microsoft")
    publisher.name = "Microsoft Corporation"
    publisher.save()
    assert entry("photodna").publisher_names == "Microsoft Corporation"


def test_resource_type_rename_reaches_its_items(library):
    tool = ResourceType.objects.get(slug="tool")
    tool.name = "Toolkit"
    tool.save()
    assert entry("photodna").type_name == "Toolkit"


def test_theme_slug_change_reaches_its_items(library):
    theme = ThemePage.objects.get(slug="technology")
    theme.slug = "tech"
    theme.save_revision().publish()
    assert "tech" in entry("photodna").themes.split()


def test_view_restriction_removes_an_item_from_the_index(library):
    page = LibraryItemPage.objects.get(slug="photodna")
    PageViewRestriction.objects.create(page=page, restriction_type=PageViewRestriction.LOGIN)
    assert not IndexEntry.objects.filter(key=item_key(page.pk)).exists()


def test_facet_labels_follow_renamed_publishers_and_types(django_capture_on_commit_callbacks):
    """Search pages keep the facets' labels in the cache; a rename drops them after commit."""
    from search import registry

    with django_capture_on_commit_callbacks(execute=True):
        publisher = Publisher.objects.create(name="Before Trust", slug="before-trust")
        kind = ResourceType.objects.create(name="Before Kind", slug="before-kind")
    assert registry.facet_labels()["publisher"]["before-trust"] == "Before Trust"
    with django_capture_on_commit_callbacks(execute=True):
        publisher.name = "After Trust"
        publisher.save()
        kind.name = "After Kind"
        kind.save()
    labels = registry.facet_labels()
    assert labels["publisher"]["before-trust"] == "After Trust"
    assert labels["type"]["before-kind"] == "After Kind"

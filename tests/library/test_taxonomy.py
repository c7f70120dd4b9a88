"""Publishers and resource types: protected while items use them, and edited as snippets."""

import pytest
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils.html import escape

from library.models import LibraryItemPage, Publisher, ResourceType
from tests.library.helpers import make_item, make_publisher, make_resource_type, text

pytestmark = pytest.mark.django_db


def delete_url(instance):
    model = instance._meta.model_name
    return reverse(f"wagtailsnippets_library_{model}:delete", args=(instance.pk,))


def test_deleting_a_publisher_in_use_is_refused_and_names_the_items(demo_site, superuser, client):
    nspcc = Publisher.objects.get(name="NSPCC")
    users = sorted(
        LibraryItemPage.objects.filter(publisher_links__publisher=nspcc).values_list(
            "title", flat=True
        )
    )
    assert users == [
        "End-To-End Encryption: Understanding the impacts for child safety online",
        "Talking to children about staying safe online",
    ]
    client.force_login(superuser)

    confirm = client.get(delete_url(nspcc))
    assert confirm.status_code == 200
    assert "Yes, delete" not in text(confirm)
    for title in users:
        assert escape(title) in text(confirm)

    response = client.post(delete_url(nspcc))
    assert response.status_code == 409
    assert Publisher.objects.filter(pk=nspcc.pk).exists()
    page = text(response)
    assert "NSPCC was not deleted: 2 library items use it." in page
    for title in users:
        assert escape(title) in page


def test_deleting_a_resource_type_in_use_is_refused_and_names_the_items(
    demo_site, superuser, client
):
    guide = ResourceType.objects.get(slug="guide")
    [only_guide] = LibraryItemPage.objects.filter(resource_type=guide)
    client.force_login(superuser)

    response = client.post(delete_url(guide))

    assert response.status_code == 409
    assert ResourceType.objects.filter(pk=guide.pk).exists()
    assert "Guide was not deleted: 1 library item uses it." in text(response)
    assert escape(only_guide.title) in text(response)


def test_a_draft_item_also_protects_its_publisher(demo_site, superuser, client):
    publisher = make_publisher("Draft-only publisher")
    draft = make_item("Unpublished study", publishers=[publisher], publish=False)
    client.force_login(superuser)

    response = client.post(delete_url(publisher))

    assert response.status_code == 409
    assert Publisher.objects.filter(pk=publisher.pk).exists()
    assert f"{draft.title}</a> (draft)" in text(response)


def test_deleting_an_unused_publisher_and_type_works(demo_site, superuser, client):
    publisher = make_publisher("Unused publisher")
    kind = make_resource_type("Podcast")
    client.force_login(superuser)

    confirm = client.get(delete_url(publisher))
    assert "Yes, delete" in text(confirm)
    response = client.post(delete_url(publisher))
    assert response.status_code == 302
    assert not Publisher.objects.filter(pk=publisher.pk).exists()

    response = client.post(delete_url(kind))
    assert response.status_code == 302
    assert not ResourceType.objects.filter(pk=kind.pk).exists()


def test_publisher_becomes_deletable_once_no_item_uses_it(demo_site, superuser, client):
    publisher = make_publisher("Short-lived publisher")
    item = make_item("Short-lived item", publishers=[publisher])
    client.force_login(superuser)
    assert client.post(delete_url(publisher)).status_code == 409

    item.delete()

    assert client.post(delete_url(publisher)).status_code == 302
    assert not Publisher.objects.filter(pk=publisher.pk).exists()


def test_bulk_delete_of_a_publisher_in_use_deletes_nothing(demo_site, superuser, client):
    nspcc = Publisher.objects.get(name="NSPCC")
    client.force_login(superuser)
    url = reverse("wagtail_bulk_action", args=("library", "publisher", "delete"))
    client.post(f"{url}?id={nspcc.pk}")
    assert Publisher.objects.filter(pk=nspcc.pk).exists()


def test_database_refuses_deleting_taxonomy_in_use(demo_site):
    """The protection does not rely on the admin: the foreign keys are PROTECT."""
    with pytest.raises(ProtectedError):
        Publisher.objects.get(name="NSPCC").delete()
    with pytest.raises(ProtectedError):
        ResourceType.objects.get(slug="report").delete()


def test_contributors_cannot_delete_publishers(demo_site, contributor, client):
    unused = make_publisher("Unused by anyone")
    client.force_login(contributor)
    client.post(delete_url(unused))
    assert Publisher.objects.filter(pk=unused.pk).exists()


def test_editors_delete_unused_publishers_but_not_those_in_use(demo_site, editor, client):
    nspcc = Publisher.objects.get(name="NSPCC")
    unused = make_publisher("Unused by anyone")
    client.force_login(editor)
    assert client.post(delete_url(nspcc)).status_code == 409
    client.post(delete_url(unused))
    assert list(Publisher.objects.filter(pk__in=[nspcc.pk, unused.pk])) == [nspcc]


def test_slugs_default_from_names():
    publisher = Publisher(name="Internet Watch Foundation (UK)")
    publisher.save()
    assert publisher.slug == "internet-watch-foundation-uk"
    kind = ResourceType(name="Case study", plural="Case studies")
    kind.save()
    assert kind.slug == "case-study"
    assert str(publisher) == "Internet Watch Foundation (UK)"
    assert str(kind) == "Case study"


def test_resource_types_sort_by_sort_order_then_name(demo_site):
    assert list(ResourceType.objects.values_list("name", flat=True)) == [
        "Briefing",
        "Report",
        "Tool",
        "Media",
        "Guide",
    ]

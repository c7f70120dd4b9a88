"""The library in the Wagtail admin: snippets for the taxonomy, filters on the item listing, and
the privacy check on every document download."""

import django_filters
from django.http import Http404
from wagtail import hooks
from wagtail.admin.views.pages.listing import PageFilterSet
from wagtail.admin.viewsets.pages import PageListingViewSet
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from library.models import LibraryItemPage, Publisher, ResourceType, ThemePage
from portal import policy


class PublisherViewSet(SnippetViewSet):
    model = Publisher
    icon = "group"
    menu_label = "Publishers"
    menu_order = 210
    add_to_admin_menu = True
    list_display = ["name", "short_name", "website"]
    search_fields = ["name", "short_name"]


class ResourceTypeViewSet(SnippetViewSet):
    model = ResourceType
    icon = "tag"
    menu_label = "Resource types"
    menu_order = 220
    add_to_admin_menu = True
    list_display = ["name", "plural", "sort_order"]


register_snippet(PublisherViewSet)
register_snippet(ResourceTypeViewSet)


class LibraryItemFilterSet(PageFilterSet):
    publisher = django_filters.ModelChoiceFilter(
        queryset=Publisher.objects.all(), field_name="publisher_links__publisher", label="Publisher"
    )
    resource_type = django_filters.ModelChoiceFilter(
        queryset=ResourceType.objects.all(), label="Resource type"
    )
    themes = django_filters.ModelChoiceFilter(queryset=ThemePage.objects.all(), label="Theme")

    class Meta(PageFilterSet.Meta):
        model = LibraryItemPage
        fields = []


class LibraryItemListingViewSet(PageListingViewSet):
    model = LibraryItemPage
    icon = "doc-full-inverse"
    menu_label = "Library items"
    menu_order = 200
    add_to_admin_menu = True
    filterset_class = LibraryItemFilterSet


@hooks.register("register_admin_viewset")
def register_library_item_listing():
    return LibraryItemListingViewSet("library_items")


@hooks.register("before_serve_document")
def refuse_unpublished_documents(document, request):
    if not policy.can_view_document(request.user, document):
        raise Http404

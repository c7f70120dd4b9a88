"""The library in the Wagtail admin: snippets for the taxonomy, filters on the item listing, and
the privacy check on every document download."""

import django_filters
from django import forms
from django.contrib import messages
from django.http import Http404
from django.templatetags.static import static
from django.utils.functional import cached_property
from django.utils.html import format_html
from wagtail import hooks
from wagtail.admin.views.pages.listing import PageFilterSet
from wagtail.admin.viewsets.pages import PageListingViewSet
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.chooser import SnippetChooserViewSet
from wagtail.snippets.views.snippets import DeleteView, SnippetViewSet

from library.dashboard import EditorialPanel
from library.models import LibraryItemPage, Publisher, ResourceType, ThemePage
from portal import policy


class TaxonomyDeleteView(DeleteView):
    """Wagtail's delete view, except that a publisher or type that items use (drafts included)
    is refused by name: the page lists those items, and a POST shows it again instead of
    deleting. The items are read from the database, not the reference index, which may lag."""

    items_lookup = None  # the LibraryItemPage filter that finds the items using self.object

    @cached_property
    def items_in_use(self):
        lookup = {self.items_lookup: self.object}
        return list(LibraryItemPage.objects.filter(**lookup).distinct().order_by("title"))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["items_in_use"] = self.items_in_use
        context["is_protected"] = bool(self.items_in_use) or context.get("is_protected", False)
        return context

    def form_valid(self, form):
        if self.items_in_use:
            count = len(self.items_in_use)
            messages.error(
                self.request,
                f"{self.object} was not deleted: {count} library "
                f"item{'s' if count != 1 else ''} use{'' if count != 1 else 's'} it.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=409)
        return super().form_valid(form)


class PublisherDeleteView(TaxonomyDeleteView):
    items_lookup = "publisher_links__publisher"


class ResourceTypeDeleteView(TaxonomyDeleteView):
    items_lookup = "resource_type"


class PublisherCreationForm(forms.ModelForm):
    website = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = Publisher
        fields = ["name", "short_name", "website"]


class PublisherChooserViewSet(SnippetChooserViewSet):
    """The publisher chooser searches names and short names, and offers those who may add
    publishers a "Create" tab, so a new publisher is made without leaving the item editor."""

    creation_form_class = PublisherCreationForm
    create_action_label = "Create publisher"


class ResourceTypeChooserViewSet(SnippetChooserViewSet):
    form_fields = ["name", "plural", "description"]
    create_action_label = "Create resource type"


class PublisherViewSet(SnippetViewSet):
    model = Publisher
    icon = "group"
    menu_label = "Publishers"
    menu_order = 210
    add_to_admin_menu = True
    list_display = ["name", "short_name", "website"]
    search_fields = ["name", "short_name"]
    chooser_viewset_class = PublisherChooserViewSet
    chooser_per_page = 20
    delete_view_class = PublisherDeleteView
    delete_template_name = "library/admin/taxonomy_confirm_delete.html"


class ResourceTypeViewSet(SnippetViewSet):
    model = ResourceType
    icon = "tag"
    menu_label = "Resource types"
    menu_order = 220
    add_to_admin_menu = True
    list_display = ["name", "plural", "sort_order"]
    chooser_viewset_class = ResourceTypeChooserViewSet
    chooser_per_page = 20
    delete_view_class = ResourceTypeDeleteView
    delete_template_name = "library/admin/taxonomy_confirm_delete.html"


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


@hooks.register("insert_global_admin_css")
def library_admin_css():
    return format_html('<link rel="stylesheet" href="{}">', static("css/library-admin.css"))


@hooks.register("construct_homepage_panels")
def add_editorial_panel(request, panels):
    panel = EditorialPanel()
    if panel.is_shown(request.user):
        panels.append(panel)


@hooks.register("before_serve_document")
def refuse_unpublished_documents(document, request):
    if not policy.can_view_document(request.user, document):
        raise Http404

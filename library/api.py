"""Read-only JSON API over live, public library items (Wagtail API v2) at /api/v2/items/."""

from django.db.models import Prefetch
from django.urls import path
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.utils import BadRequestError
from wagtail.api.v2.views import PagesAPIViewSet

import inputs
from library.models import LibraryItemPage, LibraryItemPublisher, ThemePage


class LibraryItemsAPIViewSet(PagesAPIViewSet):
    """Library items only, with the public fields of LibraryItemPage.api_fields. The base queryset
    is Wagtail's public pages: live, and without view restrictions."""

    model = LibraryItemPage
    listing_default_fields = [*PagesAPIViewSet.listing_default_fields, "summary", "resource_type"]

    @classmethod
    def get_urlpatterns(cls):
        """Wagtail's routes, with ids read as `<id:pk>`: a number too long for the database is not
        found rather than an error in the query."""
        return [
            path("", cls.as_view({"get": "listing_view"}), name="listing"),
            path("<id:pk>/", cls.as_view({"get": "detail_view"}), name="detail"),
            path("find/", cls.as_view({"get": "find_view"}), name="find"),
        ]

    def listing_view(self, request):
        # Wagtail's search hands a lone double quote to SQLite's full-text query, which refuses
        # it ("unterminated string"), and fails on a search of nothing but spaces: unpaired quotes
        # are read as spaces, as a search box would, and a blank search as none.
        search = request.GET.get("search")
        if search is not None:
            if search.count('"') % 2:
                search = search.replace('"', " ")
            request.GET = request.GET.copy()
            if search.strip():
                request.GET["search"] = search
            else:
                del request.GET["search"]
        return super().listing_view(request)

    def find_object(self, queryset, request):
        # Wagtail hands ?id= to the database as it was typed.
        if "id" in request.GET and inputs.integer(request.GET["id"]) is None:
            raise BadRequestError("id must be a whole number")
        return super().find_object(queryset, request)

    def get_queryset(self):
        public_ids = self.get_base_queryset().values_list("pk", flat=True)
        # Everything the serialised fields read, in a fixed number of queries per response.
        return (
            LibraryItemPage.objects.filter(pk__in=public_ids)
            .select_related("resource_type", "locale")
            .prefetch_related(
                Prefetch(
                    "publisher_links",
                    queryset=LibraryItemPublisher.objects.select_related("publisher"),
                ),
                Prefetch(
                    "themes",
                    queryset=ThemePage.objects.live().public().order_by("path"),
                    to_attr="public_themes",
                ),
            )
        )


api_router = WagtailAPIRouter("api")
api_router.register_endpoint("items", LibraryItemsAPIViewSet)

"""Read-only JSON API over live, public library items (Wagtail API v2) at /api/v2/items/."""

from django.db.models import Prefetch
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet

from library.models import LibraryItemPage, LibraryItemPublisher, ThemePage


class LibraryItemsAPIViewSet(PagesAPIViewSet):
    """Library items only, with the public fields of LibraryItemPage.api_fields. The base queryset
    is Wagtail's public pages: live, and without view restrictions."""

    model = LibraryItemPage
    listing_default_fields = [*PagesAPIViewSet.listing_default_fields, "summary", "resource_type"]

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

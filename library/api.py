"""Read-only JSON API over live, public library items (Wagtail API v2) at /api/v2/items/."""

from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet

from library.models import LibraryItemPage


class LibraryItemsAPIViewSet(PagesAPIViewSet):
    """Library items only, with the public fields of LibraryItemPage.api_fields. The base queryset
    is Wagtail's public pages: live, and without view restrictions."""

    model = LibraryItemPage
    listing_default_fields = [*PagesAPIViewSet.listing_default_fields, "summary", "resource_type"]

    def get_queryset(self):
        public_ids = self.get_base_queryset().values_list("pk", flat=True)
        return LibraryItemPage.objects.filter(pk__in=public_ids)


api_router = WagtailAPIRouter("api")
api_router.register_endpoint("items", LibraryItemsAPIViewSet)

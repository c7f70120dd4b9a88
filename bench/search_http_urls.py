"""Bench only (never in config/urls.py): Wagtail's stock search over HTTP, for bench/search_http.py.

/bench/stock-search/?q=… answers what bench/search.py measures as the stock baseline: a page of 20
live library items from Wagtail's search backend, the total, and one facet() per FilterField of
LibraryItemPage, as JSON."""

from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from library.models import LibraryItemPage

STOCK_FACETS = ["resource_type_id", "publication_date"]


def stock_search(request):
    results = LibraryItemPage.objects.live().search(request.GET.get("q", ""))
    page = [{"title": item.title, "url": item.url} for item in results[:20]]
    return JsonResponse(
        {
            "total": results.count(),
            "results": page,
            "facets": {
                field: {str(key): count for key, count in results.facet(field).items()}
                for field in STOCK_FACETS
            },
        }
    )


urlpatterns = [path("bench/stock-search/", stock_search), *site_urlpatterns]

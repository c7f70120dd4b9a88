"""The JSON search API and autocomplete endpoint; the HTML search page is the library index,
which calls the same service. Who may find what is the registered audience's answer."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from search import registry, service


def results_as_json(results):
    request = results.request
    return {
        "query": request.text,
        "total": results.total,
        "page": request.page,
        "page_size": request.page_size,
        "sort": request.sort,
        "engine": results.engine,
        "degraded": results.degraded,
        "suggestion": results.suggestion,
        "notices": request.notices,
        "results": [
            {
                "title": hit.title,
                "url": hit.url,
                "kind": hit.kind,
                "snippet_html": hit.snippet,
                "publishers": hit.publishers,
                "type": hit.type,
                "date": hit.date,
            }
            for hit in results.hits
        ],
        "facets": {
            facet: [
                {"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
                for v in values
            ]
            for facet, values in results.facets.items()
        },
    }


@require_GET
def search_api(request):
    results = service.search(request.GET, registry.visibilities(request.user))
    return JsonResponse(results_as_json(results))


@require_GET
def autocomplete_api(request):
    suggestions = service.autocomplete(
        request.GET.get("q", ""), registry.visibilities(request.user)
    )
    return JsonResponse({"suggestions": suggestions})

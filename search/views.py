"""The JSON search API and autocomplete endpoint; the HTML search page is the library index,
which calls the same service. Who may find what is the registered audience's answer."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from search import analytics, registry, service
from search.pages import search_instead_query


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
        # True when the results are for the suggestion, the query as typed having found
        # nothing; search_instead_query is then the query string that asks for it as typed.
        "corrected": results.corrected,
        "search_instead_query": search_instead_query(results),
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


# The search page's script tells this that a result was opened, sending no cookie and no referrer;
# it reads nothing but the query, and can only add to a count of today's searches.
@csrf_exempt
@require_POST
def result_opened(request):
    analytics.record_opened(request.GET.get("q", ""))
    return HttpResponse(status=204)

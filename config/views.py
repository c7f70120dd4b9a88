from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.health import run_checks


@require_GET
@never_cache
def healthz(request):
    """Status of every backing part as JSON; 503 when a required part is down."""
    status, checks = run_checks()
    return JsonResponse(
        {"status": status, "checks": checks}, status=503 if status == "down" else 200
    )


@require_GET
def favicon(request):
    """/favicon.ico: the site's icon, which is an SVG among the static files."""
    return HttpResponseRedirect(static("favicon.svg"))


def csrf_failure(request, reason=""):
    """The site's page for a form refused by the CSRF check (CSRF_FAILURE_VIEW). Django has
    already logged the reason; the page tells the person how to send what they typed again."""
    return render(request, "403_csrf.html", status=403)

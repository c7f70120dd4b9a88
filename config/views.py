from django.http import JsonResponse
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

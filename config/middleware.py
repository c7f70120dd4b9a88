"""Response headers that Django does not set on its own."""

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings


class PermissionsPolicyMiddleware:
    """Send the Permissions-Policy header, switching off browser features the site never uses."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp, with the looser ADMIN_CONTENT_SECURITY_POLICY under the Wagtail admin only."""

    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        in_admin = request.path_info.startswith(settings.WAGTAIL_ADMIN_PATH)
        if in_admin and not report_only and parts.config is None:
            parts.config = settings.ADMIN_CONTENT_SECURITY_POLICY["DIRECTIVES"]
        return parts

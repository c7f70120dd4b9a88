"""Response headers that Django does not set on its own, and request data cleaned on the way in."""

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import QueryDict

import inputs

FORM_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class CleanInputMiddleware:
    """Give every view (ours, Wagtail's, allauth's) query parameters, form fields and cookies
    whose names and values went through `inputs.clean_text`: PostgreSQL refuses NUL in text, and
    no page of the site sends control characters other than tabs and line breaks. Cookies too,
    because Django decodes `"\\000"` in a quoted cookie value to NUL and the session middleware
    looks the session key up in the database. Uploaded files (request.FILES) stay as they came."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.GET = _cleaned(request.GET)
        if request.method == "POST" and request.content_type in FORM_CONTENT_TYPES:
            request.POST = _cleaned(request.POST)
        request.COOKIES = {
            inputs.clean_text(name): inputs.clean_text(value)
            for name, value in request.COOKIES.items()
        }
        return self.get_response(request)


def _cleaned(data):
    """The QueryDict with its keys and values cleaned; the same object when nothing changes."""
    lists = [
        (inputs.clean_text(key), [inputs.clean_text(value) for value in values])
        for key, values in data.lists()
    ]
    if lists == list(data.lists()):
        return data
    cleaned = QueryDict(mutable=True, encoding=data.encoding)
    for key, values in lists:
        for value in values:
            cleaned.appendlist(key, value)  # names that differed only in controls merge
    cleaned._mutable = False  # read-only like the original, as Django's multipart parser does
    return cleaned


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

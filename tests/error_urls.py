"""The site's URLs plus two views that fail on purpose, for the error-page tests only
(`@pytest.mark.urls("tests.error_urls")`); nothing outside tests/ imports this module."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def refuse(request):
    raise PermissionDenied("a reason only the server should know")


def fail(request):
    raise RuntimeError("a detail only the server should know")


urlpatterns = [
    path("test-errors/403/", refuse),
    path("test-errors/500/", fail),
    *site_urlpatterns,
]

from django.conf import settings
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents import urls as wagtaildocs_urls

from config.views import healthz
from library.api import api_router
from search import views as search_views

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path(settings.WAGTAIL_ADMIN_PATH.strip("/") + "/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("accounts/", include("allauth.urls")),
    path("api/v2/", api_router.urls),
    path("api/search/", search_views.search_api, name="search-api"),
    path("api/search/autocomplete/", search_views.autocomplete_api, name="search-autocomplete"),
    path("sitemap.xml", sitemap, name="sitemap"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Wagtail's page tree serves everything not matched above, so it comes last.
urlpatterns.append(path("", include(wagtail_urls)))

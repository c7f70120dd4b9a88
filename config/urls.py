from django.conf import settings
from django.urls import include, path, re_path, register_converter
from django.views.decorators.cache import cache_control
from django.views.static import serve as static_serve
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents.views import serve as document_serve

import inputs
from config.metrics import metrics_view
from config.views import favicon, healthz
from library.api import api_router
from search import views as search_views

# `<id:pk>` for every id in a path, here and in the URL confs included below.
register_converter(inputs.IdConverter, "id")

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    # Browsers and feed readers ask for /favicon.ico whatever the page links to.
    path("favicon.ico", favicon, name="favicon"),
    path(settings.WAGTAIL_ADMIN_PATH.strip("/") + "/", include(wagtailadmin_urls)),
    # Downloads may be drafts only editors can see: never let a shared cache keep them.
    path(
        "documents/<id:document_id>/<str:document_filename>",
        cache_control(private=True)(document_serve.serve),
        name="wagtaildocs_serve",
    ),
    # Wagtail's document URLs but for its serve route, which hands the database an id of any
    # length; wagtaildocs_serve above replaces it.
    path(
        "documents/",
        include(
            [
                path(
                    "authenticate_with_password/<id:restriction_id>/",
                    document_serve.authenticate_with_password,
                    name="wagtaildocs_authenticate_with_password",
                )
            ]
        ),
    ),
    path("accounts/", include("allauth.urls")),
    path("portal/", include("portal.urls")),
    path("api/v2/", api_router.urls),
    path("api/search/", search_views.search_api, name="search-api"),
    path("api/search/autocomplete/", search_views.autocomplete_api, name="search-autocomplete"),
    path("api/search/opened/", search_views.result_opened, name="search-opened"),
    path("sitemap.xml", sitemap, name="sitemap"),
]

if settings.DEVELOPMENT:
    # Development serves uploaded images straight from MEDIA_ROOT. Documents are never served
    # this way: they go through Wagtail's serve view and its privacy check (documents/ above).
    urlpatterns.append(
        re_path(
            r"^media/(?P<path>(?:original_images|images)/.+)$",
            static_serve,
            {"document_root": settings.MEDIA_ROOT},
        )
    )

# Wagtail's page tree serves everything not matched above, so it comes last.
urlpatterns.append(path("", include(wagtail_urls)))

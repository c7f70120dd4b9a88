"""Settings for bench/search_http.py's servers: the project's settings, with the bench-only URL
of Wagtail's stock search (bench/search_http_urls.py) added beside the site's own URLs, so the
baseline is served by the same uvicorn process, settings and data as our search."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.search_http_urls"

from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    label = "site_search"  # "search" would clash with wagtail.search's label
    verbose_name = "Search"

    def ready(self):
        from search import signals  # noqa: F401 - connects the synonyms receiver

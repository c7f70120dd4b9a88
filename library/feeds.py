"""RSS and Atom feeds of the newest library items: overall, and per theme, publisher and type."""

import datetime

from django.contrib.auth.models import AnonymousUser
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed

from library.models import LibraryItemPage, Publisher, ResourceType, ThemePage

FEED_LENGTH = 30
FEED_KINDS = {"rss": Rss201rev2Feed, "atom": Atom1Feed}


def _scope(facet, slug):
    """(title suffix, filter) for a feed's facet; 404 for an unknown or unpublished value."""
    if facet is None:
        return None, {}
    if facet == "publishers":
        publisher = get_object_or_404(Publisher, slug=slug)
        return publisher.name, {"publisher_links__publisher": publisher}
    if facet == "types":
        resource_type = get_object_or_404(ResourceType, slug=slug)
        return resource_type.plural, {"resource_type": resource_type}
    theme = get_object_or_404(ThemePage.objects.live().public(), slug=slug)
    return theme.title, {"themes": theme}


class LibraryFeed(Feed):
    def __init__(self, index_page, kind, facet, slug):
        super().__init__()
        self.feed_type = FEED_KINDS[kind]
        self.index_page = index_page
        self.scope_title, self.filters = _scope(facet, slug)

    def __call__(self, request, *args, **kwargs):
        self.request = request
        return super().__call__(request, *args, **kwargs)

    def title(self):
        name = "Protectors' Portal library"
        return f"{name}: {self.scope_title}" if self.scope_title else name

    def link(self):
        return self.index_page.get_url(self.request)

    def description(self):
        return f"The newest items in the {self.title()}."

    def items(self):
        if self.request.GET:
            return self._searched_items()
        return LibraryItemPage.objects.listing().filter(**self.filters)[:FEED_LENGTH]

    def _searched_items(self):
        """A feed of a search page: the same query and filters, newest first."""
        from search import service
        from search.query import SearchRequest

        params = self.request.GET.copy()
        params.setlist("sort", ["newest"])
        params.setlist("page", ["1"])
        params.setlist("content", ["library"])
        search_request = SearchRequest.from_params(params)
        search_request.page_size = FEED_LENGTH
        # Feeds are shared and cached by feed readers: they search as nobody in particular, so
        # a member's session never puts members-only results into one.
        results = service.run_search(search_request, AnonymousUser())
        ids = [hit.object_id for hit in results.hits if hit.kind == "item"]
        items = LibraryItemPage.objects.listing().filter(**self.filters).in_bulk(ids)
        return [items[pk] for pk in ids if pk in items]

    def item_title(self, item):
        return item.title

    def item_description(self, item):
        return item.summary

    def item_link(self, item):
        return item.get_url(self.request)

    def item_pubdate(self, item):
        return datetime.datetime.combine(item.publication_date, datetime.time(), datetime.UTC)

    def item_author_name(self, item):
        return ", ".join(publisher.name for publisher in item.publishers)

    def item_categories(self, item):
        return [item.resource_type.name]


def library_feed(request, index_page, kind, facet, slug):
    return LibraryFeed(index_page, kind, facet, slug)(request)

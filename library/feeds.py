"""RSS and Atom feeds of the newest library items: overall, and per theme, publisher and type."""

import datetime

from django.contrib.auth.models import AnonymousUser
from django.contrib.syndication.views import Feed
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed

from portal import policy
from search import service
from search.query import SearchRequest

FEED_LENGTH = 30
FEED_KINDS = {"rss": Rss201rev2Feed, "atom": Atom1Feed}


class LibraryFeed(Feed):
    def __init__(self, index_page, kind, scope_title, scope_items):
        """scope_items: the live, public items of the feed's facet value (or all), newest first."""
        super().__init__()
        self.feed_type = FEED_KINDS[kind]
        self.index_page = index_page
        self.scope_title, self.scope_items = scope_title, scope_items

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
        return self.scope_items[:FEED_LENGTH]

    def _searched_items(self):
        """A feed of a search page: the same query and filters, newest first."""
        params = self.request.GET.copy()
        params.setlist("sort", ["newest"])
        params.setlist("page", ["1"])
        params.setlist("content", ["library"])
        search_request = SearchRequest.from_params(params)
        search_request.page_size = FEED_LENGTH
        # Feeds are shared and cached by feed readers: they search as nobody in particular, so
        # a member's session never puts members-only results into one.
        visibilities = policy.search_visibilities(AnonymousUser())
        results = service.run_search(search_request, visibilities)
        ids = [hit.object_id for hit in results.hits if hit.kind == "item"]
        items = self.scope_items.in_bulk(ids)
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

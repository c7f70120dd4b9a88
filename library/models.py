"""The library's content model.

Pages: HomePage → ThemeIndexPage → ThemePage, and HomePage → LibraryIndexPage → LibraryItemPage.
Snippets: Publisher and ResourceType. Taxonomy in use is protected (on_delete=PROTECT), so Wagtail's
delete view refuses and lists the items that use it.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from django.utils.text import slugify
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from rest_framework import serializers
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.api import APIField
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Orderable, Page, PageManager
from wagtail.query import PageQuerySet
from wagtail.search import index

from library import citations
from library.blocks import BodyBlock
from library.feeds import LibraryFeed
from portal import policy as portal_policy
from portal import queries as portal_queries
from search import registry, service
from search.pages import search_page

ITEMS_PER_PAGE = 20
# First path segments LibraryIndexPage routes itself, so no item may take them as its slug.
LIBRARY_ROUTES = {"publishers", "types", "themes", "feed"}
KEY_ITEMS_ON_THEME = 8

LANGUAGES = [
    ("en", "English"),
    ("fr", "French"),
    ("es", "Spanish"),
    ("pt", "Portuguese"),
    ("ar", "Arabic"),
    ("de", "German"),
    ("ru", "Russian"),
    ("zh", "Chinese"),
]


def _check_slug_from_name(taxonomy):
    """A publisher or type made without a slug (from a chooser's "Create" tab) takes one from its
    name: refuse a name whose slug is empty or already taken, rather than fail on saving."""
    if taxonomy.slug or not taxonomy.name:
        return
    slug = slugify(taxonomy.name)
    if not slug:
        raise ValidationError({"name": "Use at least one letter or digit in the name."})
    if type(taxonomy).objects.filter(slug=slug).exclude(pk=taxonomy.pk).exists():
        raise ValidationError({"name": f"“{slug}” is already the address of another entry."})


class Publisher(index.Indexed, models.Model):
    name = models.CharField(max_length=200, unique=True)
    short_name = models.CharField(max_length=60, blank=True, help_text="e.g. IWF")
    slug = models.SlugField(max_length=200, unique=True, help_text="Used in the publisher's URL.")
    website = models.URLField(blank=True)
    description = models.TextField(blank=True)
    logo = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    panels = [
        FieldPanel("name"),
        FieldRowPanel([FieldPanel("short_name"), FieldPanel("slug")]),
        FieldPanel("website"),
        FieldPanel("description"),
        FieldPanel("logo"),
    ]
    search_fields = [
        index.SearchField("name"),
        index.AutocompleteField("name"),
        index.SearchField("short_name"),
        index.AutocompleteField("short_name"),
    ]

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.slug = self.slug or slugify(self.name)
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        _check_slug_from_name(self)


class ResourceType(index.Indexed, models.Model):
    name = models.CharField(max_length=60, unique=True, help_text="Singular: Briefing, Report, …")
    plural = models.CharField(max_length=60, help_text="Briefings, Reports, …")
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    panels = [
        FieldRowPanel([FieldPanel("name"), FieldPanel("plural")]),
        FieldRowPanel([FieldPanel("slug"), FieldPanel("sort_order")]),
        FieldPanel("description"),
    ]
    search_fields = [index.SearchField("name"), index.AutocompleteField("name")]

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.slug = self.slug or slugify(self.name)
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        _check_slug_from_name(self)


class HomePage(Page):
    """The site's root page: an introduction, the themes, the newest items and a search box."""

    introduction = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = [*Page.content_panels, FieldPanel("introduction")]

    parent_page_types = ["wagtailcore.Page"]
    max_count = 1

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["themes"] = ThemePage.objects.live().public().order_by("path")
        context["newest_items"] = LibraryItemPage.objects.listing()[:6]
        context["library_index"] = LibraryIndexPage.objects.live().first()
        return context


class ThemeIndexPage(Page):
    introduction = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = [*Page.content_panels, FieldPanel("introduction")]
    parent_page_types = ["library.HomePage"]
    subpage_types = ["library.ThemePage"]
    max_count = 1

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["themes"] = ThemePage.objects.child_of(self).live().public()
        return context


class ThemePage(Page):
    """A theme ("Technology"), in the order a reader meets it: the introduction, the portal's
    discussions on the theme, its key library items, then what the organisation is doing on it
    (initiatives, and the library items on that work)."""

    introduction = RichTextField(features=["bold", "italic", "link", "ul"])
    key_items_heading = models.CharField(
        max_length=200, blank=True, help_text='Defaults to "Key library items about <theme>".'
    )
    initiatives_heading = models.CharField(
        max_length=200, blank=True, help_text='Defaults to "See what we are doing on: <theme>".'
    )

    content_panels = [
        *Page.content_panels,
        FieldPanel("introduction"),
        MultiFieldPanel(
            [
                FieldPanel("key_items_heading"),
                InlinePanel(
                    "key_item_links",
                    label="Key library item",
                    help_text="Chosen items come first; without any, the newest items show.",
                ),
            ],
            heading="Key library items",
        ),
        MultiFieldPanel(
            [
                FieldPanel("initiatives_heading"),
                InlinePanel("initiatives", label="Initiative"),
                InlinePanel(
                    "further_item_links",
                    label="Library item on this work",
                    help_text="Listed after the initiatives, in this order.",
                ),
            ],
            heading="What we are doing",
        ),
    ]
    search_fields = [*Page.search_fields, index.SearchField("introduction")]
    parent_page_types = ["library.ThemeIndexPage"]
    subpage_types = []

    @property
    def key_items_title(self):
        return self.key_items_heading or f"Key library items about {self.title.lower()}"

    @property
    def initiatives_title(self):
        return self.initiatives_heading or f"See what we are doing on: {self.title}"

    def key_items(self):
        """Editors' choice in their order, else the newest items on this theme."""
        chosen = list(
            LibraryItemPage.objects.listing()
            .filter(theme_key_links__theme=self)
            .order_by("theme_key_links__sort_order")[:KEY_ITEMS_ON_THEME]
        )
        if chosen:
            return chosen
        return list(LibraryItemPage.objects.listing().filter(themes=self)[:KEY_ITEMS_ON_THEME])

    def further_items(self):
        """The live, public items editors listed after the initiatives, in their order."""
        return list(
            LibraryItemPage.objects.listing()
            .filter(theme_further_links__theme=self)
            .order_by("theme_further_links__sort_order")
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["key_items"] = self.key_items()
        context["initiatives"] = self.initiatives.all()
        context["further_items"] = self.further_items()
        context["library_index"] = LibraryIndexPage.objects.live().first()
        context["is_member"] = portal_policy.is_member(request.user)
        context["discussions"] = portal_queries.latest_threads_for_theme(request.user, self)
        return context


class ThemeKeyItem(Orderable):
    theme = ParentalKey(ThemePage, on_delete=models.CASCADE, related_name="key_item_links")
    item = models.ForeignKey(
        "library.LibraryItemPage", on_delete=models.CASCADE, related_name="theme_key_links"
    )

    panels = [FieldPanel("item")]


class ThemeFurtherItem(Orderable):
    """A library item on what the organisation is doing on the theme, listed after the
    initiatives; an item may also be one of the theme's key items."""

    theme = ParentalKey(ThemePage, on_delete=models.CASCADE, related_name="further_item_links")
    item = models.ForeignKey(
        "library.LibraryItemPage", on_delete=models.CASCADE, related_name="theme_further_links"
    )

    panels = [FieldPanel("item")]


class ThemeInitiative(Orderable):
    theme = ParentalKey(ThemePage, on_delete=models.CASCADE, related_name="initiatives")
    title = models.CharField(max_length=200)
    description = models.TextField()
    link_url = models.URLField(blank=True)

    panels = [FieldPanel("title"), FieldPanel("description"), FieldPanel("link_url")]


class LibraryItemQuerySet(PageQuerySet):
    def listing(self):
        """Live, public items, newest first, with everything a card shows in a fixed number of
        queries, however many items there are."""
        return (
            self.live()
            .public()
            .select_related("resource_type")
            .prefetch_related(
                models.Prefetch(
                    "publisher_links",
                    queryset=LibraryItemPublisher.objects.select_related("publisher"),
                )
            )
            .order_by("-publication_date", "-pk")
        )


class LibraryIndexPage(RoutablePageMixin, Page):
    """The library: every item, newest first, with publisher and type listings and feeds."""

    introduction = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = [*Page.content_panels, FieldPanel("introduction")]
    parent_page_types = ["library.HomePage"]
    subpage_types = ["library.LibraryItemPage"]
    max_count = 1

    def paginate(self, request, items):
        # get_page reads the number itself and never fails: what int() cannot read (5,000 digits
        # included) gives the first page, a number out of range the last.
        return Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))

    def render_listing(self, request, items, heading, **extra):
        return self.render(
            request,
            context_overrides={"items": self.paginate(request, items), "heading": heading, **extra},
            template="library/item_listing.html",
        )

    @path("")
    def search(self, request):
        """The library's front door: full-text search with facets over every item."""
        context = search_page(
            request.GET,
            portal_policy.search_visibilities(request.user),
            referrer=request.headers.get("Referer", ""),
        )
        template = (
            "library/includes/search_results.html"
            if request.headers.get("X-Requested-With") == "search"
            else "library/library_index_page.html"
        )
        return self.render(request, context_overrides=context, template=template)

    @path("publishers/")
    def publishers(self, request):
        return self.render(
            request,
            context_overrides={
                "publishers": Publisher.objects.annotate(
                    item_count=models.Count(
                        "item_links",
                        # live and public: an item behind a view restriction is not counted
                        filter=models.Q(
                            item_links__page__in=LibraryItemPage.objects.live()
                            .public()
                            .values("pk")
                        ),
                    )
                ).filter(item_count__gt=0)
            },
            template="library/publisher_list.html",
        )

    @path("publishers/<slug:slug>/")
    def publisher(self, request, slug):
        publisher = get_object_or_404(Publisher, slug=slug)
        items = LibraryItemPage.objects.listing().filter(publisher_links__publisher=publisher)
        return self.render_listing(request, items, publisher.name, publisher=publisher)

    @path("types/<slug:slug>/")
    def resource_type(self, request, slug):
        resource_type = get_object_or_404(ResourceType, slug=slug)
        items = LibraryItemPage.objects.listing().filter(resource_type=resource_type)
        return self.render_listing(
            request, items, resource_type.plural, resource_type=resource_type
        )

    @path("feed/<str:kind>/")
    @path("<str:facet>/<slug:slug>/feed/<str:kind>/")
    def feed(self, request, kind, facet=None, slug=None):
        if kind not in {"rss", "atom"} or facet not in {None, "publishers", "types", "themes"}:
            raise Http404
        scope_title, items = _feed_scope(facet, slug)
        return LibraryFeed(self, kind, scope_title, items)(request)


def _feed_scope(facet, slug):
    """(title suffix, items) of a feed's facet; 404 for an unknown or unpublished value."""
    items = LibraryItemPage.objects.listing()
    if facet is None:
        return None, items
    if facet == "publishers":
        publisher = get_object_or_404(Publisher, slug=slug)
        return publisher.name, items.filter(publisher_links__publisher=publisher)
    if facet == "types":
        resource_type = get_object_or_404(ResourceType, slug=slug)
        return resource_type.plural, items.filter(resource_type=resource_type)
    theme = get_object_or_404(ThemePage.objects.live().public(), slug=slug)
    return theme.title, items.filter(themes=theme)


class LibraryItemPage(RoutablePageMixin, Page):
    """One library resource: a report, briefing, tool, guide or piece of media.

    A briefing is an item of the Briefing type: its body is written in sections, it names the
    library items it draws on, and it appears wherever items do (theme pages, search, feeds, API).
    """

    summary = models.TextField(max_length=600, help_text="Plain text, shown on cards and feeds.")
    body = StreamField(BodyBlock(), blank=True)
    resource_type = models.ForeignKey(ResourceType, on_delete=models.PROTECT, related_name="items")
    themes = ParentalManyToManyField(ThemePage, related_name="items", blank=False)
    publication_date = models.DateField()
    language = models.CharField(max_length=8, choices=LANGUAGES, default="en")
    external_url = models.URLField(
        blank=True, help_text="For items hosted elsewhere: where to read or download them."
    )

    objects = PageManager.from_queryset(LibraryItemQuerySet)()

    api_fields = [
        APIField("summary"),
        APIField("publication_date"),
        APIField("language"),
        APIField("external_url"),
        APIField("resource_type", serializer=serializers.CharField(source="resource_type.name")),
        APIField("publishers", serializer=serializers.ListField(source="publisher_names")),
        APIField("themes", serializer=serializers.ListField(source="theme_titles")),
        APIField("sections", serializer=serializers.ListField(source="section_headings")),
    ]

    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        MultiFieldPanel(
            [
                InlinePanel("publisher_links", label="Publisher", min_num=1),
                FieldPanel("resource_type"),
                FieldPanel("themes", widget=forms.CheckboxSelectMultiple),
                FieldRowPanel([FieldPanel("publication_date"), FieldPanel("language")]),
                FieldPanel("external_url"),
            ],
            heading="Catalogue details",
        ),
        FieldPanel("body"),
        InlinePanel("attachments", label="Attached document"),
        InlinePanel(
            "related_item_links",
            label="Related library item",
            heading="Related library items",
            help_text="Shown first under “Related items”; the search engine suggests the rest.",
        ),
    ]
    search_fields = [
        *Page.search_fields,
        index.SearchField("summary"),
        index.SearchField("body"),
        index.FilterField("resource_type"),
        index.FilterField("publication_date"),
        index.RelatedFields("resource_type", [index.SearchField("name")]),
    ]
    parent_page_types = ["library.LibraryIndexPage"]
    subpage_types = []

    class Meta:
        indexes = [models.Index(fields=["publication_date"])]

    def clean(self):
        super().clean()
        if self.slug in LIBRARY_ROUTES:
            raise ValidationError(
                {"slug": f"“{self.slug}” is a library address of its own; choose another slug."}
            )

    @cached_property
    def publishers(self):
        return [link.publisher for link in self.publisher_links.all()]

    @property
    def publisher_names(self):
        return [publisher.name for publisher in self.publishers]

    @property
    def theme_titles(self):
        # The API's queryset prefetches the live, public themes (library/api.py).
        themes = getattr(self, "public_themes", None)
        if themes is None:
            themes = self.themes.live().public().order_by("path")
        return [theme.title for theme in themes]

    @property
    def sections(self):
        """(anchor id, heading) of each section of the body, in order."""
        return [
            (block.id, block.value["heading"])
            for block in self.body
            if block.block_type == "section"
        ]

    @property
    def section_headings(self):
        return [heading for _, heading in self.sections]

    def related_items(self, user, limit=4):
        """The items the editors chose, then those most like this one as the search engine judges
        them (more-like-this on OpenSearch/Elasticsearch, term overlap on the database)."""
        # Read from the page's own links, so a preview shows the links being edited.
        chosen_ids = [link.item_id for link in self.related_item_links.all()]
        live = LibraryItemPage.objects.listing().in_bulk(chosen_ids)
        chosen = [live[pk] for pk in chosen_ids if pk in live and pk != self.pk]
        wanted = max(limit - len(chosen), 0)
        if not wanted:
            return chosen
        source = registry.source_of(self)
        visibilities = portal_policy.search_visibilities(user)
        ids = source.ids_in(
            service.related_keys(source.key(self.pk), visibilities, wanted + len(chosen))
        )
        found = LibraryItemPage.objects.listing().in_bulk(ids)
        taken = {item.pk for item in chosen}
        suggested = [found[pk] for pk in ids if pk in found and pk not in taken]
        return chosen + suggested[:wanted]

    @path("cite/<str:style>/")
    def cite(self, request, style):
        """The item's citation as a file for reference managers (RIS, BibTeX, CSL-JSON)."""
        return citations.download(self, request, style)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["attachments"] = self.attachments.select_related("document")
        context["item_themes"] = self.themes.live().public()
        context["related_items"] = self.related_items(request.user)
        context["library_index"] = self.get_parent().specific
        context["citation"] = citations.Citation.of(self, request)
        return context


class LibraryItemPublisher(Orderable):
    page = ParentalKey(LibraryItemPage, on_delete=models.CASCADE, related_name="publisher_links")
    publisher = models.ForeignKey(Publisher, on_delete=models.PROTECT, related_name="item_links")

    panels = [FieldPanel("publisher")]

    class Meta(Orderable.Meta):
        unique_together = [("page", "publisher")]


class LibraryItemDocument(Orderable):
    page = ParentalKey(LibraryItemPage, on_delete=models.CASCADE, related_name="attachments")
    document = models.ForeignKey(
        "wagtaildocs.Document", on_delete=models.PROTECT, related_name="library_attachments"
    )
    label = models.CharField(max_length=200, blank=True, help_text="Defaults to the title.")

    panels = [FieldPanel("document"), FieldPanel("label")]

    @property
    def display_label(self):
        return self.label or self.document.title


class LibraryItemRelated(Orderable):
    """A library item the editors name as related to another (a briefing's sources, say)."""

    page = ParentalKey(LibraryItemPage, on_delete=models.CASCADE, related_name="related_item_links")
    item = models.ForeignKey(
        LibraryItemPage, on_delete=models.CASCADE, related_name="related_from_links"
    )

    panels = [FieldPanel("item")]

    class Meta(Orderable.Meta):
        unique_together = [("page", "item")]

"""Content changes that must reach the search index, all funnelled into indexing.record_change."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from wagtail.models import Page, PageViewRestriction
from wagtail.signals import page_published, page_unpublished, post_page_move

from library.models import LibraryItemPage, Publisher, ResourceType, ThemePage
from portal.models import Category, Thread
from search.documents import item_key, key_for, theme_key, thread_key
from search.indexing import record_change
from search.models import Synonym
from search.service import synonyms_changed


def _keys_in_subtree(page):
    """Index keys of the page and every item or theme below it (URL or visibility changed), and
    of the threads carrying those themes."""
    subtree = Page.objects.descendant_of(page, inclusive=True)
    theme_ids = list(subtree.type(ThemePage).values_list("pk", flat=True))
    threads = Thread.objects.filter(category__theme__in=theme_ids).values_list("pk", flat=True)
    return [
        *(theme_key(pk) for pk in theme_ids),
        *(item_key(pk) for pk in subtree.type(LibraryItemPage).values_list("pk", flat=True)),
        *(thread_key(pk) for pk in threads),
    ]


def _theme_and_its_items(theme):
    """The theme and the items and threads carrying its slug."""
    items = LibraryItemPage.objects.filter(themes=theme).values_list("pk", flat=True)
    threads = Thread.objects.filter(category__theme=theme).values_list("pk", flat=True)
    return [
        theme_key(theme.pk),
        *(item_key(pk) for pk in items),
        *(thread_key(pk) for pk in threads),
    ]


@receiver(page_published)
@receiver(page_unpublished)
def page_changed(sender, instance, **kwargs):
    if isinstance(instance, ThemePage):
        record_change(*_theme_and_its_items(instance))  # items carry the theme's slug
    elif key := key_for(instance):
        record_change(key)


@receiver(post_delete, sender=LibraryItemPage)
@receiver(post_delete, sender=ThemePage)
def page_deleted(sender, instance, **kwargs):
    record_change(key_for(instance))


@receiver(post_page_move)
def page_moved(sender, instance, **kwargs):
    record_change(*_keys_in_subtree(instance))


@receiver(post_save, sender=PageViewRestriction)
@receiver(post_delete, sender=PageViewRestriction)
def page_restriction_changed(sender, instance, **kwargs):
    record_change(*_keys_in_subtree(instance.page))


@receiver(post_save, sender=Publisher)
def publisher_changed(sender, instance, created, **kwargs):
    if not created:
        items = LibraryItemPage.objects.filter(publisher_links__publisher=instance)
        record_change(*(item_key(pk) for pk in items.values_list("pk", flat=True)))


@receiver(post_save, sender=ResourceType)
def resource_type_changed(sender, instance, created, **kwargs):
    if not created:
        items = LibraryItemPage.objects.filter(resource_type=instance)
        record_change(*(item_key(pk) for pk in items.values_list("pk", flat=True)))


@receiver(post_save, sender=Category)
def category_changed(sender, instance, created, **kwargs):
    """Its audience decides who finds its threads, and its theme is theirs."""
    if not created:
        threads = Thread.objects.filter(category=instance).values_list("pk", flat=True)
        record_change(*(thread_key(pk) for pk in threads))


@receiver(post_delete, sender=Thread)
def thread_deleted(sender, instance, **kwargs):
    record_change(thread_key(instance.pk))


@receiver(post_save, sender=Synonym)
@receiver(post_delete, sender=Synonym)
def synonyms_edited(sender, **kwargs):
    synonyms_changed()

"""Editors' synonym changes reach the queries at once. Content changes are the apps' to report:
their sources' receivers call search.record_change."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from search.models import Synonym
from search.service import synonyms_changed


@receiver(post_save, sender=Synonym)
@receiver(post_delete, sender=Synonym)
def synonyms_edited(sender, **kwargs):
    synonyms_changed()

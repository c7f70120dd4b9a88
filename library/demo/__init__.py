"""Demo content: the site as the seed Technology theme page describes it.

The content lives in content.json beside this module, so a fresh checkout needs nothing else to
show a realistic site. `load()` is idempotent: it creates what is missing and updates only what
differs, so a second run changes nothing.
"""

import json
from pathlib import Path

from django.db import transaction
from django.utils.html import escape
from wagtail.models import Page, Site

from library.models import HomePage

CONTENT_FILE = Path(__file__).with_name("content.json")


def read_content():
    return json.loads(CONTENT_FILE.read_text(encoding="utf-8"))


def paragraphs_html(paragraphs):
    return "".join(f"<p>{escape(text)}</p>" for text in paragraphs)


@transaction.atomic
def load():
    """Create or update the demo site; returns a list of what changed (empty when nothing did)."""
    content = read_content()
    changes = []
    home = _home_page(content, changes)
    _site(content["site"], home, changes)
    return changes


def _publish_if_changed(page, fields, changes):
    differing = {name: value for name, value in fields.items() if getattr(page, name) != value}
    if not differing and page.live and not page.has_unpublished_changes:
        return
    for name, value in differing.items():
        setattr(page, name, value)
    page.save_revision().publish()
    changes.append(f"published {page.title!r}")


def _home_page(content, changes):
    technology = content["themes"][0]
    fields = {
        "title": content["site"]["title"],
        "introduction": paragraphs_html(technology["introduction"]),
    }
    # Wagtail's first migration leaves a placeholder "Welcome" page (slug "home"); the demo site
    # replaces it.
    for placeholder in Page.objects.filter(depth=2, content_type__model="page"):
        changes.append(f"removed placeholder page {placeholder.title!r}")
        placeholder.delete()
    home = HomePage.objects.first()
    if home is None:
        root = Page.get_first_root_node()
        home = root.add_child(instance=HomePage(slug="home", **fields))
        changes.append("created the home page")
    _publish_if_changed(home, fields, changes)
    return home


def _site(site_content, home, changes):
    site = Site.objects.filter(is_default_site=True).first()
    wanted = {
        "hostname": site_content["hostname"],
        "port": site_content["port"],
        "site_name": site_content["title"],
        "root_page_id": home.pk,
    }
    if site is None:
        Site.objects.create(is_default_site=True, **wanted)
        changes.append("created the default site")
        return
    differing = {name: value for name, value in wanted.items() if getattr(site, name) != value}
    if differing:
        for name, value in differing.items():
            setattr(site, name, value)
        site.save()
        changes.append("updated the default site")

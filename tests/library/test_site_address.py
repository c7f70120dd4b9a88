"""Served on another address (`make run PORT=8101`, or SITE_URL on a deployment), the site names
that address everywhere it gives a full URL: sitemap, API, canonical link, OpenGraph and JSON-LD."""

import json
import re
import subprocess

import pytest
from wagtail.models import Site

from library import demo
from library.models import LibraryItemPage
from tests.conftest import ROOT
from tests.library.helpers import text

pytestmark = pytest.mark.django_db

ADDRESS = "http://portal.test:8101"


def test_full_urls_follow_site_url(demo_site, client, settings):
    settings.SITE_URL = ADDRESS
    assert demo.load() == ["updated the default site"]
    site = Site.objects.get(is_default_site=True)
    assert (site.hostname, site.port) == ("portal.test", 8101)

    item = LibraryItemPage.objects.get(title="PhotoDNA")
    expected = f"{ADDRESS}/library/{item.slug}/"
    page = text(client.get(item.url))
    assert f'<link rel="canonical" href="{expected}">' in page
    assert f'<meta property="og:url" content="{expected}">' in page
    structured = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert json.loads(structured.group(1))["url"] == expected

    assert f"<loc>{expected}</loc>" in text(client.get("/sitemap.xml"))
    listing = client.get("/api/v2/items/", {"fields": "*"}).json()["items"]
    assert {entry["meta"]["html_url"].split("/library/")[0] for entry in listing} == {ADDRESS}
    every_url = " ".join([page, text(client.get("/sitemap.xml")), json.dumps(listing)])
    assert ":8000" not in every_url


def test_make_run_passes_its_port_as_the_site_address():
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8101"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "SITE_URL=http://127.0.0.1:8101 .venv/bin/python manage.py setup_demo" in plan
    assert "SITE_URL=http://127.0.0.1:8101 .venv/bin/python manage.py runserver" in plan

"""The authorisation matrix, role by role.

authorization_matrix.toml says what every URL and WebSocket route answers to each role; these tests
ask the site and compare. URLs go through Django's test client, signed in with force_login;
WebSocket routes go through the ASGI application with a real session cookie. A last test walks
the URL resolver and the WebSocket routes and fails on any route the matrix does not cover, and on
any route the matrix names that no longer exists. The expectations live only in the TOML file.
"""

import copy
import html
import json
import tomllib
from dataclasses import dataclass, field
from functools import cache as memoise
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLResolver, get_resolver, resolve

from tests.people import ROLES, make_person

MATRIX_FILE = Path(__file__).with_name("authorization_matrix.toml")
MATRIX = tomllib.loads(MATRIX_FILE.read_text(encoding="utf-8"))
HTTP_ENTRIES = MATRIX.get("http", [])
WEBSOCKET_ENTRIES = MATRIX.get("websocket", [])
REDIRECTS = MATRIX.get("redirects", {})

# Hashing a password the production way takes a good part of a second; these people never log in
# with one.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SITE_HOST = "127.0.0.1:8000"
SITE_ORIGIN = f"http://{SITE_HOST}"

THREAD_TITLE = "Classifier pilots for small platforms"
MODERATORS_THREAD_TITLE = "Escalation rota for the holiday period"


# --- The matrix as data --------------------------------------------------------------------------


def target(entry):
    if "name" in entry:
        return entry["name"]
    if "route" in entry:
        return f"route {entry['route']!r}"
    return f"group {entry.get('group')!r}"


def http_cases():
    for number, entry in enumerate(HTTP_ENTRIES):
        method = entry.get("method", "GET")
        for path in entry.get("paths", []):
            for role in ROLES:
                label = f"http{number}-{target(entry)}-{method}-{path}-{role}"
                yield pytest.param(entry, path, role, id=label)


def expectation(entry, role):
    """(status, Location template or None) for an HTTP entry and role."""
    value = entry["expect"][role]
    if isinstance(value, int):
        return value, None
    status, _, where = value.partition(" ")
    return int(status), (REDIRECTS.get(where, where) or None)


def fill(template, values):
    return template.format_map(values)


# --- Routes as Django knows them -----------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str
    name: str | None
    groups: tuple = field(default=())  # the full routes of the includes it sits in


def walk(resolver, prefix="", namespaces=(), groups=()):
    """Every URL pattern under the resolver, with its full route, namespaced name and includes."""
    for pattern in resolver.url_patterns:
        route = URLResolver._join_route(prefix, str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            yield from walk(pattern, route, inner, (*groups, route))
        else:
            name = ":".join((*namespaces, pattern.name)) if pattern.name else None
            yield Route(route, name, groups)


@memoise
def url_routes():
    return tuple(walk(get_resolver()))


def include_routes():
    return {group for route in url_routes() for group in route.groups}


def websocket_names():
    from portal.routing import websocket_urlpatterns

    return [pattern.name for pattern in websocket_urlpatterns]


def check_resolves(entry, path):
    """A sample must reach the route its entry is about, not some catch-all behind it."""
    match = resolve(path)
    if "name" in entry:
        assert match.view_name == entry["name"], f"{path} resolves to {match.view_name}"
    elif "route" in entry:
        assert match.route == entry["route"], f"{path} resolves to {match.route!r}"
    else:
        inside = {r.route for r in url_routes() if entry["group"] in r.groups}
        assert match.route in inside, f"{path} resolves to {match.route!r}, outside the group"


# --- The people and things the samples refer to ---------------------------------------------------


@dataclass
class World:
    people: dict
    values: dict
    cookies: dict = field(default_factory=dict)  # a signed-in session per role, made once

    def client(self, role):
        client = Client()
        if role == "anonymous":
            return client
        if role not in self.cookies:
            client.force_login(self.people[role])
            self.cookies[role] = client.cookies
        client.cookies = copy.deepcopy(self.cookies[role])
        return client


def build_world(library):
    """One person per role, forum categories and threads (and the demo library when asked);
    returns the people and the values of the matrix's placeholders."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from library.demo.pdf import text_pdf
    from portal import alerts, notify
    from portal.actions import forum, searches
    from portal.demo import load_discussions
    from portal.models import Attachment, Category

    with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        people = {role: make_person(role) for role in ROLES if role != "anonymous"}
        author = make_person("member", name="author")
        second_moderator = make_person("moderator", name="second-moderator")
    values = {}
    if library:
        values.update(library_values())
    load_discussions()
    members_categories = Category.objects.filter(audience=Category.Audience.MEMBERS)
    category = (
        members_categories.exclude(theme=None).order_by("order").first()
        or members_categories.order_by("order").first()
    )
    moderators_category = Category.objects.filter(audience=Category.Audience.MODERATORS).first()
    member = people["member"]
    thread = forum.create_thread(
        member, category, THREAD_TITLE, "Has anyone run a classifier pilot on a small platform?"
    )
    post = thread.posts.get(number=1)
    other_post = forum.create_post(author, thread, "We did, with mixed results.")
    report = forum.report_post(author, post, "Please check the link in this post.")
    with override_settings(ATTACHMENT_SCAN="off"):
        moderators_thread = forum.create_thread(
            second_moderator,
            moderators_category,
            MODERATORS_THREAD_TITLE,
            "Who covers the queue over the holidays?",
            files=[SimpleUploadedFile("rota.pdf", text_pdf("Rota", "Who is on call."))],
        )
    with override_settings(ATTACHMENT_SCAN="off"):  # the files are ready without a scanner
        slides = forum.create_post(
            member,
            thread,
            "Happy to share our slides.",
            files=[SimpleUploadedFile("slides.pdf", text_pdf("Slides", "Classifier pilots."))],
        )
    attachment = slides.attachments.get()
    # A file whose scan waits for clamd: its post is visible, the file is served to nobody.
    pending = Attachment.objects.create(
        post=slides,
        uploader=member,
        original_name="waiting.pdf",
        size=10,
        state=Attachment.State.PENDING_SCAN,
    )
    moderators_attachment = moderators_thread.posts.get(number=1).attachments.get()
    saved_search, _ = searches.save_search(member, name="Hashing", query="q=hashing")
    values.update(
        saved_search=saved_search.pk,
        saved_search_token=alerts.unsubscribe_token(saved_search),
        category=category.slug,
        category_id=category.pk,
        moderators_category=moderators_category.slug,
        moderators_category_id=moderators_category.pk,
        thread=thread.pk,
        thread_title=THREAD_TITLE,
        thread_title_start=THREAD_TITLE[:14],
        moderators_thread=moderators_thread.pk,
        moderators_thread_title=MODERATORS_THREAD_TITLE,
        post=post.pk,
        other_post=other_post.pk,
        moderators_post=moderators_thread.posts.get(number=1).pk,
        report=report.pk,
        application=people["applicant"].membership.pk,
        other_member=author.pk,
        unsubscribe_token=notify.unsubscribe_token(member),
        attachment=attachment.pk,
        attachment_url=f"/portal/files/{attachment.pk}/slides.pdf",
        pending_attachment_url=f"/portal/files/{pending.pk}/waiting.pdf",
        moderators_attachment_url=f"/portal/files/{moderators_attachment.pk}/rota.pdf",
    )
    if library and category.theme_id:
        theme = category.theme.specific
        values.update(theme_url=theme.url, theme_slug=theme.slug)
    return World(people=people, values=values)


def library_values():
    from wagtail.models import Site

    from library import demo
    from library.models import LibraryIndexPage, LibraryItemDocument, LibraryItemPage
    from tests.library.helpers import make_document, make_item

    demo.load()
    library = LibraryIndexPage.objects.get()
    item = LibraryItemPage.objects.listing().first()
    published = (
        LibraryItemDocument.objects.filter(page__live=True).select_related("document").first()
    )
    draft_document = make_document("Draft evidence pack")
    draft_item = make_item(
        "Draft item awaiting review", publish=False, attachments=[draft_document]
    )
    return {
        "site_root": Site.objects.get(is_default_site=True).root_url,
        "library_url": library.url,
        "item_url": item.url,
        "item_id": item.pk,
        "draft_item_url": draft_item.url,
        "draft_item_id": draft_item.pk,
        "document_url": published.document.url,
        "draft_document_url": draft_document.url,
    }


@pytest.fixture(scope="class")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for all the HTTP probes, inside a transaction rolled back at the end; each probe
    runs in a savepoint of its own (the `db` fixture), so what one POST changes, no other sees."""
    media = tmp_path_factory.mktemp("media")
    with (
        override_settings(MEDIA_ROOT=str(media)),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        cache.clear()
        built = build_world(library=True)
        for role in ROLES:
            built.client(role)
        yield built
        transaction.set_rollback(True)
    cache.clear()


def send(client, entry, path, values):
    if entry.get("method", "GET") == "POST":
        data = {key: fill(str(value), values) for key, value in entry.get("data", {}).items()}
        return client.post(path, data)
    return client.get(path)


def shows(response, text, within=None):
    if within:
        return text in json.dumps(response.json()[within], ensure_ascii=False)
    body = response.content.decode(errors="replace")
    return text in body or html.escape(text) in body


def check_members_only(world, entry, role, response, path):
    rule = entry.get("members_only")
    if not rule:
        return
    text = fill(rule["text"], world.values)
    within = rule.get("within")
    reason = rule.get("skip_unless_visible")
    if role in rule["visible_to"]:
        if not shows(response, text, within):
            if reason:
                pytest.skip(f"members-only content check: {reason}")
            pytest.fail(f"{text!r} does not reach {role} at {path}")
        return
    assert not shows(response, text, within), f"{text!r} reached {role} at {path}"
    if reason and rule["visible_to"]:
        reference = send(world.client(rule["visible_to"][0]), entry, path, world.values)
        if not shows(reference, text, within):
            pytest.skip(f"members-only content check is vacuous: {reason}")


# --- HTTP -----------------------------------------------------------------------------------------


class TestHttpRoutes:
    @pytest.mark.parametrize(("entry", "path", "role"), list(http_cases()))
    def test_status(self, world, db, entry, path, role):
        cache.clear()  # rate-limit counts and Wagtail's site cache from other probes
        url = fill(path, world.values)
        query = {
            key: fill(str(value), world.values) for key, value in entry.get("query", {}).items()
        }
        full_path = f"{url}?{urlencode(query)}" if query else url
        check_resolves(entry, url)

        response = send(world.client(role), entry, full_path, world.values)

        status, location = expectation(entry, role)
        method = entry.get("method", "GET")
        assert response.status_code == status, (
            f"{method} {full_path} as {role}: expected {status}, got {response.status_code}"
            + (f" → {response['Location']}" if response.has_header("Location") else "")
        )
        if location is not None:
            # The login redirect carries the path as Django's redirect_to_login encodes it.
            wanted = fill(location, {**world.values, "path": quote(full_path, safe="/")})
            assert response["Location"] == wanted, f"{method} {full_path} as {role}"
        if role != "anonymous" and status == 200 and url.startswith("/portal/"):
            assert "no-store" in response.get("Cache-Control", ""), (
                f"{method} {full_path} as {role}: Cache-Control {response.get('Cache-Control')!r}"
            )
        check_members_only(world, entry, role, response, full_path)


# --- WebSocket ------------------------------------------------------------------------------------


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def websocket_cases():
    for number, entry in enumerate(WEBSOCKET_ENTRIES):
        for path in entry.get("paths", []):
            yield pytest.param(entry, path, id=f"ws{number}-{entry.get('name')}-{path}")


async def connects(path, cookie=None):
    from config.asgi import application

    headers = [(b"origin", SITE_ORIGIN.encode()), (b"host", SITE_HOST.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    if connected:
        await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_consumer_connections")
@pytest.mark.parametrize(("entry", "path"), list(websocket_cases()))
async def test_websocket(entry, path):
    """Every role against one route (building the people and threads once per route, since each
    transactional test starts from an empty database); all mismatches are reported together."""
    built = await sync_to_async(build_world)(library=False)
    url = fill(path, built.values)
    mismatches = []
    for role in ROLES:
        cookie = None
        if role != "anonymous":
            cookie = await sync_to_async(session_cookie)(built.people[role])
        answer = "accept" if await connects(url, cookie) else "reject"
        if answer != entry["expect"][role]:
            mismatches.append(f"{url} as {role}: expected {entry['expect'][role]}, got {answer}")
    assert not mismatches, "\n".join(mismatches)


# --- The matrix itself ----------------------------------------------------------------------------


def test_matrix_is_well_formed():
    problems = []
    for kind, entries in (("http", HTTP_ENTRIES), ("websocket", WEBSOCKET_ENTRIES)):
        for number, entry in enumerate(entries):
            where = f"{kind}[{number}] {target(entry)}"
            keys = [key for key in ("name", "group", "route") if key in entry]
            if kind == "websocket":
                keys = ["name"] if "name" in entry else []
            if len(keys) != 1:
                problems.append(f"{where}: give exactly one of name, group or route")
            if not entry.get("paths"):
                problems.append(f"{where}: no sample paths")
            expect = entry.get("expect", {})
            if set(expect) != set(ROLES):
                problems.append(f"{where}: roles {sorted(set(ROLES) ^ set(expect))} wrong")
                continue
            for role, value in expect.items():
                if kind == "websocket":
                    if value not in ("accept", "reject"):
                        problems.append(f"{where}: {role} = {value!r}")
                    continue
                try:
                    status, location = expectation(entry, role)
                except ValueError:
                    problems.append(f"{where}: {role} = {value!r} is not a status")
                    continue
                if role == "anonymous" and 300 <= status < 400 and not location:
                    problems.append(f"{where}: say where anonymous visitors are redirected")
            if entry.get("method", "GET") not in ("GET", "POST"):
                problems.append(f"{where}: method {entry['method']!r}")
            rule = entry.get("members_only")
            if rule and not set(rule.get("visible_to", ())) <= set(ROLES):
                problems.append(f"{where}: members_only names unknown roles")
    assert not problems, "\n".join(problems)


def test_matrix_covers_every_route():
    routes = url_routes()
    names = {entry["name"] for entry in HTTP_ENTRIES if "name" in entry}
    groups = {entry["group"] for entry in HTTP_ENTRIES if "group" in entry}
    unnamed = {entry["route"] for entry in HTTP_ENTRIES if "route" in entry}

    uncovered = [
        f"{route.route!r} ({route.name or 'unnamed'})"
        for route in routes
        if route.name not in names and route.route not in unnamed and not groups & set(route.groups)
    ]
    socket_names = websocket_names()
    uncovered += [
        f"WebSocket {name}"
        for name in socket_names
        if name not in {entry["name"] for entry in WEBSOCKET_ENTRIES}
    ]

    gone = [f"name {name!r}" for name in names - {route.name for route in routes}]
    gone += [f"group {group!r}" for group in groups - include_routes()]
    gone += [f"route {route!r}" for route in unnamed - {route.route for route in routes}]
    gone += [
        f"WebSocket {entry['name']!r}"
        for entry in WEBSOCKET_ENTRIES
        if entry["name"] not in socket_names
    ]
    assert not uncovered, "routes the authorisation matrix does not cover:\n" + "\n".join(uncovered)
    assert not gone, "the authorisation matrix names routes that do not exist:\n" + "\n".join(gone)

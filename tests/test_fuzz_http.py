"""No input gets a 500 over HTTP.

Hypothesis sends arbitrary query strings to every public page and arbitrary query strings and form
fields to the members' forum: text with NUL and other control characters, Unicode digits ("²",
"١٢"), numbers of 5,000 digits, repeated parameters and very long values. Every answer must be
below 500 and Django must log no server error. On the services profile the values reach
PostgreSQL, which refuses NUL in text. Explicit examples pin the cases once measured to fail.
"""

import html
import logging
import uuid
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.middleware import CleanInputMiddleware
from tests.people import make_person
from tests.search.conftest import drop_engine_index, load_indexed_library

FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
HUGE = "9" * 5000  # past Python's 4,300-digit limit for int()

# Values that were once read as numbers when they are not, or as text the database refuses.
TRAPS = [
    "²",
    "١٢",
    "١٩٩٩",
    "１２",
    "0",
    "-1",
    " 1",
    "1_000",
    "1e3",
    "2015",
    "99999999999999999999999",
    HUGE,
    "",
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\u202e",
    "x" * 5000,
    '"',
    "-",
]
text = st.one_of(
    st.sampled_from(TRAPS),
    st.text(max_size=30),  # any code point, NUL and controls among them
    st.text(alphabet=st.characters(categories=("Nd", "No", "Cc")), max_size=8),
    st.from_regex(r"\A[0-9]{1,30}\Z"),
)
values = st.one_of(text, st.lists(text, min_size=1, max_size=3))


def parameters(*names):
    """A query or form as {name: value or values}: the view's own names and arbitrary ones."""
    return st.dictionaries(st.one_of(st.sampled_from(names), text), values, max_size=6)


SEARCH_PARAMETERS = parameters(
    "q", "publisher", "type", "theme", "year_from", "year_to", "language", "sort", "page", "content"
)
PAGE_PARAMETERS = parameters("page", "p", "q", "next", "limit", "offset")


# --- The site under test -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The indexed demo library and a forum thread by a member, who has a notification from
    another member's reply, and a member of staff (a moderator too); built once in a transaction
    rolled back at the end. Each test runs in a savepoint of its own (`db`)."""
    index = {**django_settings.SEARCH, "INDEX": f"test-{uuid.uuid4().hex[:10]}"}
    with (
        override_settings(
            MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
            SEARCH=index,
            # Room for every example's post, none held for approval.
            PORTAL_POST_RATE=(100_000, 60),
            PORTAL_HOLD_FIRST_POSTS=0,
        ),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        yield build_world()
        transaction.set_rollback(True)
        drop_engine_index()


def build_world():
    from library.models import LibraryItemPage, Publisher, ResourceType, ThemeIndexPage, ThemePage
    from portal.actions import forum
    from portal.models import Category, Notification

    load_indexed_library()
    member = make_person("member", "fuzzmember")
    other = make_person("member", "fuzzother")
    staff = make_person("staff", "fuzzstaff")
    category = Category.objects.create(name="Fuzzing", slug="fuzzing")
    thread = forum.create_thread(member, category, "A thread", "The first post.")
    reply = forum.create_post(other, thread, "A reply that notifies the author.")
    assert Notification.objects.filter(user=member).exists()
    item = LibraryItemPage.objects.listing().first()
    return {
        "member": member,
        "staff": staff,
        "thread": thread.pk,
        "post": thread.posts.get(number=1).pk,
        "reply": reply.pk,
        "other": other.pk,
        "category": category.slug,
        "item_url": item.url,
        "item_id": item.pk,
        "theme_url": ThemePage.objects.live().first().url,
        "themes_url": ThemeIndexPage.objects.live().first().url,
        "theme": ThemePage.objects.live().first().slug,
        "publisher": Publisher.objects.first().slug,
        "type": ResourceType.objects.first().slug,
    }


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def member_client(world, db):
    return signed_in(world["member"])


@pytest.fixture
def staff_client(world, db):
    return signed_in(world["staff"])


def server_errors(caplog):
    return [
        record
        for record in caplog.records
        if record.name == "django.request" and record.levelno >= logging.ERROR
    ]


def answered(response, caplog):
    """Checks one exchange: an answer below 500 and no server traceback in the log."""
    assert response.status_code < 500, response.status_code
    assert not server_errors(caplog), [record.getMessage() for record in server_errors(caplog)]
    return response


def get(client, path, query, caplog):
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="django.request"):
        return answered(client.get(path, query), caplog)


def post(client, path, form, form_encoded, caplog):
    """POSTs the form as multipart (the test client's default) or URL-encoded, as browsers do."""
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="django.request"):
        if form_encoded:
            response = client.post(
                path, urlencode(form, doseq=True), "application/x-www-form-urlencoded"
            )
        else:
            response = client.post(path, form)
        return answered(response, caplog)


# --- Public pages --------------------------------------------------------------------------------

SEARCHING_PAGES = [
    "/library/",
    "/api/search/",
    "/library/feed/rss/",
    "/library/themes/{theme}/feed/atom/",
]
# Autocomplete and the API's listing have tests of their own below.
OTHER_PUBLIC_PAGES = [
    "/",
    "/library/publishers/",
    "/library/publishers/{publisher}/",
    "/library/publishers/{publisher}/feed/rss/",
    "/library/types/{type}/",
    "{themes_url}",
    "{theme_url}",
    "{item_url}",
    "/api/v2/items/{item_id}/",
    "/sitemap.xml",
]


@pytest.mark.parametrize("page", SEARCHING_PAGES)
@FUZZ
@given(query=SEARCH_PARAMETERS)
def test_search_pages_answer_any_query(world, db, caplog, page, query):
    get(Client(), page.format_map(world), query, caplog)


@pytest.mark.parametrize("page", OTHER_PUBLIC_PAGES)
@FUZZ
@given(query=PAGE_PARAMETERS)
def test_public_pages_answer_any_query(world, db, caplog, page, query):
    get(Client(), page.format_map(world), query, caplog)


@FUZZ
@given(query=parameters("q"))
def test_search_autocomplete_answers_any_text(world, db, caplog, query):
    response = get(Client(), "/api/search/autocomplete/", query, caplog)
    assert response.status_code == 200


@FUZZ
@given(
    query=parameters(
        "limit", "offset", "order", "fields", "search", "id", "child_of", "type", "html_path"
    )
)
def test_library_api_answers_any_query(world, db, caplog, query):
    get(Client(), "/api/v2/items/", query, caplog)
    get(Client(), "/api/v2/items/find/", query, caplog)


def test_a_lone_quote_in_the_api_search_is_read_as_a_space(world, db, caplog):
    """Wagtail passed it to SQLite's full-text query, which answered "unterminated string"."""
    for search in ['"', 'encryption"', '"end to end', '"""']:
        response = get(Client(), "/api/v2/items/", {"search": search}, caplog)
        assert response.status_code == 200, search
    titles = [
        item["title"]
        for item in get(Client(), "/api/v2/items/", {"search": 'encryption"'}, caplog).json()[
            "items"
        ]
    ]
    assert any("ncryption" in title for title in titles), titles


@FUZZ
@given(number=st.one_of(st.from_regex(r"\A[0-9]{1,40}\Z"), st.just(HUGE)))
def test_ids_in_paths_of_any_length_are_not_found(world, member_client, caplog, number):
    for path in (
        f"/api/v2/items/{number}/",
        f"/documents/{number}/report.pdf",
        f"/portal/t/{number}/",
        f"/portal/p/{number}/",
    ):
        get(member_client, path, {}, caplog)


# --- The members' forum --------------------------------------------------------------------------


@FUZZ
@given(query=parameters("page"), form=parameters("id", "next"), form_encoded=st.booleans())
def test_notifications_answer_any_input(world, member_client, caplog, query, form, form_encoded):
    get(member_client, "/portal/notifications/", query, caplog)
    post(member_client, "/portal/notifications/", form, form_encoded, caplog)


@FUZZ
@given(query=parameters("quote", "page"))
def test_thread_page_answers_any_quote_and_page(world, member_client, caplog, query):
    response = get(member_client, f"/portal/t/{world['thread']}/", query, caplog)
    assert response.status_code == 200


@FUZZ
@given(query=parameters("page"))
def test_category_page_answers_any_page(world, member_client, caplog, query):
    get(member_client, f"/portal/c/{world['category']}/", query, caplog)


@FUZZ
@given(query=parameters("q"))
def test_member_autocomplete_answers_any_text(world, member_client, caplog, query):
    response = get(member_client, "/portal/members/autocomplete/", query, caplog)
    assert response.status_code == 200


@FUZZ
@given(form=parameters("title", "source", "idempotency_key"), form_encoded=st.booleans())
def test_new_thread_form_answers_any_input(world, member_client, caplog, form, form_encoded):
    post(member_client, f"/portal/c/{world['category']}/new/", form, form_encoded, caplog)


@FUZZ
@given(
    query=parameters("quote", "page"),
    form=parameters("source", "quoted", "idempotency_key"),
    form_encoded=st.booleans(),
)
def test_reply_form_answers_any_input(world, member_client, caplog, query, form, form_encoded):
    path = f"/portal/t/{world['thread']}/reply/"
    post(member_client, f"{path}?{urlencode(query, doseq=True)}", form, form_encoded, caplog)


MEMBER_FORMS = {
    "/portal/preview/": ("source",),
    "/portal/p/{post}/edit/": ("source",),
    "/portal/p/{reply}/report/": ("reason",),
    "/portal/follow/thread/{thread}/": ("follow", "next"),
    "/portal/account/": (
        "profile-display_name",
        "profile-organisation",
        "profile-bio",
        "prefs-email_frequency",
        "prefs-notify_replies",
        "prefs-notify_mentions",
    ),
}


@pytest.mark.parametrize(("page", "names"), MEMBER_FORMS.items())
@FUZZ
@given(data=st.data(), form_encoded=st.booleans())
def test_members_forms_answer_any_input(
    world, member_client, caplog, page, names, data, form_encoded
):
    form = data.draw(parameters(*names))
    post(member_client, page.format_map(world), form, form_encoded, caplog)


# What each moderation form may do; its "operation" is only ever compared with these names, so
# the fuzzing goes into the other fields.
MODERATION_FORMS = {
    "/portal/t/{thread}/moderate/": ["lock", "unlock", "pin", "unpin", "move", "merge"],
    "/portal/p/{reply}/moderate/": ["hide", "restore"],
    "/portal/moderation/members/{other}/": ["role", "suspend", "unsuspend"],
}


@pytest.mark.parametrize(("page", "operations"), MODERATION_FORMS.items())
@FUZZ
@given(data=st.data(), form_encoded=st.booleans())
def test_moderation_forms_answer_any_input(
    world, staff_client, caplog, page, operations, data, form_encoded
):
    form = data.draw(parameters("category", "target", "reason", "role", "next"))
    form["operation"] = data.draw(st.sampled_from([*operations, "", "\x00"]))
    post(staff_client, page.format_map(world), form, form_encoded, caplog)


@pytest.mark.parametrize("page", ["/portal/moderation/members/", "/portal/moderation/audit/"])
@FUZZ
@given(query=parameters("q", "action", "page"))
def test_moderation_lists_answer_any_query(world, staff_client, caplog, page, query):
    assert get(staff_client, page, query, caplog).status_code == 200


# --- The cases measured to fail, one by one ------------------------------------------------------


def search_page(client, query, caplog):
    response = get(client, "/library/", query, caplog)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


@pytest.mark.parametrize("page", ["²", "١٢", HUGE, "0", "abc"])
def test_search_page_shows_the_first_page_for_a_page_number_that_is_none(world, db, caplog, page):
    shown = search_page(Client(), {"q": "online", "page": page}, caplog)
    assert "The page number was not valid; showing the first page." in shown


@pytest.mark.parametrize("year", ["١٩٩٩", "²", HUGE])
def test_search_page_ignores_a_year_that_is_no_number(world, db, caplog, year):
    shown = search_page(Client(), {"year_from": year}, caplog)
    assert f"The year {year[:10]!r} was ignored: use four digits." in shown


def test_search_page_drops_nul_from_the_query(world, db, caplog):
    shown = search_page(Client(), {"q": "encryp\x00tion"}, caplog)
    assert "End-To-End Encryption" in shown


@pytest.mark.parametrize("page", ["²", HUGE])
def test_search_api_corrects_a_page_number_that_is_none(world, db, caplog, page):
    response = get(Client(), "/api/search/", {"page": page}, caplog)
    assert response.status_code == 200
    assert response.json()["page"] == 1
    assert response.json()["notices"] == ["The page number was not valid; showing the first page."]


def test_search_api_drops_nul_from_the_query(world, db, caplog):
    response = get(Client(), "/api/search/", {"q": "end\x00 to end"}, caplog)
    assert response.json()["query"] == "end to end"


def test_search_autocomplete_drops_nul(world, db, caplog):
    response = get(Client(), "/api/search/autocomplete/", {"q": "encry\x00"}, caplog)
    assert response.status_code == 200
    assert "suggestions" in response.json()


def test_library_api_refuses_an_id_to_find_that_is_none(world, db, caplog):
    response = get(Client(), "/api/v2/items/find/", {"id": "²"}, caplog)
    assert response.status_code == 400
    found = get(Client(), "/api/v2/items/find/", {"id": world["item_id"]}, caplog)
    assert found.status_code == 302


@pytest.mark.parametrize(
    "path",
    [
        "/portal/t/99999999999999999999999/",
        f"/portal/t/{HUGE}/",
        "/api/v2/items/99999999999999999999999/",
        f"/documents/{HUGE}/report.pdf",
    ],
)
def test_an_id_too_long_for_the_database_is_not_found(world, member_client, caplog, path):
    assert get(member_client, path, {}, caplog).status_code == 404


@pytest.mark.parametrize("notification_id", ["²", HUGE, "99999999999999999999999"])
def test_marking_notifications_read_ignores_ids_that_are_none(
    world, member_client, caplog, notification_id
):
    from portal.models import Notification

    response = post(member_client, "/portal/notifications/", {"id": notification_id}, True, caplog)
    assert response.status_code == 302
    assert Notification.objects.filter(user=world["member"], read_at__isnull=True).exists()


@pytest.mark.parametrize("quote", ["abc", "²", HUGE])
def test_thread_page_ignores_a_quote_that_is_no_post(world, member_client, caplog, quote):
    path = f"/portal/t/{world['thread']}/"

    def prefilled(query):
        response = get(member_client, path, query, caplog)
        assert response.status_code == 200
        return response.context["form"]["source"].value() or ""

    assert "A reply that notifies the author." not in prefilled({"quote": quote})
    assert "A reply that notifies the author." in prefilled({"quote": world["reply"]})


def test_member_autocomplete_drops_nul(world, member_client, caplog):
    response = get(member_client, "/portal/members/autocomplete/", {"q": "fuzz\x00oth"}, caplog)
    assert [member["handle"] for member in response.json()["members"]] == ["fuzzother"]


def test_a_session_cookie_with_nul_is_no_session(world, db, caplog):
    """Django decodes "\\000" in a quoted cookie to NUL, and looks the session key up."""
    client = Client(headers={"cookie": f'{django_settings.SESSION_COOKIE_NAME}="\\000abcdefgh"'})
    assert get(client, "/library/", {}, caplog).status_code == 200


# --- Cleaning where text comes in ----------------------------------------------------------------


def as_the_view_sees(request):
    seen = []
    CleanInputMiddleware(lambda request: seen.append(request) or HttpResponse())(request)
    return seen[0]


def test_form_fields_are_cleaned_and_uploads_left_as_they_came():
    upload = SimpleUploadedFile("evidence.bin", b"\x00\x01raw\x00")
    request = as_the_view_sees(
        RequestFactory().post("/?q=a%00b", {"source": "a\x00b\r\n", "file": upload})
    )
    assert request.GET["q"] == "ab"
    assert request.POST["source"] == "ab\r\n"
    assert request.FILES["file"].read() == b"\x00\x01raw\x00"
    assert not request.POST._mutable  # read-only, as views expect


def test_names_that_differ_only_in_controls_merge():
    request = as_the_view_sees(RequestFactory().get("/", {"page": "1", "page\x00": "2"}))
    assert request.GET.getlist("page") == ["1", "2"]


def test_clean_input_is_handed_on_as_it_is():
    request = RequestFactory().get("/", {"q": "café", "page": "2"})
    query = request.GET
    assert as_the_view_sees(request).GET is query

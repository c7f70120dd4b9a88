"""Chromium in the portal's forum: two members in two browsers see each other's replies, typing and
presence live; a reader whose connection drops catches up without reloading; a moderator hides a
post and the member viewing it sees the notice; the plain form works without JavaScript; the
Markdown preview and @mention suggestions; axe-core on every portal page type at two widths
(with screenshots); and refusals: a reply over the length limit is stopped on the page, a reply
the server refuses is never sent again, and a server that closes every connection at once is
tried less and less often."""

import itertools
import json
import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import SCREENSHOTS, WIDTHS, check_at_both_widths

pytestmark = pytest.mark.browser

ROLES = ("member", "moderator", "staff", "applicant")
LIVE = 5_000  # ms: how long a live update may take to show
PRESENCE = re.compile(r"^\d+ members? viewing$")
TECHNOLOGY_THREAD = "How are you responding to end-to-end encrypted messaging?"


def sign_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture(scope="module")
def signed_in(browser, running_site):
    """Each demo account signs in once through the login form; tests reuse its cookies."""
    states = {}
    for role in ROLES:
        context = browser.new_context(base_url=running_site.url)
        sign_in(context.new_page(), f"{role}@example.org", f"demo-{role}-portal")
        states[role] = context.storage_state()
        context.close()
    return states


@pytest.fixture
def open_as(browser, running_site, signed_in):
    """A new page in a browser context of its own, signed in as `role` (None: a visitor)."""
    contexts = []

    def open_page(role=None, **options):
        context = browser.new_context(
            base_url=running_site.url,
            storage_state=signed_in[role] if role else None,
            **options,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def unique(text):
    return f"{text} {uuid.uuid4().hex[:8]}"


def start_thread(page, title, text):
    """Start a thread in Introductions (no theme, so theme pages stay as other tests expect);
    the page is left on the new thread."""
    page.goto("/portal/c/introductions/new/")
    page.get_by_label("Title").fill(title)
    page.get_by_label("First post").fill(text)
    page.get_by_role("button", name="Start thread").click()
    expect(page.locator("h1")).to_have_text(title)
    return page.url


def wait_until_live(page):
    """The thread's socket has resumed once the server has told it who is viewing."""
    expect(page.locator("[data-presence]")).to_have_text(PRESENCE)


def open_thread(page, url):
    page.goto(url)
    wait_until_live(page)
    # Anything that reloads the page drops this marker.
    page.evaluate("window.stillTheSamePage = true")


def not_reloaded(page):
    assert page.evaluate("window.stillTheSamePage === true"), f"{page.url} was reloaded"


def reply_live(page, text):
    box = page.get_by_label("Your post")
    box.fill(text)
    page.get_by_role("button", name="Post reply").click()
    expect(box).to_have_value("")  # cleared once the server says it is posted


def post_bodies(page):
    return page.locator("[data-post-list] > article.post .post__body")


def socket_messages(page):
    """What the page sends on its thread socket, collected as it goes."""
    sent = []

    def watch(socket):
        if "/ws/threads/" in socket.url:
            socket.on("framesent", lambda payload: sent.append(payload))

    page.on("websocket", watch)
    return sent


class Connection:
    """A page's WebSockets, carried through Playwright so the test can drop them.

    Chromium keeps open WebSockets working under `context.set_offline(True)` (Playwright issue
    4910): going offline stops new requests, but the sockets must be closed here, both sides, and
    reconnection attempts refused until the connection is back.
    """

    def __init__(self, page):
        self.context = page.context
        self.online = True
        self.routes = []
        page.route_web_socket("**/ws/**", self.route)

    def route(self, socket):
        if not self.online:
            socket.close()
            return
        self.routes.append((socket, socket.connect_to_server()))

    def cut(self):
        self.online = False
        self.context.set_offline(True)
        for page_side, server_side in self.routes:
            page_side.close()
            server_side.close()
        self.routes.clear()

    def restore(self):
        self.online = True
        self.context.set_offline(False)


def test_a_reply_appears_live_for_the_other_member(open_as):
    moderator = open_as("moderator")
    url = start_thread(moderator, unique("Live replies"), "Who is here?")
    wait_until_live(moderator)
    moderator.evaluate("window.stillTheSamePage = true")
    member = open_as("member")
    sent = socket_messages(member)
    open_thread(member, url)

    text = unique("Hello from the member")
    reply_live(member, text)

    new_post = moderator.locator("article.post", has_text=text)
    expect(new_post).to_be_visible(timeout=LIVE)
    expect(new_post.locator(".post__by strong")).to_have_text("Demo member")
    expect(moderator.locator("[data-announcer]")).to_have_text("New post by Demo member.")
    expect(member.locator("article.post", has_text=text)).to_be_visible(timeout=LIVE)
    # It went over the socket, not as a form post: neither page reloaded.
    assert any('"type":"post"' in frame and text in frame for frame in sent), sent
    not_reloaded(member)
    not_reloaded(moderator)
    # The author's own controls are shown to the author only.
    expect(
        member.locator("article.post", has_text=text).get_by_role("link", name=re.compile("^Edit"))
    ).to_be_visible()
    expect(new_post.get_by_role("link", name=re.compile("^Edit"))).to_be_hidden()


def test_a_dropped_connection_catches_up_in_order(open_as):
    reader = open_as("moderator")
    connection = Connection(reader)
    url = start_thread(reader, unique("Dropped connection"), "Read this on a train.")
    wait_until_live(reader)
    reader.evaluate("window.stillTheSamePage = true")
    writer = open_as("member")
    open_thread(writer, url)

    connection.cut()
    status = reader.locator("[data-live-status]")
    expect(status).to_contain_text("Live updates paused")
    first, second = unique("First while away"), unique("Second while away")
    reply_live(writer, first)
    reply_live(writer, second)
    expect(post_bodies(writer)).to_have_count(3)
    expect(post_bodies(reader)).to_have_count(1)

    connection.restore()
    expect(post_bodies(reader)).to_have_count(3, timeout=10_000)
    expect(post_bodies(reader)).to_have_text(["Read this on a train.", first, second])
    expect(status).to_be_hidden()
    expect(status).to_have_text("")
    not_reloaded(reader)


def test_a_hidden_post_disappears_for_members_and_stays_for_moderators(open_as):
    moderator = open_as("moderator")
    url = start_thread(moderator, unique("Hiding"), "Keep it kind, please.")
    wait_until_live(moderator)
    member = open_as("member")
    open_thread(member, url)
    text = unique("A reply that breaks the rules")
    reply_live(member, text)

    # The moderator uses the Hide form of the post as it arrived live.
    post = moderator.locator("#post-2")
    expect(post).to_contain_text(text, timeout=LIVE)
    post.get_by_label("Reason for hiding post 2").fill("Breaks the code of conduct")
    post.get_by_role("button", name="Hide post 2").click()

    expect(moderator).to_have_url(re.compile(r"#post-2$"))
    post = moderator.locator("#post-2")
    expect(post.locator(".badge")).to_have_text("Hidden: Breaks the code of conduct")
    expect(post.locator(".post__body")).to_have_text(text)
    expect(post.get_by_role("button", name="Restore post 2")).to_be_visible()

    hidden = member.locator("#post-2")
    expect(hidden.locator(".post__notice")).to_have_text(
        "This post was hidden by a moderator.", timeout=LIVE
    )
    expect(hidden).not_to_contain_text(text)
    expect(hidden.locator(".badge")).to_have_count(0)
    expect(member.locator("#post-1")).to_contain_text("Keep it kind, please.")
    not_reloaded(member)


def test_typing_indicator(open_as):
    moderator = open_as("moderator")
    url = start_thread(moderator, unique("Typing"), "Anyone around?")
    wait_until_live(moderator)
    member = open_as("member")
    open_thread(member, url)

    member.get_by_label("Your post").press_sequentially("I am writing")
    expect(moderator.locator("[data-typing]")).to_have_text(
        re.compile("Demo member is typing…"), timeout=LIVE
    )
    expect(member.locator("[data-typing]")).to_have_text("")  # not told about oneself

    # The post ends "is typing…" as it arrives, well before the indicator would time out.
    member.get_by_role("button", name="Post reply").click()
    expect(moderator.locator("#post-2")).to_contain_text("I am writing", timeout=LIVE)
    expect(moderator.locator("[data-typing]")).to_have_text("", timeout=1_000)


def test_presence_counts_members_who_arrive_together(open_as):
    moderator = open_as("moderator")
    url = start_thread(moderator, unique("Presence"), "Who is reading?")
    member = open_as("member")
    moderator.goto("/portal/")
    member.goto("/portal/")
    # Both open the thread at the same moment, as two people following one link do.
    moderator.goto(url, wait_until="commit")
    member.goto(url, wait_until="commit")
    for page in (moderator, member):
        expect(page.locator("[data-presence]")).to_have_text("2 members viewing", timeout=LIVE)

    # A second tab of the same member is still two members.
    second_tab = member.context.new_page()
    open_thread(second_tab, url)
    expect(second_tab.locator("[data-presence]")).to_have_text("2 members viewing")

    second_tab.close()
    member.close()
    expect(moderator.locator("[data-presence]")).to_have_text("1 member viewing", timeout=LIVE)


def test_replying_without_javascript(open_as):
    moderator = open_as("moderator")
    url = start_thread(moderator, unique("No script"), "Plain forms work too.")
    page = open_as("member", java_script_enabled=False)
    page.goto(url)
    box = page.get_by_label("Your post")
    text = unique("Posted by a plain form")
    box.fill(text)
    page.get_by_role("button", name="Post reply").click()
    expect(page).to_have_url(re.compile(r"\?page=1#post-2$"))
    expect(page.locator("#post-2")).to_contain_text(text)

    page.get_by_role("button", name="Post reply").click()
    error = page.locator("#reply .errorlist")
    expect(error).to_have_text("Please write something before posting.")
    expect(box).to_have_attribute("aria-invalid", "true")

    # The browser stops typing at the limit; a client that does not must still be told.
    too_long = "x" * 20_001
    box.evaluate("textarea => textarea.removeAttribute('maxlength')")
    box.fill(too_long)
    page.get_by_role("button", name="Post reply").click()
    expect(error).to_contain_text(re.compile(r"20,?000"))
    assert box.input_value() == too_long  # nothing typed is lost
    expect(page.locator("article.post")).to_have_count(2)


def test_markdown_preview_and_mention_suggestions(open_as):
    page = open_as("member")
    page.goto("/portal/c/technology/")
    page.get_by_role("link", name="Hash matching tools: what do you use?").click()
    box = page.get_by_label("Your post")
    # The editor's script adds the Preview button: wait for it before typing. It sits beside
    # "Post reply", not above it.
    expect(page.get_by_role("button", name="Preview")).to_be_visible()
    preview_box = page.get_by_role("button", name="Preview").bounding_box()
    post_box = page.get_by_role("button", name="Post reply").bounding_box()
    assert abs(preview_box["y"] - post_box["y"]) < post_box["height"]
    assert preview_box["x"] + preview_box["width"] <= post_box["x"]
    box.press_sequentially("Thanks **for this**, @mod")
    suggestions = page.get_by_role("listbox", name="Members to mention")
    suggestion = suggestions.get_by_role("option", name=re.compile("^@moderator "))
    expect(suggestion).to_be_visible()
    expect(suggestion).to_have_attribute("aria-selected", "true")
    expect(suggestions.get_by_role("option")).to_have_count(1)
    box.press("Enter")
    expect(box).to_have_value("Thanks **for this**, @moderator ")
    expect(page.get_by_role("listbox", name="Members to mention")).to_be_hidden()

    page.get_by_role("button", name="Preview").click()
    preview = page.locator("[data-preview]")
    expect(preview.locator("strong")).to_have_text("for this")
    expect(preview.locator(".mention")).to_have_text("@moderator")
    expect(page.get_by_role("button", name="Hide preview")).to_have_attribute(
        "aria-expanded", "true"
    )
    page.get_by_role("button", name="Hide preview").click()
    expect(preview).to_be_hidden()
    expect(box).to_have_value("Thanks **for this**, @moderator ")


def check_page(page, name, failures):
    """One h1, a screenshot at each width, nothing serious for axe-core and no sideways scroll."""
    expect(page.locator("h1")).to_have_count(1)
    check_at_both_widths(page, f"portal-{name}", failures)


def test_portal_pages_pass_axe_at_both_widths(open_as):
    failures = {}

    member = open_as("member")
    for name, path in {
        "home": "/portal/",
        "category": "/portal/c/technology/",
        "new-thread": "/portal/c/technology/new/",
        "notifications": "/portal/notifications/",
        "profile": "/portal/account/",
    }.items():
        member.goto(path)
        check_page(member, name, failures)
    member.goto("/portal/c/technology/")
    member.get_by_role("link", name=TECHNOLOGY_THREAD).click()
    thread_url = member.url
    wait_until_live(member)
    check_page(member, "thread-member", failures)
    member.goto("/themes/technology/")
    expect(member.locator(".panel").get_by_role("link", name=TECHNOLOGY_THREAD)).to_be_visible()
    check_page(member, "theme-member", failures)

    moderator = open_as("moderator")
    moderator.goto(thread_url)
    expect(moderator.get_by_role("heading", name="Moderate this thread")).to_be_visible()
    wait_until_live(moderator)
    check_page(moderator, "thread-moderator", failures)
    moderator.goto("/portal/moderation/")
    check_page(moderator, "moderation", failures)
    moderator.get_by_role("link", name="Demo applicant").click()
    expect(moderator.locator("h1")).to_have_text("Application from Demo applicant")
    check_page(moderator, "application", failures)
    moderator.goto("/portal/moderation/members/")
    check_page(moderator, "members", failures)

    staff = open_as("staff")
    staff.goto("/portal/moderation/audit/")
    expect(staff.locator("tbody tr").first).not_to_have_text("Nothing recorded.")
    check_page(staff, "audit-log", failures)

    applicant = open_as("applicant")
    applicant.goto("/portal/apply/")
    expect(applicant.locator("h1")).to_have_text("Thank you for applying")
    check_page(applicant, "application-pending", failures)
    assert applicant.goto("/portal/").status == 403
    expect(applicant.locator("h1")).to_have_text("The discussions are for approved members")
    check_page(applicant, "not-a-member", failures)

    visitor = open_as()
    visitor.goto("/themes/technology/")
    panel = visitor.locator(".panel")
    expect(panel.get_by_role("link", name="Join the portal")).to_be_visible()
    expect(panel.locator("a[href^='/portal/t/']")).to_have_count(0)
    expect(visitor.get_by_text(TECHNOLOGY_THREAD)).to_have_count(0)
    check_page(visitor, "theme-visitor", failures)

    assert failures == {}


# --- Refusals ------------------------------------------------------------------------------------

MAX_POST_LENGTH = 20_000  # config.settings.PORTAL_MAX_POST_LENGTH, as the running site has it


class ThreadSocket:
    """Carries the thread page's WebSockets to the server through Playwright, noting what
    passes, so that a test can see every frame and drop the connection."""

    def __init__(self, page):
        self.sent = []  # what the page sent, decoded
        self.received = []  # what the server sent, decoded
        self.routes = []
        page.route_web_socket("**/ws/threads/**", self.route)

    def route(self, socket):
        server = socket.connect_to_server()
        socket.on_message(
            lambda message: (self.sent.append(json.loads(message)), server.send(message))
        )
        server.on_message(
            lambda message: (self.received.append(json.loads(message)), socket.send(message))
        )
        self.routes.append((socket, server))

    def drop(self):
        for page_side, server_side in self.routes:
            page_side.close()
            server_side.close()

    def of_type(self, frames, kind):
        return [frame for frame in frames if frame.get("type") == kind]


def test_a_reply_over_the_length_limit_is_stopped_on_the_page(open_as):
    page = open_as("member")
    connection = ThreadSocket(page)
    start_thread(page, unique("Too long"), "A short opening.")
    wait_until_live(page)
    page.evaluate("window.stillTheSamePage = true")

    too_long = "x" * (MAX_POST_LENGTH + 1)
    box = page.get_by_label("Your post")
    box.fill(too_long)
    page.get_by_role("button", name="Post reply").click()

    expect(page.locator("[data-live-error]")).to_have_text(
        "Your post is 20,001 characters long; the limit is 20,000. Please shorten it."
    )
    assert box.input_value() == too_long  # nothing typed is lost
    assert not connection.of_type(connection.sent, "post")
    for size, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 800})
        page.locator("[data-live-error]").scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / f"portal-reply-too-long-{size}.png")
    assert page.evaluate("window.stillTheSamePage === true")  # no form post either
    expect(page.locator("article.post")).to_have_count(1)


def test_a_refused_reply_is_shown_and_never_sent_again(open_as):
    page = open_as("member")
    connection = ThreadSocket(page)
    start_thread(page, unique("Refused"), "An opening.")
    wait_until_live(page)

    # Only a control character: the page sends it, the server cleans it away and refuses the
    # empty reply by its key.
    box = page.get_by_label("Your post")
    box.fill("\x07")
    page.get_by_role("button", name="Post reply").click()
    expect(page.locator("[data-live-error]")).to_have_text("Please write something before posting.")
    expect(page.get_by_role("button", name="Post reply")).to_be_enabled()
    assert box.input_value() == "\x07"
    (post,) = connection.of_type(connection.sent, "post")
    (refusal,) = connection.of_type(connection.received, "error")
    assert refusal["key"] == post["key"]

    # The connection drops and comes back: the page resumes but does not send the reply again.
    connection.drop()
    expect(page.locator("[data-live-status]")).to_contain_text("Live updates paused")
    expect(page.locator("[data-live-status]")).to_have_text("", timeout=10_000)
    deadline = time.monotonic() + 10
    while len(connection.of_type(connection.received, "caught_up")) < 2:
        assert time.monotonic() < deadline, connection.received
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)
    assert len(connection.of_type(connection.sent, "post")) == 1, connection.sent
    expect(page.locator("article.post")).to_have_count(1)


def test_a_server_that_closes_at_once_is_retried_less_and_less_often(open_as):
    page = open_as("member")
    url = start_thread(page, unique("Back-off"), "An opening.")
    attempts = []

    def close_after_resume(socket):
        # Accepted, then closed as soon as the page speaks; the fifth connection stays.
        attempts.append(time.monotonic())
        if len(attempts) < 5:
            socket.on_message(lambda message: socket.close())
        else:
            socket.connect_to_server()

    page.route_web_socket("**/ws/threads/**", close_after_resume)
    page.goto(url)
    expect(page.locator("[data-live-status]")).to_contain_text("Live updates paused")
    expect(page.locator("[data-presence]")).to_have_text(PRESENCE, timeout=15_000)
    expect(page.locator("[data-live-status]")).to_have_text("")

    waits = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert len(waits) == 4, waits
    # Half to all of 0.5 s, 1 s, 2 s and 4 s: the waits double rather than start over at each
    # connection that opened, when every wait would be at most 0.5 s. (This process hears of each
    # connection late, by up to a second on a busy machine: the fourth wait is at least 2 s.)
    assert waits[3] > 1.0, waits
    assert waits[3] > waits[0] * 2, waits

"""portal.actions.forum: threads, posts, edits and moderation: who may, what is validated and
stored, whom it tells, and that live events leave only after the commit."""

import json
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction

from portal import events, policy
from portal.actions import ActionError, forum, reading
from portal.models import Category, Follow, Notification, Post, PostRevision, Report, Thread
from tests.portal.actions.helpers import actor, audit_of, first_post, groups
from tests.portal.helpers import make_category, make_thread, person, signed_in_client

pytestmark = pytest.mark.django_db


# --- Threads and posts ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "applicant", "suspended", "editor"])
def test_only_members_start_threads_and_post(role):
    category = make_category()
    thread = make_thread(person("member"), category)
    outsider = actor(role)
    with pytest.raises(PermissionDenied):
        forum.create_thread(outsider, category, "Mine", "Text")
    with pytest.raises(PermissionDenied):
        forum.create_post(outsider, thread, "Text")
    assert Thread.objects.count() == 1
    assert Post.objects.count() == 1


def test_locked_threads_take_posts_from_moderators_only():
    moderator = person("moderator")
    thread = make_thread(person("member"))
    forum.lock_thread(moderator, thread)
    thread.refresh_from_db()
    with pytest.raises(PermissionDenied):
        forum.create_post(person("member"), thread, "Let me in")
    post = forum.create_post(moderator, thread, "Moderator's note")
    assert post.number == 2


def test_members_cannot_post_in_moderators_only_categories():
    hidden = make_category(Category.Audience.MODERATORS)
    with pytest.raises(PermissionDenied):
        forum.create_thread(person("member"), hidden, "Hi", "Text")
    thread = make_thread(person("moderator"), hidden)
    with pytest.raises(PermissionDenied):
        forum.create_post(person("member"), thread, "Text")


def test_empty_posts_and_titles_are_refused():
    member = person("member")
    thread = make_thread(member)
    with pytest.raises(ActionError) as error:
        forum.create_post(member, thread, " \r\n ")
    assert error.value.message == "Please write something before posting."
    assert error.value.field == "source"
    with pytest.raises(ActionError) as error:
        forum.create_thread(member, thread.category, "", "Text")
    assert error.value.message == "Please enter a title."
    assert Post.objects.count() == 1


def test_overlong_posts_are_refused_with_the_limit(settings):
    settings.PORTAL_MAX_POST_LENGTH = 50
    member = person("member")
    thread = make_thread(member)
    with pytest.raises(ActionError) as error:
        forum.create_post(member, thread, "x" * 51)
    assert error.value.message == (
        "Your post is 51 characters long; the limit is 50. Please shorten it."
    )
    thread.refresh_from_db()
    assert (thread.last_number, thread.last_change) == (1, 1)


def test_posts_are_sanitised_before_they_are_stored():
    member = person("member")
    thread = make_thread(member)
    source = "<script>alert(1)</script> **bold** [x](javascript:alert(2)) <img src=x onerror=y>"
    post = forum.create_post(member, thread, source)
    stored = Post.objects.get(pk=post.pk)
    assert "<script" not in stored.html
    assert "href" not in stored.html
    assert "<img" not in stored.html
    assert "<strong>bold</strong>" in stored.html
    assert stored.source == source


def test_posts_are_numbered_and_counted():
    member = person("member")
    thread = make_thread(member)
    second = forum.create_post(person("member"), thread, "Two")
    third = forum.create_post(member, thread, "Three")
    assert [(second.number, second.change), (third.number, third.change)] == [(2, 2), (3, 3)]
    thread.refresh_from_db()
    assert (thread.last_number, thread.last_change, thread.reply_count) == (3, 3, 2)


def test_mentions_notify_members_only():
    author = person("member")
    mentioned = person("member")
    applicant = person("applicant")
    thread = make_thread(author)
    post = forum.create_post(
        author, thread, f"Hello @{mentioned.username} and @{applicant.username}"
    )
    (notification,) = Notification.objects.all()
    assert (notification.user, notification.kind) == (mentioned, Notification.Kind.MENTION)
    assert (notification.post, notification.actor) == (post, author)
    assert 'class="mention"' in post.html


def test_quoting_notifies_the_quoted_author():
    quoted_author = person("member")
    thread = make_thread(quoted_author, source="Quote me")
    quoting = person("member")
    reading.unfollow(quoted_author, thread=thread)
    forum.create_post(quoting, thread, "> Quote me\n\nAgreed.", quoted=first_post(thread))
    (notification,) = Notification.objects.all()
    assert (notification.user, notification.kind) == (quoted_author, Notification.Kind.QUOTE)


def test_followers_hear_of_replies_and_authors_follow_their_threads():
    author = person("member")
    thread = make_thread(author)
    assert Follow.objects.filter(user=author, thread=thread).exists()
    replier = person("member")
    forum.create_post(replier, thread, "A reply")
    assert Follow.objects.filter(user=replier, thread=thread).exists()
    (notification,) = Notification.objects.all()
    assert (notification.user, notification.kind) == (author, Notification.Kind.REPLY)
    forum.create_post(author, thread, "Thanks")
    assert [n.user for n in Notification.objects.order_by("pk")] == [author, replier]


def test_the_same_idempotency_key_makes_one_post():
    member = person("member")
    thread = make_thread(member)
    first = forum.create_post(member, thread, "Once", idempotency_key="key-1")
    again = forum.create_post(member, thread, "Once", idempotency_key="key-1")
    assert again.pk == first.pk
    assert Post.objects.filter(thread=thread).count() == 2
    thread.refresh_from_db()
    assert thread.last_change == 2


def test_the_same_idempotency_key_starts_one_thread():
    member = person("member")
    category = make_category()
    first = forum.create_thread(member, category, "Once", "Body", idempotency_key="new-1")
    again = forum.create_thread(member, category, "Once", "Body", idempotency_key="new-1")
    assert again.pk == first.pk
    assert Thread.objects.count() == 1
    assert Post.objects.count() == 1


def test_members_posting_too_fast_are_told_the_limit(settings):
    settings.PORTAL_POST_RATE = (2, 60)
    if 60 - time.time() % 60 < 3:  # the window is fixed: start in a fresh one
        time.sleep(60 - time.time() % 60 + 0.1)
    thread = make_thread(person("moderator"))
    member = person("member")
    forum.create_post(member, thread, "One")
    forum.create_post(member, thread, "Two")
    with pytest.raises(ActionError) as error:
        forum.create_post(member, thread, "Three")
    assert "faster than 2 posts in 60 seconds" in error.value.message
    assert Post.objects.filter(author=member).count() == 2
    assert forum.create_post(person("member"), thread, "Someone else").number == 4


def test_first_posts_are_held_until_a_moderator_approves(settings, sent, committed):
    settings.PORTAL_HOLD_FIRST_POSTS = 1
    moderator = person("moderator")
    thread = make_thread(moderator)
    newcomer = person("member")
    with committed():
        post = forum.create_post(newcomer, thread, "My first words")
    assert post.state == Post.State.PENDING
    thread.refresh_from_db()
    assert thread.reply_count == 0
    assert not Notification.objects.exists()
    assert (events.MODERATION_GROUP, {"type": "queue.changed"}) in sent
    assert not policy.can_view_post(person("member"), post)
    assert policy.can_view_post(newcomer, post)

    with committed():
        forum.restore_post(moderator, post, "Fine")
    post.refresh_from_db()
    assert post.state == Post.State.VISIBLE
    thread.refresh_from_db()
    assert thread.reply_count == 1
    (event,) = audit_of("post.approved")
    assert (event.actor, event.subject) == (moderator, newcomer)
    (notification,) = Notification.objects.all()
    assert (notification.user, notification.kind) == (moderator, Notification.Kind.REPLY)
    assert forum.create_post(newcomer, thread, "Now I am known").state == Post.State.VISIBLE


def test_moderators_posts_are_never_held(settings):
    settings.PORTAL_HOLD_FIRST_POSTS = 5
    thread = make_thread(person("moderator"))
    assert first_post(thread).state == Post.State.VISIBLE


# --- Editing and deleting ------------------------------------------------------------------------


def test_edits_keep_the_previous_text(sent, committed):
    member = person("member")
    thread = make_thread(member, source="First draft")
    post = first_post(thread)
    with committed():
        edited = forum.edit_post(member, post, "Second **draft**")
    assert edited.number == 1
    assert edited.change == 2
    assert edited.edited_at is None  # within the grace period
    assert "<strong>draft</strong>" in edited.html
    (revision,) = PostRevision.objects.filter(post=post)
    assert (revision.source, revision.editor) == ("First draft", member)
    ((group, message),) = [item for item in sent if item[1]["type"] == "thread.change"]
    assert group == events.thread_group(thread.pk)
    assert (message["post"]["number"], message["post"]["change"]) == (1, 2)
    assert forum.edit_post(member, post, "Second **draft**").change == 2
    assert PostRevision.objects.count() == 1


def test_edits_after_the_grace_period_are_marked(settings):
    settings.PORTAL_EDIT_GRACE_SECONDS = 0
    member = person("member")
    thread = make_thread(member)
    edited = forum.edit_post(member, first_post(thread), "Changed")
    assert edited.edited_at is not None


@pytest.mark.parametrize("role", ["member", "moderator"])
def test_nobody_else_edits_or_deletes_a_post(role):
    thread = make_thread(person("member"), source="Mine")
    post = first_post(thread)
    other = person(role)
    with pytest.raises(PermissionDenied):
        forum.edit_post(other, post, "Theirs")
    with pytest.raises(PermissionDenied):
        forum.delete_post(other, post)
    post.refresh_from_db()
    assert (post.source, post.state) == ("Mine", Post.State.VISIBLE)


def test_authors_delete_their_posts():
    member = person("member")
    thread = make_thread(person("member"))
    post = forum.create_post(member, thread, "Regret")
    forum.delete_post(member, post)
    post.refresh_from_db()
    thread.refresh_from_db()
    assert post.state == Post.State.DELETED
    assert (thread.reply_count, thread.last_change) == (0, 3)
    with pytest.raises(PermissionDenied):
        forum.edit_post(member, post, "Undo")


# --- Moderation ----------------------------------------------------------------------------------


def test_only_moderators_hide_posts():
    thread = make_thread(person("member"))
    with pytest.raises(PermissionDenied):
        forum.hide_post(person("member"), first_post(thread), "Off topic")
    with pytest.raises(ActionError, match="Please enter a reason"):
        forum.hide_post(person("moderator"), first_post(thread), " ")
    assert first_post(thread).state == Post.State.VISIBLE


def test_hiding_and_restoring_a_post(sent, committed):
    moderator = person("moderator")
    author = person("member")
    thread = make_thread(person("member"))
    post = forum.create_post(author, thread, "Rude words")
    reporter = person("member")
    report = forum.report_post(reporter, post, "Rude")
    with committed():
        forum.hide_post(moderator, post, "Breaks rule 2", ip="192.0.2.4")
    post.refresh_from_db()
    thread.refresh_from_db()
    assert (post.state, post.moderation_reason) == (Post.State.HIDDEN, "Breaks rule 2")
    assert thread.reply_count == 0
    report.refresh_from_db()
    assert (report.resolved_by, report.resolution) == (moderator, "post hidden")
    (event,) = audit_of("post.hidden")
    assert (event.actor, event.subject, event.reason) == (moderator, author, "Breaks rule 2")
    assert event.target == f"post {post.pk} (#2 in thread {thread.pk})"
    (change,) = [m for _, m in sent if m["type"] == "thread.change"]
    assert change["post"]["state"] == "hidden"
    member_frame = json.loads(change["post"]["frames"]["member"])
    moderator_frame = json.loads(change["post"]["frames"]["moderator"])
    assert "This post was hidden by a moderator." in member_frame["html"]
    assert "Rude words" not in member_frame["html"]
    assert "Rude words" in moderator_frame["html"]
    assert member_frame["previous"] == moderator_frame["previous"] == post.change - 1
    with pytest.raises(ActionError, match="already hidden"):
        forum.hide_post(moderator, post, "Again")

    forum.restore_post(moderator, post, "Reconsidered")
    post.refresh_from_db()
    thread.refresh_from_db()
    assert (post.state, post.moderation_reason) == (Post.State.VISIBLE, "")
    assert thread.reply_count == 1
    assert audit_of("post.restored")[0].reason == "Reconsidered"
    with pytest.raises(ActionError, match="Only hidden or held posts"):
        forum.restore_post(moderator, post)
    with pytest.raises(PermissionDenied):
        forum.restore_post(person("member"), post)


def test_reporting_a_post(sent, committed):
    author = person("member")
    thread = make_thread(author)
    post = first_post(thread)
    reporter = person("member")
    with pytest.raises(PermissionDenied):
        forum.report_post(author, post, "My own")
    with pytest.raises(ActionError, match="Please enter what is wrong"):
        forum.report_post(reporter, post, "")
    with committed():
        report = forum.report_post(reporter, post, "Spam")
    assert (report.reporter, report.reason, report.resolved_at) == (reporter, "Spam", None)
    assert audit_of("post.reported")[0].reason == "Spam"
    assert (events.MODERATION_GROUP, {"type": "queue.changed"}) in sent
    with pytest.raises(ActionError, match="already reported"):
        forum.report_post(reporter, post, "Spam again")
    assert Report.objects.count() == 1


def test_dismissing_reports():
    thread = make_thread(person("member"))
    report = forum.report_post(person("member"), first_post(thread), "Spam")
    with pytest.raises(PermissionDenied):
        forum.dismiss_report(person("member"), report)
    moderator = person("moderator")
    forum.dismiss_report(moderator, report)
    report.refresh_from_db()
    assert (report.resolved_by, report.resolution) == (moderator, "dismissed")
    assert report.resolved_at is not None
    assert len(audit_of("report.dismissed")) == 1


@pytest.mark.parametrize(
    ("flag", "set_on", "set_off", "on", "off"),
    [
        ("locked", forum.lock_thread, forum.unlock_thread, "thread.locked", "thread.unlocked"),
        ("pinned", forum.pin_thread, forum.unpin_thread, "thread.pinned", "thread.unpinned"),
    ],
)
def test_locking_and_pinning(flag, set_on, set_off, on, off, sent, committed):
    moderator = person("moderator")
    thread = make_thread(person("member"))
    with pytest.raises(PermissionDenied):
        set_on(person("member"), thread)
    with committed():
        set_on(moderator, thread, "Because")
    thread.refresh_from_db()
    assert getattr(thread, flag) is True
    (meta,) = [m for g, m in sent if m["type"] == "thread.meta"]
    assert meta["thread"][flag] is True
    set_on(moderator, thread)
    assert [e.reason for e in audit_of(on)] == ["Because"]
    set_off(moderator, thread)
    thread.refresh_from_db()
    assert getattr(thread, flag) is False
    assert len(audit_of(off)) == 1


def test_moving_a_thread_to_moderators_only_takes_it_from_members(sent, committed):
    moderator = person("moderator")
    member = person("member")
    thread = make_thread(member)
    browser = signed_in_client(member)
    assert browser.get(f"/portal/t/{thread.pk}/").status_code == 200
    source = thread.category
    private = make_category(Category.Audience.MODERATORS)
    with pytest.raises(PermissionDenied):
        forum.move_thread(member, thread, private)
    with committed():
        forum.move_thread(moderator, thread, private, "Sensitive")
    thread.refresh_from_db()
    assert thread.category == private
    assert not policy.can_view_thread(member, thread)
    assert policy.can_view_thread(moderator, thread)
    assert browser.get(f"/portal/t/{thread.pk}/").status_code == 404
    (event,) = audit_of("thread.moved")
    assert event.details == {"from": source.pk, "to": private.pk}
    for category in (source, private):
        assert (events.category_group(category.pk), {"type": "list.changed"}) in sent
    with pytest.raises(ActionError, match="already in that category"):
        forum.move_thread(moderator, thread, private)


def test_merging_threads_appends_the_posts_in_order():
    moderator = person("moderator")
    first_author = person("member")
    target = make_thread(first_author, title="Original", source="T1")
    forum.create_post(moderator, target, "T2")
    duplicate_author = person("member")
    duplicate = make_thread(duplicate_author, target.category, "Duplicate", "D1")
    follower = person("member")
    reading.follow(follower, thread=duplicate)
    forum.create_post(moderator, duplicate, "D2")
    forum.create_post(duplicate_author, duplicate, "D3")
    with pytest.raises(PermissionDenied):
        forum.merge_threads(person("member"), duplicate, target)

    forum.merge_threads(moderator, duplicate, target, "Same topic")
    target.refresh_from_db()
    duplicate.refresh_from_db()
    posts = list(target.posts.order_by("number").values_list("number", "source"))
    assert posts == [(1, "T1"), (2, "T2"), (3, "D1"), (4, "D2"), (5, "D3")]
    changes = list(target.posts.order_by("number").values_list("change", flat=True))
    assert changes == sorted(changes) and len(set(changes)) == 5
    assert (target.last_number, target.last_change, target.reply_count) == (5, changes[-1], 4)
    assert not duplicate.posts.exists()
    assert duplicate.locked and duplicate.merged_into == target
    assert Follow.objects.filter(user=follower, thread=target).exists()
    assert Follow.objects.filter(user=duplicate_author, thread=target).exists()
    assert len(audit_of("thread.merged")) == 1
    with pytest.raises(ActionError):
        forum.merge_threads(moderator, duplicate, target)
    with pytest.raises(ActionError):
        forum.merge_threads(moderator, target, target)


# --- Live events ---------------------------------------------------------------------------------


def test_a_new_post_is_announced_only_after_commit(sent, committed):
    author = person("member")
    mentioned = person("member")
    thread = make_thread(author)
    with committed() as callbacks:
        post = forum.create_post(author, thread, f"Hi @{mentioned.username}")
        assert sent == []
    assert callbacks
    # Everyone viewing the thread waits for its event: it goes first, the notification after.
    assert groups(sent) == [
        events.thread_group(thread.pk),
        events.category_group(thread.category_id),
        events.user_group(mentioned.pk),
    ]
    change = sent[0][1]
    assert change["type"] == "thread.change"
    assert (change["post"]["number"], change["post"]["change"]) == (post.number, post.change)
    assert change["thread"]["last_change"] == post.change
    assert sent[2][1] == {"type": "notification.new", "id": Notification.objects.get().pk}


def test_a_rolled_back_post_is_never_announced(sent, committed):
    author = person("member")
    thread = make_thread(author)
    with committed() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        forum.create_post(author, thread, "Never")
        raise RuntimeError
    assert callbacks == []
    assert sent == []
    assert Post.objects.filter(source="Never").count() == 0


# --- The write path's cost ---------------------------------------------------------------------

# The queries one reply costs a member who already follows the thread, through its commit and
# the work after it. Live delivery waits on them; a change that adds one must say why here.
REPLY_QUERIES = 9


def test_a_reply_costs_a_fixed_number_of_queries(committed):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    member = person("member")
    thread = make_thread(member)
    forum.create_post(member, thread, "Warming the caches")
    thread = Thread.objects.get(pk=thread.pk)
    with CaptureQueriesContext(connection) as queries, committed():
        forum.create_post(
            member, thread, "A reply with **bold** text and a [link](https://example.org)"
        )
    executed = [query["sql"] for query in queries.captured_queries]
    assert len(executed) == REPLY_QUERIES, "\n".join(executed)

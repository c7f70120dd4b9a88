"""Every write in portal.actions: who may do it, what it validates, what it stores, whom it tells,
what it writes to the audit log, and that its live event leaves only after the commit."""

import json
import logging
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from portal import actions, audit, events, policy
from portal.actions import ActionError
from portal.models import (
    AuditEvent,
    Category,
    Follow,
    Membership,
    Notification,
    Post,
    PostRevision,
    ReadState,
    Report,
    Thread,
    TrustedDomain,
)
from tests.portal.helpers import make_category, make_thread, person, signed_in_client

pytestmark = pytest.mark.django_db

APPLICATION = {
    "full_name": "Ada Applicant",
    "organisation": "Example Trust",
    "job_title": "Safeguarding lead",
    "country": "United Kingdom",
    "reason": "I protect children online.",
    "agreed": True,
}


@pytest.fixture(autouse=True)
def portal_settings(forum_settings):
    forum_settings.PORTAL_EDIT_GRACE_SECONDS = 300
    return forum_settings


@pytest.fixture
def sent(monkeypatch):
    """What reaches the channel layer, as (group, message) pairs, in order."""
    messages = []
    monkeypatch.setattr(events, "send_all", messages.extend)
    return messages


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the block as if its transaction committed: on-commit work happens on leaving it."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def actor(role):
    return person(role) if role != "anonymous" else AnonymousUser()


def new_user(email):
    user = get_user_model().objects.create_user(
        username=email.split("@")[0], email=email, password="a long passphrase 123"
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def fresh(user):
    """The user as a new request would load it, without cached relations."""
    return get_user_model().objects.get(pk=user.pk)


def audit_of(action):
    return list(AuditEvent.objects.filter(action=action))


def groups(messages):
    return [group for group, _ in messages]


def first_post(thread):
    return thread.posts.get(number=1)


# --- Admission -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("full_name", "Please enter your name."),
        ("organisation", "Please enter your organisation."),
        ("job_title", "Please enter your role."),
        ("country", "Please enter your country."),
        ("reason", "Please enter why you want to join."),
    ],
)
def test_application_names_the_missing_field(field, message):
    user = new_user("ada@elsewhere.example")
    with pytest.raises(ActionError) as error:
        actions.submit_application(user, **{**APPLICATION, field: "   "})
    assert error.value.message == message
    assert error.value.field == field
    assert not Membership.objects.filter(user=user).exists()


def test_application_text_over_the_limit_says_how_long_it_is():
    user = new_user("ada@elsewhere.example")
    with pytest.raises(ActionError) as error:
        actions.submit_application(user, **{**APPLICATION, "country": "x" * 81})
    assert error.value.message == "Your country is too long: 81 characters, the limit is 80."


def test_application_requires_agreeing_to_the_code_of_conduct():
    user = new_user("ada@elsewhere.example")
    with pytest.raises(ActionError) as error:
        actions.submit_application(user, **{**APPLICATION, "agreed": False})
    assert error.value.field == "agreed"
    assert "code of conduct" in error.value.message
    assert not Membership.objects.filter(user=user).exists()


def test_application_waits_for_a_moderator_and_is_audited(sent, committed, mailoutbox):
    user = new_user("ada@elsewhere.example")
    with committed():
        membership = actions.submit_application(user, **APPLICATION, ip="192.0.2.7")
    assert membership.status == Membership.Status.PENDING
    assert membership.full_name == "Ada Applicant"
    assert membership.agreed_to_code_at is not None
    assert policy.role_of(user) == "applicant"
    (event,) = audit_of("membership.applied")
    assert (event.actor, event.subject, event.ip_address) == (user, user, "192.0.2.7")
    assert (events.MODERATION_GROUP, {"type": "queue.changed"}) in sent
    assert mailoutbox == []


def test_trusted_domain_applicant_is_approved_at_once(committed, mailoutbox):
    TrustedDomain.objects.create(domain="@Trusted.Example", organisation="Trusted")
    user = new_user("ada@trusted.example")
    with committed():
        membership = actions.submit_application(user, **APPLICATION)
    assert membership.status == Membership.Status.APPROVED
    assert membership.decided_by is None
    assert policy.is_member(user)
    (approved,) = audit_of("membership.approved")
    assert approved.reason == "Trusted domain trusted.example"
    assert approved.actor_label == "system"
    (mail,) = mailoutbox
    assert mail.to == ["ada@trusted.example"]
    assert "approved" in mail.subject


def test_members_cannot_apply_again():
    with pytest.raises(PermissionDenied):
        actions.submit_application(person("member"), **APPLICATION)


@pytest.mark.parametrize("role", ["anonymous", "applicant", "member", "editor", "suspended"])
def test_only_moderators_decide_applications(role):
    membership = person("applicant").membership
    with pytest.raises(PermissionDenied):
        actions.approve_application(actor(role), membership)
    with pytest.raises(PermissionDenied):
        actions.decline_application(actor(role), membership, "No.")
    membership.refresh_from_db()
    assert membership.status == Membership.Status.PENDING


def test_approval_admits_the_applicant_and_tells_them(committed, mailoutbox):
    moderator = person("moderator")
    applicant = person("applicant")
    with committed():
        actions.approve_application(moderator, applicant.membership, "Known to us", ip="192.0.2.1")
    applicant.membership.refresh_from_db()
    assert applicant.membership.status == Membership.Status.APPROVED
    assert applicant.membership.decided_by == moderator
    assert policy.is_member(applicant)
    (event,) = audit_of("membership.approved")
    assert (event.actor, event.subject, event.reason) == (moderator, applicant, "Known to us")
    (mail,) = mailoutbox
    assert mail.to == [applicant.email]
    assert "Welcome" in mail.subject
    with pytest.raises(ActionError, match="already been approved"):
        actions.approve_application(moderator, applicant.membership)


def test_declining_needs_a_reason():
    applicant = person("applicant")
    with pytest.raises(ActionError) as error:
        actions.decline_application(person("moderator"), applicant.membership, "  ")
    assert error.value.message == "Please enter a reason the applicant will read."
    applicant.membership.refresh_from_db()
    assert applicant.membership.status == Membership.Status.PENDING


def test_declining_mails_the_reason_to_the_applicant(committed, mailoutbox):
    moderator = person("moderator")
    applicant = person("applicant")
    reason = "We could not confirm your organisation."
    with committed():
        actions.decline_application(moderator, applicant.membership, reason)
    applicant.membership.refresh_from_db()
    assert applicant.membership.status == Membership.Status.DECLINED
    assert not policy.is_member(applicant)
    (event,) = audit_of("membership.declined")
    assert event.reason == reason
    (mail,) = mailoutbox
    assert mail.to == [applicant.email]
    assert reason in mail.body
    with pytest.raises(ActionError, match="waiting for a decision"):
        actions.decline_application(moderator, applicant.membership, reason)


# --- Suspension and roles ------------------------------------------------------------------------


def test_suspension_ends_the_members_sessions(committed, sent):
    moderator = person("moderator")
    member = person("member")
    browser = signed_in_client(member)
    assert browser.get("/portal/").status_code == 200
    assert UserSession.objects.filter(user=member).count() == 1
    with committed():
        actions.suspend_member(moderator, member, "Spam", ip="192.0.2.9")
    response = browser.get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not UserSession.objects.filter(user=member).exists()
    member.membership.refresh_from_db()
    assert member.membership.suspended_at is not None
    assert member.membership.suspension_reason == "Spam"
    assert policy.role_of(member) == "suspended"
    (event,) = audit_of("member.suspended")
    assert (event.actor, event.subject, event.reason) == (moderator, member, "Spam")
    assert (events.user_group(member.pk), {"type": "access.revoked"}) in sent
    session_groups = [group for group in groups(sent) if group.startswith("session.")]
    assert len(session_groups) == 1


@pytest.mark.parametrize("target", ["staff", "self"])
def test_moderators_cannot_suspend_staff_or_themselves(target):
    moderator = person("moderator")
    member = moderator if target == "self" else person("staff")
    with pytest.raises(PermissionDenied):
        actions.suspend_member(moderator, member, "No")
    assert not policy.is_suspended(member)


def test_members_cannot_suspend():
    member = person("member")
    with pytest.raises(PermissionDenied):
        actions.suspend_member(person("member"), member, "No")
    assert not policy.is_suspended(member)


def test_suspension_needs_a_reason_and_happens_once():
    moderator = person("moderator")
    member = person("member")
    with pytest.raises(ActionError, match="Please enter a reason"):
        actions.suspend_member(moderator, member, "")
    actions.suspend_member(moderator, member, "Spam")
    with pytest.raises(ActionError, match="already suspended"):
        actions.suspend_member(moderator, member, "Spam")


def test_unsuspending_restores_access_and_is_audited():
    moderator = person("moderator")
    member = person("suspended")
    actions.unsuspend_member(moderator, member, "Appeal upheld")
    assert policy.is_member(fresh(member))
    (event,) = audit_of("member.unsuspended")
    assert (event.actor, event.subject, event.reason) == (moderator, member, "Appeal upheld")
    with pytest.raises(ActionError, match="not suspended"):
        actions.unsuspend_member(moderator, member)
    with pytest.raises(PermissionDenied):
        actions.unsuspend_member(person("member"), member)


def test_staff_change_roles_with_an_audit_of_before_and_after(committed, sent):
    staff = person("staff")
    member = person("member")
    with committed():
        actions.set_role(staff, member, Membership.Role.MODERATOR, "Trusted")
    assert policy.is_moderator(fresh(member))
    (event,) = audit_of("member.role_changed")
    assert event.details == {"from": "member", "to": "moderator"}
    assert (event.actor, event.subject, event.reason) == (staff, member, "Trusted")
    assert (events.user_group(member.pk), {"type": "access.revoked"}) in sent
    actions.set_role(staff, member, Membership.Role.MODERATOR)
    assert len(audit_of("member.role_changed")) == 1
    with pytest.raises(ActionError):
        actions.set_role(staff, member, "admin")


@pytest.mark.parametrize("role", ["moderator", "member"])
def test_only_staff_change_roles(role):
    member = person("member")
    with pytest.raises(PermissionDenied):
        actions.set_role(person(role), member, Membership.Role.MODERATOR)
    staff = person("staff")
    with pytest.raises(PermissionDenied):
        actions.set_role(staff, staff, Membership.Role.MEMBER)
    assert not policy.is_moderator(member)


# --- Members' own data ---------------------------------------------------------------------------


def test_profile_is_saved_and_checked():
    member = person("member")
    actions.update_profile(member, display_name="  Mo  ", organisation="Trust", bio="Hello")
    member.refresh_from_db()
    assert (member.display_name, member.organisation, member.bio) == ("Mo", "Trust", "Hello")
    with pytest.raises(ActionError) as error:
        actions.update_profile(member, display_name="x" * 81)
    assert error.value.field == "display_name"
    assert "81 characters" in error.value.message
    with pytest.raises(PermissionDenied):
        actions.update_profile(AnonymousUser(), display_name="x")


def test_notification_preferences_are_saved_and_checked():
    member = person("member")
    actions.update_notification_preferences(
        member, email_frequency="daily", notify_replies=False, notify_mentions=True
    )
    member.refresh_from_db()
    assert (member.email_frequency, member.notify_replies, member.notify_mentions) == (
        "daily",
        False,
        True,
    )
    with pytest.raises(ActionError) as error:
        actions.update_notification_preferences(
            member, email_frequency="hourly", notify_replies=True, notify_mentions=True
        )
    assert error.value.field == "email_frequency"
    member.refresh_from_db()
    assert member.email_frequency == "daily"


def test_deleted_accounts_leave_their_posts_to_a_former_member():
    leaver = person("member")
    thread = make_thread(leaver, title="Leaving soon", source="Words that stay.")
    reader = person("member")
    user_id = leaver.pk
    actions.delete_account(leaver, ip="192.0.2.3")
    assert not get_user_model().objects.filter(pk=user_id).exists()
    post = first_post(thread)
    assert post.author is None
    assert post.source == "Words that stay."
    page = signed_in_client(reader).get(f"/portal/t/{thread.pk}/")
    assert page.status_code == 200
    assert "Former member" in page.text
    assert "Words that stay." in page.text
    (event,) = audit_of("account.deleted")
    assert event.target == f"user {user_id}"


def test_staff_cannot_delete_their_account_here():
    staff = person("staff")
    with pytest.raises(PermissionDenied):
        actions.delete_account(staff)
    assert get_user_model().objects.filter(pk=staff.pk).exists()


# --- Threads and posts ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "applicant", "suspended", "editor"])
def test_only_members_start_threads_and_post(role):
    category = make_category()
    thread = make_thread(person("member"), category)
    outsider = actor(role)
    with pytest.raises(PermissionDenied):
        actions.create_thread(outsider, category, "Mine", "Text")
    with pytest.raises(PermissionDenied):
        actions.create_post(outsider, thread, "Text")
    assert Thread.objects.count() == 1
    assert Post.objects.count() == 1


def test_locked_threads_take_posts_from_moderators_only():
    moderator = person("moderator")
    thread = make_thread(person("member"))
    actions.set_thread_flag(moderator, thread, "locked", True)
    thread.refresh_from_db()
    with pytest.raises(PermissionDenied):
        actions.create_post(person("member"), thread, "Let me in")
    post = actions.create_post(moderator, thread, "Moderator's note")
    assert post.number == 2


def test_members_cannot_post_in_moderators_only_categories():
    hidden = make_category(Category.Audience.MODERATORS)
    with pytest.raises(PermissionDenied):
        actions.create_thread(person("member"), hidden, "Hi", "Text")
    thread = make_thread(person("moderator"), hidden)
    with pytest.raises(PermissionDenied):
        actions.create_post(person("member"), thread, "Text")


def test_empty_posts_and_titles_are_refused():
    member = person("member")
    thread = make_thread(member)
    with pytest.raises(ActionError) as error:
        actions.create_post(member, thread, " \r\n ")
    assert error.value.message == "Please write something before posting."
    assert error.value.field == "source"
    with pytest.raises(ActionError) as error:
        actions.create_thread(member, thread.category, "", "Text")
    assert error.value.message == "Please enter a title."
    assert Post.objects.count() == 1


def test_overlong_posts_are_refused_with_the_limit(settings):
    settings.PORTAL_MAX_POST_LENGTH = 50
    member = person("member")
    thread = make_thread(member)
    with pytest.raises(ActionError) as error:
        actions.create_post(member, thread, "x" * 51)
    assert error.value.message == (
        "Your post is 51 characters long; the limit is 50. Please shorten it."
    )
    thread.refresh_from_db()
    assert (thread.last_number, thread.last_change) == (1, 1)


def test_posts_are_sanitised_before_they_are_stored():
    member = person("member")
    thread = make_thread(member)
    source = "<script>alert(1)</script> **bold** [x](javascript:alert(2)) <img src=x onerror=y>"
    post = actions.create_post(member, thread, source)
    stored = Post.objects.get(pk=post.pk)
    assert "<script" not in stored.html
    assert "href" not in stored.html
    assert "<img" not in stored.html
    assert "<strong>bold</strong>" in stored.html
    assert stored.source == source


def test_posts_are_numbered_and_counted():
    member = person("member")
    thread = make_thread(member)
    second = actions.create_post(person("member"), thread, "Two")
    third = actions.create_post(member, thread, "Three")
    assert [(second.number, second.change), (third.number, third.change)] == [(2, 2), (3, 3)]
    thread.refresh_from_db()
    assert (thread.last_number, thread.last_change, thread.reply_count) == (3, 3, 2)


def test_mentions_notify_members_only():
    author = person("member")
    mentioned = person("member")
    applicant = person("applicant")
    thread = make_thread(author)
    post = actions.create_post(
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
    actions.unfollow(quoted_author, thread=thread)
    actions.create_post(quoting, thread, "> Quote me\n\nAgreed.", quoted=first_post(thread))
    (notification,) = Notification.objects.all()
    assert (notification.user, notification.kind) == (quoted_author, Notification.Kind.QUOTE)


def test_followers_hear_of_replies_and_authors_follow_their_threads():
    author = person("member")
    thread = make_thread(author)
    assert Follow.objects.filter(user=author, thread=thread).exists()
    replier = person("member")
    actions.create_post(replier, thread, "A reply")
    assert Follow.objects.filter(user=replier, thread=thread).exists()
    (notification,) = Notification.objects.all()
    assert (notification.user, notification.kind) == (author, Notification.Kind.REPLY)
    actions.create_post(author, thread, "Thanks")
    assert [n.user for n in Notification.objects.order_by("pk")] == [author, replier]


def test_the_same_idempotency_key_makes_one_post():
    member = person("member")
    thread = make_thread(member)
    first = actions.create_post(member, thread, "Once", idempotency_key="key-1")
    again = actions.create_post(member, thread, "Once", idempotency_key="key-1")
    assert again.pk == first.pk
    assert Post.objects.filter(thread=thread).count() == 2
    thread.refresh_from_db()
    assert thread.last_change == 2


def test_the_same_idempotency_key_starts_one_thread():
    member = person("member")
    category = make_category()
    first = actions.create_thread(member, category, "Once", "Body", idempotency_key="new-1")
    again = actions.create_thread(member, category, "Once", "Body", idempotency_key="new-1")
    assert again.pk == first.pk
    assert Thread.objects.count() == 1
    assert Post.objects.count() == 1


def test_members_posting_too_fast_are_told_the_limit(settings):
    settings.PORTAL_POST_RATE = (2, 60)
    if 60 - time.time() % 60 < 3:  # the window is fixed: start in a fresh one
        time.sleep(60 - time.time() % 60 + 0.1)
    thread = make_thread(person("moderator"))
    member = person("member")
    actions.create_post(member, thread, "One")
    actions.create_post(member, thread, "Two")
    with pytest.raises(ActionError) as error:
        actions.create_post(member, thread, "Three")
    assert "faster than 2 posts in 60 seconds" in error.value.message
    assert Post.objects.filter(author=member).count() == 2
    assert actions.create_post(person("member"), thread, "Someone else").number == 4


def test_first_posts_are_held_until_a_moderator_approves(settings, sent, committed):
    settings.PORTAL_HOLD_FIRST_POSTS = 1
    moderator = person("moderator")
    thread = make_thread(moderator)
    newcomer = person("member")
    with committed():
        post = actions.create_post(newcomer, thread, "My first words")
    assert post.state == Post.State.PENDING
    thread.refresh_from_db()
    assert thread.reply_count == 0
    assert not Notification.objects.exists()
    assert (events.MODERATION_GROUP, {"type": "queue.changed"}) in sent
    assert not policy.can_view_post(person("member"), post)
    assert policy.can_view_post(newcomer, post)

    with committed():
        actions.restore_post(moderator, post, "Fine")
    post.refresh_from_db()
    assert post.state == Post.State.VISIBLE
    thread.refresh_from_db()
    assert thread.reply_count == 1
    (event,) = audit_of("post.approved")
    assert (event.actor, event.subject) == (moderator, newcomer)
    (notification,) = Notification.objects.all()
    assert (notification.user, notification.kind) == (moderator, Notification.Kind.REPLY)
    assert actions.create_post(newcomer, thread, "Now I am known").state == Post.State.VISIBLE


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
        edited = actions.edit_post(member, post, "Second **draft**")
    assert edited.number == 1
    assert edited.change == 2
    assert edited.edited_at is None  # within the grace period
    assert "<strong>draft</strong>" in edited.html
    (revision,) = PostRevision.objects.filter(post=post)
    assert (revision.source, revision.editor) == ("First draft", member)
    ((group, message),) = [item for item in sent if item[1]["type"] == "thread.change"]
    assert group == events.thread_group(thread.pk)
    assert (message["post"]["number"], message["post"]["change"]) == (1, 2)
    assert actions.edit_post(member, post, "Second **draft**").change == 2
    assert PostRevision.objects.count() == 1


def test_edits_after_the_grace_period_are_marked(settings):
    settings.PORTAL_EDIT_GRACE_SECONDS = 0
    member = person("member")
    thread = make_thread(member)
    edited = actions.edit_post(member, first_post(thread), "Changed")
    assert edited.edited_at is not None


@pytest.mark.parametrize("role", ["member", "moderator"])
def test_nobody_else_edits_or_deletes_a_post(role):
    thread = make_thread(person("member"), source="Mine")
    post = first_post(thread)
    other = person(role)
    with pytest.raises(PermissionDenied):
        actions.edit_post(other, post, "Theirs")
    with pytest.raises(PermissionDenied):
        actions.delete_post(other, post)
    post.refresh_from_db()
    assert (post.source, post.state) == ("Mine", Post.State.VISIBLE)


def test_authors_delete_their_posts():
    member = person("member")
    thread = make_thread(person("member"))
    post = actions.create_post(member, thread, "Regret")
    actions.delete_post(member, post)
    post.refresh_from_db()
    thread.refresh_from_db()
    assert post.state == Post.State.DELETED
    assert (thread.reply_count, thread.last_change) == (0, 3)
    with pytest.raises(PermissionDenied):
        actions.edit_post(member, post, "Undo")


# --- Moderation ----------------------------------------------------------------------------------


def test_only_moderators_hide_posts():
    thread = make_thread(person("member"))
    with pytest.raises(PermissionDenied):
        actions.hide_post(person("member"), first_post(thread), "Off topic")
    with pytest.raises(ActionError, match="Please enter a reason"):
        actions.hide_post(person("moderator"), first_post(thread), " ")
    assert first_post(thread).state == Post.State.VISIBLE


def test_hiding_and_restoring_a_post(sent, committed):
    moderator = person("moderator")
    author = person("member")
    thread = make_thread(person("member"))
    post = actions.create_post(author, thread, "Rude words")
    reporter = person("member")
    report = actions.report_post(reporter, post, "Rude")
    with committed():
        actions.hide_post(moderator, post, "Breaks rule 2", ip="192.0.2.4")
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
        actions.hide_post(moderator, post, "Again")

    actions.restore_post(moderator, post, "Reconsidered")
    post.refresh_from_db()
    thread.refresh_from_db()
    assert (post.state, post.moderation_reason) == (Post.State.VISIBLE, "")
    assert thread.reply_count == 1
    assert audit_of("post.restored")[0].reason == "Reconsidered"
    with pytest.raises(ActionError, match="Only hidden or held posts"):
        actions.restore_post(moderator, post)
    with pytest.raises(PermissionDenied):
        actions.restore_post(person("member"), post)


def test_reporting_a_post(sent, committed):
    author = person("member")
    thread = make_thread(author)
    post = first_post(thread)
    reporter = person("member")
    with pytest.raises(PermissionDenied):
        actions.report_post(author, post, "My own")
    with pytest.raises(ActionError, match="Please enter what is wrong"):
        actions.report_post(reporter, post, "")
    with committed():
        report = actions.report_post(reporter, post, "Spam")
    assert (report.reporter, report.reason, report.resolved_at) == (reporter, "Spam", None)
    assert audit_of("post.reported")[0].reason == "Spam"
    assert (events.MODERATION_GROUP, {"type": "queue.changed"}) in sent
    with pytest.raises(ActionError, match="already reported"):
        actions.report_post(reporter, post, "Spam again")
    assert Report.objects.count() == 1


def test_dismissing_reports():
    thread = make_thread(person("member"))
    report = actions.report_post(person("member"), first_post(thread), "Spam")
    with pytest.raises(PermissionDenied):
        actions.dismiss_report(person("member"), report)
    moderator = person("moderator")
    actions.dismiss_report(moderator, report)
    report.refresh_from_db()
    assert (report.resolved_by, report.resolution) == (moderator, "dismissed")
    assert report.resolved_at is not None
    assert len(audit_of("report.dismissed")) == 1


@pytest.mark.parametrize(
    ("flag", "on", "off"),
    [
        ("locked", "thread.locked", "thread.unlocked"),
        ("pinned", "thread.pinned", "thread.unpinned"),
    ],
)
def test_locking_and_pinning(flag, on, off, sent, committed):
    moderator = person("moderator")
    thread = make_thread(person("member"))
    with pytest.raises(PermissionDenied):
        actions.set_thread_flag(person("member"), thread, flag, True)
    with pytest.raises(PermissionDenied):
        actions.set_thread_flag(moderator, thread, "title", True)
    with committed():
        actions.set_thread_flag(moderator, thread, flag, True, "Because")
    thread.refresh_from_db()
    assert getattr(thread, flag) is True
    (meta,) = [m for g, m in sent if m["type"] == "thread.meta"]
    assert meta["thread"][flag] is True
    actions.set_thread_flag(moderator, thread, flag, True)
    assert [e.reason for e in audit_of(on)] == ["Because"]
    actions.set_thread_flag(moderator, thread, flag, False)
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
        actions.move_thread(member, thread, private)
    with committed():
        actions.move_thread(moderator, thread, private, "Sensitive")
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
        actions.move_thread(moderator, thread, private)


def test_merging_threads_appends_the_posts_in_order():
    moderator = person("moderator")
    first_author = person("member")
    target = make_thread(first_author, title="Original", source="T1")
    actions.create_post(moderator, target, "T2")
    duplicate_author = person("member")
    duplicate = make_thread(duplicate_author, target.category, "Duplicate", "D1")
    follower = person("member")
    actions.follow(follower, thread=duplicate)
    actions.create_post(moderator, duplicate, "D2")
    actions.create_post(duplicate_author, duplicate, "D3")
    with pytest.raises(PermissionDenied):
        actions.merge_threads(person("member"), duplicate, target)

    actions.merge_threads(moderator, duplicate, target, "Same topic")
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
        actions.merge_threads(moderator, duplicate, target)
    with pytest.raises(ActionError):
        actions.merge_threads(moderator, target, target)


# --- Following, reading, notifications -----------------------------------------------------------


def test_following_and_unfollowing():
    member = person("member")
    thread = make_thread(person("member"))
    actions.follow(member, thread=thread)
    actions.follow(member, thread=thread)
    actions.follow(member, category=thread.category)
    assert Follow.objects.filter(user=member).count() == 2
    with pytest.raises(PermissionDenied):
        actions.follow(member, category=make_category(Category.Audience.MODERATORS))
    actions.unfollow(member, thread=thread)
    assert list(Follow.objects.filter(user=member).values_list("category", flat=True)) == [
        thread.category.pk
    ]
    with pytest.raises(PermissionDenied):
        actions.follow(person("applicant"), thread=thread)


def test_read_state_only_moves_forward():
    member = person("member")
    thread = make_thread(person("member"))
    actions.mark_read(member, thread, 3)
    actions.mark_read(member, thread, 2)
    assert ReadState.objects.get(user=member, thread=thread).last_read_number == 3
    actions.mark_read(member, thread, 7)
    assert ReadState.objects.get(user=member, thread=thread).last_read_number == 7


def test_marking_notifications_read():
    member = person("member")
    thread = make_thread(member)
    others = [person("member") for _ in range(3)]
    for other in others:
        actions.create_post(other, thread, "Reply")
    first, *rest = Notification.objects.filter(user=member).order_by("pk")
    assert actions.mark_notifications_read(member, [first.pk]) == 1
    assert Notification.objects.filter(user=member, read_at__isnull=True).count() == 2
    assert actions.mark_notifications_read(person("member")) == 0
    assert actions.mark_notifications_read(member) == 2
    assert not Notification.objects.filter(user=member, read_at__isnull=True).exists()
    assert Notification.objects.exclude(user=member).filter(read_at__isnull=True).exists()


# --- Live events ---------------------------------------------------------------------------------


def test_a_new_post_is_announced_only_after_commit(sent, committed):
    author = person("member")
    mentioned = person("member")
    thread = make_thread(author)
    with committed() as callbacks:
        post = actions.create_post(author, thread, f"Hi @{mentioned.username}")
        assert sent == []
    assert callbacks
    assert groups(sent) == [
        events.user_group(mentioned.pk),
        events.thread_group(thread.pk),
        events.category_group(thread.category_id),
    ]
    change = sent[1][1]
    assert change["type"] == "thread.change"
    assert (change["post"]["number"], change["post"]["change"]) == (post.number, post.change)
    assert change["thread"]["last_change"] == post.change
    assert sent[0][1] == {"type": "notification.new", "id": Notification.objects.get().pk}


def test_a_rolled_back_post_is_never_announced(sent, committed):
    author = person("member")
    thread = make_thread(author)
    with committed() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        actions.create_post(author, thread, "Never")
        raise RuntimeError
    assert callbacks == []
    assert sent == []
    assert Post.objects.filter(source="Never").count() == 0


# --- Audit log -----------------------------------------------------------------------------------


def test_escape_for_log_makes_one_printable_line():
    escaped = audit.escape_for_log("a\nb\r\x1b[31mred\x00")
    assert escaped == "a\\nb\\r\\x1b[31mred\\x00"
    assert escaped.isprintable()


def test_a_forged_line_in_a_reason_stays_on_one_line(caplog):
    moderator = person("moderator")
    member = person("member")
    reason = "Spam\r\n2025-01-01 INFO member.unsuspended actor=admin \x1b[2Kdone"
    with caplog.at_level(logging.INFO, logger="portal.audit"):
        actions.suspend_member(moderator, member, reason)
    (record,) = [r for r in caplog.records if r.getMessage().startswith("member.suspended")]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "reason=Spam\\r\\n2025-01-01 INFO member.unsuspended actor=admin \\x1b[2Kdone" in line
    assert len(caplog.text.strip().splitlines()) == len(caplog.records)
    assert AuditEvent.objects.get(action="member.suspended").reason == reason

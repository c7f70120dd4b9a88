"""portal.actions.admission: applications and their decisions, suspensions and roles: who may,
what is stored and audited, whom it tells."""

import pytest
from allauth.usersessions.models import UserSession
from django.core.exceptions import PermissionDenied

from portal import events, policy
from portal.actions import ActionError, admission
from portal.models import Membership, TrustedDomain
from tests.portal.actions.helpers import actor, audit_of, fresh, groups, new_user
from tests.portal.helpers import person, signed_in_client

pytestmark = pytest.mark.django_db

APPLICATION = {
    "full_name": "Ada Applicant",
    "organisation": "Example Trust",
    "job_title": "Safeguarding lead",
    "country": "United Kingdom",
    "reason": "I protect children online.",
    "agreed": True,
}

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
        admission.submit_application(user, **{**APPLICATION, field: "   "})
    assert error.value.message == message
    assert error.value.field == field
    assert not Membership.objects.filter(user=user).exists()


def test_application_text_over_the_limit_says_how_long_it_is():
    user = new_user("ada@elsewhere.example")
    with pytest.raises(ActionError) as error:
        admission.submit_application(user, **{**APPLICATION, "country": "x" * 81})
    assert error.value.message == "Your country is too long: 81 characters, the limit is 80."


def test_application_requires_agreeing_to_the_code_of_conduct():
    user = new_user("ada@elsewhere.example")
    with pytest.raises(ActionError) as error:
        admission.submit_application(user, **{**APPLICATION, "agreed": False})
    assert error.value.field == "agreed"
    assert "code of conduct" in error.value.message
    assert not Membership.objects.filter(user=user).exists()


def test_application_waits_for_a_moderator_and_is_audited(sent, committed, mailoutbox):
    user = new_user("ada@elsewhere.example")
    with committed():
        membership = admission.submit_application(user, **APPLICATION, ip="192.0.2.7")
    assert membership.status == Membership.Status.PENDING
    assert membership.full_name == "Ada Applicant"
    assert membership.agreed_to_code_at is not None
    assert not policy.is_member(user) and policy.can_apply(user)
    (event,) = audit_of("membership.applied")
    assert (event.actor, event.subject, event.ip_address) == (user, user, "192.0.2.7")
    assert (events.MODERATION_GROUP, {"type": "queue.changed"}) in sent
    (received,) = mailoutbox  # told it arrived, and what comes next
    assert received.to == ["ada@elsewhere.example"]
    assert received.subject == "[Protectors' Portal] We have your application"


def test_trusted_domain_applicant_is_approved_at_once(committed, mailoutbox):
    TrustedDomain.objects.create(domain="@Trusted.Example", organisation="Trusted")
    user = new_user("ada@trusted.example")
    with committed():
        membership = admission.submit_application(user, **APPLICATION)
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
        admission.submit_application(person("member"), **APPLICATION)


@pytest.mark.parametrize("role", ["anonymous", "applicant", "member", "editor", "suspended"])
def test_only_moderators_decide_applications(role):
    membership = person("applicant").membership
    with pytest.raises(PermissionDenied):
        admission.approve_application(actor(role), membership)
    with pytest.raises(PermissionDenied):
        admission.decline_application(actor(role), membership, "No.")
    membership.refresh_from_db()
    assert membership.status == Membership.Status.PENDING


def test_approval_admits_the_applicant_and_tells_them(committed, mailoutbox):
    moderator = person("moderator")
    applicant = person("applicant")
    with committed():
        admission.approve_application(
            moderator, applicant.membership, "Known to us", ip="192.0.2.1"
        )
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
        admission.approve_application(moderator, applicant.membership)


def test_declining_needs_a_reason():
    applicant = person("applicant")
    with pytest.raises(ActionError) as error:
        admission.decline_application(person("moderator"), applicant.membership, "  ")
    assert error.value.message == "Please enter a reason the applicant will read."
    applicant.membership.refresh_from_db()
    assert applicant.membership.status == Membership.Status.PENDING


def test_declining_mails_the_reason_to_the_applicant(committed, mailoutbox):
    moderator = person("moderator")
    applicant = person("applicant")
    reason = "We could not confirm your organisation."
    with committed():
        admission.decline_application(moderator, applicant.membership, reason)
    applicant.membership.refresh_from_db()
    assert applicant.membership.status == Membership.Status.DECLINED
    assert not policy.is_member(applicant)
    (event,) = audit_of("membership.declined")
    assert event.reason == reason
    (mail,) = mailoutbox
    assert mail.to == [applicant.email]
    assert reason in mail.body
    with pytest.raises(ActionError, match="waiting for a decision"):
        admission.decline_application(moderator, applicant.membership, reason)


# --- Suspension and roles ------------------------------------------------------------------------


def test_suspension_ends_the_members_sessions(committed, sent):
    moderator = person("moderator")
    member = person("member")
    browser = signed_in_client(member)
    assert browser.get("/portal/").status_code == 200
    assert UserSession.objects.filter(user=member).count() == 1
    with committed():
        admission.suspend_member(moderator, member, "Spam", ip="192.0.2.9")
    response = browser.get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not UserSession.objects.filter(user=member).exists()
    member.membership.refresh_from_db()
    assert member.membership.suspended_at is not None
    assert member.membership.suspension_reason == "Spam"
    assert policy.is_suspended(member) and not policy.is_member(member)
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
        admission.suspend_member(moderator, member, "No")
    assert not policy.is_suspended(member)


def test_members_cannot_suspend():
    member = person("member")
    with pytest.raises(PermissionDenied):
        admission.suspend_member(person("member"), member, "No")
    assert not policy.is_suspended(member)


def test_suspension_needs_a_reason_and_happens_once():
    moderator = person("moderator")
    member = person("member")
    with pytest.raises(ActionError, match="Please enter a reason"):
        admission.suspend_member(moderator, member, "")
    admission.suspend_member(moderator, member, "Spam")
    with pytest.raises(ActionError, match="already suspended"):
        admission.suspend_member(moderator, member, "Spam")


def test_unsuspending_restores_access_and_is_audited():
    moderator = person("moderator")
    member = person("suspended")
    admission.unsuspend_member(moderator, member, "Appeal upheld")
    assert policy.is_member(fresh(member))
    (event,) = audit_of("member.unsuspended")
    assert (event.actor, event.subject, event.reason) == (moderator, member, "Appeal upheld")
    with pytest.raises(ActionError, match="not suspended"):
        admission.unsuspend_member(moderator, member)
    with pytest.raises(PermissionDenied):
        admission.unsuspend_member(person("member"), member)


def test_staff_change_roles_with_an_audit_of_before_and_after(committed, sent):
    staff = person("staff")
    member = person("member")
    with committed():
        admission.set_role(staff, member, Membership.Role.MODERATOR, "Trusted")
    assert policy.is_moderator(fresh(member))
    (event,) = audit_of("member.role_changed")
    assert event.details == {"from": "member", "to": "moderator"}
    assert (event.actor, event.subject, event.reason) == (staff, member, "Trusted")
    assert (events.user_group(member.pk), {"type": "access.revoked"}) in sent
    admission.set_role(staff, member, Membership.Role.MODERATOR)
    assert len(audit_of("member.role_changed")) == 1
    with pytest.raises(ActionError):
        admission.set_role(staff, member, "admin")


@pytest.mark.parametrize("role", ["moderator", "member"])
def test_only_staff_change_roles(role):
    member = person("member")
    with pytest.raises(PermissionDenied):
        admission.set_role(person(role), member, Membership.Role.MODERATOR)
    staff = person("staff")
    with pytest.raises(PermissionDenied):
        admission.set_role(staff, staff, Membership.Role.MEMBER)
    assert not policy.is_moderator(member)

"""Who is in: applications and their decisions, suspensions, roles, and ending sessions."""

from allauth.usersessions.models import UserSession
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from portal import audit, events, notify, policy
from portal.actions import ActionError, checked_text, require
from portal.models import Membership, TrustedDomain


def _email_domain(user):
    return user.email.rsplit("@", 1)[-1].lower()


@transaction.atomic
def submit_application(
    user, *, full_name, organisation, job_title, country, reason, agreed, ip=None
):
    require(policy.can_apply(user))
    fields = {
        "full_name": checked_text(full_name, "full_name", "your name", 120),
        "organisation": checked_text(organisation, "organisation", "your organisation", 120),
        "job_title": checked_text(job_title, "job_title", "your role", 120),
        "country": checked_text(country, "country", "your country", 80),
        "reason": checked_text(reason, "reason", "why you want to join", 2000),
    }
    if not agreed:
        raise ActionError("Please agree to the code of conduct to apply.", "agreed")
    membership, _ = Membership.objects.update_or_create(
        user=user,
        defaults={
            **fields,
            "status": Membership.Status.PENDING,
            "agreed_to_code_at": timezone.now(),
            "decided_at": None,
            "decided_by": None,
            "decision_reason": "",
        },
    )
    audit.record("membership.applied", actor=user, subject=user, ip=ip)
    trusted = TrustedDomain.objects.filter(domain=_email_domain(user)).first()
    if trusted:
        _decide(membership, None, Membership.Status.APPROVED, f"Trusted domain {trusted.domain}")
    else:
        transaction.on_commit(lambda: notify.send_application_received_email(membership))
        events.moderation_queue_changed()
    return membership


def _decide(membership, moderator, status, reason, ip=None):
    membership.status = status
    membership.decided_at = timezone.now()
    membership.decided_by = moderator
    membership.decision_reason = reason
    membership.save()
    action = (
        "membership.approved" if status == Membership.Status.APPROVED else "membership.declined"
    )
    audit.record(action, actor=moderator, subject=membership.user, reason=reason, ip=ip)
    transaction.on_commit(lambda: notify.send_decision_email(membership))
    events.moderation_queue_changed()


@transaction.atomic
def approve_application(moderator, membership, reason="", ip=None):
    require(policy.can_review_applications(moderator))
    if membership.status == Membership.Status.APPROVED:
        raise ActionError("This application has already been approved.")
    _decide(membership, moderator, Membership.Status.APPROVED, reason.strip(), ip)


@transaction.atomic
def decline_application(moderator, membership, reason, ip=None):
    require(policy.can_review_applications(moderator))
    reason = checked_text(reason, "reason", "a reason the applicant will read", 2000)
    if membership.status != Membership.Status.PENDING:
        raise ActionError("Only applications waiting for a decision can be declined.")
    _decide(membership, moderator, Membership.Status.DECLINED, reason, ip)


@transaction.atomic
def suspend_member(moderator, member, reason, ip=None):
    require(policy.can_suspend(moderator, member))
    reason = checked_text(reason, "reason", "a reason", 2000)
    if not suspend_for(member, reason, actor=moderator, ip=ip):
        raise ActionError("This member is already suspended.")


def suspend_for(member, reason, actor=None, ip=None, details=None):
    """Withdraw a member's access, signing them out everywhere once the transaction commits;
    `actor` None is the site itself (a hash-list match). False if already suspended."""
    membership = Membership.objects.select_for_update().filter(user=member).first()
    if membership is None or membership.suspended_at:
        return False
    membership.suspended_at = timezone.now()
    membership.suspension_reason = reason
    membership.save()
    audit.record(
        "member.suspended", actor=actor, subject=member, reason=reason, ip=ip, details=details
    )
    transaction.on_commit(lambda: end_sessions(member))
    events.access_revoked(member.pk)
    return True


@transaction.atomic
def unsuspend_member(moderator, member, reason="", ip=None):
    require(policy.can_suspend(moderator, member))
    membership = Membership.objects.select_for_update().get(user=member)
    if not membership.suspended_at:
        raise ActionError("This member is not suspended.")
    membership.suspended_at = None
    membership.suspension_reason = ""
    membership.save()
    audit.record("member.unsuspended", actor=moderator, subject=member, reason=reason, ip=ip)


@transaction.atomic
def set_role(staff, member, role, reason="", ip=None):
    require(policy.can_set_role(staff, member))
    if role not in Membership.Role.values:
        raise ActionError("Choose member or moderator.", "role")
    membership = Membership.objects.select_for_update().get(user=member)
    previous = membership.role
    if previous == role:
        return
    membership.role = role
    membership.save()
    audit.record(
        "member.role_changed",
        actor=staff,
        subject=member,
        reason=reason,
        ip=ip,
        details={"from": previous, "to": role},
    )
    # Open sockets were authorised under the old role; they reconnect under the new one.
    events.access_revoked(member.pk)


def end_sessions(user):
    """Sign the user out everywhere: their sessions are deleted and their sockets close."""
    for session in UserSession.objects.filter(user=user):
        events.session_ended(session.session_key)
        session.end()
    events.send(events.user_group(user.pk), {"type": "access.revoked"})


@receiver(user_logged_out, dispatch_uid="portal-end-session-sockets")
def end_session_sockets(request, **kwargs):
    """Signing out in one browser closes the sockets that browser opened, and no others."""
    if request is not None and request.session.session_key:
        events.session_ended(request.session.session_key)

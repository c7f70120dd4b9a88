"""portal.actions.account: members' own data."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from portal.actions import ActionError, account
from tests.portal.actions.helpers import audit_of, first_post
from tests.portal.helpers import make_thread, person, signed_in_client

pytestmark = pytest.mark.django_db


def test_profile_is_saved_and_checked():
    member = person("member")
    account.update_profile(member, display_name="  Mo  ", organisation="Trust", bio="Hello")
    member.refresh_from_db()
    assert (member.display_name, member.organisation, member.bio) == ("Mo", "Trust", "Hello")
    with pytest.raises(ActionError) as error:
        account.update_profile(member, display_name="x" * 81)
    assert error.value.field == "display_name"
    assert "81 characters" in error.value.message
    with pytest.raises(PermissionDenied):
        account.update_profile(AnonymousUser(), display_name="x")


def test_notification_preferences_are_saved_and_checked():
    member = person("member")
    account.update_notification_preferences(
        member, email_frequency="daily", notify_replies=False, notify_mentions=True
    )
    member.refresh_from_db()
    assert (member.email_frequency, member.notify_replies, member.notify_mentions) == (
        "daily",
        False,
        True,
    )
    with pytest.raises(ActionError) as error:
        account.update_notification_preferences(
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
    account.delete_account(leaver, ip="192.0.2.3")
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
        account.delete_account(staff)
    assert get_user_model().objects.filter(pk=staff.pk).exists()

"""portal.policy's list forms agree with its yes/no forms, role by role.

A forum with something of every kind (a members' and a moderators' category; an open, a locked
and a merged thread; visible, hidden, deleted and held posts, held ones by the viewer and by
someone else) is read as each role in tests/people.py: for every object, being in the list form
(`policy.visible_threads(user)`) must be the yes/no form's answer (`policy.can_view_thread`).
"""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from portal import policy
from portal.actions import forum
from portal.models import Category, Membership, User
from tests.people import ROLES, make_person
from tests.portal.helpers import make_category

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(forum_settings):
    # Nobody here signs in: a password hashed the production way would take most of the time.
    forum_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    people = {role: make_person(role) or AnonymousUser() for role in ROLES}
    member, moderator = people["member"], people["moderator"]
    other = make_person("member", "other")
    members_category = make_category(Category.Audience.MEMBERS)
    moderators_category = make_category(Category.Audience.MODERATORS)

    thread = forum.create_thread(member, members_category, "Open", "First.")
    locked = forum.create_thread(other, members_category, "Locked", "First.")
    forum.lock_thread(moderator, locked)
    merged = forum.create_thread(other, members_category, "Merged", "First.")
    forum.merge_threads(moderator, merged, thread)
    moderators_thread = forum.create_thread(moderator, moderators_category, "Rota", "First.")

    hidden = forum.create_post(other, thread, "Unkind.")
    forum.hide_post(moderator, hidden, "Unkind.")
    deleted = forum.create_post(member, thread, "Oops.")
    forum.delete_post(member, deleted)
    forum_settings.PORTAL_HOLD_FIRST_POSTS = 1000  # from here on, members' posts are held
    held_for_member = forum.create_post(member, thread, "Mine, held.")
    held_for_other = forum.create_post(other, thread, "Theirs, held.")

    return SimpleNamespace(
        people=people,
        categories={"members": members_category, "moderators": moderators_category},
        threads={
            "open": thread,
            "locked": locked,
            "merged": merged,
            "moderators": moderators_thread,
        },
        posts={
            "visible": thread.posts.get(number=1),
            "merged in": thread.posts.get(number=2),
            "hidden": hidden,
            "deleted": deleted,
            "held, by the member": held_for_member,
            "held, by another": held_for_other,
            "in the moderators' category": moderators_thread.posts.get(),
        },
        persons={**people, **unusual_people()},
    )


def unusual_people():
    """People at the edges of membership, read afresh from the database."""
    inactive = make_person("member", "inactive")
    inactive.is_active = False
    inactive.save()
    declined = make_person("applicant", "declined")
    Membership.objects.filter(user=declined).update(status=Membership.Status.DECLINED)
    suspended_staff = make_person("suspended", "suspended-staff")
    suspended_staff.is_staff = True
    suspended_staff.save()
    suspended_moderator = make_person("moderator", "suspended-moderator")
    Membership.objects.filter(user=suspended_moderator).update(suspended_at=timezone.now())
    people = {
        "inactive member": inactive,
        "declined applicant": declined,
        "suspended staff": suspended_staff,
        "suspended moderator": suspended_moderator,
    }
    return {label: User.objects.get(pk=person.pk) for label, person in people.items()}


def disagreements(objects, listed, allowed):
    """The objects for which the list form and the yes/no form answer differently."""
    listed = set(listed)
    return [label for label, obj in objects.items() if (obj in listed) != allowed(obj)]


@pytest.mark.parametrize("role", ROLES)
def test_visible_categories_lists_what_can_view_category_allows(world, role):
    user = world.people[role]
    assert not disagreements(
        world.categories,
        policy.visible_categories(user),
        lambda category: policy.can_view_category(user, category),
    )


@pytest.mark.parametrize("role", ROLES)
def test_visible_threads_lists_what_can_view_thread_allows(world, role):
    user = world.people[role]
    assert not disagreements(
        world.threads,
        policy.visible_threads(user),
        lambda thread: policy.can_view_thread(user, thread),
    )


@pytest.mark.parametrize("role", ROLES)
def test_visible_posts_lists_what_can_view_post_allows(world, role):
    user = world.people[role]
    assert not disagreements(
        world.posts, policy.visible_posts(user), lambda post: policy.can_view_post(user, post)
    )


@pytest.mark.parametrize("role", ROLES)
def test_searches_find_the_threads_can_view_thread_allows(world, role):
    user = world.people[role]
    searchable = [
        label
        for label, thread in world.threads.items()
        if policy.thread_visibility(thread) in policy.search_visibilities(user)
    ]
    allowed = [
        label for label, thread in world.threads.items() if policy.can_view_thread(user, thread)
    ]
    assert searchable == allowed


def test_members_lists_whom_is_member_says_yes_to(world):
    members = policy.members()
    assert not disagreements(world.persons, members, policy.is_member)
    assert {user.username for user in members} == {"member", "moderator", "staff", "other"}


def test_the_forum_has_something_each_role_sees_differently(world):
    """Guards the tests above against a fixture in which every answer is the same."""
    seen = {
        role: sorted(
            label
            for label, post in world.posts.items()
            if policy.can_view_post(world.people[role], post)
        )
        for role in ("anonymous", "member", "moderator")
    }
    assert seen["anonymous"] == []
    assert "held, by the member" in seen["member"]
    assert "held, by another" not in seen["member"]
    assert "in the moderators' category" not in seen["member"]
    assert seen["moderator"] == sorted(world.posts)

"""What every test of portal.actions shares: the forum's settings, and the live events sent."""

import pytest

from portal import events


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

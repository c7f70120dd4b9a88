"""The audit log's lines: one printable line per event, whatever people typed."""

import logging

import pytest

from portal import audit
from portal.actions import admission
from portal.models import AuditEvent
from tests.portal.helpers import person

pytestmark = pytest.mark.django_db


def test_escape_for_log_makes_one_printable_line():
    escaped = audit.escape_for_log("a\nb\r\x1b[31mred\x00")
    assert escaped == "a\\nb\\r\\x1b[31mred\\x00"
    assert escaped.isprintable()


def test_a_forged_line_in_a_reason_stays_on_one_line(caplog):
    moderator = person("moderator")
    member = person("member")
    reason = "Spam\r\n2025-01-01 INFO member.unsuspended actor=admin \x1b[2Kdone"
    with caplog.at_level(logging.INFO, logger="portal.audit"):
        admission.suspend_member(moderator, member, reason)
    (record,) = [r for r in caplog.records if r.getMessage().startswith("member.suspended")]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "reason=Spam\\r\\n2025-01-01 INFO member.unsuspended actor=admin \\x1b[2Kdone" in line
    assert len(caplog.text.strip().splitlines()) == len(caplog.records)
    assert AuditEvent.objects.get(action="member.suspended").reason == reason

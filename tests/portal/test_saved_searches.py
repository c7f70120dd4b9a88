"""Saved searches: saving from the search page, the list with its new-result counts, e-mail
alerts (daily and immediate) that only ever list what the policy lets the person find, and the
one-click unsubscribe of RFC 8058."""

import datetime
import re
import threading
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import Client, TestCase, override_settings
from django.utils import timezone

import search
from portal.actions import forum
from portal.actions.searches import MAX_SAVED_SEARCHES
from portal.alerts import (
    RECHECK_SECONDS,
    send_immediate_alerts_later,
    send_scheduled_alerts,
    unsubscribe_token,
)
from portal.models import Category, SavedSearch
from portal.search_source import thread_key
from search.models import IndexEntry
from tests.library.helpers import make_item
from tests.people import make_person

DATABASE_SEARCH = {"ENGINE": "database", "URL": "", "INDEX": ""}
NEW_ITEM = "Encryption and grooming: a new survey of platforms"
NEW_THREAD = "Encryption rollout: what changed in your reporting?"


@override_settings(SEARCH=DATABASE_SEARCH, PORTAL_POST_RATE=(1000, 60))
class SavedSearchTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        from library import demo

        demo.load()
        # The library was there long before anyone saved a search.
        IndexEntry.objects.update(added_at=timezone.now() - datetime.timedelta(days=30))
        cls.member = make_person("member")
        cls.applicant = make_person("applicant")
        cls.suspended = make_person("suspended")
        cls.category = Category.objects.create(name="General", slug="general")

    def signed_in(self, user):
        client = Client()
        client.force_login(user)
        return client

    def save(self, client, query, name="Encryption"):
        return client.post("/portal/searches/save/", {"name": name, "query": query})

    def publish_new_content(self):
        """A matching library item, and a members' discussion that matches too."""
        with self.captureOnCommitCallbacks(execute=True):
            make_item(NEW_ITEM, summary="Encryption changes what platforms can report.")
        with self.captureOnCommitCallbacks(execute=True):
            forum.create_thread(self.member, self.category, NEW_THREAD, "Encryption questions.")

    def age(self, *saved_searches, days=2):
        """Move the searches' last look and last alert into the past, as if made days ago."""
        past = timezone.now() - datetime.timedelta(days=days)
        SavedSearch.objects.filter(pk__in=[s.pk for s in saved_searches]).update(
            seen_at=past, alerted_at=past
        )

    def test_save_list_count_and_open(self):
        client = self.signed_in(self.applicant)
        response = self.save(client, "q=encryption&page=3&publisher=nspcc&sort=bogus")
        assert response.status_code == 302 and response["Location"] == "/portal/searches/"
        saved = SavedSearch.objects.get(user=self.applicant)
        # The state as the page keeps it: known parameters, no page number, no bad sort.
        assert saved.query == "q=encryption&publisher=nspcc"
        again = self.save(client, "publisher=nspcc&q=encryption", name="Twice")
        assert again.status_code == 302
        assert SavedSearch.objects.filter(user=self.applicant).count() == 1

        page = client.get("/portal/searches/")
        body = page.content.decode()
        assert page.status_code == 200
        assert "Nothing new" in body and "“encryption” · Publisher: NSPCC" in body

        saved_everything = self.save(client, "q=encryption", name="All encryption")
        assert saved_everything.status_code == 302
        broad = SavedSearch.objects.get(user=self.applicant, name="All encryption")
        self.publish_new_content()
        body = client.get("/portal/searches/").content.decode()
        # The new item matches the broad search (not the NSPCC one); the discussion is for
        # members, and an applicant's count never includes it.
        assert re.search(r"All encryption</a></h2>\s*<span[^>]*>1 new", body)
        assert body.count("Nothing new") == 1

        opened = client.get(f"/portal/searches/{broad.pk}/")
        assert opened.status_code == 302
        assert opened["Location"] == "/library/?q=encryption"
        body = client.get("/portal/searches/").content.decode()
        assert body.count("Nothing new") == 2

        member_count = self.signed_in(self.member)
        self.save(member_count, "q=encryption")
        self.age(SavedSearch.objects.get(user=self.member))
        body = member_count.get("/portal/searches/").content.decode()
        assert re.search(r"<span[^>]*>2 new", body)  # the item and the discussion

    def test_a_bad_save_keeps_what_was_typed(self):
        client = self.signed_in(self.member)
        response = self.save(client, "q=hashing&type=tool", name="   ")
        assert response.status_code == 400
        body = response.content.decode()
        assert "Please enter a name for the search." in body
        assert 'value="q=hashing&amp;type=tool"' in body
        assert not SavedSearch.objects.exists()

    def test_an_unknown_alert_or_one_search_too_many_is_refused_with_a_reason(self):
        client = self.signed_in(self.member)
        self.save(client, "q=hashing")
        saved = SavedSearch.objects.get()
        response = client.post(f"/portal/searches/{saved.pk}/alert/", {"alert": "hourly"})
        assert (
            "Choose how often to be e-mailed." in client.get(response["Location"]).content.decode()
        )
        assert SavedSearch.objects.get().alert == SavedSearch.Alert.OFF
        now = timezone.now()
        SavedSearch.objects.bulk_create(
            SavedSearch(
                user=self.member, name=f"S{n}", query=f"q=s{n}", seen_at=now, alerted_at=now
            )
            for n in range(MAX_SAVED_SEARCHES - 1)
        )
        refused = self.save(client, "q=one+more", name="One more")
        assert refused.status_code == 400
        assert "the most you can keep" in refused.content.decode()
        assert 'value="One more"' in refused.content.decode()

    def test_others_saved_searches_are_out_of_reach(self):
        theirs = self.signed_in(self.applicant)
        self.save(theirs, "q=hashing")
        saved = SavedSearch.objects.get()
        client = self.signed_in(self.member)
        assert client.get(f"/portal/searches/{saved.pk}/").status_code == 404
        assert client.post(f"/portal/searches/{saved.pk}/delete/").status_code == 404
        alert = client.post(f"/portal/searches/{saved.pk}/alert/", {"alert": "daily"})
        assert alert.status_code == 404
        assert SavedSearch.objects.get().alert == SavedSearch.Alert.OFF

    def test_daily_alerts_list_only_what_each_person_may_find(self):
        people = [self.member, self.applicant, self.suspended]
        for person in people:
            client = self.signed_in(person)
            self.save(client, "q=encryption")
            saved = SavedSearch.objects.get(user=person)
            response = client.post(f"/portal/searches/{saved.pk}/alert/", {"alert": "daily"})
            assert response.status_code == 302
        self.age(*SavedSearch.objects.all())
        self.publish_new_content()

        assert send_scheduled_alerts.call() == 3
        sent = {message.to[0]: message for message in mail.outbox}
        member_mail = sent["member@example.org"]
        assert member_mail.subject == "[Protectors' Portal] 2 new for “Encryption”"
        assert NEW_ITEM in member_mail.body and NEW_THREAD in member_mail.body
        html, kind = member_mail.alternatives[0]
        assert kind == "text/html" and NEW_THREAD in html and NEW_ITEM in html
        for outsider in ("applicant@example.org", "suspended@example.org"):
            assert NEW_ITEM in sent[outsider].body
            assert NEW_THREAD not in sent[outsider].body
            assert NEW_THREAD not in sent[outsider].alternatives[0][0]
            assert "1 new" in sent[outsider].subject

        # Sent once: the next run finds nothing due.
        assert send_scheduled_alerts.call() == 0

        # One-click unsubscribe: the headers, then a bare POST with no session and no CSRF token.
        assert member_mail.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = re.fullmatch(r"<(.+)>", member_mail.extra_headers["List-Unsubscribe"]).group(1)
        path = urlsplit(link).path
        anonymous = Client(enforce_csrf_checks=True)
        confirm = anonymous.get(path)
        assert confirm.status_code == 200 and "Stop these alerts" in confirm.content.decode()
        assert SavedSearch.objects.get(user=self.member).alert == SavedSearch.Alert.DAILY
        assert anonymous.post(path).status_code == 200
        assert SavedSearch.objects.get(user=self.member).alert == SavedSearch.Alert.OFF

    def test_a_forged_unsubscribe_link_changes_nothing(self):
        self.save(self.signed_in(self.member), "q=hashing")
        saved = SavedSearch.objects.get()
        SavedSearch.objects.update(alert=SavedSearch.Alert.WEEKLY)
        token = unsubscribe_token(saved)
        response = Client().post(f"/portal/searches/unsubscribe/{token[:-2]}xx/")
        assert response.status_code == 400
        assert SavedSearch.objects.get().alert == SavedSearch.Alert.WEEKLY

    def test_immediate_alerts_go_out_when_something_new_is_published(self):
        client = self.signed_in(self.member)
        self.save(client, "q=grooming&content=library", name="Grooming")
        saved = SavedSearch.objects.get()
        client.post(f"/portal/searches/{saved.pk}/alert/", {"alert": "immediate"})
        with self.captureOnCommitCallbacks(execute=True):
            make_item("Unrelated: hashing at scale")
        assert mail.outbox == []
        self.publish_new_content()
        assert len(mail.outbox) == 1
        assert NEW_ITEM in mail.outbox[0].body
        assert NEW_THREAD not in mail.outbox[0].body  # the search asked for the library only


LATE_THREAD = "Encryption audits: notes held in a long transaction"
EARLY_THREAD = "Encryption audits: who has run one?"


@pytest.mark.django_db(transaction=True)
@override_settings(SEARCH=DATABASE_SEARCH, PORTAL_POST_RATE=(1000, 60))
def test_an_entry_committed_after_a_newer_one_is_still_alerted(postgres_url):
    """Entries are stamped when indexed, inside their transaction: one whose transaction commits
    after a newer entry's alert went out carries an earlier stamp than that alert reached. It
    must still be sent, and the newer one only once. (Discussions in two categories, by two
    members, so the two transactions wait on no common row.)"""
    assert connection.vendor == "postgresql"
    reader, late_author, early_author = (
        make_person("member", name) for name in ("reader", "late-author", "early-author")
    )
    first = Category.objects.create(name="Audits", slug="audits")
    second = Category.objects.create(name="Encryption", slug="encryption")
    past = timezone.now() - datetime.timedelta(days=1)
    SavedSearch.objects.create(
        user=reader,
        name="Audits",
        query="q=audits",
        alert=SavedSearch.Alert.IMMEDIATE,
        seen_at=past,
        alerted_at=past,
    )
    stamped, go_on = threading.Event(), threading.Event()

    def start_in_a_long_transaction():
        try:
            with transaction.atomic():
                thread = forum.create_thread(late_author, first, LATE_THREAD, "Our notes.")
                search.record_change(thread_key(thread.pk))  # indexed, and so stamped, now
                stamped.set()
                go_on.wait(30)
        finally:
            connection.close()

    late = threading.Thread(target=start_in_a_long_transaction)
    late.start()
    try:
        assert stamped.wait(30)
        # Indexed, committed and its alerts run while the other transaction is still open.
        forum.create_thread(early_author, second, EARLY_THREAD, "Any checklists to share?")
        assert all(LATE_THREAD not in message.body for message in mail.outbox)
    finally:
        go_on.set()
        late.join(30)
    bodies = [message.body for message in mail.outbox]
    assert sum(LATE_THREAD in body for body in bodies) == 1
    assert sum(EARLY_THREAD in body for body in bodies) == 1


@pytest.mark.django_db
def test_entries_held_back_are_looked_at_again_once(settings):
    """With a worker that runs deferred tasks, runs that meet an open transaction queue one look
    RECHECK_SECONDS later between them, not one each."""
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    for _ in range(3):
        send_immediate_alerts_later()
    queued = DBTaskResult.objects.filter(task_path__endswith=".send_immediate_alerts")
    assert queued.count() == 1
    assert queued.get().run_after > timezone.now() + datetime.timedelta(seconds=RECHECK_SECONDS - 5)

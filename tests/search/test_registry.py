"""What search asks of the apps, through sources of the test's own: entries in one batch per
kind, rebuilds in batches, cards, facet labels, suggestions and the audience."""

import dataclasses
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from search import registry
from search.query import Hit


class Note:
    """What the test's source indexes: notes with odd ids are searchable."""

    def __init__(self, pk):
        self.pk = pk


@pytest.fixture
def notes(monkeypatch):
    monkeypatch.setattr(registry, "_sources", {})
    monkeypatch.setattr(registry, "_audience", None)
    asked = []

    def entries(ids):
        asked.append(list(ids))
        return {pk: {"visibility": "public", "title": f"Note {pk}"} for pk in ids if pk % 2}

    source = registry.Source(
        kind="note",
        model=Note,
        entries=entries,
        all_ids=lambda: [1, 2, 3, 5],
        cards=lambda ids: {pk: f"card {pk}" for pk in ids if pk != 5},
        facet_labels=lambda: {"type": {"note": "Note"}},
        suggestions=lambda text: [{"label": text.upper(), "url": "", "kind": "note"}],
    )
    registry.register(source)
    return SimpleNamespace(source=source, asked=asked)


def hit(key):
    kind, object_id = registry.split_key(key)
    return Hit(key, kind, object_id, "", "", "", [], "", "")


def test_entries_ask_each_source_once_and_say_what_is_not_searchable(notes):
    assert registry.entries(["note:1", "note:2", "other:7"]) == {
        "note:1": {"kind": "note", "object_id": 1, "visibility": "public", "title": "Note 1"},
        "note:2": None,
        "other:7": None,
    }
    assert notes.asked == [[1, 2]]


def test_rebuilds_read_every_searchable_object_in_batches(notes):
    assert registry.all_keys() == ["note:1", "note:2", "note:3", "note:5"]
    batches = [[key for key, _ in entries] for entries in registry.all_entries(batch=2)]
    assert batches == [["note:1"], ["note:3", "note:5"]]


def test_hits_carry_their_sources_cards(notes):
    hits = [hit("note:3"), hit("note:5"), hit("other:3")]
    registry.fill_cards(hits)
    assert [each.card for each in hits] == ["card 3", None, None]


def test_keys_labels_and_suggestions_come_from_the_sources(notes):
    assert registry.source_of(Note(4)).key(4) == "note:4"
    assert registry.source_of(object()) is None
    assert notes.source.ids_in(["note:4", "other:1", "note:9"]) == [4, 9]
    assert registry.facet_labels() == {"type": {"note": "Note"}}
    assert registry.suggestions("ab") == [{"label": "AB", "url": "", "kind": "note"}]


def test_a_kind_has_one_source(notes):
    registry.register(notes.source)  # registering it again changes nothing
    with pytest.raises(ImproperlyConfigured):
        registry.register(dataclasses.replace(notes.source, all_ids=list))


def test_with_no_audience_registered_everyone_finds_public_entries_only(notes):
    assert registry.visibilities(object()) == ["public"]
    registry.register_audience(lambda user: ["public", "members"])
    assert registry.visibilities(object()) == ["public", "members"]

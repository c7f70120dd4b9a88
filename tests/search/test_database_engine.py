"""The database engine against the real database of the running profile: SQLite FTS5 by default,
PostgreSQL full-text search with DATABASE_URL=postgres://…. Entries are written straight into
IndexEntry, which is the engine's index (the migration's triggers or generated column keep the
full-text data in step)."""

import datetime
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.http import QueryDict

from search.backends.database import DatabaseEngine
from search.backends.database.rendering import highlight, render_fts5
from search.backends.database.schema import fulltext_missing
from search.models import IndexEntry
from search.query import SearchRequest, parse_text

pytestmark = pytest.mark.django_db

PUBLIC = ["public"]
EVERYONE = ["public", "members"]
CSAM = {("csam",): [("child", "sexual", "abuse", "material")]}

ENTRIES = [
    dict(
        key="item:1",
        title="Encryption and child safety online",
        summary="How end-to-end encryption changes child safety work for platforms.",
        body="Platforms scan for known material.",
        publishers="iwf ncmec",
        publisher_names="Internet Watch Foundation, NCMEC",
        type="report",
        themes="encryption detection",
        language="en",
        date=datetime.date(2023, 5, 1),
    ),
    dict(
        key="item:2",
        title="Reporting abuse material to hotlines",
        summary="A practical route for reporting child sexual abuse material.",
        body="Hotlines accept reports around the clock.",
        publishers="iwf",
        publisher_names="Internet Watch Foundation",
        type="guidance",
        themes="reporting",
        language="en",
        date=datetime.date(2021, 3, 10),
    ),
    dict(
        key="item:3",
        title="Safety by design",
        summary="Every child deserves platforms built with online safety in mind.",
        publishers="ncmec",
        publisher_names="NCMEC",
        type="report",
        themes="safety-by-design",
        language="fr",
        date=datetime.date(2022, 7, 1),
    ),
    dict(
        key="item:4",
        title="Grooming detection tools",
        # Not first: PostgreSQL's fragments start at a word, trimming a leading "<" (still safe).
        summary="Beware <script>alert(1)</script> encryption",
        body="Classifiers flag grooming conversations.",
        publishers="thorn",
        publisher_names="Thorn",
        type="tool",
        themes="detection",
        language="en",
        date=datetime.date(2024, 1, 15),
    ),
    dict(
        key="item:5",
        visibility="members",
        title="Encryption members briefing",
        summary="Confidential encryption notes for members.",
        publishers="thorn",
        publisher_names="Thorn",
        type="report",
        themes="encryption",
        language="en",
        date=datetime.date(2024, 2, 1),
    ),
    dict(
        key="theme:6",
        kind="theme",
        title="Encryption",
        summary="Resources about encryption and its effect on detection.",
    ),
    dict(
        key="item:7",
        title="Sextortion evidence handbook",
        summary="Handling reporting of sextortion cases.",
        body="Preserve the video and chat logs as evidence.",
        publishers="ncmec",
        publisher_names="NCMEC",
        type="guidance",
        themes="reporting",
        language="en",
        date=datetime.date(2020, 9, 9),
    ),
    dict(
        key="item:8",
        title="Annual figures",
        summary="Short summary.",
        attachments="Appendix covering livestreaming abuse in depth.",
        publishers="iwf",
        publisher_names="Internet Watch Foundation",
        type="report",
        language="en",
        date=datetime.date(2019, 11, 30),
    ),
]
PUBLIC_KEYS = {e["key"] for e in ENTRIES if e.get("visibility", "public") == "public"}


def make_entry(**fields):
    kind, _, number = fields["key"].partition(":")
    fields.setdefault("kind", kind)
    fields.setdefault("object_id", int(number))
    fields.setdefault("url", f"/library/{fields['key'].replace(':', '-')}/")
    if fields.get("date"):
        fields.setdefault("year", fields["date"].year)
    return IndexEntry.objects.create(**fields)


@pytest.fixture
def entries():
    return {e["key"]: make_entry(**e) for e in ENTRIES}


def run(q="", synonyms=None, visibilities=PUBLIC, page_size=None, **params):
    request = SearchRequest.from_params(QueryDict(urlencode({"q": q, **params}, doseq=True)))
    if page_size:
        request.page_size = page_size
    return DatabaseEngine().search(request, parse_text(request.text, synonyms), visibilities)


def keys(results):
    return [hit.key for hit in results.hits]


def counts(results, facet):
    return [(v.value, v.count, v.selected) for v in results.facets[facet]]


def hit(results, key):
    return next(h for h in results.hits if h.key == key)


# --- Matching -----------------------------------------------------------------------------------


def test_stemming_finds_other_forms_and_hides_members_entries(entries):
    results = run("encrypt")
    assert set(keys(results)) == {"item:1", "item:4", "theme:6"}
    assert results.total == 3
    assert results.engine == "database"
    assert "item:5" in keys(run("encrypt", visibilities=EVERYONE))


def test_members_only_entries_are_never_returned_or_counted_for_the_public(entries):
    assert run("confidential").total == 0
    assert keys(run("confidential", visibilities=EVERYONE)) == ["item:5"]
    browse = run()
    assert set(keys(browse)) == PUBLIC_KEYS
    assert ("thorn", 1, False) in counts(browse, "publisher")  # item:4 only, not item:5
    assert run(visibilities=[]).total == 0


def test_phrase_needs_the_words_together(entries):
    assert keys(run('"child safety"')) == ["item:1"]
    assert set(keys(run("child safety"))) == {"item:1", "item:3"}


def test_exclusion_of_words_and_phrases(entries):
    assert set(keys(run("reporting"))) == {"item:2", "item:7"}
    assert keys(run("reporting -video")) == ["item:2"]
    assert keys(run('reporting -"chat logs"')) == ["item:2"]
    assert keys(run('reporting -"logs chat"')) != ["item:2"]  # a phrase, in order


def test_only_negated_clauses_return_everything_else(entries):
    results = run("-encryption")
    assert set(keys(results)) == PUBLIC_KEYS - {"item:1", "item:4", "theme:6"}
    assert all(h.score == 0 for h in results.hits)


def test_synonyms_are_alternatives(entries):
    assert run("csam").total == 0
    assert keys(run("csam", synonyms=CSAM)) == ["item:2"]
    assert keys(run("csam hotlines", synonyms=CSAM)) == ["item:2"]
    assert run("csam video", synonyms=CSAM).total == 0


def test_stop_words_do_not_narrow_the_search(entries):
    assert set(keys(run("the encryption of"))) == set(keys(run("encryption")))
    assert run("the").total == run("").total  # nothing asked for: every entry, on every engine


@pytest.mark.parametrize(
    "text", ['"unbalanced', "-", "*", "a AND OR NOT b", "( ) : ^ + NEAR(x y)", "_", "x" * 200]
)
def test_odd_input_never_breaks_the_query(entries, text):
    run(text)


def test_index_follows_inserts_updates_and_deletes(entries):
    entry = entries["item:7"]
    entry.title = "Extortion casebook"
    entry.save()
    assert run("sextortion handbook").total == 0
    assert keys(run("casebook")) == ["item:7"]
    IndexEntry.objects.filter(key="item:7").update(summary="Nothing about blackmail here.")
    assert keys(run("blackmail")) == ["item:7"]
    entry.delete()
    assert run("casebook").total == 0
    make_entry(key="item:9", title="Casebook of hotline work")
    assert keys(run("casebook")) == ["item:9"]


# --- Facets, filters, sorting, paging -----------------------------------------------------------


def test_facet_counts_without_filters(entries):
    results = run()
    assert results.total == len(PUBLIC_KEYS)
    assert counts(results, "publisher") == [
        ("iwf", 3, False),
        ("ncmec", 3, False),
        ("thorn", 1, False),
    ]
    assert counts(results, "type") == [
        ("report", 3, False),
        ("guidance", 2, False),
        ("tool", 1, False),
    ]
    assert counts(results, "theme") == [
        ("detection", 2, False),
        ("reporting", 2, False),
        ("encryption", 1, False),
        ("safety-by-design", 1, False),
    ]
    assert counts(results, "language") == [("en", 5, False), ("fr", 1, False)]
    assert counts(results, "year") == [
        (str(year), 1, False) for year in (2024, 2023, 2022, 2021, 2020, 2019)
    ]
    assert all(v.label == "" for values in results.facets.values() for v in values)


def test_facet_counts_are_disjunctive(entries):
    results = run(publisher="iwf")
    assert set(keys(results)) == {"item:1", "item:2", "item:8"}
    # The publisher facet ignores its own filter, so other publishers can be added...
    assert counts(results, "publisher") == [
        ("iwf", 3, True),
        ("ncmec", 3, False),
        ("thorn", 1, False),
    ]
    # ...while every other facet counts only IWF's entries.
    assert counts(results, "type") == [("report", 2, False), ("guidance", 1, False)]

    both = run(publisher="iwf", type="guidance")
    assert keys(both) == ["item:2"]
    assert counts(both, "publisher") == [("iwf", 1, True), ("ncmec", 1, False)]
    assert counts(both, "type") == [("report", 2, False), ("guidance", 1, True)]
    assert counts(both, "theme") == [("reporting", 1, False)]

    two = run(publisher=["iwf", "thorn"])
    assert set(keys(two)) == {"item:1", "item:2", "item:4", "item:8"}


def test_facets_with_text_theme_and_language_filters(entries):
    results = run("reporting", theme="reporting", language="en")
    assert set(keys(results)) == {"item:2", "item:7"}
    assert counts(results, "theme") == [("reporting", 2, True)]
    french = run(language="fr")
    assert keys(french) == ["item:3"]
    assert counts(french, "language") == [("en", 5, False), ("fr", 1, True)]


def test_a_selected_value_without_matches_stays_listed(entries):
    results = run("grooming", publisher="iwf")
    assert results.total == 0 and results.hits == []
    assert counts(results, "publisher") == [("thorn", 1, False), ("iwf", 0, True)]


def test_year_range(entries):
    results = run(year_from="2021", year_to="2023")
    assert set(keys(results)) == {"item:1", "item:2", "item:3"}
    assert counts(results, "year") == [
        ("2024", 1, False),
        ("2023", 1, True),
        ("2022", 1, True),
        ("2021", 1, True),
        ("2020", 1, False),
        ("2019", 1, False),
    ]
    assert set(keys(run(year_from="2023"))) == {"item:1", "item:4"}
    assert set(keys(run(year_to="2019"))) == {"item:8"}
    assert counts(run(year_from="2023", publisher="iwf"), "year") == [
        ("2023", 1, True),
        ("2021", 1, False),
        ("2019", 1, False),
    ]


def test_sorts(entries):
    newest = ["item:4", "item:1", "item:3", "item:2", "item:7", "item:8", "theme:6"]
    assert keys(run(sort="newest")) == newest
    assert keys(run(sort="oldest")) == [*reversed(newest[:-1]), "theme:6"]  # undated last
    assert keys(run()) == newest  # browsing: no rank, so newest first


def test_relevance_puts_title_matches_above_summary_matches(entries):
    results = run("encryption")
    assert set(keys(results)[:2]) == {"item:1", "theme:6"}
    assert keys(results)[2] == "item:4"
    assert results.hits[0].score > results.hits[2].score > 0


def test_pagination_edges(entries):
    full = keys(run(sort="newest"))
    pages = [run(sort="newest", page=str(n), page_size=3) for n in (1, 2, 3, 4)]
    assert [len(p.hits) for p in pages] == [3, 3, 1, 0]
    assert all(p.total == len(PUBLIC_KEYS) for p in pages)
    assert [k for p in pages for k in keys(p)] == full
    assert pages[3].facets["publisher"]  # facets still there beyond the last page


# --- Hits ---------------------------------------------------------------------------------------


def test_hit_fields(entries):
    found = hit(run("grooming"), "item:4")
    assert (found.kind, found.object_id, found.title) == ("item", 4, "Grooming detection tools")
    assert found.url == "/library/item-4/"
    assert (found.publishers, found.type, found.date) == (["thorn"], "tool", "2024-01-15")
    theme = hit(run("resources"), "theme:6")
    assert (theme.publishers, theme.type, theme.date) == ([], "", "")


def test_snippet_is_escaped_with_marked_matches(entries):
    snippet = hit(run("encryption"), "item:4").snippet
    assert "&lt;script&gt;" in snippet
    assert "<script>" not in snippet
    assert "<mark>encryption</mark>" in snippet


def test_snippet_comes_from_the_field_that_matches(entries):
    assert "<mark>livestreaming</mark>" in hit(run("livestreaming"), "item:8").snippet
    body = hit(run("classifiers"), "item:4").snippet
    assert "<mark>Classifiers</mark>" in body and "script" not in body
    phrase = hit(run('"child safety"'), "item:1").snippet
    assert "<mark>child</mark> <mark>safety</mark>" in phrase or "<mark>child safety</mark>" in (
        phrase
    )


def test_snippet_without_a_text_match_is_the_summary(entries):
    assert hit(run(), "item:2").snippet == (
        "A practical route for reporting child sexual abuse material."
    )
    assert "<mark>" not in hit(run("-video"), "item:2").snippet
    title_only = hit(run("annual"), "item:8").snippet
    assert title_only == "Short summary."


def test_highlight_balances_and_escapes():
    assert (
        highlight("a \ue000<b>\ue001 & \ue000c") == "a <mark>&lt;b&gt;</mark> &amp; <mark>c</mark>"
    )
    assert highlight("\ue001x\ue000\ue000y") == "x<mark>y</mark>"


def test_fts5_rendering():
    clauses = parse_text('csam "child safety" -video the', CSAM)
    assert render_fts5(clauses) == (
        '("csam" OR "child sexual abuse material") AND ("child safety" OR "childsafety")',
        '("video")',
    )


# --- Autocomplete, suggestions, related ----------------------------------------------------------


def test_autocomplete_titles_by_prefix(entries):
    engine = DatabaseEngine()
    labels = [s["label"] for s in engine.autocomplete("encry", PUBLIC)]
    assert labels == ["Encryption", "Encryption and child safety online"]
    first = engine.autocomplete("encry", PUBLIC)[0]
    assert first == {"label": "Encryption", "url": "/library/theme-6/", "kind": "theme"}
    assert [s["label"] for s in engine.autocomplete("child saf", PUBLIC)] == [
        "Encryption and child safety online"
    ]
    assert engine.autocomplete("chil saf", PUBLIC) == []  # earlier words are whole words
    members = [s["label"] for s in engine.autocomplete("encryption mem", EVERYONE)]
    assert members == ["Encryption members briefing"]
    assert engine.autocomplete("encryption mem", PUBLIC) == []
    assert len(engine.autocomplete("e", PUBLIC, limit=1)) <= 1
    assert engine.autocomplete("%_", PUBLIC) == []


def test_autocomplete_offers_publishers_once(entries):
    from library.models import Publisher
    from search import service

    Publisher.objects.create(name="Internet Watch Foundation", short_name="IWF", slug="iwf")
    Publisher.objects.create(name="Thorn", slug="thorn")
    found = service.autocomplete("intern", PUBLIC)
    publishers = [s for s in found if s["kind"] == "publisher"]
    assert publishers == [
        {"label": "Internet Watch Foundation", "url": "", "kind": "publisher", "value": "iwf"}
    ]
    iwf = service.autocomplete("iwf", PUBLIC)
    assert [s["value"] for s in iwf if s["kind"] == "publisher"] == ["iwf"]


def test_suggest_corrects_misspelt_words(entries):
    engine = DatabaseEngine()
    assert engine.suggest("encrpytion") == "encryption"
    assert engine.suggest('safety "encrpytion" -grooimng') == 'safety "encryption" -grooming'
    assert engine.suggest("encryption") == ""
    assert engine.suggest("platforms") == ""  # known from a body, not only titles
    assert engine.suggest("xqzvwk") == ""
    assert engine.suggest("confidentail") == ""  # only in a members' entry: never suggested


def test_suggest_vocabulary_follows_changes(entries):
    engine = DatabaseEngine()
    assert engine.suggest("sextortoin") == "sextortion"
    make_entry(key="item:10", title="Livestreamed abuse")
    assert engine.suggest("livestreemed") == "livestreamed"


def test_related_entries(entries):
    engine = DatabaseEngine()
    related = engine.related("item:1", PUBLIC, limit=4)
    assert related and "item:1" not in related and "item:5" not in related
    assert set(related) <= PUBLIC_KEYS
    assert related[0] == "item:3"  # child, safety, online, platforms
    assert {"item:4", "theme:6"} <= set(engine.related("item:1", PUBLIC, limit=10))
    assert "item:5" in engine.related("item:1", EVERYONE, limit=10)
    assert len(engine.related("item:1", PUBLIC, limit=1)) == 1
    assert engine.related("item:404", PUBLIC) == []
    # Restricted without touching updated_at (a bulk update): the cached term index still has it
    # public, the final read does not.
    IndexEntry.objects.filter(key="item:3").update(visibility="members")
    assert "item:3" not in engine.related("item:1", PUBLIC, limit=10)
    # Sharing only a theme or publisher is enough to be related.
    lone = make_entry(key="item:11", title="Zzyzx", publishers="thorn", themes="reporting")
    assert set(engine.related(lone.key, PUBLIC, limit=10)) == {"item:2", "item:4", "item:7"}


# --- Maintenance --------------------------------------------------------------------------------


def test_status_upsert_delete_and_rebuild(entries):
    engine = DatabaseEngine()
    status = engine.status()
    assert status == {
        "documents": len(ENTRIES),
        "index": "site_search_indexentry",
        "vendor": connection.vendor,
    }
    engine.upsert(list(IndexEntry.objects.all()))
    engine.delete(["item:1"])
    assert "item:1" in keys(run("encryption"))
    done = []
    assert engine.rebuild(IndexEntry.objects.none(), 0, done.append) == "site_search_indexentry"
    assert done == [len(ENTRIES)]
    assert set(keys(run("encrypt"))) == {"item:1", "item:4", "theme:6"}


def test_rebuild_restores_dropped_fulltext_objects(entries):
    engine = DatabaseEngine()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER site_search_indexentry_fts_insert")
            cursor.execute("DROP INDEX site_search_indexentry_facets")
            lost = {"site_search_indexentry_fts_insert", "site_search_indexentry_facets"}
        else:
            cursor.execute("DROP INDEX site_search_indexentry_search_vector")
            lost = {"site_search_indexentry_search_vector"}
    assert set(fulltext_missing(connection)) == lost
    assert engine.status()["missing"] == fulltext_missing(connection)
    make_entry(key="item:12", title="Unindexed newcomer about grooming")
    assert run("encryption", publisher="thorn").total == 1  # works without the index
    engine.rebuild(IndexEntry.objects.none(), 0)
    assert fulltext_missing(connection) == []
    assert "missing" not in engine.status()
    assert "item:12" in keys(run("newcomer grooming"))

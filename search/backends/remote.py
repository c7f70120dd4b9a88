"""OpenSearch and Elasticsearch: one mapping and one query builder (elasticsearch-dsl), sent
through opensearch-py or elasticsearch-py. The two clients share the calls used here."""

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from django.utils.html import escape
from elasticsearch.dsl import A, Index, Q, Search, analyzer, token_filter

from search.backends.base import EngineError, SearchEngine
from search.backends.facets import facet_lists
from search.query import (
    FACETS,
    Hit,
    SearchResults,
    content_counts,
    kinds_of,
    title_key,
    title_phrases,
)

TEXT_FIELDS = ["title^4", "summary^3", "publisher_names^2", "body^2", "attachments"]
SNIPPET_FIELDS = ["summary", "body", "attachments", "title"]
FACET_FIELDS = {
    "content": "kind",  # search.query.CONTENTS: each value stands for some kinds
    "publisher": "publishers",
    "type": "type",
    "theme": "themes",
    "year": "year",
    "language": "language",
}
FACET_SIZE = 200
TITLE_BOOST = 1000.0  # above any text score of a search; see _title_boosts
BULK_CHUNK = 500
# A rebuild sends bigger batches, several at once: the engine indexes them on its own threads.
REBUILD_CHUNK = 2000
REBUILD_REQUESTS = 3

english = analyzer(
    "portal_english",
    tokenizer="standard",
    filter=[
        "lowercase",
        "asciifolding",
        token_filter("portal_stop", "stop", stopwords="_english_"),
        token_filter("portal_stemmer", "stemmer", language="english"),
    ],
)


def index_definition(name, shards=1, replicas=0):
    """The index: its analysis settings and mappings, as one elasticsearch-dsl Index."""
    index = Index(name)
    index.settings(number_of_shards=shards, number_of_replicas=replicas, max_result_window=10_000)
    text = {"type": "text", "analyzer": english}
    index.mapping(
        _mapping(
            key={"type": "keyword"},
            kind={"type": "keyword"},
            object_id={"type": "long"},
            visibility={"type": "keyword"},
            title={
                **text,
                "fields": {
                    "sayt": {"type": "search_as_you_type"},
                    "plain": {"type": "text", "analyzer": "standard"},
                },
            },
            summary=text,
            body=text,
            attachments=text,
            publisher_names=text,
            spelling={"type": "text", "analyzer": "standard"},  # see entry_source
            publishers={"type": "keyword"},
            type={"type": "keyword"},
            type_name={"type": "keyword"},
            themes={"type": "keyword"},
            language={"type": "keyword"},
            date={"type": "date"},
            year={"type": "integer"},
            url={"type": "keyword", "index": False},
            # search.query.title_key of the title, spaced and compact, for the title boosts
            title_key={"type": "keyword"},
            title_compact={"type": "keyword"},
        )
    )
    return index


def _mapping(**properties):
    from elasticsearch.dsl import Mapping

    mapping = Mapping()
    for name, definition in properties.items():
        mapping.field(
            name, definition["type"], **{k: v for k, v in definition.items() if k != "type"}
        )
    return mapping


def entry_source(entry):
    """The engine document for an IndexEntry row."""
    return {
        "key": entry.key,
        "kind": entry.kind,
        "object_id": entry.object_id,
        "visibility": entry.visibility,
        "title": entry.title,
        "summary": entry.summary,
        "body": entry.body,
        "attachments": entry.attachments,
        "publisher_names": entry.publisher_names,
        # suggest()'s vocabulary: the term suggester cannot filter by visibility, so only public
        # entries' words go in, and "did you mean" never offers a word from members' entries.
        "spelling": [entry.title, entry.summary, entry.publisher_names]
        if entry.visibility == "public"
        else [],
        "publishers": entry.publishers.split(),
        "type": entry.type or None,
        "type_name": entry.type_name,
        "themes": entry.themes.split(),
        "language": entry.language or None,
        "date": entry.date.isoformat() if entry.date else None,
        "year": entry.year,
        "url": entry.url,
        "title_key": title_key(entry.title),
        "title_compact": title_key(entry.title).replace(" ", ""),
    }


def _clause_query(clause):
    alternatives = [
        Q("multi_match", query=" ".join(words), fields=TEXT_FIELDS, type="phrase")
        if len(words) > 1
        else Q("multi_match", query=words[0], fields=TEXT_FIELDS, type="best_fields")
        for words in clause.alternatives
    ]
    return alternatives[0] if len(alternatives) == 1 else Q("bool", should=alternatives)


def _title_boosts(clauses):
    """Constant scores far above any text score, so a title equal to the query comes first and
    one starting with it next (search.query.title_match), text relevance deciding within."""
    phrases = title_phrases(clauses)
    if not phrases:
        return []
    return [
        Q("terms", title_compact=[p.replace(" ", "") for p in phrases], boost=2 * TITLE_BOOST),
        *(Q("prefix", title_key={"value": p + " ", "boost": TITLE_BOOST}) for p in phrases),
    ]


def _filter_queries(request, excluding=None):
    queries = []
    for facet, values in request.filters(excluding=excluding).items():
        if facet == "year":
            low, high = values
            queries.append(Q("range", year={k: v for k, v in (("gte", low), ("lte", high)) if v}))
        else:
            values = kinds_of(values) if facet == "content" else values
            queries.append(Q("terms", **{FACET_FIELDS[facet]: values}))
    return queries


def build_search(request, clauses, visibilities):
    """The whole search, facets and highlights included, as one elasticsearch-dsl Search."""
    positive = [_clause_query(c) for c in clauses if not c.negated]
    negative = [_clause_query(c) for c in clauses if c.negated]
    search = Search().query(
        Q(
            "bool",
            must=positive or [Q("match_all")],
            should=_title_boosts(clauses) if positive else [],
            must_not=negative,
            filter=[
                Q("terms", visibility=visibilities),
                *([Q("terms", key=list(request.within))] if request.within is not None else []),
            ],
        )
    )
    active = _filter_queries(request)
    if active:
        # post_filter narrows the hits but not the aggregations, so each facet can be counted
        # with every filter but its own.
        search = search.post_filter(Q("bool", filter=active))
    for facet in FACETS:
        others = _filter_queries(request, excluding=facet)
        bucket = A("filter", Q("bool", filter=others) if others else Q("match_all"))
        bucket.bucket("values", "terms", field=FACET_FIELDS[facet], size=FACET_SIZE)
        search.aggs.bucket(facet, bucket)
    if request.sort == "newest":
        search = search.sort({"date": {"order": "desc", "missing": "_last"}}, {"key": "asc"})
    elif request.sort == "oldest":
        search = search.sort({"date": {"order": "asc", "missing": "_last"}}, {"key": "asc"})
    else:
        search = search.sort("_score", {"date": {"order": "desc", "missing": "_last"}})
    search = search.highlight_options(
        pre_tags=["<mark>"], post_tags=["</mark>"], encoder="html", number_of_fragments=1
    ).highlight(*SNIPPET_FIELDS, fragment_size=180)
    search = search.extra(track_total_hits=True)
    return search[request.offset : request.offset + request.page_size]


class RemoteEngine(SearchEngine):
    """OpenSearch 2/3 or Elasticsearch 8, reached through `client` under the alias `alias`;
    `writer` is the same nodes with the longer patience that writes may have."""

    def __init__(self, name, client, alias, writer=None, shards=1, replicas=0):
        self.name = name
        self.client = client
        self.writer = writer or client
        self.alias = alias
        self.shards = shards
        self.replicas = replicas

    def _create_index(self, name, building=False):
        definition = index_definition(name, self.shards, 0 if building else self.replicas)
        if building:
            definition.settings(refresh_interval="-1")
        self._call(self.writer.indices.create, index=name, body=definition.to_dict())

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as error:  # each client raises its own transport and API errors
            raise EngineError(f"{self.name}: {str(error).splitlines()[0][:300]}") from error

    def search(self, request, clauses, visibilities):
        body = build_search(request, clauses, visibilities).to_dict()
        response = self._call(self.client.search, index=self.alias, body=body)
        hits = [self._hit(raw) for raw in response["hits"]["hits"]]
        counts = {}
        for facet in FACETS:
            buckets = response["aggregations"][facet]["values"]["buckets"]
            counted = {str(bucket["key"]): bucket["doc_count"] for bucket in buckets}
            counts[facet] = content_counts(counted) if facet == "content" else counted
        total = response["hits"]["total"]
        return SearchResults(
            request=request,
            total=total["value"] if isinstance(total, dict) else total,
            hits=hits,
            facets=facet_lists(request, counts),
            engine=self.name,
        )

    @staticmethod
    def _hit(raw):
        source = raw["_source"]
        highlights = raw.get("highlight", {})
        snippet = next(
            (highlights[field][0] for field in SNIPPET_FIELDS if field in highlights), None
        )
        if snippet is None:
            summary = source.get("summary") or ""
            snippet = escape(summary[:240] + ("…" if len(summary) > 240 else ""))
        return Hit(
            key=source["key"],
            kind=source["kind"],
            object_id=source["object_id"],
            title=source["title"],
            url=source["url"],
            snippet=snippet,
            publishers=source.get("publishers", []),
            type=source.get("type") or "",
            date=source.get("date") or "",
            score=raw.get("_score") or 0.0,
        )

    def autocomplete(self, text, visibilities, limit=8):
        search = (
            Search()
            .query(
                Q(
                    "bool",
                    must=[
                        Q(
                            "multi_match",
                            query=text,
                            type="bool_prefix",
                            fields=["title.sayt", "title.sayt._2gram", "title.sayt._3gram"],
                        )
                    ],
                    filter=[Q("terms", visibility=visibilities)],
                )
            )
            .source(["title", "url", "kind"])[:limit]
        )
        response = self._call(self.client.search, index=self.alias, body=search.to_dict())
        return [
            {
                "label": hit["_source"]["title"],
                "url": hit["_source"]["url"],
                "kind": hit["_source"]["kind"],
            }
            for hit in response["hits"]["hits"]
        ]

    def suggest(self, text):
        body = {
            "size": 0,
            "suggest": {
                "spelling": {
                    "text": text,
                    "term": {"field": "spelling", "suggest_mode": "missing", "min_word_length": 4},
                }
            },
        }
        response = self._call(self.client.search, index=self.alias, body=body)
        corrected, changed = [], False
        for part in response["suggest"]["spelling"]:
            options = part["options"]
            if options:
                corrected.append(options[0]["text"])
                changed = True
            else:
                corrected.append(part["text"])
        return " ".join(corrected) if changed else ""

    def related(self, key, visibilities, limit=4):
        search = (
            Search()
            .query(
                Q(
                    "bool",
                    must=[
                        Q(
                            "more_like_this",
                            fields=["title", "summary", "body"],
                            like=[{"_index": self.alias, "_id": key}],
                            min_term_freq=1,
                            min_doc_freq=1,
                            max_query_terms=25,
                            minimum_should_match="10%",
                        )
                    ],
                    filter=[Q("terms", visibility=visibilities), Q("term", kind="item")],
                )
            )
            .source(["key"])[:limit]
        )
        response = self._call(self.client.search, index=self.alias, body=search.to_dict())
        return [hit["_source"]["key"] for hit in response["hits"]["hits"]]

    # --- writing ---------------------------------------------------------------------------

    def _bulk(self, actions, refresh=None):
        """Send (action, source) pairs in one bulk request; a missing document on delete is fine."""
        body = []
        for action, source in actions:
            body.append(action)
            if source is not None:
                body.append(source)
        if not body:
            return
        options = {"refresh": refresh} if refresh else {}
        response = self._call(self.writer.bulk, body=body, **options)
        if response.get("errors"):
            failed = [
                item
                for item in response["items"]
                if next(iter(item.values())).get("status", 200) >= 300
                and next(iter(item.values())).get("status") != 404
            ]
            if failed:
                raise EngineError(f"{self.name}: {len(failed)} documents failed: {failed[0]}")

    def _bulk_counted(self, actions):
        self._bulk(actions)
        return len(actions)

    def ensure_index(self):
        """Create the first index behind the alias if there is none yet."""
        if self._call(self.writer.indices.exists_alias, name=self.alias):
            return
        name = self._new_index_name()
        self._create_index(name)
        self._call(
            self.writer.indices.update_aliases,
            body={"actions": [{"add": {"index": name, "alias": self.alias}}]},
        )

    def upsert(self, entries):
        self.ensure_index()
        for start in range(0, len(entries), BULK_CHUNK):
            chunk = entries[start : start + BULK_CHUNK]
            self._bulk(
                [({"index": {"_index": self.alias, "_id": e.key}}, entry_source(e)) for e in chunk],
                refresh="wait_for",
            )

    def delete(self, keys):
        self.ensure_index()
        self._bulk(
            [({"delete": {"_index": self.alias, "_id": key}}, None) for key in keys],
            refresh="wait_for",
        )

    def _new_index_name(self):
        return f"{self.alias}-{time.strftime('%Y%m%d%H%M%S')}-{time.monotonic_ns() % 100000}"

    def rebuild(self, entries, total, progress=None):
        """Build a fresh index beside the live one, then move the alias to it in one step.

        While it is built nobody searches it, so it has no replicas and is never refreshed;
        bulk requests go out REBUILD_REQUESTS at a time while the next batch is serialised.
        Both settings are restored before the alias moves to it."""
        name = self._new_index_name()
        self._create_index(name, building=True)
        done = 0
        in_flight = deque()

        def settle(until):
            nonlocal done
            while len(in_flight) > until:
                done += in_flight.popleft().result()
                if progress:
                    progress(done)

        with ThreadPoolExecutor(REBUILD_REQUESTS) as pool:
            batch = []
            for entry in entries:
                batch.append(({"index": {"_index": name, "_id": entry.key}}, entry_source(entry)))
                if len(batch) >= REBUILD_CHUNK:
                    settle(REBUILD_REQUESTS - 1)
                    in_flight.append(pool.submit(self._bulk_counted, batch))
                    batch = []
            in_flight.append(pool.submit(self._bulk_counted, batch))
            settle(0)
        self._call(
            self.writer.indices.put_settings,
            index=name,
            body={"index": {"refresh_interval": None, "number_of_replicas": self.replicas}},
        )
        self._call(self.writer.indices.refresh, index=name)
        old = []
        if self._call(self.writer.indices.exists_alias, name=self.alias):
            old = list(self._call(self.writer.indices.get_alias, name=self.alias))
        actions = [{"remove": {"index": index, "alias": self.alias}} for index in old]
        actions.append({"add": {"index": name, "alias": self.alias}})
        self._call(self.writer.indices.update_aliases, body={"actions": actions})
        for index in old:
            self._call(self.writer.indices.delete, index=index)
        return name

    def status(self):
        if not self._call(self.client.indices.exists_alias, name=self.alias):
            return {"index": None, "documents": 0}
        indices = list(self._call(self.client.indices.get_alias, name=self.alias))
        count = self._call(self.client.count, index=self.alias)["count"]
        return {"index": indices[0] if indices else None, "alias": self.alias, "documents": count}

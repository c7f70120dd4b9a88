"""Server time and SQL query count per public library page type, with thousands of library items.

Runs on a fresh database: a temporary SQLite file by default; with DATABASE_URL set to PostgreSQL, a
new database created beside it and dropped afterwards (a sqlite:// DATABASE_URL is used as given).
Migrates, loads the demo content, then adds --items generated library items in bulk: Page rows
with their tree paths computed here (as treebeard would: steplen 4, alphabet 0-9A-Z), the item
rows, their publishers and themes, and the parent's numchild. Checks the page tree and renders the
new pages, then times each page type through Django's test client. Prints a table and writes
bench/results/library_pages.json.

    .venv/bin/python bench/library_pages.py [--items 10000] [--requests 50] [--seed 1]
"""

import argparse
import datetime
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import percentile  # noqa: E402 - needs the project root on sys.path

DEMO_ITEM = "/library/end-to-end-encryption-understanding-the-impacts-for-child-safety-online/"
PAGES = {
    "home": "/",
    "theme": "/themes/technology/",
    "library p1": "/library/",
    "library p200": "/library/?page=200",
    "item": DEMO_ITEM,
    "publisher": "/library/publishers/nspcc/",
    "type": "/library/types/report/",
    "rss": "/library/feed/rss/",
    "api items": "/api/v2/items/",
}
SLOW_MS = 200
REPEATED = 5  # a query shape run this often in one request is reported as a likely N+1

# --- Realistic-looking content --------------------------------------------------------------

TOPICS = [
    "end-to-end encryption",
    "online grooming",
    "financial sextortion",
    "livestreamed child sexual abuse",
    "age assurance",
    "hash matching",
    "self-generated sexual imagery",
    "AI-generated child sexual abuse material",
    "offender prevention",
    "victim identification",
    "content moderation",
    "safety by design",
    "platform transparency reporting",
    "reporting pathways",
    "survivor support services",
    "cross-border investigations",
    "peer-on-peer abuse",
    "parental controls",
    "digital literacy",
    "law enforcement capacity",
    "data retention",
    "child helplines",
    "image takedown",
    "risk assessment",
    "online gaming platforms",
    "travelling sex offenders",
    "deterrence messaging",
    "trauma-informed practice",
]
AUDIENCES = [
    "tech companies",
    "schools",
    "parents and carers",
    "social workers",
    "police investigators",
    "policymakers",
    "helpline staff",
    "health professionals",
    "regulators",
    "youth workers",
]
GROUPS = [
    "adolescents",
    "children under 13",
    "young people with disabilities",
    "boys",
    "girls",
    "survivors",
    "first-time offenders",
]
REGIONS = [
    "South-East Asia",
    "Latin America",
    "East Africa",
    "the European Union",
    "the Pacific",
    "West Africa",
    "South Asia",
    "North America",
    "the Middle East and North Africa",
    "Central Asia",
]
ANGLES = [
    "a global review",
    "what the evidence says",
    "trends and responses",
    "questions and answers",
    "a practitioner's toolkit",
    "policy options",
    "survey findings",
    "a framework for action",
    "emerging risks",
    "lessons learned",
]
TITLE_PATTERNS = [
    "{Topic}: {angle}",
    "Understanding {topic} among {group}",
    "{year} threat assessment: {topic}",
    "How {audience} can respond to {topic}",
    "Tackling {topic} in {region}",
    "{Topic} and {topic2}: {angle}",
    "Guidance on {topic} for {audience}",
    "{Topic} in {region}, {year}",
]
SUMMARY_OPENINGS = [
    "This {kind} examines {topic} and its consequences for {group}.",
    "Drawing on cases from {region}, this {kind} sets out how {audience} can address {topic}.",
    "A {kind} for {audience} on {topic}, with practical steps and examples.",
    "Findings from {region} show how {topic} affects {group}, and what works in response.",
    "This {kind} brings together research and practice on {topic}.",
]
SUMMARY_CLOSINGS = [
    "It ends with recommendations for governments, industry and civil society.",
    "It is intended for {audience} and anyone commissioning services.",
    "The authors call for closer cooperation between {audience} and {audience2}.",
    "It includes a checklist and links to further reading.",
    "Survivors were consulted throughout its preparation.",
    "Data were collected between {year0} and {year}.",
]
BODY_PARAGRAPH = (
    "<p>This resource looks at <b>{topic}</b> from the point of view of {audience}. It describes "
    "the scale of the problem in {region}, the responses tried so far and the gaps that remain."
    "</p><p>It recommends that {audience2} work with specialist services so that {group} get "
    "help early, and that progress is measured and published every year.</p>"
)
LANGUAGES = ["en"] * 16 + ["fr", "es", "pt", "ar"]
TYPE_WEIGHTS = {"report": 30, "briefing": 20, "guide": 20, "tool": 15, "media": 15}


def capitalise(text):
    return text[:1].upper() + text[1:]


def item_content(rng, year):
    words = {
        "topic": rng.choice(TOPICS),
        "topic2": rng.choice(TOPICS),
        "audience": rng.choice(AUDIENCES),
        "audience2": rng.choice(AUDIENCES),
        "group": rng.choice(GROUPS),
        "region": rng.choice(REGIONS),
        "angle": rng.choice(ANGLES),
        "year": year,
        "year0": year - rng.randint(1, 4),
    }
    words["Topic"] = capitalise(words["topic"])
    title = rng.choice(TITLE_PATTERNS).format(**words)
    return title, words


# --- Database setup ---------------------------------------------------------------------------


def fresh_postgres(url):
    """Create an empty database beside the one `url` names; returns its URL. Its name starts
    with BENCH_DATABASE_PREFIX (default portal_bench_), so runs sharing a server stay apart."""
    import psycopg

    prefix = os.environ.get("BENCH_DATABASE_PREFIX", "portal_bench_")
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}")), name


def drop_postgres(url, name):
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Bulk generation --------------------------------------------------------------------------


def generate_items(count, seed):
    """Add `count` live library items under the library index; returns {phase: seconds}."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.db.models import F
    from django.utils.text import slugify
    from wagtail.models import Page

    from library.models import (
        LibraryIndexPage,
        LibraryItemPage,
        LibraryItemPublisher,
        Publisher,
        ResourceType,
        ThemePage,
    )

    rng = random.Random(seed)
    phases = {}
    started = time.perf_counter()
    parent = LibraryIndexPage.objects.get()
    publishers = list(Publisher.objects.order_by("pk"))
    # A few publishers are prolific, most are not: weights fall off like 1/rank.
    publisher_weights = [1 / rank for rank in range(1, len(publishers) + 1)]
    rng.shuffle(publishers)
    types = {t.slug: t for t in ResourceType.objects.all()}
    type_choices = [types[slug] for slug in TYPE_WEIGHTS if slug in types] or list(types.values())
    type_weights = [TYPE_WEIGHTS.get(t.slug, 10) for t in type_choices]
    themes = list(ThemePage.objects.live().order_by("path"))
    content_type = ContentType.objects.get_for_model(LibraryItemPage)
    body_field = LibraryItemPage._meta.get_field("body")
    first_day = datetime.date(2015, 1, 1)
    last_day = min(datetime.date(2026, 12, 31), datetime.date.today())
    span = (last_day - first_day).days

    # Tree paths: the parent's path plus a 4-character base-36 step, continuing after its last
    # existing child, exactly what treebeard's add_child would produce one by one.
    last_child = parent.get_last_child()
    next_step = (Page._str2int(last_child.path[-Page.steplen :]) if last_child else 0) + 1
    if next_step + count > len(Page.alphabet) ** Page.steplen:
        raise SystemExit(f"{count} more children would overflow the tree path of {parent}")
    depth = parent.depth + 1

    pages, details = [], []
    for offset in range(count):
        day = first_day + datetime.timedelta(days=rng.randint(0, span))
        title, words = item_content(rng, day.year)
        slug = f"{slugify(title)[:70].rstrip('-')}-{next_step + offset}"
        published = datetime.datetime.combine(
            min(last_day, day + datetime.timedelta(days=rng.randint(0, 21))),
            datetime.time(rng.randint(7, 18), rng.randint(0, 59)),
            tzinfo=datetime.UTC,
        )
        pages.append(
            Page(
                content_type=content_type,
                path=Page._get_path(parent.path, depth, next_step + offset),
                depth=depth,
                numchild=0,
                translation_key=uuid.UUID(int=rng.getrandbits(128), version=4),
                locale_id=parent.locale_id,
                live=True,
                has_unpublished_changes=False,
                first_published_at=published,
                last_published_at=published,
                title=title,
                draft_title=title,
                slug=slug,
                url_path=f"{parent.url_path}{slug}/",
                show_in_menus=False,
                seo_title="",
                search_description="",
            )
        )
        resource_type = rng.choices(type_choices, type_weights)[0]
        kind = resource_type.name.lower()
        summary = " ".join(
            [
                capitalise(rng.choice(SUMMARY_OPENINGS).format(kind=kind, **words)),
                rng.choice(SUMMARY_CLOSINGS).format(**words),
            ]
        )
        body = []
        if rng.random() < 0.6:
            body.append({"type": "paragraph", "value": BODY_PARAGRAPH.format(**words)})
        details.append(
            {
                "summary": summary[:600],
                "body": body,
                "resource_type_id": resource_type.pk,
                "publication_date": day,
                "language": rng.choice(LANGUAGES),
                "external_url": (
                    f"https://www.example.org/resources/{slug}" if rng.random() < 0.3 else ""
                ),
                "publishers": weighted_sample(
                    rng, publishers, publisher_weights, rng.choices([1, 2, 3], [70, 22, 8])[0]
                ),
                "themes": rng.sample(themes, k=rng.choices([1, 2], [65, 35])[0]),
            }
        )
    phases["build objects"] = time.perf_counter() - started

    with transaction.atomic():
        started = time.perf_counter()
        Page.objects.bulk_create(pages, batch_size=1000)
        if any(page.pk is None for page in pages):  # a database that cannot return bulk ids
            ids = dict(
                Page.objects.filter(path__in=[p.path for p in pages]).values_list("path", "pk")
            )
            for page in pages:
                page.pk = ids[page.path]
        phases["insert pages"] = time.perf_counter() - started

        # The item table's own columns. Django's bulk_create refuses multi-table models, so the
        # rows go in with one executemany, each value prepared by its field as save() would.
        started = time.perf_counter()
        fields = LibraryItemPage._meta.local_concrete_fields
        quote = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(
            quote(LibraryItemPage._meta.db_table),
            ", ".join(quote(field.column) for field in fields),
            ", ".join(["%s"] * len(fields)),
        )
        rows = []
        for page, detail in zip(pages, details, strict=True):
            values = {
                **detail,
                "page_ptr_id": page.pk,
                "body": body_field.to_python(detail["body"]),
            }
            rows.append(
                [field.get_db_prep_save(values[field.attname], connection) for field in fields]
            )
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        phases["insert items"] = time.perf_counter() - started

        started = time.perf_counter()
        LibraryItemPublisher.objects.bulk_create(
            [
                LibraryItemPublisher(page_id=page.pk, publisher_id=publisher.pk, sort_order=order)
                for page, detail in zip(pages, details, strict=True)
                for order, publisher in enumerate(detail["publishers"])
            ],
            batch_size=2000,
        )
        themes_field = LibraryItemPage._meta.get_field("themes")
        through = themes_field.remote_field.through
        item_column = f"{themes_field.m2m_field_name()}_id"
        theme_column = f"{themes_field.m2m_reverse_field_name()}_id"
        through.objects.bulk_create(
            [
                through(**{item_column: page.pk, theme_column: theme.pk})
                for page, detail in zip(pages, details, strict=True)
                for theme in detail["themes"]
            ],
            batch_size=2000,
        )
        Page.objects.filter(pk=parent.pk).update(numchild=F("numchild") + count)
        phases["insert links"] = time.perf_counter() - started
    return phases


def weighted_sample(rng, population, weights, k):
    """k distinct members of population, drawn with the given weights."""
    chosen = []
    candidates, candidate_weights = list(population), list(weights)
    for _ in range(min(k, len(candidates))):
        index = rng.choices(range(len(candidates)), candidate_weights)[0]
        chosen.append(candidates.pop(index))
        candidate_weights.pop(index)
    return chosen


# --- Checks ---------------------------------------------------------------------------------


def check_tree_and_pages(client, count):
    """The tree is consistent and the new pages are served; raises SystemExit otherwise."""
    from django.db.models.functions import Length
    from django.utils.html import escape
    from wagtail.models import Page

    from library.models import LibraryIndexPage, LibraryItemPage

    parent = LibraryIndexPage.objects.get()
    problems = []
    # What treebeard's find_problems() audits, as set-wide queries instead of two per node:
    # alphabet, step length, depth, orphans and numchild of the library's subtree.
    below = Page.objects.filter(path__startswith=parent.path).exclude(pk=parent.pk)
    children = below.filter(depth=parent.depth + 1)
    if children.count() != parent.numchild:
        problems.append(f"library index numchild {parent.numchild}, not {children.count()}")
    if below.exclude(path__regex=r"^[0-9A-Z]+$").exists():
        problems.append("paths with characters outside treebeard's alphabet")
    if Page.objects.exclude(depth=Length("path") / Page.steplen).exists():
        problems.append("pages whose depth does not match their path")
    if (
        children.alias(length=Length("path"))
        .exclude(length=len(parent.path) + Page.steplen)
        .exists()
    ):
        problems.append("children whose path is not the parent's plus one step")
    if below.exclude(depth=parent.depth + 1).exists() or children.exclude(numchild=0).exists():
        problems.append("library items with children")
    items = LibraryItemPage.objects.live().public().order_by("path")
    if items.count() < count:
        problems.append(f"{items.count()} live public items, expected at least {count}")
    newest = items.reverse()
    samples = [items.first(), newest[count // 2], newest.first()]
    for item in samples:
        if item.url_path != f"{parent.url_path}{item.slug}/":
            problems.append(f"{item.pk}: url_path {item.url_path!r}")
        response = client.get(item.url)
        if response.status_code != 200 or escape(item.title) not in response.text:
            problems.append(f"{item.url}: status {response.status_code}, title missing")
    api = client.get("/api/v2/items/")
    total = api.json()["meta"]["total_count"] if api.status_code == 200 else None
    if total != items.count():
        problems.append(f"API total_count {total}, expected {items.count()}")
    if problems:
        raise SystemExit("generated content is wrong:\n  " + "\n  ".join(problems))
    return [item.url for item in samples]


def update_search_index():
    """Bring the site's search index up to date after the bulk insert, if the project has one."""
    from contextlib import redirect_stdout
    from io import StringIO

    from django.core.management import call_command, get_commands

    if "search_reindex" not in get_commands():
        return None
    started = time.perf_counter()
    with redirect_stdout(StringIO()):  # its progress bar writes to sys.stdout
        call_command("search_reindex", stdout=StringIO())
    return time.perf_counter() - started


# --- Measuring ------------------------------------------------------------------------------


def query_shape(sql):
    """The SQL with literals and IN lists folded, so repeats of one query look alike."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(?:\.\d+)?\b", "?", sql)
    return re.sub(r"\(\s*\?(?:\s*,\s*\?)*\s*\)", "(?…)", sql)


class QueryLog:
    """Every query run on the connection while installed, with its duration in seconds."""

    def __init__(self):
        self.queries = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((sql, time.perf_counter() - started))


def one_request(client, url):
    """What one request does, after a warm-up request: status, queries, the time they took, the
    slowest one, and every query shape run REPEATED times or more."""
    from django.db import connection

    client.get(url)
    log = QueryLog()
    with connection.execute_wrapper(log):
        response = client.get(url)
    shapes = Counter(query_shape(sql) for sql, _ in log.queries)
    slowest = max(log.queries, key=lambda query: query[1], default=None)
    return {
        "status": response.status_code,
        "queries": len(log.queries),
        "sql_ms": round(sum(seconds for _, seconds in log.queries) * 1000, 2),
        "slowest_query": slowest and {"ms": round(slowest[1] * 1000, 2), "sql": slowest[0][:600]},
        "repeated": {shape: times for shape, times in shapes.items() if times >= REPEATED},
    }


def measure(client, url, requests):
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2), round(percentile(timings, 0.95), 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    own_var_dir = None
    if not os.environ.get("VAR_DIR"):
        own_var_dir = os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="portal-bench-")
    given_url = os.environ.get("DATABASE_URL", "")
    postgres = None
    if given_url.startswith("postgres"):
        os.environ["DATABASE_URL"], name = fresh_postgres(given_url)
        postgres = (given_url, name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        run(args)
    finally:
        if postgres:
            from django.db import connections

            connections.close_all()
            drop_postgres(*postgres)
        if own_var_dir:
            shutil.rmtree(own_var_dir, ignore_errors=True)


def run(args):
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from library import demo

    # A failing page is reported in the table (status 500), not allowed to end the run.
    client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    demo.load()
    setup_seconds = time.perf_counter() - started
    on_demo = {name: one_request(client, url) for name, url in PAGES.items()}

    print(f"generating {args.items} library items on {connection.vendor} …", flush=True)
    started = time.perf_counter()
    phases = generate_items(args.items, args.seed)
    generation_seconds = time.perf_counter() - started
    index_seconds = update_search_index()
    started = time.perf_counter()
    checked_urls = check_tree_and_pages(client, args.items)
    check_seconds = time.perf_counter() - started
    print(
        f"generated in {generation_seconds:.1f} s ("
        + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in phases.items())
        + ")"
        + (f"; search index rebuilt in {index_seconds:.1f} s" if index_seconds is not None else "")
        + f"; checked tree and pages in {check_seconds:.1f} s"
    )

    rows = []
    for name, url in PAGES.items():
        found, demo = one_request(client, url), on_demo[name]
        ok = found["status"] == 200
        median_ms, p95_ms = measure(client, url, args.requests) if ok else (None, None)
        rows.append(
            {
                "page": name,
                "url": url,
                "status": found["status"],
                "median_ms": median_ms,
                "p95_ms": p95_ms,
                "queries": found["queries"],
                "queries_demo": demo["queries"],
                "sql_ms": found["sql_ms"],
                "slowest_query": found["slowest_query"],
                # A shape repeated as often on the demo content is a fixed cost; one repeated
                # more often with more items is an N+1.
                "repeated_queries": [
                    {"times": times, "times_demo": demo["repeated"].get(shape, 0), "sql": shape}
                    for shape, times in sorted(found["repeated"].items(), key=lambda i: -i[1])
                ],
            }
        )

    print(
        f"\n{'page':<13} {'status':>6} {'median ms':>10} {'p95 ms':>8} {'sql ms':>7} "
        f"{'queries':>8} {'demo q':>7}"
    )
    for row in rows:
        flags = []
        if row["status"] != 200:
            flags.append("FAILED, not timed")
        elif row["median_ms"] > SLOW_MS:
            flags.append(f"slow (> {SLOW_MS} ms)")
        if row["queries"] != row["queries_demo"]:
            flags.append("query count differs from demo")
        if any(r["times"] > r["times_demo"] for r in row["repeated_queries"]):
            flags.append("a repeated query grows with N")
        elif row["repeated_queries"]:
            flags.append("a query repeats (fixed count)")
        print(
            f"{row['page']:<13} {row['status']:>6} {row['median_ms']!s:>10} {row['p95_ms']!s:>8} "
            f"{row['sql_ms']:>7} {row['queries']:>8} {row['queries_demo']:>7}  {'; '.join(flags)}"
        )
    for row in rows:
        for repeat in row["repeated_queries"]:
            print(
                f"\n{row['page']}: {repeat['times']}x (demo: {repeat['times_demo']}x) "
                f"{repeat['sql'][:300]}"
            )

    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "library_pages.json").write_text(
        json.dumps(
            {
                "database": connection.vendor,
                "debug": settings.DEBUG,
                "items": args.items,
                "seed": args.seed,
                "requests": args.requests,
                "setup_seconds": round(setup_seconds, 2),
                "generation_seconds": round(generation_seconds, 2),
                "generation_phases": {k: round(v, 2) for k, v in phases.items()},
                "search_index_seconds": None if index_seconds is None else round(index_seconds, 2),
                "checked_urls": checked_urls,
                "pages": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

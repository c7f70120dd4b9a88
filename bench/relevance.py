"""Relevance of the public search on the demo content, per engine, side by side.

Runs the judged queries of bench/relevance.toml as a visitor would (search.service.run_search:
synonyms, corrections and all) on the database engine over SQLite, the database engine over
PostgreSQL and OpenSearch, and scores each ranking against the judgments:

- success@1: the first result is one of the query's best answers (its highest grade);
- MRR: the mean over queries of 1 / the rank of the first best answer (0 when none is found);
- nDCG@10: discounted gain of the first ten results (gain 2^grade - 1) over the ideal ordering.

A query counts as wrong for an engine when its first result is not a best answer. Each database
runs in a worker process on a fresh database (a temporary SQLite file; a new PostgreSQL database
beside --postgres-url, dropped after) with the demo content loaded; OpenSearch is fed from the
SQLite worker's index entries into an index of its own, deleted after.

    .venv/bin/python bench/relevance.py [--postgres-url postgres://…/db]
        [--opensearch http://127.0.0.1:59200] [--label before]

Prints the table and the wrong queries, and writes bench/results/relevance.json (with --label,
the run is kept under that label beside earlier ones, so before/after runs sit in one file).
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))
sys.path.append(str(BENCH))  # for library_pages

JUDGED = BENCH / "relevance.toml"
RESULTS = ROOT / "bench" / "results"
CUTOFF = 10


def load_judged(path=JUDGED):
    """[{text, kind, grades: {title: grade}}] from the judged set, titles checked to be named."""
    data = tomllib.loads(path.read_text())
    entries = data["entries"]
    queries = []
    for query in data["query"]:
        unknown = set(query["judged"]) - set(entries)
        if unknown:
            raise SystemExit(f"{query['text']!r} judges unnamed entries: {sorted(unknown)}")
        grades = {entries[name]: grade for name, grade in query["judged"].items()}
        queries.append({"text": query["text"], "kind": query["kind"], "grades": grades})
    return entries, queries


# --- Scores ----------------------------------------------------------------------------------


def dcg(gains):
    return sum((2**gain - 1) / math.log2(rank + 2) for rank, gain in enumerate(gains))


def score(ranking, grades):
    """{success_at_1, reciprocal_rank, ndcg_at_10} of a ranking (titles, best first)."""
    best = max(grades.values())
    first_best = next(
        (rank for rank, title in enumerate(ranking, 1) if grades.get(title, 0) == best), None
    )
    gains = [grades.get(title, 0) for title in ranking[:CUTOFF]]
    ideal = dcg(sorted(grades.values(), reverse=True)[:CUTOFF])
    return {
        "success_at_1": 1.0 if first_best == 1 else 0.0,
        "reciprocal_rank": 1 / first_best if first_best else 0.0,
        "ndcg_at_10": dcg(gains) / ideal if ideal else 0.0,
    }


def summarise(queries, rankings):
    scores = [score(rankings[q["text"]]["titles"], q["grades"]) for q in queries]
    n = len(scores)
    return {
        "success_at_1": round(sum(s["success_at_1"] for s in scores) / n, 3),
        "mrr": round(sum(s["reciprocal_rank"] for s in scores) / n, 3),
        "ndcg_at_10": round(sum(s["ndcg_at_10"] for s in scores) / n, 3),
        "queries": n,
        "wrong": [q["text"] for q, s in zip(queries, scores, strict=True) if not s["success_at_1"]],
        "per_query": {
            q["text"]: {k: round(v, 3) for k, v in s.items()}
            for q, s in zip(queries, scores, strict=True)
        },
    }


# --- Parent ----------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--opensearch", default=os.environ.get("TEST_OPENSEARCH_URL", ""))
    parser.add_argument("--label", default="latest", help="name of this run in relevance.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.opensearch = args.opensearch.removeprefix("opensearch+")
    if args.worker:
        worker(args)
        return

    _, queries = load_judged()
    started = time.perf_counter()
    engines = {}
    databases = ["sqlite", *(["postgres"] if args.postgres_url else [])]
    for database in databases:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = handle.name
        command = [sys.executable, __file__, *sys.argv[1:], "--worker", database, "--out", out]
        if subprocess.run(command, check=False).returncode != 0:
            print(f"{database}: worker failed", flush=True)
            continue
        engines.update(json.loads(Path(out).read_text()))
        Path(out).unlink()
    if not engines:
        raise SystemExit("no engine answered")

    engines = dict(sorted(engines.items(), key=lambda item: not item[0].startswith("database")))
    summaries = {engine: summarise(queries, rankings) for engine, rankings in engines.items()}
    print_table(queries, summaries, engines)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "relevance.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    report.setdefault("runs", {})[args.label] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "queries": len(queries),
        "engines": {
            engine: {**summaries[engine], "rankings": engines[engine]} for engine in engines
        },
    }
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(
        f"\nwrote {path.relative_to(ROOT)} (run {args.label!r});"
        f" took {time.perf_counter() - started:.0f} s"
    )


def print_table(queries, summaries, engines):
    names = list(summaries)
    print(f"\n{len(queries)} judged queries; first result a best answer = success@1")
    print(f"  {'':<14}" + "".join(f"{name:>24}" for name in names))
    for label, key in (("success@1", "success_at_1"), ("MRR", "mrr"), ("nDCG@10", "ndcg_at_10")):
        print(f"  {label:<14}" + "".join(f"{summaries[n][key]:>24.3f}" for n in names))
    kinds = list(dict.fromkeys(q["kind"] for q in queries))
    print("\n  success@1 by kind of query")
    for kind in kinds:
        texts = [q["text"] for q in queries if q["kind"] == kind]
        cells = [
            f"{sum(summaries[n]['per_query'][t]['success_at_1'] for t in texts):.0f}/{len(texts)}"
            for n in names
        ]
        print(f"  {kind:<14}" + "".join(f"{cell:>24}" for cell in cells))
    for name in names:
        wrong = summaries[name]["wrong"]
        print(f"\n  {name}: {len(wrong)} wrong")
        for text in wrong:
            got = engines[name][text]["titles"]
            note = engines[name][text].get("note", "")
            first = got[0][:60] if got else "(nothing)"
            print(f"    {text!r:<36} first: {first}{f'  [{note}]' if note else ''}")


# --- Worker: one database --------------------------------------------------------------------


def worker(args):
    from library_pages import drop_postgres, fresh_postgres

    os.environ.pop("SEARCH_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["VAR_DIR"] = var_dir = tempfile.mkdtemp(prefix="portal-bench-relevance-")
    postgres = None
    if args.worker == "postgres":
        os.environ["DATABASE_URL"], name = fresh_postgres(args.postgres_url)
        postgres = (args.postgres_url, name)
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    alias = f"bench-relevance-{uuid.uuid4().hex[:8]}"
    opensearch = args.opensearch if args.worker == "sqlite" else ""
    try:
        rankings = run_worker(args.worker, opensearch, alias)
        Path(args.out).write_text(json.dumps(rankings, ensure_ascii=False))
    finally:
        if opensearch:
            from opensearchpy import OpenSearch

            OpenSearch(opensearch, timeout=30).indices.delete(
                index=f"{alias}-*", allow_no_indices=True
            )
        if postgres:
            from django.db import connections

            connections.close_all()
            drop_postgres(*postgres)
        shutil.rmtree(var_dir, ignore_errors=True)


def run_worker(database, opensearch, alias):
    import django

    django.setup()
    from django.core.management import call_command
    from django.http import QueryDict
    from django.test.utils import override_settings

    from library import demo
    from search import service
    from search.engines import remote_engine
    from search.indexing import rebuild_database_index
    from search.models import IndexEntry
    from search.query import SearchRequest

    call_command("migrate", verbosity=0)
    demo.load()
    rebuild_database_index()
    entries, queries = load_judged()
    missing = set(entries.values()) - set(IndexEntry.objects.values_list("title", flat=True))
    if missing:
        raise SystemExit(f"judged entries not in the demo content: {sorted(missing)}")

    engines = {f"database ({database})": {"ENGINE": "database", "URL": "", "INDEX": ""}}
    if opensearch:
        engines["opensearch"] = {"ENGINE": "opensearch", "URL": opensearch, "INDEX": alias}
    rankings = {}
    for name, setting in engines.items():
        with override_settings(SEARCH=setting):
            engine = remote_engine()
            if engine is not None:
                engine.rebuild(IndexEntry.objects.order_by("pk"), IndexEntry.objects.count())
            found = {}
            for query in queries:
                params = QueryDict(mutable=True)
                params["q"] = query["text"]
                results = service.run_search(SearchRequest.from_params(params), ["public"])
                if results.degraded:
                    raise SystemExit(f"{name} failed and the database answered instead")
                found[query["text"]] = {
                    "titles": [hit.title for hit in results.hits[:CUTOFF]],
                    "total": results.total,
                    "note": notes(results),
                }
            rankings[name] = found
    return rankings


def notes(results):
    """What the engine said beside the results: a correction it applied, or one it offers."""
    shown_for = getattr(results, "corrected", False) and results.suggestion
    if shown_for:
        return f"showing results for {shown_for!r}"
    if results.suggestion:
        return f"did you mean {results.suggestion!r}"
    return ""


if __name__ == "__main__":
    main()

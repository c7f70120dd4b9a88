"""The attachment safety pipeline: time per file and per MB, clamd's scan, and hash-list matching.

Runs on a fresh database of the profile the environment selects (a temporary SQLite file by
default). clamd from CLAMD_URL or TEST_CLAMD_URL (`services/clamav/run start`); without one the
scan is skipped and says so. Three parts, each measured in this one run:

1. clamd alone: INSTREAM of PDFs and images of several sizes.
2. The whole pipeline (`inspect`): generated text PDFs (10 to 1,000 pages), image-only PDFs
   (1 to 16 MB) and photos (JPEG, PNG, WebP up to 12 megapixels), with the largest hash list
   loaded; beside it the same without the scan.
3. Matching one image (its eight rotations and flips) against hash lists of --sizes random PDQ
   hashes: the bare in-memory comparison, the same through `current_index()` (one database query
   to learn whether the list changed), and the reload after a change.

Prints tables (median, p95) and writes bench/results/attachments.json.

    .venv/bin/python bench/attachments.py [--sizes 10000,100000,1000000] [--repeat 20]
"""

import argparse
import io
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import percentile  # noqa: E402 - needs the project root on sys.path


def timed(function, repeat):
    """Median and p95 of the wall time in ms, and the median of this process's CPU time: on a
    shared machine the wall time grows with the load; the CPU time is what an idle one takes
    (everything timed here runs on one thread; clamd's own work is in its process, not here)."""
    timings, cpu = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        function()
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return statistics.median(timings), percentile(timings, 0.95), statistics.median(cpu)


def repeats(function, most, budget_s=8.0):
    """Runs `function` once (warming up) and says how many timed runs fit in `budget_s`."""
    started = time.perf_counter()
    function()
    return max(3, min(most, int(budget_s / max(time.perf_counter() - started, 1e-6))))


def photo(width, height, seed):
    """Shapes under noise: compresses about as a photograph does."""
    from PIL import Image

    from tests.portal.attachments import samples

    shapes = samples.picture(seed, (width, height))
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    return Image.blend(shapes, noise, 0.25)


def files():
    """(label, name, bytes) of every file the pipeline is timed on."""
    from tests.portal.attachments import samples

    made = []
    for pages in (10, 100, 1000):
        text = "Online child sexual exploitation: indicators, reporting and takedown. " * 4
        made.append((f"PDF, text, {pages} pages", "report.pdf", samples.pdf(*[text] * pages)))
    for pages in (1, 4, 16):
        scans = [photo(1700, 2200, seed) for seed in range(pages)]
        buffer = io.BytesIO()
        scans[0].save(buffer, "PDF", save_all=True, append_images=scans[1:], quality=85)
        made.append((f"PDF, scanned, {pages} pages", "scan.pdf", buffer.getvalue()))
    for label, size, kind, options in [
        ("JPEG 640×480", (640, 480), "JPEG", {"quality": 85}),
        ("JPEG 1920×1080", (1920, 1080), "JPEG", {"quality": 85}),
        ("JPEG 4000×3000", (4000, 3000), "JPEG", {"quality": 85}),
        ("PNG photo 1920×1080", (1920, 1080), "PNG", {}),
        ("WebP 1920×1080", (1920, 1080), "WEBP", {"quality": 85}),
    ]:
        made.append(
            (label, f"photo.{kind.lower()}", samples.encoded(photo(*size, seed=9), kind, **options))
        )
    screenshot = samples.encoded(samples.picture(5, (1920, 1080)), "PNG")
    made.append(("PNG screenshot 1920×1080", "screen.png", screenshot))
    return made


def unique(data):
    """The file with a few random bytes after its end, which every reader here ignores: clamd
    remembers files it found clean, and each upload is new to it."""
    return data + os.urandom(16)


def random_hashes(count, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**64, size=(count, 4), dtype=np.uint64, endpoint=False)


def store_hashes(words, source):
    """Insert a list straight through the database cursor: the bench's million rows would take
    minutes through the ORM, and the pipeline reads them the same either way."""
    from django.db import connection, transaction
    from django.utils import timezone

    from portal.models import HashListEntry

    table = HashListEntry._meta.db_table
    now = timezone.now()
    rows = ((word_row.astype(">u8").tobytes().hex(), 100, source, "", now) for word_row in words)
    with transaction.atomic(), connection.cursor() as cursor:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == 20_000:
                cursor.executemany(
                    f"INSERT INTO {table} (pdq, quality, source, note, added_at) "  # noqa: S608
                    "VALUES (%s, %s, %s, %s, %s)",
                    batch,
                )
                batch = []
        if batch:
            cursor.executemany(
                f"INSERT INTO {table} (pdq, quality, source, note, added_at) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s)",
                batch,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=20, help="runs per file (fewer for big)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    own_var_dir = None if os.environ.get("VAR_DIR") else tempfile.mkdtemp(prefix="portal-bench-")
    os.environ.setdefault("VAR_DIR", own_var_dir or "")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not os.environ.get("CLAMD_URL") and os.environ.get("TEST_CLAMD_URL"):
        os.environ["CLAMD_URL"] = os.environ["TEST_CLAMD_URL"]
    import django

    django.setup()
    # The random bytes after each file's end (unique()) make pypdf warn about its EOF marker.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from portal.attachments import clamd, hashlist, safety

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; clamd: {settings.CLAMD_URL or 'none (scan skipped)'}")
    samples_made = files()
    report = {"database": connection.vendor, "clamd": bool(settings.CLAMD_URL)}

    # 1. clamd alone.
    scan_rows = []
    if settings.CLAMD_URL:
        for label, _name, data in samples_made:

            def scan_once(data=data):
                clamd.instream(settings.CLAMD_URL, unique(data), 60)

            median, p95, _cpu = timed(scan_once, repeats(scan_once, args.repeat))
            scan_rows.append(
                {"file": label, "mb": len(data) / 1e6, "median_ms": median, "p95_ms": p95}
            )
        print(f"\n{'clamd INSTREAM':<26} {'MB':>7} {'median ms':>10} {'p95 ms':>8} {'ms/MB':>8}")
        for row in scan_rows:
            print(
                f"{row['file']:<26} {row['mb']:>7.2f} {row['median_ms']:>10.1f} "
                f"{row['p95_ms']:>8.1f} {row['median_ms'] / row['mb']:>8.1f}"
            )
    report["clamd_scan"] = scan_rows

    # 3 first: it leaves the largest list loaded for the pipeline.
    query = random_hashes(8, seed=99)
    match_rows = []
    loaded = 0
    limit = settings.PDQ_MATCH_DISTANCE
    for size in sizes:
        words = random_hashes(size - loaded, seed=size)
        # The last entry is a rotated copy of the query image, 20 bits off: every size finds it.
        words[-1] = query[3]
        words[-1, 0] ^= np.uint64(0xFFFFF)
        started = time.perf_counter()
        store_hashes(words, f"bench-{size}")
        insert_s = time.perf_counter() - started
        loaded = size
        hashlist.changed()
        started = time.perf_counter()
        index = hashlist.current_index()
        reload_ms = (time.perf_counter() - started) * 1000
        assert len(index) == size, (len(index), size)
        assert index.nearest(query, limit)[0] == 20
        bare = timed(lambda index=index: index.nearest(query, limit), args.repeat * 3)
        through = timed(lambda: hashlist.current_index().nearest(query, limit), args.repeat * 3)
        match_rows.append(
            {
                "hashes": size,
                "median_ms": bare[0],
                "p95_ms": bare[1],
                "cpu_ms": bare[2],
                "with_check_median_ms": through[0],
                "with_check_p95_ms": through[1],
                "with_check_cpu_ms": through[2],
                "reload_ms": reload_ms,
                "insert_s": insert_s,
                "memory_mb": (index.ids.nbytes + index.columns.nbytes) / 1e6,
            }
        )
    print(
        f"\n{'hash list (8 hashes)':<20} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7} "
        f"{'+ check ms':>11} {'p95':>7} {'cpu ms':>7} {'reload ms':>10} {'memory MB':>10}"
    )
    for row in match_rows:
        print(
            f"{row['hashes']:<20,} {row['median_ms']:>10.2f} {row['p95_ms']:>8.2f} "
            f"{row['cpu_ms']:>7.2f} {row['with_check_median_ms']:>11.2f} "
            f"{row['with_check_p95_ms']:>7.2f} {row['with_check_cpu_ms']:>7.2f} "
            f"{row['reload_ms']:>10.0f} {row['memory_mb']:>10.1f}"
        )
    report["matching"] = match_rows

    # 2. The whole pipeline, with and without the scan.
    pipeline_rows = []
    scanning = settings.ATTACHMENT_SCAN if settings.CLAMD_URL else "off"
    for label, name, data in samples_made:
        row = {"file": label, "mb": len(data) / 1e6}
        result = safety.inspect(name, data)
        assert isinstance(result, safety.Inspected), result
        for mode in dict.fromkeys([scanning, "off"]):
            settings.ATTACHMENT_SCAN = mode

            def inspect_once(name=name, data=data):
                safety.inspect(name, unique(data))

            key = "scanned" if mode == "clamd" else "unscanned"
            row[f"{key}_median_ms"], row[f"{key}_p95_ms"], row[f"{key}_cpu_ms"] = timed(
                inspect_once, repeats(inspect_once, args.repeat)
            )
        row["text_chars"] = len(result.text)
        pipeline_rows.append(row)
    settings.ATTACHMENT_SCAN = scanning
    print(
        f"\n{'inspect()':<26} {'MB':>6} {'median ms':>10} {'p95 ms':>8} {'ms/MB':>7} "
        f"{'no scan ms':>11} {'p95':>7} {'cpu ms':>7} {'cpu ms/MB':>10}"
    )
    for row in pipeline_rows:
        scanned = row.get("scanned_median_ms")
        print(
            f"{row['file']:<26} {row['mb']:>6.2f} "
            + (
                f"{scanned:>10.1f} {row['scanned_p95_ms']:>8.1f} {scanned / row['mb']:>7.0f} "
                if scanned is not None
                else f"{'-':>10} {'-':>8} {'-':>7} "
            )
            + f"{row['unscanned_median_ms']:>11.1f} {row['unscanned_p95_ms']:>7.1f} "
            f"{row['unscanned_cpu_ms']:>7.1f} {row['unscanned_cpu_ms'] / row['mb']:>10.0f}"
        )
    report["pipeline"] = pipeline_rows
    report["hash_list_size_during_pipeline"] = loaded
    report["load_average"] = os.getloadavg()

    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "attachments.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {results / 'attachments.json'}; load average {os.getloadavg()}")
    if own_var_dir:
        shutil.rmtree(own_var_dir)  # the database of a million hashes


if __name__ == "__main__":
    main()

"""The hash list: PDQ hashes of known abuse images that staff load, and matching images against it.

Lists come from industry hash-sharing programmes as CSV: a PDQ hash (64 hex digits) per row, its
quality (0-100) and other columns that vary by programme, often under a header. `read_csv` reads
that; `load` stores it (`manage.py load_hash_list FILE.csv --source NAME`).

Matching runs on every attached image, so the list is held in each process's memory as four
64-bit words per hash and compared with numpy, all eight rotations and flips at once. The copy is
refreshed when the list changes: each match asks the database for the highest entry id (an index
lookup) and the shared cache for a version that removals bump.
"""

import csv
import io
import re
import threading
from array import array
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max

from portal import audit
from portal.models import HashListEntry

_HEX = re.compile(r"[0-9a-f]{64}")
HASH_COLUMNS = ("pdq", "hash", "pdq_hash", "signal_value", "value")
VERSION_KEY = "portal:hash-list:version"
# Rows compared per step: small enough that a block and its partial distances stay in the
# processor's cache, large enough that numpy's per-call cost is spread thin.
BLOCK = 1 << 16


class HashListError(ValueError):
    """The file is not a list of PDQ hashes; the message names the line."""


@dataclass(frozen=True)
class ListedHash:
    pdq: str
    quality: int | None


def read_csv(text):
    """The hashes in a CSV list, with their quality where given. A header row is optional: with
    one, the hash is in the first column named like pdq, hash or signal_value, the quality in
    "quality"; without, the hash is the first column and the quality the second."""
    rows = csv.reader(io.StringIO(text))
    hash_column, quality_column = 0, 1
    listed = []
    first = True
    for number, row in enumerate(rows, start=1):
        if not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if first and not _HEX.fullmatch(row[0].strip().lower()):
            names = [name.strip().lower() for name in row]
            hash_column = next((names.index(n) for n in HASH_COLUMNS if n in names), None)
            if hash_column is None:
                raise HashListError(
                    f"line {number}: no hash column (expected one named {', '.join(HASH_COLUMNS)})"
                )
            quality_column = names.index("quality") if "quality" in names else None
            first = False
            continue
        first = False
        listed.append(_listed_hash(row, number, hash_column, quality_column))
    return listed


def _listed_hash(row, number, hash_column, quality_column):
    pdq = row[hash_column].strip().lower() if hash_column < len(row) else ""
    if not _HEX.fullmatch(pdq):
        raise HashListError(f"line {number}: {pdq[:80]!r} is not a PDQ hash (64 hex digits)")
    quality = None
    if quality_column is not None and quality_column < len(row) and row[quality_column].strip():
        raw = row[quality_column].strip()
        if not raw.isdigit() or int(raw) > 100:
            raise HashListError(f"line {number}: quality {raw[:20]!r} is not a number 0-100")
        quality = int(raw)
    return ListedHash(pdq, quality)


@dataclass(frozen=True)
class LoadResult:
    added: int
    already_listed: int
    low_quality: int
    removed: int


def load(listed, *, source, added_by=None, note="", min_quality=0, replace=False):
    """Store a list's hashes under `source`. Hashes below `min_quality` are left out (PDQ hashes
    of near-blank images match too much); `replace` first removes what the source held."""
    kept = {
        item.pdq: item for item in listed if item.quality is None or item.quality >= min_quality
    }
    entries = HashListEntry.objects.filter(source=source)
    with transaction.atomic():
        removed = entries.delete()[0] if replace else 0
        before = entries.count()
        HashListEntry.objects.bulk_create(
            [
                HashListEntry(
                    pdq=item.pdq, quality=item.quality, source=source, note=note, added_by=added_by
                )
                for item in kept.values()
            ],
            batch_size=5_000,
            ignore_conflicts=True,  # a hash the source already lists stays as it was
        )
        added = entries.count() - before
        result = LoadResult(
            added=added,
            already_listed=len(kept) - added,
            low_quality=len({item.pdq for item in listed}) - len(kept),
            removed=removed,
        )
        audit.record(
            "hash_list.loaded",
            actor=added_by,
            target=source,
            reason=note,
            details=result.__dict__,
        )
        # Now for this process, which may match inside the same transaction; after commit for the
        # others, which could not see the rows before.
        changed()
        transaction.on_commit(changed)
    return result


def changed():
    """Tell every process to reload the list. Additions show in the highest entry id anyway;
    whatever removes entries calls this."""
    cache.set(VERSION_KEY, cache.get(VERSION_KEY, 0) + 1, timeout=None)


def to_words(hex_hashes):
    """(n, 4) uint64: each 256-bit hash as four big-endian 64-bit words."""
    raw = bytes.fromhex("".join(hex_hashes))
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


class HashIndex:
    """The list in memory: hash words stored column-wise (one row per word) beside entry ids."""

    def __init__(self, ids, words):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.columns = np.ascontiguousarray(np.asarray(words, dtype=np.uint64).reshape(-1, 4).T)

    def __len__(self):
        return len(self.ids)

    def nearest(self, queries, limit):
        """(distance, entry id, query index) of the closest entry within `limit` of any query
        hash, or None. A hash within `limit` (< 128) differs from the query by at most `limit`
        bits in its first two words alone, so each block is narrowed on those before the last
        two words of the few rows left are compared."""
        queries = np.asarray(queries, dtype=np.uint64).reshape(-1, 4)
        best = None
        size = len(self)
        scratch = np.empty(min(BLOCK, size), dtype=np.uint64)
        first = np.empty(min(BLOCK, size), dtype=np.uint8)
        second = np.empty(min(BLOCK, size), dtype=np.uint8)
        for start in range(0, size, BLOCK):
            stop = min(size, start + BLOCK)
            count = stop - start
            word0, word1 = self.columns[0, start:stop], self.columns[1, start:stop]
            for query_index, query in enumerate(queries):
                np.bitwise_xor(word0, query[0], out=scratch[:count])
                np.bitwise_count(scratch[:count], out=first[:count])
                np.bitwise_xor(word1, query[1], out=scratch[:count])
                np.bitwise_count(scratch[:count], out=second[:count])
                partial = np.add(first[:count], second[:count], out=first[:count])
                rows = np.flatnonzero(partial <= limit)
                if not rows.size:
                    continue
                at = start + rows
                distances = (
                    partial[rows].astype(np.int64)
                    + np.bitwise_count(self.columns[2, at] ^ query[2])
                    + np.bitwise_count(self.columns[3, at] ^ query[3])
                )
                closest = int(distances.argmin())
                distance = int(distances[closest])
                if distance <= limit and (best is None or distance < best[0]):
                    best = (distance, int(self.ids[at[closest]]), query_index)
        return best


_lock = threading.Lock()
_loaded = {"version": None, "index": HashIndex([], np.empty((0, 4)))}


def current_index():
    """The in-memory copy of the list, reloaded from the database when the list has changed."""
    version = (
        HashListEntry.objects.aggregate(highest=Max("id"))["highest"],
        cache.get(VERSION_KEY, 0),
    )
    if _loaded["version"] != version:
        with _lock:
            if _loaded["version"] != version:
                _loaded["index"] = _read_index()
                _loaded["version"] = version
    return _loaded["index"]


def _read_index():
    """Every entry, read in chunks straight into arrays (a million hashes as Python strings would
    take four times the memory the index keeps)."""
    ids, words = array("q"), bytearray()
    rows = HashListEntry.objects.order_by().values_list("id", "pdq")
    for entry_id, pdq in rows.iterator(chunk_size=20_000):
        ids.append(entry_id)
        words += bytes.fromhex(pdq)
    hashes = np.frombuffer(bytes(words), dtype=">u8").astype(np.uint64).reshape(-1, 4)
    return HashIndex(np.frombuffer(ids, dtype=np.int64), hashes)

"""The results store: one SQLite file (WAL) in the output folder, one row per (clip, operating point,
weights, metric version), committed the moment it is computed.

A run killed at any point (kill -9, a full disk, a lost Ray worker) loses at most the rows still in
flight; rerunning skips every key already stored, and the primary key makes a row impossible to
store twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
DONE, FAILED = "done", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    clip_key TEXT NOT NULL,        -- sha256 of the clip's bytes
    point TEXT NOT NULL,           -- "dac_16khz@6"
    weights_key TEXT NOT NULL,     -- fingerprint of the checkpoint the run found
    metric_version TEXT NOT NULL,  -- which metric definitions (and which metrics) produced the values
    clip_id TEXT NOT NULL,
    split TEXT NOT NULL,
    status TEXT NOT NULL,          -- done | failed
    reason TEXT,                   -- why a clip failed, for a person
    metrics TEXT NOT NULL,         -- JSON {name: value or null}
    info TEXT NOT NULL,            -- JSON: timings, duration, device, random_weights, worker
    created REAL NOT NULL,
    PRIMARY KEY (clip_key, point, weights_key, metric_version)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Key:
    clip_key: str
    point: str
    weights_key: str
    metric_version: str


@dataclass
class Row:
    key: Key
    clip_id: str
    split: str
    status: str
    reason: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def flat(self) -> dict[str, Any]:
        """What exports and aggregates read."""
        return {"clip_id": self.clip_id, "split": self.split, "point": self.key.point, "status": self.status,
                "reason": self.reason or "", "metrics": self.metrics, "clip_sha256": self.key.clip_key,
                "weights_key": self.key.weights_key, "metric_version": self.key.metric_version, **self.info}


class ResultsStore:
    """Thread-safe; every `put` is its own committed transaction (synchronous=FULL in WAL mode)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_keys(self) -> set[Key]:
        """Keys already stored, finished or failed: a rerun does not repeat them."""
        with self._lock:
            rows = self._db.execute("SELECT clip_key, point, weights_key, metric_version FROM results").fetchall()
        return {Key(*r) for r in rows}

    def put(self, row: Row) -> bool:
        """Commit one result; False when its key was already stored (a retried shard's duplicate)."""
        k = row.key
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (k.clip_key, k.point, k.weights_key, k.metric_version, row.clip_id, row.split, row.status,
                 row.reason, json.dumps(row.metrics, allow_nan=False), json.dumps(row.info, default=str),
                 time.time()))
            return cursor.rowcount == 1

    def rows(self, keys: Iterable[Key] | None = None) -> Iterator[Row]:
        """Stored rows (all, or those of these keys), in a stable order."""
        with self._lock:
            found = self._db.execute("SELECT * FROM results ORDER BY point, split, clip_id").fetchall()
        wanted = set(keys) if keys is not None else None
        for r in found:
            key = Key(*r[:4])
            if wanted is None or key in wanted:
                yield Row(key, r[4], r[5], r[6], r[7], json.loads(r[8]), json.loads(r[9]))

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def set_meta(self, values: Mapping[str, str]) -> None:
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))

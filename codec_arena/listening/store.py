"""Listening tests on disk: one SQLite database in WAL mode with synchronous=FULL, so a response the
page has confirmed survives a killed server (and a power cut).

Secrets (the owner's token, each participant's token) are stored only as SHA-256 hashes; the owner's
is compared in constant time. Every write is one short transaction; `BEGIN IMMEDIATE` serialises
the read-then-write steps (balanced trial assignment, idempotent submits) across threads and processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CodecArenaError, RequestError
from .protocols import Slot, Trial, draw_plan
from .stimuli import Stimulus

SCHEMA = """
CREATE TABLE IF NOT EXISTS tests (
  id TEXT PRIMARY KEY, owner_hash TEXT NOT NULL, title TEXT NOT NULL, method TEXT NOT NULL,
  instructions TEXT NOT NULL, per_participant INTEGER NOT NULL, training INTEGER NOT NULL,
  settings TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
  test_id TEXT NOT NULL REFERENCES tests(id) ON DELETE CASCADE, idx INTEGER NOT NULL, clip TEXT NOT NULL,
  conditions TEXT NOT NULL, reference TEXT, PRIMARY KEY (test_id, idx));
CREATE TABLE IF NOT EXISTS stimuli (
  test_id TEXT NOT NULL REFERENCES tests(id) ON DELETE CASCADE, clip TEXT NOT NULL, condition TEXT NOT NULL,
  flac BLOB NOT NULL, sample_rate INTEGER NOT NULL, seconds REAL NOT NULL, loudness_lufs REAL NOT NULL,
  gain_db REAL NOT NULL, random_weights INTEGER NOT NULL, bitrate_kbps REAL,
  PRIMARY KEY (test_id, clip, condition));
CREATE TABLE IF NOT EXISTS participants (
  id TEXT PRIMARY KEY, test_id TEXT NOT NULL REFERENCES tests(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE, joined_at REAL NOT NULL, completed_at REAL, completion_code TEXT);
CREATE TABLE IF NOT EXISTS slots (
  participant_id TEXT NOT NULL REFERENCES participants(id) ON DELETE CASCADE, position INTEGER NOT NULL,
  trial_idx INTEGER NOT NULL, condition_order TEXT NOT NULL, x INTEGER,
  PRIMARY KEY (participant_id, position));
CREATE TABLE IF NOT EXISTS responses (
  participant_id TEXT NOT NULL REFERENCES participants(id) ON DELETE CASCADE, position INTEGER NOT NULL,
  test_id TEXT NOT NULL, trial_idx INTEGER NOT NULL, answer TEXT NOT NULL, submitted_at REAL NOT NULL,
  PRIMARY KEY (participant_id, position));
CREATE TABLE IF NOT EXISTS media (
  name TEXT PRIMARY KEY, participant_id TEXT NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
  position INTEGER NOT NULL, source INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS participants_by_test ON participants(test_id);
CREATE INDEX IF NOT EXISTS responses_by_test ON responses(test_id);
"""
DB_NAME = "listening.sqlite3"
TEST_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
MAX_PARTICIPANTS = 5000  # per test: joining is open to anyone with the link
ABANDONED_AFTER_S = 3600.0  # a participant who answered nothing this long after joining no longer counts for balance


class AccessDenied(CodecArenaError):
    """A token is missing or wrong: the message says which link is needed."""


def data_dir() -> Path:
    """`CODEC_ARENA_DATA_DIR` (a Space's persistent `/data`, say), else ~/.local/share/codec-arena."""
    configured = os.environ.get("CODEC_ARENA_DATA_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".local" / "share" / "codec-arena"


def shell_safe_token(nbytes: int) -> str:
    """`secrets.token_urlsafe`, never starting with "-": a test id or token that did would read as an
    option on the command line (`codec-arena listening results -x3…` fails), one time in 64."""
    while (token := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return token


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TestRow:
    id: str
    title: str
    method: str
    instructions: str
    per_participant: int
    training: bool
    settings: dict[str, Any]
    trials: list[Trial]

    @property
    def trials_each(self) -> int:
        return min(self.per_participant, len(self.trials)) if self.per_participant > 0 else len(self.trials)


@dataclass(frozen=True)
class Participant:
    id: str
    test_id: str
    slots: list[Slot]
    answered: set[int]  # positions
    completion_code: str | None

    @property
    def next_position(self) -> int | None:
        return next((s.position for s in self.slots if s.position not in self.answered), None)


@dataclass(frozen=True)
class Receipt:
    """What a submit returns once the response is committed."""

    position: int
    duplicate: bool  # this trial had been saved before: nothing new was written
    answered: int
    total: int
    completion_code: str | None


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else data_dir() / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connection().executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # tests -----------------------------------------------------------------------------------
    def create_test(self, title: str, method: str, instructions: str, per_participant: int, training: bool,
                    settings: dict[str, Any], trials: list[Trial], stimuli: list[Stimulus]) -> tuple[str, str]:
        """Store a rendered test; returns (test id, owner token). The token is shown once, never stored."""
        test_id, token = shell_safe_token(6), shell_safe_token(24)
        with self._transaction() as db:
            db.execute("INSERT INTO tests VALUES (?,?,?,?,?,?,?,?,?)",
                       (test_id, digest(token), title, method, instructions, per_participant, int(training),
                        json.dumps(settings), time.time()))
            db.executemany("INSERT INTO trials VALUES (?,?,?,?,?)",
                           [(test_id, t.index, t.clip, json.dumps(t.conditions), t.reference) for t in trials])
            db.executemany("INSERT INTO stimuli VALUES (?,?,?,?,?,?,?,?,?,?)", [
                (test_id, s.clip, s.condition, s.flac(), s.audio.sample_rate, s.audio.duration, s.loudness_lufs,
                 s.gain_db, int(s.random_weights), s.bitrate_kbps) for s in stimuli])
        return test_id, token

    @property
    def render_cache(self) -> Path:
        """Codec renders of the clips, beside the database (removed with their test)."""
        return self.path.parent / "render-cache"

    def test(self, test_id: str | None) -> TestRow:
        test_id = str(test_id or "").strip()
        if not TEST_ID.fullmatch(test_id):  # never echo what a link carried
            raise RequestError("That is not a listening test id. Check the link you were given.")
        db = self._connection()
        row = db.execute("SELECT id, title, method, instructions, per_participant, training, settings FROM tests "
                         "WHERE id = ?", (str(test_id),)).fetchone()
        if row is None:
            raise RequestError(f"There is no listening test '{test_id}'. Check the link you were given; "
                               "the test may have been deleted.")
        trials = [Trial(idx, clip, tuple(json.loads(conditions)), reference) for idx, clip, conditions, reference in
                  db.execute("SELECT idx, clip, conditions, reference FROM trials WHERE test_id = ? ORDER BY idx",
                             (test_id,))]
        return TestRow(row[0], row[1], row[2], row[3], row[4], bool(row[5]), json.loads(row[6]), trials)

    def check_owner(self, test_id: str | None, token: str | None) -> TestRow:
        """The test, if `token` is its owner token (compared in constant time); AccessDenied otherwise."""
        test = self.test(test_id)
        stored = self._connection().execute("SELECT owner_hash FROM tests WHERE id = ?", (test.id,)).fetchone()[0]
        if not token or not hmac.compare_digest(digest(str(token)), stored):
            raise AccessDenied("This needs the test's owner link (the one with ?owner=…), which the teacher got "
                               "when creating the test. The token given is missing or wrong.")
        return test

    def delete_test(self, test_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM responses WHERE test_id = ?", (test_id,))
            db.execute("DELETE FROM tests WHERE id = ?", (test_id,))

    def stimulus(self, test_id: str, clip: str, condition: str) -> bytes:
        row = self._connection().execute("SELECT flac FROM stimuli WHERE test_id = ? AND clip = ? AND condition = ?",
                                          (test_id, clip, condition)).fetchone()
        if row is None:
            raise RequestError(f"Test '{test_id}' has no stimulus {clip}/{condition}.")
        return bytes(row[0])

    def stimulus_seconds(self, test_id: str, clip: str) -> float:
        """The longest stimulus of a clip (they are all trimmed to the reference's length)."""
        row = self._connection().execute("SELECT MAX(seconds) FROM stimuli WHERE test_id = ? AND clip = ?",
                                          (test_id, clip)).fetchone()
        return float(row[0] or 0.0)

    def media_key(self, test_id: str) -> bytes:
        """A secret only the server holds (the stored hash of the owner token), which keys the HMAC
        that names a participant's audio files."""
        row = self._connection().execute("SELECT owner_hash FROM tests WHERE id = ?", (test_id,)).fetchone()
        if row is None:
            raise RequestError(f"There is no listening test '{test_id}'; it may have been deleted.")
        return bytes.fromhex(row[0])

    def register_media(self, participant_id: str, position: int, names: list[str]) -> None:
        """Remember which participant, trial position and source each audio name stands for."""
        db = self._connection()
        marks = ",".join("?" * len(names))
        known = db.execute(f"SELECT COUNT(*) FROM media WHERE name IN ({marks})", names).fetchone()[0]
        if known == len(names):  # a resumed or re-fetched trial: nothing to write
            return
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO media VALUES (?,?,?,?)",
                           [(name, participant_id, position, i) for i, name in enumerate(names)])

    def media(self, name: str) -> tuple[str, int, int] | None:
        """(participant id, trial position, source index) of an audio name; None if unknown or deleted."""
        row = self._connection().execute("SELECT participant_id, position, source FROM media WHERE name = ?",
                                         (name,)).fetchone()
        return None if row is None else (row[0], int(row[1]), int(row[2]))

    def stimuli_facts(self, test_id: str) -> list[dict[str, Any]]:
        cursor = self._connection().execute(
            "SELECT clip, condition, sample_rate, seconds, loudness_lufs, gain_db, random_weights, bitrate_kbps "
            "FROM stimuli WHERE test_id = ? ORDER BY clip, condition", (test_id,))
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    # participants ----------------------------------------------------------------------------
    def join(self, test: TestRow, rng: random.Random | None = None) -> tuple[str, Participant]:
        """A new participant with a balanced, shuffled plan; returns (their secret token, participant)."""
        token, participant_id = shell_safe_token(18), "p-" + secrets.token_hex(8)
        with self._transaction() as db:
            joined = db.execute("SELECT COUNT(*) FROM participants WHERE test_id = ?", (test.id,)).fetchone()[0]
            if joined >= MAX_PARTICIPANTS:
                raise RequestError(f"This test is full ({MAX_PARTICIPANTS} participants). Ask the teacher for a "
                                   "new one.")
            counts = dict(db.execute(  # trials assigned to participants who answered, or joined recently
                "SELECT s.trial_idx, COUNT(*) FROM slots s JOIN participants p ON p.id = s.participant_id "
                "WHERE p.test_id = ? AND (p.joined_at > ? OR EXISTS "
                "(SELECT 1 FROM responses r WHERE r.participant_id = p.id)) GROUP BY s.trial_idx",
                (test.id, time.time() - ABANDONED_AFTER_S)).fetchall())
            slots = draw_plan(test.method, test.trials, counts, test.per_participant, rng)
            db.execute("INSERT INTO participants (id, test_id, token_hash, joined_at) VALUES (?,?,?,?)",
                       (participant_id, test.id, digest(token), time.time()))
            db.executemany("INSERT INTO slots VALUES (?,?,?,?,?)",
                           [(participant_id, s.position, s.trial, json.dumps(s.order), s.x) for s in slots])
        return token, Participant(participant_id, test.id, slots, set(), None)

    def participant(self, test_id: str, token: str | None) -> Participant:
        db = self._connection()
        row = db.execute("SELECT id, completion_code FROM participants WHERE token_hash = ? AND test_id = ?",
                         (digest(str(token or "")), test_id)).fetchone()
        if row is None:
            raise AccessDenied("This participant code is not part of this test. Press Start to take the test, "
                               "or paste the resume code you were shown.")
        return self._participant(test_id, row[0], row[1])

    def participant_by_id(self, participant_id: str) -> Participant | None:
        """For the server's own lookups (an audio name resolved to its participant); never from a request."""
        row = self._connection().execute("SELECT test_id, id, completion_code FROM participants WHERE id = ?",
                                         (participant_id,)).fetchone()
        return None if row is None else self._participant(*row)

    def _participant(self, test_id: str, participant_id: str, completion_code: str | None) -> Participant:
        db = self._connection()
        slots = [Slot(position, trial, tuple(json.loads(order)), x) for position, trial, order, x in db.execute(
            "SELECT position, trial_idx, condition_order, x FROM slots WHERE participant_id = ? ORDER BY position",
            (participant_id,))]
        answered = {p for (p,) in db.execute("SELECT position FROM responses WHERE participant_id = ?",
                                             (participant_id,))}
        return Participant(participant_id, test_id, slots, answered, completion_code)

    def submit(self, participant: Participant, slot: Slot, answer: dict[str, Any]) -> Receipt:
        """Commit one response, then return. A second submit of the same trial writes nothing."""
        with self._transaction() as db:
            cursor = db.execute("INSERT OR IGNORE INTO responses VALUES (?,?,?,?,?,?)",
                                (participant.id, slot.position, participant.test_id, slot.trial, json.dumps(answer),
                                 time.time()))
            duplicate = cursor.rowcount == 0
            answered = db.execute("SELECT COUNT(*) FROM responses WHERE participant_id = ?",
                                  (participant.id,)).fetchone()[0]
            code = db.execute("SELECT completion_code FROM participants WHERE id = ?",
                              (participant.id,)).fetchone()[0]
            if answered >= len(participant.slots) and code is None:
                code = "CA-" + "-".join(secrets.token_hex(2).upper() for _ in range(3))
                db.execute("UPDATE participants SET completed_at = ?, completion_code = ? WHERE id = ?",
                           (time.time(), code, participant.id))
        return Receipt(slot.position, duplicate, answered, len(participant.slots), code)

    # results (callers check the owner token first) --------------------------------------------
    def responses(self, test_id: str) -> list[dict[str, Any]]:
        cursor = self._connection().execute(
            "SELECT r.participant_id, r.position, r.trial_idx, t.clip, r.answer, r.submitted_at, s.condition_order "
            "FROM responses r JOIN trials t ON t.test_id = r.test_id AND t.idx = r.trial_idx "
            "JOIN slots s ON s.participant_id = r.participant_id AND s.position = r.position "
            "WHERE r.test_id = ? ORDER BY r.submitted_at, r.participant_id, r.position", (test_id,))
        return [{"participant": p, "position": pos, "trial": trial, "clip": clip, "answer": json.loads(answer),
                 "submitted_at": at, "order": json.loads(order)} for p, pos, trial, clip, answer, at, order in cursor]

    def participants(self, test_id: str) -> list[dict[str, Any]]:
        cursor = self._connection().execute(
            "SELECT p.id, p.joined_at, p.completed_at, p.completion_code, COUNT(r.position), "
            "(SELECT COUNT(*) FROM slots s WHERE s.participant_id = p.id) FROM participants p "
            "LEFT JOIN responses r ON r.participant_id = p.id WHERE p.test_id = ? GROUP BY p.id ORDER BY p.joined_at",
            (test_id,))
        return [{"participant": p, "joined_at": joined, "completed_at": done, "completion_code": code,
                 "answered": answered, "trials": total} for p, joined, done, code, answered, total in cursor]


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def store() -> Store:
    """The process's store for the current data directory (re-read each call, so tests can point it elsewhere)."""
    path = data_dir() / DB_NAME
    with _stores_lock:
        if path not in _stores:
            _stores[path] = Store(path)
        return _stores[path]

"""Listening tests against hostile or odd input: every refusal is a clear message (no crash), links
cannot smuggle markup, abandoned joins do not skew the balance, joins are capped, exports say which
letter each condition was shown as, and deleting a test removes its renders too."""

from __future__ import annotations

import csv
import io
import sqlite3
import time

import pytest
from test_listening_store import answer, clips

from codec_arena.errors import RequestError
from codec_arena.listening import service, stats, store
from codec_arena.listening.store import DB_NAME, Store

POINTS = ["opus@24", "mp3@64"]


@pytest.fixture
def db(tmp_path, monkeypatch) -> Store:
    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path))
    return Store(tmp_path / DB_NAME)


@pytest.mark.parametrize("position", [None, "abc", float("nan"), float("inf"), [1], -1, 10**400])
def test_odd_positions_are_refused_clearly(db, position) -> None:
    created = service.create_test("t", "mos", clips(), POINTS, db=db)
    token, _ = service.join(created.test_id, db=db)
    with pytest.raises(RequestError, match="not one of your trials"):
        service.submit(created.test_id, token, position, {"played": ["A"], "rating": 3}, db=db)


@pytest.mark.parametrize(("payload", "message"), [
    ("[" * 1900 + "]" * 1900, "not valid JSON"),  # deep nesting: a RecursionError inside json
    ('{"played": ["A"], "rating": ' + "9" * 400 + "}", "whole number from 1 to 5"),  # overflows float()
    ('{"played": ["A"], "rating": true}', "number from 1 to 5"),
    ('{"played": ["A"], "rating": "4"}', "number from 1 to 5"),
    ("x" * 5000, "too large"),
])
def test_odd_answers_are_refused_clearly(db, payload, message) -> None:
    created = service.create_test("t", "mos", clips(), POINTS, db=db)
    token, _ = service.join(created.test_id, db=db)
    with pytest.raises(RequestError, match=message):
        service.submit(created.test_id, token, 0, payload, db=db)


@pytest.mark.parametrize("count", [1e300, 2**63, 10**400, float("nan"), "lots", 401])
def test_odd_trial_counts_are_refused_before_anything_is_rendered(db, count, monkeypatch) -> None:
    rendered = []
    monkeypatch.setattr(service, "render", lambda *a, **k: rendered.append(a))
    with pytest.raises(RequestError, match="whole number from 0"):
        service.create_test("t", "mos", clips(), POINTS, per_participant=count, db=db)
    assert rendered == []


@pytest.mark.parametrize("test_id", ["[Log in](https://evil.example)", "x" * 200, "a b", "../../etc", ""])
def test_a_link_cannot_put_markup_or_paths_on_the_page(db, test_id) -> None:
    with pytest.raises(RequestError) as refused:
        service.public_info(test_id, db=db)
    assert "not a listening test id" in str(refused.value)
    assert not test_id or test_id not in str(refused.value)


def test_abandoned_joins_stop_counting_for_the_balance(db) -> None:
    created = service.create_test("t", "ab_noref", clips(), ["opus@12", "opus@24", "mp3@32"], per_participant=1, db=db)
    idle, _ = service.join(created.test_id, db=db)
    with sqlite3.connect(db.path) as raw:  # joined two hours ago, never answered
        raw.execute("UPDATE participants SET joined_at = ? WHERE token_hash = ?",
                    (time.time() - 7200, store.digest(idle)))
    picks = {service.join(created.test_id, db=db)[1].slots[0].trial for _ in range(3)}
    assert picks == {0, 1, 2}  # the abandoned one's trial was given out again, each exactly once


def test_joining_is_capped(db, monkeypatch) -> None:
    monkeypatch.setattr(store, "MAX_PARTICIPANTS", 2)
    created = service.create_test("t", "mos", clips(), POINTS, db=db)
    service.join(created.test_id, db=db)
    service.join(created.test_id, db=db)
    with pytest.raises(RequestError, match="test is full"):
        service.join(created.test_id, db=db)


def test_raw_export_names_the_letter_each_condition_was_shown_as_and_abx_x(db) -> None:
    created = service.create_test("t", "abx", clips(), POINTS, db=db)
    token, participant = service.join(created.test_id, db=db)
    while (view := service.next_trial(created.test_id, token, db=db)) is not None:
        service.submit(created.test_id, token, view.slot.position, answer(view), db=db)
    found = service.results(created.test_id, created.owner_token, db=db)
    exported = list(csv.DictReader(io.StringIO(stats.csv_text(found.raw_rows(), stats.RAW_COLUMNS))))
    assert len(exported) == 2
    for row, slot in zip(sorted(exported, key=lambda r: int(r["position"])), participant.slots, strict=True):
        trial = found.test.trials[slot.trial]
        assert row["shown_as"] == " ".join(f"{trial.conditions[i]}={k}" for k, i in zip("AB", slot.order, strict=True))
        assert row["x"] == trial.conditions[slot.x] and row["correct"] == str(row["choice"] == row["x"])


def test_deleting_a_test_removes_its_codec_renders(db) -> None:
    created = service.create_test("t", "mos", clips(), POINTS, db=db)
    cache = db.path.parent / "render-cache"
    files = sorted(cache.glob("*.npz"))
    assert len(files) == len(POINTS)
    service.delete(created.test_id, created.owner_token, db=db)
    assert not any(path.exists() for path in files)

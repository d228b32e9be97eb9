"""The listening-test service over a real SQLite store: a participant's whole run, idempotent and
durable submits, resuming after a restart, token checks, deletion, WAL/FULL durability, concurrent
submits, input limits, and that a participant never sees which codec is which."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from codec_arena.audio import Audio
from codec_arena.errors import RequestError
from codec_arena.listening import media, protocols, service
from codec_arena.listening.protocols import REFERENCE
from codec_arena.listening.service import TrialView
from codec_arena.listening.store import DB_NAME, AccessDenied, Store

POINTS = ["opus@24", "mp3@64"]
CODE = re.compile(r"CA-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def db(data_dir: Path) -> Store:
    return Store(data_dir / DB_NAME)  # the file `store()` opens too, so a fresh process would find it


def same_audio(a: bytes, b: bytes) -> bool:
    """Equal up to the ±1 LSB dither each served file adds (two draws: at most 2 LSB apart); any format
    soundfile reads (stored FLAC, served wav)."""
    from codec_arena.listening.stimuli import read_flac

    x, y = read_flac(a), read_flac(b)
    return x.samples.shape == y.samples.shape and np.abs(x.samples - y.samples).max() <= 2.5 / 32768


def name_of(url: str) -> str:
    return url.rsplit("/", 1)[1].removesuffix(".wav")


def clips(n: int = 1, seconds: float = 1.5) -> list[tuple[str, Audio]]:
    rng = np.random.default_rng(n)
    return [(f"clip{i}.wav", Audio((rng.standard_normal((1, int(seconds * 48_000))) * 0.1).astype(np.float32), 48_000))
            for i in range(n)]


def shown(view: TrialView) -> list[str]:
    """The conditions behind the letters, which only the test knows."""
    return [view.trial.conditions[i] for i in view.slot.order]


def answer(view: TrialView) -> dict:
    """A valid answer in the participant's letters: MUSHRA gives the hidden reference 100, the rest 40."""
    method, keys = view.test.method, protocols.letters(len(view.slot.order))
    if method == "mushra":
        return {"played": view.letters, "ratings": {k: 100 if c == REFERENCE else 40
                                                    for k, c in zip(keys, shown(view), strict=True)}}
    if method == "mos":
        return {"played": view.letters, "rating": 5 if shown(view) == [REFERENCE] else 3}
    return {"played": view.letters, "choice": "A"}


def rows(db: Store, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db.path) as raw:
        return raw.execute(sql, args).fetchall()


@pytest.mark.parametrize("method_id", list(protocols.METHODS))
def test_a_participant_answers_every_trial_and_only_then_gets_a_completion_code(db: Store, method_id: str) -> None:
    created = service.create_test("Class test", method_id, clips(2), POINTS, db=db)
    token, participant = service.join(created.test_id, db=db)
    assert len(participant.slots) == created.trials == created.trials_each
    seen = []
    for i in range(created.trials):
        view = service.next_trial(created.test_id, token, db=db)
        assert view is not None and view.slot.position == i and (view.answered, view.total) == (i, created.trials)
        seen.append(view.slot.trial)
        receipt = service.submit(created.test_id, token, view.slot.position, json.dumps(answer(view)), db=db)
        assert (receipt.position, receipt.duplicate, receipt.answered) == (i, False, i + 1)
        if i < created.trials - 1:
            assert receipt.completion_code is None
            assert service.progress_of(created.test_id, token, db=db).completion_code is None
    assert sorted(seen) == list(range(created.trials))
    assert CODE.fullmatch(receipt.completion_code)
    assert service.next_trial(created.test_id, token, db=db) is None
    assert service.progress_of(created.test_id, token, db=db).completion_code == receipt.completion_code
    found = service.results(created.test_id, created.owner_token, db=db)
    assert len(found.responses) == created.trials and found.excluded == {}
    (who,) = found.participants
    assert (who["answered"], who["trials"], who["completion_code"]) == (created.trials, created.trials,
                                                                        receipt.completion_code)
    if method_id == "mushra":  # the letters were mapped back: the hidden reference got every 100
        means = {s["condition"]: s["mean"] for s in found.summary}
        assert means == {REFERENCE: 100, "anchor_3.5khz": 40, "anchor_7khz": 40, **dict.fromkeys(POINTS, 40)}
    if method_id == "mos":
        assert {s["condition"]: s["mean"] for s in found.summary} == {REFERENCE: 5, **dict.fromkeys(POINTS, 3)}


def test_a_second_submit_of_a_trial_is_a_harmless_duplicate(db: Store) -> None:
    created = service.create_test("t", "mos", clips(), POINTS, db=db)
    token, participant = service.join(created.test_id, db=db)
    view = service.next_trial(created.test_id, token, db=db)
    first = service.submit(created.test_id, token, 0, {"played": ["A"], "rating": 4}, db=db)
    again = service.submit(created.test_id, token, 0, {"played": ["A"], "rating": 1}, db=db)
    assert (first.duplicate, again.duplicate, again.answered) == (False, True, 1)
    stored = rows(db, "SELECT answer FROM responses WHERE participant_id = ? AND position = 0", participant.id)
    assert len(stored) == 1 and json.loads(stored[0][0]) == {"scores": {shown(view)[0]: 4.0}}


def test_resuming_with_a_new_store_gives_the_same_next_trial(db: Store) -> None:
    created = service.create_test("t", "mushra", clips(3), POINTS, db=db)
    token, _ = service.join(created.test_id, db=db)
    view = service.next_trial(created.test_id, token, db=db)
    service.submit(created.test_id, token, view.slot.position, answer(view), db=db)
    before = service.next_trial(created.test_id, token, db=db)
    for again in (service.next_trial(created.test_id, token, db=Store(db.path)),  # a restarted server
                  service.next_trial(created.test_id, token)):  # the process's store, found through the data dir
        assert (again.slot, again.answered, again.letters) == (before.slot, 1, before.letters)
        assert again.sources == before.sources  # the same audio names: the browser's cached files still hold
        assert all(media.file(name_of(url), db=Store(db.path)) == media.file(name_of(url), db=db)
                   for _, url in again.sources)  # identical bytes after a restart, dither included
    assert before.slot.position == 1


def test_a_participant_token_works_only_for_its_own_test(db: Store) -> None:
    a = service.create_test("A", "mos", clips(), POINTS, db=db)
    b = service.create_test("B", "mos", clips(), POINTS, db=db)
    token, _ = service.join(a.test_id, db=db)
    assert service.next_trial(a.test_id, token, db=db) is not None
    for bad_test, bad_token in ((b.test_id, token), (a.test_id, "guessed"), (a.test_id, None), (a.test_id, "")):
        with pytest.raises(AccessDenied, match="not part of this test"):
            service.next_trial(bad_test, bad_token, db=db)
        with pytest.raises(AccessDenied, match="not part of this test"):
            service.submit(bad_test, bad_token, 0, {"played": ["A"], "rating": 3}, db=db)
    assert rows(db, "SELECT COUNT(*) FROM responses") == [(0,)]


def test_a_participant_cannot_submit_outside_their_plan(db: Store) -> None:
    created = service.create_test("t", "mushra", clips(2), POINTS, per_participant=1, db=db)
    assert (created.trials, created.trials_each) == (2, 1)
    token, participant = service.join(created.test_id, db=db)
    view = service.next_trial(created.test_id, token, db=db)
    for position in (1, -1, 2, "one", None, float("inf"), float("nan")):
        with pytest.raises(RequestError, match="is not one of your trials"):
            service.submit(created.test_id, token, position, answer(view), db=db)
    receipt = service.submit(created.test_id, token, 0, answer(view), db=db)
    assert (receipt.answered, receipt.total) == (1, 1) and CODE.fullmatch(receipt.completion_code)
    assert rows(db, "SELECT position, trial_idx FROM responses") == [(0, participant.slots[0].trial)]


def test_results_and_delete_need_the_owner_token(db: Store) -> None:
    a = service.create_test("A", "abx", clips(), POINTS, db=db)
    b = service.create_test("B", "abx", clips(), POINTS, db=db)
    participant_token, _ = service.join(a.test_id, db=db)
    for token in (None, "", "wrong", b.owner_token, participant_token, a.owner_token[:-1]):
        with pytest.raises(AccessDenied, match=r"owner link .* missing or wrong"):
            service.results(a.test_id, token, db=db)
        with pytest.raises(AccessDenied, match=r"owner link .* missing or wrong"):
            service.delete(a.test_id, token, db=db)
    assert service.results(a.test_id, a.owner_token, db=db).test.title == "A"
    assert rows(db, "SELECT COUNT(*) FROM tests") == [(2,)]
    on_disk = b"".join(path.read_bytes() for path in Path(db.path).parent.glob(f"{DB_NAME}*"))
    assert a.owner_token.encode() not in on_disk and participant_token.encode() not in on_disk  # hashes only


def test_delete_removes_stimuli_participants_and_responses(db: Store) -> None:
    tests = [service.create_test(name, "mos", clips(), POINTS, db=db) for name in ("A", "B")]
    participants = {}
    for created in tests:
        for _ in range(2):
            token, participant = service.join(created.test_id, db=db)
            participants.setdefault(created.test_id, []).append(participant.id)
            view = service.next_trial(created.test_id, token, db=db)
            service.submit(created.test_id, token, 0, answer(view), db=db)
    gone, kept = tests[0].test_id, tests[1].test_id

    def counts(test_id: str) -> list[int]:
        tables = [rows(db, f"SELECT COUNT(*) FROM {table} WHERE {'id' if table == 'tests' else 'test_id'} = ?",
                       test_id)[0][0] for table in ("tests", "trials", "stimuli", "participants", "responses")]
        return tables + [rows(db, "SELECT COUNT(*) FROM slots WHERE participant_id IN (?, ?)",
                              *participants[test_id])[0][0]]

    assert counts(gone) == counts(kept) == [1, 3, 3, 2, 2, 6]
    service.delete(gone, tests[0].owner_token, db=db)
    assert counts(gone) == [0, 0, 0, 0, 0, 0]
    assert counts(kept) == [1, 3, 3, 2, 2, 6]
    with pytest.raises(RequestError, match="no listening test"):
        service.next_trial(gone, "any", db=db)
    with pytest.raises(RequestError, match="no listening test"):
        service.results(gone, tests[0].owner_token, db=db)


def test_the_database_is_wal_with_synchronous_full_on_every_connection(db: Store) -> None:
    def pragmas() -> tuple:
        connection = db._connection()
        return tuple(connection.execute(f"PRAGMA {name}").fetchone()[0]
                     for name in ("journal_mode", "synchronous", "foreign_keys"))

    assert pragmas() == ("wal", 2, 1)  # synchronous 2 = FULL
    from_thread = []
    thread = threading.Thread(target=lambda: from_thread.append(pragmas()))
    thread.start()
    thread.join()
    assert from_thread == [("wal", 2, 1)]
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]  # persistent in the file


def test_concurrent_submits_from_many_threads_all_land(db: Store) -> None:
    """8 participants on 8 threads, 25 submits each, one Store: every row, no error."""
    systems = ["opus@6", "opus@12", "opus@24", "opus@32", "mp3@32", "mp3@64", "aac@32", "aac@64"]
    trials = protocols.build_trials("ab_noref", ["clip"], systems)
    test_id, _ = db.create_test("load", "ab_noref", "", 25, False, {}, trials, [])  # submits need no audio

    def participant(_: int) -> tuple[str, list]:
        token, joined = service.join(test_id, db=db)
        receipts = [service.submit(test_id, token, slot.position, {"played": ["A", "B"], "choice": "B"}, db=db)
                    for slot in joined.slots]
        return joined.id, receipts

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(participant, range(8)))
    assert rows(db, "SELECT COUNT(*) FROM responses WHERE test_id = ?", test_id) == [(200,)]
    for participant_id, receipts in done:
        assert [r.answered for r in receipts] == list(range(1, 26))
        assert not any(r.duplicate for r in receipts)
        assert [r.completion_code is None for r in receipts] == [True] * 24 + [False]
        assert rows(db, "SELECT completion_code FROM participants WHERE id = ?", participant_id) == [
            (receipts[-1].completion_code,)]
    assert len({p for p, _ in done}) == 8


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"title": "t" * 201}, "title is 201 characters long; at most 200"),
    ({"instructions": "i" * 5001}, "instructions is 5001 characters long; at most 5000"),
    ({"clips": clips(13, seconds=1.0)}, "Pick 1 to 12 clips for a test; got 13"),
    ({"clips": []}, "Pick 1 to 12 clips for a test; got 0"),
    ({"per_participant": "some"}, "whole number"),
    ({"per_participant": 2.5}, "whole number"),
    ({"per_participant": float("inf")}, "whole number"),
    ({"per_participant": float("nan")}, "whole number"),
    ({"per_participant": -1}, "whole number from 0"),
    ({"method_id": "rank"}, "Unknown test method"),
    ({"points": ["opus@24", "nonsense@3"]}, "nonsense"),
])
def test_create_test_refuses_bad_input_and_stores_nothing(db: Store, kwargs: dict, words: str) -> None:
    args = {"title": "t", "method_id": "mushra", "clips": clips(), "points": POINTS, **kwargs}
    with pytest.raises(RequestError, match=words):
        service.create_test(db=db, **args)
    assert rows(db, "SELECT COUNT(*) FROM tests") == [(0,)]


def test_create_test_limits_are_inclusive(db: Store) -> None:
    created = service.create_test("t" * 200, "mos", clips(), ["opus@24"], per_participant=2.0,
                                  instructions="i" * 5000, db=db)
    assert (created.trials, created.trials_each) == (2, 2)
    info = service.public_info(created.test_id, db=db)
    assert (info["title"], info["instructions"], info["trials"]) == ("t" * 200, "i" * 5000, 2)


@pytest.mark.parametrize("method_id", list(protocols.METHODS))
def test_a_participant_sees_letters_never_condition_names(db: Store, method_id: str) -> None:
    created = service.create_test("t", method_id, clips(), POINTS, db=db)
    conditions = {REFERENCE, *protocols.ANCHORS, *POINTS}
    info = json.dumps(service.public_info(created.test_id, db=db))  # "reference" is a word of the instructions
    assert not any(c in info for c in conditions - {REFERENCE}) and "opus" not in info and "mp3" not in info
    token, _ = service.join(created.test_id, db=db)
    while (view := service.next_trial(created.test_id, token, db=db)) is not None:
        labels = [label for label, _ in view.sources]
        assert labels == (["Reference"] if view.trial.reference else []) + view.letters
        assert not any(c in label for c in conditions for label in labels)
        behind = dict(zip(view.letters, [*shown(view), *([view.trial.conditions[view.slot.x]]
                                                         if view.slot.x is not None else [])], strict=True))
        files = [media.file(name_of(url), db=db) for _, url in view.sources]
        for (label, url), served in zip(view.sources, files, strict=True):  # each button plays what is scored
            condition = behind.get(label, view.trial.reference)
            stored = db.stimulus(created.test_id, view.trial.clip, condition)
            assert same_audio(served, stored) and served != stored  # its own dither: no byte-equal twins to spot
            assert not any(c in url for c in conditions) and re.fullmatch(r"listening/media/[0-9a-f]{32}\.wav", url)
        assert len(set(files)) == len(files) and len({len(f) for f in files}) == 1  # equal sizes, own bytes
        service.submit(created.test_id, token, view.slot.position, answer(view), db=db)
    training = service.training_trial(created.test_id, token, db=db)
    named = [label for label, _ in training.sources if label != "Reference"]
    assert named and all(" = " in label and label.split(" = ")[1] in conditions for label in named)


def test_ids_and_tokens_never_start_with_a_dash(monkeypatch):
    """An id like "-x3…" would read as an option on the command line; the first draw here starts with one."""
    from codec_arena.listening import store

    draws = iter(["-abc", "-def", "xyz"])
    monkeypatch.setattr(store.secrets, "token_urlsafe", lambda nbytes: next(draws))
    assert store.shell_safe_token(6) == "xyz"

"""Listening-test protocols: which trials each method has, how a participant's plan is drawn (balanced,
shuffled, never seeded), and how an answer in the letters a participant saw maps back to conditions."""

from __future__ import annotations

import math
import sqlite3
from itertools import combinations

import pytest

from codec_arena.errors import RequestError
from codec_arena.listening import protocols
from codec_arena.listening.protocols import ANCHORS, REFERENCE, Slot, Trial, build_trials, draw_plan, validate_answer
from codec_arena.listening.store import Store

SYSTEMS = ["opus@24", "mp3@64", "opus@12"]


# build_trials -----------------------------------------------------------------------------------
def test_mushra_trials_have_hidden_reference_both_anchors_and_every_system_with_an_open_reference() -> None:
    trials = build_trials("mushra", ["speech", "music"], SYSTEMS)
    assert [t.index for t in trials] == [0, 1]
    assert [t.clip for t in trials] == ["speech", "music"]
    for t in trials:
        assert t.reference == REFERENCE
        assert sorted(t.conditions) == sorted([REFERENCE, "anchor_3.5khz", "anchor_7khz", *SYSTEMS])
        assert set(ANCHORS) == {"anchor_3.5khz", "anchor_7khz"}
    assert protocols.conditions_needed(trials) == {(c, k) for c in ("speech", "music") for k in trials[0].conditions}


@pytest.mark.parametrize(("method_id", "reference"), [("ab", REFERENCE), ("ab_noref", None)])
def test_ab_has_one_trial_per_pair_with_or_without_the_reference(method_id: str, reference: str | None) -> None:
    trials = build_trials(method_id, ["a", "b"], SYSTEMS)
    assert len(trials) == 2 * math.comb(len(SYSTEMS), 2)
    for clip in ("a", "b"):
        pairs = [t.conditions for t in trials if t.clip == clip]
        assert sorted(map(frozenset, pairs), key=sorted) == sorted(map(frozenset, combinations(SYSTEMS, 2)), key=sorted)
    assert all(t.reference == reference and len(t.conditions) == 2 for t in trials)
    needed = protocols.conditions_needed(trials)
    assert ((("a", REFERENCE) in needed) == (reference is not None))


def test_abx_pairs_the_reference_with_each_system() -> None:
    trials = build_trials("abx", ["a"], SYSTEMS)
    assert [t.conditions for t in trials] == [(REFERENCE, s) for s in SYSTEMS]
    assert all(t.reference is None for t in trials)


def test_mos_rates_the_reference_too() -> None:
    trials = build_trials("mos", ["a", "b"], SYSTEMS)
    assert len(trials) == 2 * (len(SYSTEMS) + 1)
    assert {t.conditions for t in trials} == {(REFERENCE,), *((s,) for s in SYSTEMS)}
    assert all(t.reference is None for t in trials)


def test_trial_json_round_trip() -> None:
    for t in build_trials("mushra", ["a"], SYSTEMS) + build_trials("abx", ["a"], SYSTEMS):
        assert Trial.from_json(t.to_json()) == t


@pytest.mark.parametrize(("method_id", "systems", "words"), [
    ("ab", ["opus@24"], "at least 2"),
    ("ab_noref", ["opus@24"], "at least 2"),
    ("mushra", [], "at least 1"),
    ("abx", [], "at least 1"),
    ("mos", [], "at least 1"),
    ("mushra", ["opus@24", "opus@24"], "once"),
    ("ab", ["opus@24", "mp3@64", "opus@24"], "once"),
    ("mos", ["opus@24", REFERENCE], "once"),
    ("mushra", [f"opus@{k}" for k in range(6, 13)], "at most 10"),  # open + hidden reference, 2 anchors, 7 = 11
])
def test_build_trials_refuses_bad_systems(method_id: str, systems: list[str], words: str) -> None:
    with pytest.raises(RequestError, match=words):
        build_trials(method_id, ["a"], systems)


def test_mushra_allows_exactly_ten_sources_and_no_clips_or_unknown_method_are_refused() -> None:
    assert len(build_trials("mushra", ["a"], [f"opus@{k}" for k in range(6)])[0].conditions) == 9  # + open reference
    with pytest.raises(RequestError, match="Unknown test method 'rank'.*mushra"):
        build_trials("rank", ["a"], SYSTEMS)
    with pytest.raises(RequestError, match="at least one clip"):
        build_trials("mushra", [], SYSTEMS)


# draw_plan --------------------------------------------------------------------------------------
def check_plan(method_id: str, trials: list[Trial], plan: list[Slot], k: int) -> None:
    assert [s.position for s in plan] == list(range(k))
    chosen = [s.trial for s in plan]
    assert len(set(chosen)) == k and set(chosen) <= {t.index for t in trials}
    for s in plan:
        n = len(trials[s.trial].conditions)
        assert sorted(s.order) == list(range(n))
        assert (s.x in range(n)) if method_id == "abx" else s.x is None


@pytest.mark.parametrize("method_id", list(protocols.METHODS))
def test_each_plan_is_a_permutation_of_its_subset_with_permuted_conditions(method_id: str) -> None:
    trials = build_trials(method_id, ["a", "b", "c"], SYSTEMS)
    check_plan(method_id, trials, draw_plan(method_id, trials, {}, 0), len(trials))  # 0 = all
    check_plan(method_id, trials, draw_plan(method_id, trials, {}, 2), 2)
    check_plan(method_id, trials, draw_plan(method_id, trials, {}, 10_000), len(trials))


def test_two_participants_get_different_plans() -> None:
    """12 trials of 9 conditions: equal plans by chance has probability below 1/(12! * 9!^12)."""
    trials = build_trials("mushra", [f"clip{i}" for i in range(12)], [f"opus@{k}" for k in (6, 12, 16, 24, 32, 48)])
    first, second = draw_plan("mushra", trials, {}, 0), draw_plan("mushra", trials, {}, 0)
    assert first != second
    assert {s.trial: s.order for s in first} != {s.trial: s.order for s in second}  # not only the trial order


def test_subsets_stay_balanced_as_participants_join(tmp_path) -> None:
    """10 trials, 4 each: after every join, how often each trial was assigned differs by at most one."""
    db = Store(tmp_path / "balance.sqlite3")
    trials = build_trials("ab_noref", ["a"], ["opus@12", "opus@24", "opus@32", "mp3@32", "mp3@64"])
    assert len(trials) == 10
    test_id, _ = db.create_test("balance", "ab_noref", "", 4, False, {}, trials, [])
    test = db.test(test_id)
    counts = dict.fromkeys(range(10), 0)
    for _ in range(25):
        _, participant = db.join(test)
        assert len(participant.slots) == 4
        for slot in participant.slots:
            counts[slot.trial] += 1
        assert max(counts.values()) - min(counts.values()) <= 1
    with sqlite3.connect(db.path) as raw:
        stored = dict(raw.execute("SELECT trial_idx, COUNT(*) FROM slots GROUP BY trial_idx").fetchall())
    assert stored == counts and sum(counts.values()) == 100


# validate_answer --------------------------------------------------------------------------------
MUSHRA = Trial(0, "a", (REFERENCE, "anchor_3.5khz", "anchor_7khz", "opus@24", "mp3@64"), REFERENCE)
MUSHRA_SLOT = Slot(0, 0, (3, 0, 4, 2, 1))  # A=opus@24, B=reference, C=mp3@64, D=anchor_7khz, E=anchor_3.5khz
ALL_PLAYED = ["A", "B", "C", "D", "E"]
RATINGS = {"A": 40, "B": 100, "C": 55.5, "D": 30, "E": 10}


def test_mushra_letters_map_back_through_the_shuffled_order() -> None:
    answer = validate_answer("mushra", MUSHRA, MUSHRA_SLOT, {"played": ["E", "D", "C", "B", "A"], "ratings": RATINGS})
    assert answer == {"scores": {"opus@24": 40.0, REFERENCE: 100.0, "mp3@64": 55.5, "anchor_7khz": 30.0,
                                 "anchor_3.5khz": 10.0}}


@pytest.mark.parametrize(("payload", "words"), [
    ({"played": ["A", "B", "C", "D"], "ratings": RATINGS}, "Listen to every version"),
    ({"ratings": RATINGS}, "Listen to every version"),
    ({"played": "ABCDE", "ratings": RATINGS}, "Listen to every version"),
    ({"played": ALL_PLAYED, "ratings": {k: v for k, v in RATINGS.items() if k != "C"}}, "Rate every version"),
    ({"played": ALL_PLAYED, "ratings": {**RATINGS, "F": 50}}, "Rate every version"),
    ({"played": ALL_PLAYED, "ratings": [40, 100, 55, 30, 10]}, "Rate every version"),
    ({"played": ALL_PLAYED}, "Rate every version"),
    ({"played": ALL_PLAYED, "ratings": {**RATINGS, "C": 101}}, "rating of C must be a number from 0 to 100"),
    ({"played": ALL_PLAYED, "ratings": {**RATINGS, "C": -0.5}}, "rating of C must be a number from 0 to 100"),
    ({"played": ALL_PLAYED, "ratings": {**RATINGS, "C": float("nan")}}, "rating of C must be"),
    ({"played": ALL_PLAYED, "ratings": {**RATINGS, "C": "NaN"}}, "rating of C must be"),
    ({"played": ALL_PLAYED, "ratings": {**RATINGS, "C": float("inf")}}, "rating of C must be"),
    ({"played": ALL_PLAYED, "ratings": {**RATINGS, "C": "good"}}, "rating of C must be a number"),
    ({"played": ALL_PLAYED, "ratings": {**RATINGS, "C": None}}, "rating of C must be a number"),
    ({"played": ALL_PLAYED, "ratings": {**RATINGS, "C": [50]}}, "rating of C must be a number"),
])
def test_mushra_refusals(payload: dict, words: str) -> None:
    with pytest.raises(RequestError, match=words):
        validate_answer("mushra", MUSHRA, MUSHRA_SLOT, payload)


@pytest.mark.parametrize("payload", [None, [], "ratings", 5])
def test_an_answer_must_be_an_object(payload) -> None:
    with pytest.raises(RequestError, match="JSON object"):
        validate_answer("mushra", MUSHRA, MUSHRA_SLOT, payload)


def test_mos_rating_is_a_whole_number_from_one_to_five() -> None:
    trial, slot = Trial(3, "a", ("opus@24",)), Slot(1, 3, (0,))
    assert validate_answer("mos", trial, slot, {"played": ["A"], "rating": 4}) == {"scores": {"opus@24": 4.0}}
    assert validate_answer("mos", trial, slot, {"played": ["A"], "rating": 1.0}) == {"scores": {"opus@24": 1.0}}
    with pytest.raises(RequestError, match="Listen to every version"):
        validate_answer("mos", trial, slot, {"played": [], "rating": 4})
    for bad in (3.5, 0, 6, float("nan"), "five", None):
        with pytest.raises(RequestError, match="The rating must be"):
            validate_answer("mos", trial, slot, {"played": ["A"], "rating": bad})
    with pytest.raises(RequestError, match="whole number from 1 to 5"):
        validate_answer("mos", trial, slot, {"played": ["A"], "rating": 2.5})


@pytest.mark.parametrize("method_id", ["ab", "ab_noref"])
def test_ab_choice_maps_through_the_order_and_bad_choices_are_refused(method_id: str) -> None:
    trial = Trial(0, "a", ("opus@24", "mp3@64"), REFERENCE if method_id == "ab" else None)
    swapped, straight = Slot(0, 0, (1, 0)), Slot(0, 0, (0, 1))
    played = {"played": ["B", "A"]}
    assert validate_answer(method_id, trial, swapped, {**played, "choice": "A"}) == {
        "preferred": "mp3@64", "pair": ["opus@24", "mp3@64"]}
    assert validate_answer(method_id, trial, swapped, {**played, "choice": "B"})["preferred"] == "opus@24"
    assert validate_answer(method_id, trial, straight, {**played, "choice": "A"})["preferred"] == "opus@24"
    assert validate_answer(method_id, trial, swapped, {**played, "choice": "none"}) == {
        "preferred": None, "pair": ["opus@24", "mp3@64"]}
    with pytest.raises(RequestError, match="Listen to every version"):
        validate_answer(method_id, trial, swapped, {"played": ["A"], "choice": "A"})
    for bad in ("C", "a", "", None, ["A"], {"A": 1}, 0):
        with pytest.raises(RequestError, match="Choose A, B or no preference"):
            validate_answer(method_id, trial, swapped, {**played, "choice": bad})


def test_abx_correctness_uses_the_slots_x() -> None:
    trial = Trial(0, "a", (REFERENCE, "opus@24"))
    played = {"played": ["A", "B", "X"]}
    x_is_reference = Slot(0, 0, (1, 0), x=0)  # A=opus@24, B=reference, X=reference
    assert validate_answer("abx", trial, x_is_reference, {**played, "choice": "B"}) == {
        "guess": REFERENCE, "x": REFERENCE, "correct": True, "pair": [REFERENCE, "opus@24"]}
    assert validate_answer("abx", trial, x_is_reference, {**played, "choice": "A"}) == {
        "guess": "opus@24", "x": REFERENCE, "correct": False, "pair": [REFERENCE, "opus@24"]}
    x_is_system = Slot(0, 0, (1, 0), x=1)
    assert validate_answer("abx", trial, x_is_system, {**played, "choice": "A"})["correct"] is True
    assert validate_answer("abx", trial, Slot(0, 0, (0, 1), x=1), {**played, "choice": "B"})["correct"] is True
    with pytest.raises(RequestError, match="Listen to every version"):
        validate_answer("abx", trial, x_is_system, {"played": ["A", "B"], "choice": "A"})
    for bad in ("X", "none", None, ["A"], {"A": 1}):
        with pytest.raises(RequestError, match="X is A or B"):
            validate_answer("abx", trial, x_is_system, {**played, "choice": bad})


def test_bands_follow_bs1534() -> None:
    assert [protocols.band(s) for s in (100, 80, 79.9, 60, 40, 20, 19.9, 0)] == [
        "Excellent", "Excellent", "Good", "Good", "Fair", "Poor", "Bad", "Bad"]

"""The test methods: which trials a test has, how each participant's order is drawn, and what a valid
answer is. Pure functions over plain data, so the store, the app and the tests share one truth.

MUSHRA follows ITU-R BS.1534-3 (open reference, hidden reference, 3.5 kHz and 7 kHz low-pass
anchors, 0–100 with five labelled bands); ACR follows ITU-T P.800 (one stimulus, five categories).
A/B asks for a preference (with "no preference"), with or without the reference to compare against;
ABX asks which of A and B the unknown X is, the reference being one of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..errors import RequestError

REFERENCE = "reference"  # the clip itself: the open reference, and the hidden one where rated
ANCHORS = {"anchor_3.5khz": 3500.0, "anchor_7khz": 7000.0}  # BS.1534-3 low and mid anchors
MUSHRA_BANDS = ((80, "Excellent"), (60, "Good"), (40, "Fair"), (20, "Poor"), (0, "Bad"))
ACR_LABELS = {5: "Excellent", 4: "Good", 3: "Fair", 2: "Poor", 1: "Bad"}
NO_PREFERENCE = "none"
MAX_CONDITIONS = 10  # the synced player's keys 0–9
PRACTICE = -1  # the position of the practice trial, which is never saved


@dataclass(frozen=True)
class Method:
    id: str
    name: str
    standard: str
    question: str  # what a participant is asked on every trial
    min_systems: int


METHODS = {m.id: m for m in (
    Method("mushra", "MUSHRA (0–100, hidden reference and anchors)", "ITU-R BS.1534-3",
           "Rate every version against the reference, 0–100. One of them is the reference itself: give it 100.", 1),
    Method("ab", "A/B preference against the reference", "paired comparison",
           "Which of A and B sounds closer to the reference?", 2),
    Method("ab_noref", "A/B preference (no reference)", "paired comparison",
           "Which of A and B do you prefer?", 2),
    Method("abx", "ABX: can you hear the codec?", "ABX",
           "X is either A or B. Which one is it?", 1),
    Method("mos", "ACR / MOS (1–5, one clip at a time)", "ITU-T P.800",
           "How good is the quality of this recording?", 1),
)}


@dataclass(frozen=True)
class Trial:
    """One screen: the conditions heard (stimulus keys under `clip`) and the open reference, if any."""

    index: int
    clip: str
    conditions: tuple[str, ...]
    reference: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "clip": self.clip, "conditions": list(self.conditions),
                "reference": self.reference}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trial:
        return cls(int(data["index"]), str(data["clip"]), tuple(data["conditions"]), data.get("reference"))


def method(method_id: str) -> Method:
    if method_id not in METHODS:
        raise RequestError(f"Unknown test method '{method_id}'. Choose one of: {', '.join(METHODS)}.")
    return METHODS[method_id]


def build_trials(method_id: str, clips: list[str], systems: list[str]) -> list[Trial]:
    """Every trial of a test, in a fixed order (each participant hears them shuffled)."""
    m = method(method_id)
    if not clips:
        raise RequestError("Pick at least one clip for the test.")
    if len(set(systems)) != len(systems) or REFERENCE in systems:
        raise RequestError("Each operating point can be in a test once.")
    if len(systems) < m.min_systems:
        raise RequestError(f"{m.name} needs at least {m.min_systems} codec operating point"
                           f"{'s' if m.min_systems > 1 else ''}.")
    per_clip: list[tuple[tuple[str, ...], str | None]]
    if method_id == "mushra":
        if len(systems) + 2 + len(ANCHORS) > MAX_CONDITIONS:  # open and hidden reference, two anchors, systems
            raise RequestError(f"MUSHRA plays at most {MAX_CONDITIONS} sources per trial (keys 0–9): with the open "
                               f"and hidden reference and two anchors that leaves {MAX_CONDITIONS - 4} codec "
                               "operating points.")
        per_clip = [((REFERENCE, *ANCHORS, *systems), REFERENCE)]
    elif method_id in ("ab", "ab_noref"):
        reference = REFERENCE if method_id == "ab" else None
        per_clip = [((a, b), reference) for a, b in combinations(systems, 2)]
    elif method_id == "abx":
        per_clip = [((REFERENCE, system), None) for system in systems]
    else:  # mos: the original is rated too, as the upper end of the scale
        per_clip = [((condition,), None) for condition in (REFERENCE, *systems)]
    trials = [(clip, conditions, reference) for clip in clips for conditions, reference in per_clip]
    return [Trial(i, clip, conditions, reference) for i, (clip, conditions, reference) in enumerate(trials)]


def conditions_needed(trials: list[Trial]) -> set[tuple[str, str]]:
    """The (clip, condition) stimuli a test must render."""
    needed = {(t.clip, c) for t in trials for c in t.conditions}
    needed |= {(t.clip, t.reference) for t in trials if t.reference}
    return needed


@dataclass(frozen=True)
class Slot:
    """One trial as one participant sees it: the order of its conditions and, for ABX, which is X."""

    position: int
    trial: int
    order: tuple[int, ...]  # order[k] = index into the trial's conditions shown as button k
    x: int | None = None  # ABX: index into the trial's conditions that X plays


def choose_trials(counts: dict[int, int], k: int, rng: random.Random) -> list[int]:
    """The k trials rated least so far (ties broken at random), so every trial is rated about equally
    often however many participants join; returned in a random order."""
    ranked = sorted(counts, key=lambda trial: (counts[trial], rng.random()))
    chosen = ranked[:k]
    rng.shuffle(chosen)
    return chosen


def draw_plan(method_id: str, trials: list[Trial], counts: dict[int, int], per_participant: int,
              rng: random.Random | None = None) -> list[Slot]:
    """A participant's trials (a balanced subset, shuffled) and each trial's shuffled conditions."""
    rng = rng or random.SystemRandom()
    k = min(per_participant, len(trials)) if per_participant > 0 else len(trials)
    slots = []
    for position, index in enumerate(choose_trials({t.index: counts.get(t.index, 0) for t in trials}, k, rng)):
        n = len(trials[index].conditions)
        order = list(range(n))
        rng.shuffle(order)
        x = rng.randrange(n) if method_id == "abx" else None
        slots.append(Slot(position, index, tuple(order), x))
    return slots


def _number(value: Any, low: float, high: float, what: str, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # JSON true or "4" is not a rating
        raise RequestError(f"{what} must be a number from {low:g} to {high:g}; got {value!r}.")
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer
        number = float("inf")
    if not low <= number <= high or (integer and number != int(number)):
        kind = "a whole number" if integer else "a number"
        raise RequestError(f"{what} must be {kind} from {low:g} to {high:g}; got {value!r}.")
    return number


def letters(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def sources(trial: Trial, slot: Slot) -> list[str]:
    """The letters of the buttons a participant must play: one per condition, plus X in ABX."""
    return letters(len(slot.order)) + (["X"] if slot.x is not None else [])


def source_conditions(trial: Trial, slot: Slot) -> list[tuple[str, str]]:
    """(button, condition) for every source of a trial as a participant sees it: the open reference
    first where there is one, then the lettered versions in their shuffled order, then ABX's X."""
    shown = [(key, trial.conditions[i]) for key, i in zip(letters(len(slot.order)), slot.order, strict=True)]
    x = [("X", trial.conditions[slot.x])] if slot.x is not None else []
    return ([("Reference", trial.reference)] if trial.reference else []) + shown + x


def practice_slot(method_id: str, trial: Trial) -> Slot:
    """The practice trial's slot: the first trial, its versions in their stored order (named on screen)."""
    return Slot(PRACTICE, trial.index, tuple(range(len(trial.conditions))), 1 if method_id == "abx" else None)


def validate_answer(method_id: str, trial: Trial, slot: Slot, payload: dict[str, Any]) -> dict[str, Any]:
    """Check a submitted answer (in the letters the participant saw) and restate it in conditions:
    `{"scores": {condition: score}}`, `{"preferred": condition or None, "pair": [a, b]}` or
    `{"guess": condition, "x": condition, "correct": bool, "pair": [reference, system]}`."""
    if not isinstance(payload, dict):
        raise RequestError("An answer must be a JSON object.")
    shown = [trial.conditions[i] for i in slot.order]
    keys = letters(len(shown))
    played = payload.get("played")
    if not isinstance(played, list) or not {str(p) for p in played} >= set(sources(trial, slot)):
        raise RequestError("Listen to every version (each lettered button) before you submit this trial.")
    if method_id == "mushra":
        ratings = payload.get("ratings")
        if not isinstance(ratings, dict) or set(ratings) != set(keys):
            raise RequestError(f"Rate every version ({', '.join(keys)}) on the 0–100 scale.")
        return {"scores": {shown[keys.index(k)]: _number(v, 0, 100, f"The rating of {k}") for k, v in ratings.items()}}
    if method_id == "mos":
        return {"scores": {shown[0]: _number(payload.get("rating"), 1, 5, "The rating", integer=True)}}
    choice = payload.get("choice")
    if method_id in ("ab", "ab_noref"):
        options = {"A": shown[0], "B": shown[1], NO_PREFERENCE: None}
        if not isinstance(choice, str) or choice not in options:  # a list or object is not a choice
            raise RequestError("Choose A, B or no preference.")
        return {"preferred": options[choice], "pair": list(trial.conditions)}
    if choice not in ("A", "B") or slot.x is None:
        raise RequestError("Say whether X is A or B.")
    guess, x = shown[keys.index(choice)], trial.conditions[slot.x]
    return {"guess": guess, "x": x, "correct": guess == x, "pair": list(trial.conditions)}


def band(score: float) -> str:
    """The BS.1534-3 label of a 0–100 score."""
    return next(label for low, label in MUSHRA_BANDS if score >= low)

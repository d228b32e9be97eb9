"""What the app, its API and the CLI do with listening tests, each step checked once here: create a
test (render, store), join it, fetch one's next trial, submit an answer, and read the results with
the owner token.

A participant is identified only by the secret token `join` returns; with it they get their own
plan and nothing else. Everything about results needs the owner token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audio import Audio
from ..errors import RequestError
from . import protocols, stats
from .protocols import ANCHORS, METHODS, REFERENCE, Slot, Trial
from .stimuli import render
from .store import AccessDenied, Participant, Receipt, Store, TestRow, store

MAX_CLIPS = 12
MAX_TITLE = 200
MAX_INSTRUCTIONS = 5000
MAX_ANSWER_CHARS = 4000
MAX_TRIALS = 400


@dataclass(frozen=True)
class Created:
    test_id: str
    owner_token: str  # shown once: the store keeps only its hash
    trials: int
    trials_each: int
    loudness_lufs: float
    random_weights: list[str] = field(default_factory=list)  # operating points whose weights are random

    def links(self, base_url: str) -> tuple[str, str]:
        """(participant link, owner link)."""
        base = base_url.rstrip("/")
        return f"{base}/?test={self.test_id}", f"{base}/?test={self.test_id}&owner={self.owner_token}"


def default_instructions(method_id: str) -> str:
    m = protocols.method(method_id)
    return {
        "mushra": "Each trial has a **Reference** and several versions of it (A, B, C, …). Listen to all of them "
                  "(switch while playing: the position is kept), then rate how close each one is to the reference "
                  "from 0 to 100. One version is the reference itself: rate it 100. Loop a short region to "
                  "compare details.",
        "ab": "Each trial has a **Reference** and two versions, A and B. Choose the one closer to the reference, "
              "or *no preference* if you hear no difference.",
        "ab_noref": "Each trial has two versions, A and B, of the same recording. Choose the one you prefer, or "
                    "*no preference*.",
        "abx": "Each trial has A, B and X. X is the same as A or as B. Listen and say which. If you cannot tell, "
               "guess: chance is 50%.",
        "mos": "Each trial plays one recording. Rate its overall quality: 5 Excellent, 4 Good, 3 Fair, 2 Poor, 1 Bad.",
    }[m.id] + " Use headphones in a quiet place, and set a comfortable volume on the first trial."


def _clean_text(value: Any, limit: int, what: str) -> str:
    text = str(value or "").strip()
    if len(text) > limit:
        raise RequestError(f"The {what} is {len(text)} characters long; at most {limit} are allowed.")
    return text


def create_test(title: str, method_id: str, clips: list[tuple[str, Audio]], points: list[str],
                per_participant: int = 0, training: bool = True, instructions: str = "",
                progress: Callable[[float, str], None] | None = None, db: Store | None = None) -> Created:
    """Validate, render every stimulus once (loudness-matched), and store the test."""
    from ..compare import parse_point
    from .stimuli import excerpt

    method = protocols.method(method_id)
    title = _clean_text(title, MAX_TITLE, "title") or "Listening test"
    instructions = _clean_text(instructions, MAX_INSTRUCTIONS, "instructions") or default_instructions(method_id)
    if not 1 <= len(clips) <= MAX_CLIPS:
        raise RequestError(f"Pick 1 to {MAX_CLIPS} clips for a test; got {len(clips)}.")
    systems = list(dict.fromkeys(str(parse_point(p)) for p in points))
    named: dict[str, Audio] = {}
    for name, audio in clips:
        base, n = (Path(name).stem or "clip")[:60], 2
        unique = base
        while unique in named:
            unique, n = f"{base} ({n})", n + 1
        named[unique] = excerpt(audio, unique)
    trials = protocols.build_trials(method.id, list(named), systems)
    if len(trials) > MAX_TRIALS:
        raise RequestError(f"This test would have {len(trials)} trials; at most {MAX_TRIALS}. Use fewer clips or "
                           "operating points.")
    try:
        count = float(per_participant or 0)
    except (TypeError, ValueError):
        count = float("nan")
    if not count.is_integer():  # 2.5, NaN and infinity too, not only text
        raise RequestError("Trials per participant must be a whole number (0 means all).")
    per_participant = int(count)
    if per_participant < 0:
        raise RequestError("Trials per participant cannot be negative (0 means all).")
    db = db or store()
    target, stimuli = render(named, protocols.conditions_needed(trials), db.path.parent / "render-cache", progress)
    random = sorted({s.condition for s in stimuli if s.random_weights})
    settings = {"clips": list(named), "systems": systems, "anchors": ANCHORS if method.id == "mushra" else {},
                "loudness_lufs": round(target, 2), "random_weights": random}
    test_id, token = db.create_test(title, method.id, instructions, per_participant, training, settings, trials,
                                    stimuli)
    test = db.test(test_id)
    return Created(test_id, token, len(trials), test.trials_each, target, random)


def public_info(test_id: str, db: Store | None = None) -> dict[str, Any]:
    """What anyone with the participant link may know: nothing about which codecs are in it."""
    test = (db or store()).test(str(test_id).strip())
    return {"id": test.id, "title": test.title, "method": test.method, "method_name": METHODS[test.method].name,
            "instructions": test.instructions, "trials": test.trials_each, "training": test.training,
            "question": METHODS[test.method].question}


def join(test_id: str, db: Store | None = None) -> tuple[str, Participant]:
    db = db or store()
    return db.join(db.test(str(test_id).strip()))


@dataclass(frozen=True)
class TrialView:
    """One trial as a participant gets it: lettered sources, never condition names (except training)."""

    test: TestRow
    slot: Slot
    trial: Trial
    answered: int
    total: int
    sources: list[tuple[str, bytes]]  # (button label, FLAC); the open reference first where there is one
    training: bool = False

    @property
    def letters(self) -> list[str]:
        return protocols.sources(self.trial, self.slot)


def _view(db: Store, test: TestRow, slot: Slot, answered: int, total: int, training: bool) -> TrialView:
    trial = test.trials[slot.trial]
    shown = [trial.conditions[i] for i in slot.order]
    keys = protocols.letters(len(shown))
    label = (lambda k, c: f"{k} = {c}") if training else (lambda k, c: k)
    sources = [("Reference", db.stimulus(test.id, trial.clip, trial.reference))] if trial.reference else []
    sources += [(label(k, c), db.stimulus(test.id, trial.clip, c)) for k, c in zip(keys, shown, strict=True)]
    if slot.x is not None:
        x = trial.conditions[slot.x]
        sources.append((label("X", x), db.stimulus(test.id, trial.clip, x)))
    return TrialView(test, slot, trial, answered, total, sources, training)


def next_trial(test_id: str, token: str, db: Store | None = None) -> TrialView | None:
    """The participant's next unanswered trial, or None when they are done."""
    db = db or store()
    test = db.test(str(test_id).strip())
    participant = db.participant(test.id, token)
    position = participant.next_position
    if position is None:
        return None
    return _view(db, test, participant.slots[position], len(participant.answered), len(participant.slots), False)


def training_trial(test_id: str, db: Store | None = None) -> TrialView:
    """The practice trial: the first trial with its versions named, in their stored order; never saved."""
    db = db or store()
    test = db.test(str(test_id).strip())
    trial = test.trials[0]
    x = 1 if test.method == "abx" else None
    return _view(db, test, Slot(0, 0, tuple(range(len(trial.conditions))), x), 0, 0, True)


def progress_of(test_id: str, token: str, db: Store | None = None) -> Participant:
    db = db or store()
    return db.participant(db.test(str(test_id).strip()).id, token)


def submit(test_id: str, token: str, position: int, answer: dict[str, Any] | str,
           db: Store | None = None) -> Receipt:
    """Validate and commit one answer; returns only after the commit. Resubmitting is harmless."""
    import json

    db = db or store()
    test = db.test(str(test_id).strip())
    participant = db.participant(test.id, token)
    if isinstance(answer, str):
        if len(answer) > MAX_ANSWER_CHARS:
            raise RequestError("The answer is too large.")
        try:
            answer = json.loads(answer)
        except ValueError:
            raise RequestError("The answer is not valid JSON.") from None
    try:
        index = int(position)
    except (TypeError, ValueError, OverflowError):
        index = -1
    if not 0 <= index < len(participant.slots):
        raise RequestError(f"Trial position {position!r} is not one of your trials "
                           f"(0 to {len(participant.slots) - 1}).")
    slot = participant.slots[index]
    checked = protocols.validate_answer(test.method, test.trials[slot.trial], slot, answer)
    return db.submit(participant, slot, checked)


@dataclass(frozen=True)
class Results:
    test: TestRow
    responses: list[dict[str, Any]]
    participants: list[dict[str, Any]]
    excluded: dict[str, float]  # MUSHRA post-screening: participant -> fraction of low hidden-reference ratings
    summary: list[dict[str, Any]]  # per condition (after post-screening)
    summary_by_clip: list[dict[str, Any]]
    stimuli: list[dict[str, Any]]
    flagged: dict[str, float] = field(default_factory=dict)  # what post-screening would exclude, applied or not

    @property
    def scale(self) -> tuple[float, float]:
        return (1.0, 5.0) if self.test.method == "mos" else (0.0, 100.0)

    def raw_rows(self) -> list[dict[str, Any]]:
        """One CSV row per rating or choice, with the post-screening verdict."""
        rows = []
        for r in self.responses:
            base = {"participant": r["participant"], "excluded": r["participant"] in self.excluded,
                    "position": r["position"], "trial": r["trial"], "clip": r["clip"],
                    "submitted_at": round(r["submitted_at"], 3)}
            answer = r["answer"]
            if "scores" in answer:
                rows += [{**base, "condition": c, "score": s, "choice": "", "correct": ""}
                         for c, s in answer["scores"].items()]
            elif "correct" in answer:
                rows.append({**base, "condition": answer["pair"][1], "score": "", "choice": answer["guess"],
                             "correct": answer["correct"]})
            else:
                rows.append({**base, "condition": " vs ".join(answer["pair"]), "score": "",
                             "choice": answer["preferred"] or "no preference", "correct": ""})
        return rows


def results(test_id: str, owner_token: str | None, screening: bool = True, db: Store | None = None) -> Results:
    """Statistics over every response, leaving out (when `screening`) the participants BS.1534-3 excludes."""
    db = db or store()
    test = db.check_owner(str(test_id or "").strip(), owner_token)
    responses = db.responses(test.id)
    flagged = stats.post_screening(responses) if test.method == "mushra" else {}
    excluded = flagged if screening else {}
    kept = [r for r in responses if r["participant"] not in excluded]
    if test.method in ("mushra", "mos"):
        rows = stats.scores(kept)
        summary, by_clip = stats.rating_summary(rows), stats.rating_summary(rows, by_clip=True)
    elif test.method == "abx":
        summary, by_clip = stats.abx_summary(kept), []
    else:
        summary, by_clip = stats.preference_summary(kept), []
    return Results(test, responses, db.participants(test.id), excluded, summary, by_clip, db.stimuli_facts(test.id),
                   flagged)


def delete(test_id: str, owner_token: str | None, db: Store | None = None) -> None:
    db = db or store()
    test = db.check_owner(str(test_id or "").strip(), owner_token)
    db.delete_test(test.id)


__all__ = ["AccessDenied", "Created", "Results", "TrialView", "create_test", "delete", "join", "next_trial",
           "public_info", "results", "submit", "training_trial", "REFERENCE"]

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
from . import media, protocols, stats
from .protocols import ANCHORS, METHODS, REFERENCE, Slot, Trial
from .stimuli import Stimulus, render
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
    """The standard wording, in plain words for a participant (a 15-year-old must follow it)."""
    m = protocols.method(method_id)
    return {
        "mushra": "You will hear a **Reference** recording and several versions of it (A, B, C, …). Press Play, "
                  "then tap the versions to switch between them while it plays: the sound goes on from the same "
                  "moment. Rate how close each version sounds to the Reference, from 0 (bad) to 100 (excellent). "
                  "One of the versions is the Reference itself: give it 100.",
        "ab": "You will hear a **Reference** and two versions of it, A and B. Choose the one that sounds closer to "
              "the Reference, or *No preference* if they sound the same to you.",
        "ab_noref": "You will hear two versions, A and B, of the same recording. Choose the one you like better, "
                    "or *No preference*.",
        "abx": "You will hear A, B and X. X is the same as A or as B. Listen and choose which one. If you cannot "
               "tell, guess.",
        "mos": "You will hear one recording at a time. Listen to all of it, then rate how good it sounds: "
               "5 Excellent, 4 Good, 3 Fair, 2 Poor, 1 Bad.",
    }[m.id] + " Use headphones in a quiet place, and set a comfortable volume on the first one."


def _clean_text(value: Any, limit: int, what: str) -> str:
    text = str(value or "").strip()
    if len(text) > limit:
        raise RequestError(f"The {what} is {len(text)} characters long; at most {limit} are allowed.")
    return text


@dataclass(frozen=True)
class Draft:
    """A checked test before rendering: the cheap part, so bad input is refused before any codec runs."""

    title: str
    method: str
    instructions: str
    per_participant: int
    training: bool
    clips: dict[str, Audio]  # unique names -> excerpts
    systems: list[str]
    trials: list[Trial]


def _whole_number(value: Any) -> int:
    try:
        count = float(value or 0)
    except (TypeError, ValueError, OverflowError):
        count = float("nan")
    if not count.is_integer() or not 0 <= count <= MAX_TRIALS:  # 2.5, NaN, infinity and 1e300 too
        raise RequestError(f"Trials per participant must be a whole number from 0 (all) to {MAX_TRIALS}.")
    return int(count)


def draft_test(title: str, method_id: str, clips: list[tuple[str, Audio]], points: list[str],
               per_participant: Any = 0, training: bool = True, instructions: str = "") -> Draft:
    from ..compare import parse_point
    from .stimuli import excerpt

    method = protocols.method(method_id)
    title = _clean_text(title, MAX_TITLE, "title") or "Listening test"
    instructions = _clean_text(instructions, MAX_INSTRUCTIONS, "instructions") or default_instructions(method_id)
    if not 1 <= len(clips) <= MAX_CLIPS:
        raise RequestError(f"Pick 1 to {MAX_CLIPS} clips for a test; got {len(clips)}.")
    count = _whole_number(per_participant)
    parsed = [parse_point(p) for p in points]
    for point in parsed:  # before any stimulus is rendered
        point.info.require_decoder("be a listening-test condition")
    systems = list(dict.fromkeys(str(point) for point in parsed))
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
    return Draft(title, method.id, instructions, count, bool(training), named, systems, trials)


def render_draft(draft: Draft, cache_dir: Path | None = None,
                 progress: Callable[[float, str], None] | None = None) -> tuple[float, list[Stimulus]]:
    """The codec work (on a ZeroGPU slice in the app): every stimulus, loudness-matched."""
    return render(draft.clips, protocols.conditions_needed(draft.trials), cache_dir, progress)


def save_test(draft: Draft, target: float, stimuli: list[Stimulus], db: Store | None = None) -> Created:
    db = db or store()
    random = sorted({s.condition for s in stimuli if s.random_weights})
    settings = {"clips": list(draft.clips), "systems": draft.systems,
                "anchors": ANCHORS if draft.method == "mushra" else {}, "loudness_lufs": round(float(target), 2),
                "random_weights": random, "render_cache": sorted({s.cache_file for s in stimuli if s.cache_file})}
    test_id, token = db.create_test(draft.title, draft.method, draft.instructions, draft.per_participant,
                                    draft.training, settings, draft.trials, stimuli)
    return Created(test_id, token, len(draft.trials), db.test(test_id).trials_each, float(target), random)


def create_test(title: str, method_id: str, clips: list[tuple[str, Audio]], points: list[str],
                per_participant: Any = 0, training: bool = True, instructions: str = "",
                progress: Callable[[float, str], None] | None = None, db: Store | None = None) -> Created:
    """Validate, render every stimulus once (loudness-matched, cached beside the database), and store."""
    db = db or store()
    draft = draft_test(title, method_id, clips, points, per_participant, training, instructions)
    return save_test(draft, *render_draft(draft, db.render_cache, progress), db=db)


def public_info(test_id: str, db: Store | None = None) -> dict[str, Any]:
    """What anyone with the participant link may know: nothing about which codecs are in it."""
    test = (db or store()).test(test_id)
    return {"id": test.id, "title": test.title, "method": test.method, "method_name": METHODS[test.method].name,
            "instructions": test.instructions, "trials": test.trials_each, "training": test.training,
            "question": METHODS[test.method].question}


def join(test_id: str, db: Store | None = None) -> tuple[str, Participant]:
    db = db or store()
    return db.join(db.test(test_id))


@dataclass(frozen=True)
class TrialView:
    """One trial as a participant gets it: lettered sources, never condition names (except training)."""

    test: TestRow
    slot: Slot
    trial: Trial
    answered: int
    total: int
    sources: list[tuple[str, str]]  # (button label, audio URL relative to the page); the open reference first
    training: bool = False
    seconds: float = 0.0  # the longest source

    @property
    def letters(self) -> list[str]:
        return protocols.sources(self.trial, self.slot)


def _view(db: Store, test: TestRow, participant_id: str, slot: Slot, answered: int, total: int) -> TrialView:
    """The trial's sources as this participant's own audio files (see `media`)."""
    training = slot.position == protocols.PRACTICE
    trial = test.trials[slot.trial]
    pairs = protocols.source_conditions(trial, slot)
    names = media.names(db, test.id, participant_id, slot.position, len(pairs))
    labels = [key if key == "Reference" or not training else f"{key} = {condition}" for key, condition in pairs]
    return TrialView(test, slot, trial, answered, total, [(label, media.url(name)) for label, name in
                                                          zip(labels, names, strict=True)],
                     training, db.stimulus_seconds(test.id, trial.clip))


def next_trial(test_id: str, token: str, db: Store | None = None) -> TrialView | None:
    """The participant's next unanswered trial, or None when they are done."""
    db = db or store()
    test = db.test(test_id)
    participant = db.participant(test.id, token)
    position = participant.next_position
    if position is None:
        return None
    return _view(db, test, participant.id, participant.slots[position], len(participant.answered),
                 len(participant.slots))


def training_trial(test_id: str, token: str, db: Store | None = None) -> TrialView:
    """The practice trial: the first trial with its versions named, in their stored order; never saved."""
    db = db or store()
    test = db.test(test_id)
    participant = db.participant(test.id, token)
    return _view(db, test, participant.id, protocols.practice_slot(test.method, test.trials[0]), 0, 0)


def progress_of(test_id: str, token: str, db: Store | None = None) -> Participant:
    db = db or store()
    return db.participant(db.test(test_id).id, token)


def submit(test_id: str, token: str, position: int, answer: dict[str, Any] | str,
           db: Store | None = None) -> Receipt:
    """Validate and commit one answer; returns only after the commit. Resubmitting is harmless."""
    import json

    db = db or store()
    test = db.test(test_id)
    participant = db.participant(test.id, token)
    if isinstance(answer, str):
        if len(answer) > MAX_ANSWER_CHARS:
            raise RequestError("The answer is too large.")
        try:
            answer = json.loads(answer)
        except (ValueError, RecursionError):
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
    participants: list[dict[str, Any]]  # joined_at and completed_at in ISO 8601 (UTC)
    excluded: dict[str, float]  # MUSHRA post-screening: participant -> fraction of low hidden-reference ratings
    summary: list[dict[str, Any]]  # per condition (after post-screening)
    summary_by_clip: list[dict[str, Any]]
    stimuli: list[dict[str, Any]]
    flagged: dict[str, float] = field(default_factory=dict)  # what post-screening would exclude, applied or not

    @property
    def scale(self) -> tuple[float, float]:
        return stats.scale_of(self.test.method)

    def csv_files(self) -> dict[str, str]:
        """The exports, name -> CSV text: raw responses, summary, per clip, participants, stimuli. Every
        one, with its header even without rows (no responses yet, or post-screening left nobody)."""
        summary = stats.SUMMARY_COLUMNS[self.test.method]
        tables = {"raw_responses": (self.raw_rows(), stats.RAW_COLUMNS), "summary": (self.summary, summary),
                  "summary_by_clip": (self.summary_by_clip, ["clip", *summary]),
                  "participants": (self.participants, stats.PARTICIPANT_COLUMNS),
                  "stimuli": (self.stimuli, stats.STIMULUS_COLUMNS)}
        return {f"{self.test.id}-{name}.csv": stats.csv_text(rows, columns) for name, (rows, columns) in tables.items()}

    def raw_rows(self) -> list[dict[str, Any]]:
        """One CSV row per rating or choice, with the post-screening verdict and the letters the
        participant saw (`shown_as`: condition=letter), so order and position effects can be studied."""
        rows = []
        for r in self.responses:
            conditions = self.test.trials[r["trial"]].conditions
            letters = protocols.letters(len(r["order"]))
            shown_as = {conditions[index]: letter for letter, index in zip(letters, r["order"], strict=True)}
            base = {"participant": r["participant"], "excluded": r["participant"] in self.excluded,
                    "position": r["position"], "trial": r["trial"], "clip": r["clip"],
                    "submitted_at": stats.iso_time(r["submitted_at"]),
                    "shown_as": " ".join(f"{c}={k}" for c, k in shown_as.items())}
            answer = r["answer"]
            empty = {"score": "", "choice": "", "x": "", "correct": ""}
            if "scores" in answer:
                rows += [{**base, "condition": c, **empty, "score": s} for c, s in answer["scores"].items()]
            elif "correct" in answer:
                rows.append({**base, "condition": answer["pair"][1], **empty, "choice": answer["guess"],
                             "x": answer["x"], "correct": answer["correct"]})
            else:
                rows.append({**base, "condition": " vs ".join(answer["pair"]), **empty,
                             "choice": answer["preferred"] or "no preference"})
        return rows


def results(test_id: str, owner_token: str | None, screening: bool = True, db: Store | None = None) -> Results:
    """Statistics over every response, leaving out (when `screening`) the participants BS.1534-3 excludes.
    Participants' times are ISO 8601 strings (UTC), as in the CSV files."""
    db = db or store()
    test = db.check_owner(test_id, owner_token)
    responses = db.responses(test.id)
    flagged = stats.post_screening(responses) if test.method == "mushra" else {}
    excluded = flagged if screening else {}
    kept = [r for r in responses if r["participant"] not in excluded]
    if test.method in ("mushra", "mos"):
        rows, scale = stats.scores(kept), stats.scale_of(test.method)
        summary, by_clip = stats.rating_summary(rows, scale=scale), stats.rating_summary(rows, True, scale)
    elif test.method == "abx":
        summary, by_clip = stats.abx_summary(kept), stats.abx_summary(kept, by_clip=True)
    else:
        summary, by_clip = stats.preference_summary(kept), stats.preference_summary(kept, by_clip=True)
    participants = [{**p, "joined_at": stats.iso_time(p["joined_at"]),
                     "completed_at": stats.iso_time(p["completed_at"])} for p in db.participants(test.id)]
    return Results(test, responses, participants, excluded, summary, by_clip, db.stimuli_facts(test.id), flagged)


def delete(test_id: str, owner_token: str | None, db: Store | None = None) -> None:
    """The test, its stimuli, every response, and the codec renders of its clips in the render cache."""
    db = db or store()
    test = db.check_owner(test_id, owner_token)
    db.delete_test(test.id)
    for name in test.settings.get("render_cache", []):
        (db.render_cache / Path(name).name).unlink(missing_ok=True)


__all__ = ["AccessDenied", "Created", "Draft", "Results", "TrialView", "create_test", "delete", "draft_test", "join",
           "next_trial", "public_info", "render_draft", "results", "save_test", "store", "submit", "training_trial",
           "REFERENCE"]

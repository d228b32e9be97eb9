"""The listening test as JSON in and out: the app's named API endpoints (`/listening_create`,
`/listening_join`, `/listening_next`, `/listening_submit`, `/listening_results`, `/listening_delete`),
so a class can also be run from scripts and the load and crash tests drive the real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..audio import load_audio
from . import service


def create(title: str, method: str, clips: list[str] | None, points: list[str] | str | None,
           per_participant: float = 0, training: bool = True, instructions: str = "",
           base_url: str = "", progress: Callable[[float, str], None] | None = None,
           renderer: Callable | None = None) -> dict[str, Any]:
    """Render and store a test from audio files; returns its id, owner token and both links. `renderer`
    replaces `service.render_draft` (the app runs it on a ZeroGPU slice; storing stays here)."""
    from pathlib import Path

    paths = [clips] if isinstance(clips, str) else list(clips or [])
    if isinstance(points, str):
        points = [p for p in points.split(",") if p.strip()]
    draft = service.draft_test(title, method, [(Path(p).name, load_audio(p)) for p in paths], list(points or []),
                               per_participant, bool(training), instructions)
    db = service.store()
    target, stimuli = (renderer or service.render_draft)(draft, db.render_cache, progress)
    created = service.save_test(draft, target, stimuli, db)
    participant_link, owner_link = created.links(base_url)
    return {"test_id": created.test_id, "owner_token": created.owner_token, "participant_link": participant_link,
            "owner_link": owner_link, "trials": created.trials, "trials_each": created.trials_each,
            "loudness_lufs": round(created.loudness_lufs, 2), "random_weights": created.random_weights}


def join(test_id: str) -> dict[str, Any]:
    """A new participant: their secret token (keep it to resume) and how many trials they get."""
    token, participant = service.join(test_id)
    return {"token": token, "trials": len(participant.slots)}


def next_trial(test_id: str, token: str) -> dict[str, Any]:
    """The participant's next trial as letters to press and answer (with each source's audio URL, relative
    to the app's address), or their completion code."""
    view = service.next_trial(test_id, token)
    if view is None:
        done = service.progress_of(test_id, token)
        return {"done": True, "completion_code": done.completion_code, "answered": len(done.answered),
                "total": len(done.slots)}
    return {"done": False, "position": view.slot.position, "method": view.test.method, "letters": view.letters,
            "has_reference": view.trial.reference is not None, "answered": view.answered, "total": view.total,
            "audio": [{"key": label, "url": url} for label, url in view.sources]}


def submit(test_id: str, token: str, position: int, answer: str) -> dict[str, Any]:
    """Commit one answer (a JSON string, in the letters shown); returns once it is on disk. A trial is
    answered once: resubmitting returns `duplicate: true` and keeps the first answer."""
    receipt = service.submit(test_id, token, position, answer)
    return {"saved": True, "position": receipt.position, "duplicate": receipt.duplicate,
            "answered": receipt.answered, "total": receipt.total, "completion_code": receipt.completion_code}


def results(test_id: str, owner_token: str, screening: bool = True) -> dict[str, Any]:
    """Summary statistics, post-screening and participants (owner token only)."""
    found = service.results(test_id, owner_token, screening)
    return {"test_id": found.test.id, "title": found.test.title, "method": found.test.method,
            "responses": len(found.responses), "participants": found.participants,
            "excluded": found.excluded, "summary": found.summary, "summary_by_clip": found.summary_by_clip,
            "stimuli": found.stimuli}


def delete(test_id: str, owner_token: str) -> dict[str, Any]:
    """Delete the test with its stimuli and every response (owner token only)."""
    service.delete(test_id, owner_token)
    return {"deleted": test_id}

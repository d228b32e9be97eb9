"""A participant's stimuli as audio files: opaque names, equal sizes within a trial, cacheable.

Inside the page (data URLs), one MUSHRA screen of 15 s of 48 kHz stereo weighed about 31 MB, and the
FLAC sizes differed by condition, so the 3.5 kHz anchor could be spotted from a file size. Here every
source a participant gets is a file at `listening/media/<name>.wav`:

- the name is an HMAC of (participant, trial position, button) under a secret only the server holds
  (the stored hash of the owner token), so it says nothing about the condition and cannot be guessed;
- the audio is 16-bit PCM: the versions of a trial have the same length, rate and channels, so their
  files have the same byte size, and nothing inside them (no compressed size, no padding length) tells
  them apart. FLAC would be smaller, but its compressed size is the very thing that gives the narrow
  anchors away, whether on the wire or in a padding field that evens the sizes out;
- the audio gets its own ±1 LSB triangular dither, so the hidden reference (or ABX's X) is never a
  byte copy of another source;
- the bytes are deterministic (the dither is seeded by the name), so the URL is immutable: the browser
  loads each file once and keeps it, and a restarted server serves the identical file.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections import OrderedDict

import numpy as np

from ..audio import Audio, to_wav_bytes
from ..errors import CodecArenaError
from .protocols import PRACTICE, practice_slot, source_conditions
from .stimuli import read_flac
from .store import Store, store

PREFIX = "listening/media/"  # relative to the page, so the app also works under a path prefix
NAME = re.compile(r"[0-9a-f]{32}")
CACHE_BYTES = 256 * 2**20  # rendered trials kept in memory (a 15 s 48 kHz stereo MUSHRA trial is ~29 MB)


def url(name: str) -> str:
    return f"{PREFIX}{name}.wav"


def names(db: Store, test_id: str, participant_id: str, position: int, count: int) -> list[str]:
    """The names of a trial's `count` sources for this participant, remembered so they can be served."""
    key = db.media_key(test_id)
    found = [hmac.new(key, f"{participant_id}:{position}:{i}".encode(), hashlib.sha256).hexdigest()[:32]
             for i in range(count)]
    db.register_media(participant_id, position, found)
    return found


def dithered(flac: bytes, seed: bytes) -> bytes:
    """The stored stimulus as 16-bit PCM wav with its own ±1 LSB triangular dither, the same for the same seed."""
    audio = read_flac(flac)
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))
    noise = (rng.random(audio.samples.shape) - rng.random(audio.samples.shape)) / 32768
    return to_wav_bytes(Audio((audio.samples + noise).astype(np.float32), audio.sample_rate))


def render_trial(db: Store, participant_id: str, position: int) -> list[bytes] | None:
    """Every source file of one participant's trial; None if the participant (or their test) is gone."""
    participant = db.participant_by_id(participant_id)
    if participant is None:
        return None
    test = db.test(participant.test_id)
    if position == PRACTICE:
        slot = practice_slot(test.method, test.trials[0])
    elif 0 <= position < len(participant.slots):
        slot = participant.slots[position]
    else:
        return None
    trial = test.trials[slot.trial]
    key = db.media_key(test.id)
    files = [dithered(db.stimulus(test.id, trial.clip, condition), key + f"{participant_id}:{position}:{i}".encode())
             for i, (_, condition) in enumerate(source_conditions(trial, slot))]
    if len({len(f) for f in files}) != 1:  # every stimulus is cut to its reference: this cannot happen
        raise RuntimeError(f"the sources of trial {trial.index} of test {test.id} differ in length")
    return files


class TrialCache:
    """Rendered trials by (participant, position), least recently used dropped past `limit` bytes; one
    render per trial even when the browser asks for all its files at once."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self._files: OrderedDict[tuple[str, int], list[bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._rendering: dict[tuple[str, int], threading.Lock] = {}

    def get(self, db: Store, participant_id: str, position: int) -> list[bytes] | None:
        key = (participant_id, position)
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)
                return self._files[key]
            lock = self._rendering.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._files:
                    return self._files[key]
            try:
                files = render_trial(db, participant_id, position)
            finally:
                with self._lock:
                    self._rendering.pop(key, None)
            if files is not None:
                with self._lock:
                    self._files[key] = files
                    while sum(len(f) for fs in self._files.values() for f in fs) > self.limit and len(self._files) > 1:
                        self._files.popitem(last=False)
            return files


_cache = TrialCache()


def file(name: str, db: Store | None = None) -> bytes | None:
    """The bytes behind an audio name, or None for a name that is unknown, malformed or deleted."""
    if not NAME.fullmatch(name or ""):
        return None
    db = db or store()
    found = db.media(name)
    if found is None:
        return None
    participant_id, position, source = found
    try:
        files = _cache.get(db, participant_id, position)
    except CodecArenaError:  # the test was deleted between the lookup and the render
        return None
    return files[source] if files is not None and source < len(files) else None


def route():
    """The app's route for these files (added to Gradio's FastAPI app at launch)."""
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    def serve(request):
        name = request.path_params["name"]
        etag = f'"{name}"'
        if request.headers.get("if-none-match") == etag and NAME.fullmatch(name):
            return Response(status_code=304, headers={"ETag": etag})
        data = file(name)
        if data is None:
            return PlainTextResponse("This audio is not part of any listening test (the test may have been "
                                     "deleted). Open the link you were given again.", status_code=404)
        return Response(data, media_type="audio/wav", headers={
            "Cache-Control": "private, max-age=604800, immutable", "ETag": etag})

    return Route(f"/{PREFIX}{{name}}.wav", serve, methods=["GET", "HEAD"])

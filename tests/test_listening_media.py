"""A participant's audio files: opaque per-participant names, equal byte sizes within a trial, the same
bytes after a restart, one render per trial however many requests arrive at once, and the route's
caching headers and refusals."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_arena.audio import Audio
from codec_arena.listening import media, service
from codec_arena.listening.store import DB_NAME, Store

POINTS = ["opus@24", "mp3@64"]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path))
    return Store(tmp_path / DB_NAME)


def clip(seconds: float = 1.5, rate: int = 48_000, channels: int = 2, seed: int = 0) -> list[tuple[str, Audio]]:
    rng = np.random.default_rng(seed)
    return [("clip.wav", Audio((rng.standard_normal((channels, int(seconds * rate))) * 0.1).astype(np.float32), rate))]


def name_of(url: str) -> str:
    return url.rsplit("/", 1)[1].removesuffix(".wav")


@pytest.mark.parametrize("method_id", ["mushra", "ab", "abx", "mos"])
def test_every_version_of_a_trial_has_the_same_byte_size(db: Store, method_id: str) -> None:
    created = service.create_test("t", method_id, clip(), POINTS, db=db)
    token, _ = service.join(created.test_id, db=db)
    while (view := service.next_trial(created.test_id, token, db=db)) is not None:
        files = [media.file(name_of(url), db=db) for _, url in view.sources]
        assert len({len(f) for f in files}) == 1, [len(f) for f in files]  # the 3.5 kHz anchor included
        assert all(f[:4] == b"RIFF" and f[8:12] == b"WAVE" for f in files) and len(set(files)) == len(files)
        infos = [sf.info(io.BytesIO(f)) for f in files]
        assert {(i.subtype, i.samplerate, i.channels, i.frames) for i in infos} == {("PCM_16", 48_000, 2, 72_000)}
        letters = view.letters
        answer = ({"played": letters, "ratings": dict.fromkeys(letters, 50)} if method_id == "mushra" else
                  {"played": letters, "rating": 3} if method_id == "mos" else {"played": letters, "choice": "A"})
        service.submit(created.test_id, token, view.slot.position, answer, db=db)


def test_names_are_opaque_per_participant_and_stable(db: Store) -> None:
    created = service.create_test("t", "mushra", clip(), POINTS, db=db)
    (a, _), (b, _) = service.join(created.test_id, db=db), service.join(created.test_id, db=db)
    view_a, view_b = (service.next_trial(created.test_id, t, db=db) for t in (a, b))
    urls_a, urls_b = [u for _, u in view_a.sources], [u for _, u in view_b.sources]
    assert all(re.fullmatch(r"listening/media/[0-9a-f]{32}\.wav", u) for u in urls_a + urls_b)
    assert not set(urls_a) & set(urls_b)  # a participant cannot read another's names
    assert [u for _, u in service.next_trial(created.test_id, a, db=db).sources] == urls_a  # re-fetch: same
    practice = [u for _, u in service.training_trial(created.test_id, a, db=db).sources]
    assert not set(practice) & set(urls_a)


def test_unknown_malformed_and_deleted_names_give_nothing(db: Store) -> None:
    created = service.create_test("t", "mos", clip(), POINTS, db=db)
    token, _ = service.join(created.test_id, db=db)
    name = name_of(service.next_trial(created.test_id, token, db=db).sources[0][1])
    assert media.file(name, db=db)[:4] == b"RIFF"
    for bad in ("0" * 32, "../../listening.sqlite3", name.upper(), name + "0", ""):
        assert media.file(bad, db=db) is None
    service.delete(created.test_id, created.owner_token, db=db)
    assert media.file(name, db=db) is None


def test_a_trial_is_rendered_once_when_all_its_files_are_asked_for_at_once(db: Store, monkeypatch) -> None:
    created = service.create_test("t", "mushra", clip(), POINTS, db=db)
    token, participant = service.join(created.test_id, db=db)
    names = [name_of(u) for _, u in service.next_trial(created.test_id, token, db=db).sources]
    calls = []
    real = media.render_trial
    monkeypatch.setattr(media, "render_trial", lambda *args: calls.append(args) or real(*args))
    monkeypatch.setattr(media, "_cache", media.TrialCache())
    got: dict[str, bytes] = {}
    threads = [threading.Thread(target=lambda n=n: got.__setitem__(n, media.file(n, db=db))) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(got) == len(names) and all(got.values())
    assert media.TrialCache(limit=1).get(db, participant.id, 0) == [got[n] for n in names]  # deterministic


def test_the_route_serves_cacheable_files_and_refuses_others(db: Store) -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    created = service.create_test("t", "ab", clip(), POINTS, db=db)
    token, _ = service.join(created.test_id, db=db)
    url = service.next_trial(created.test_id, token, db=db).sources[1][1]
    client = TestClient(Starlette(routes=[media.route()]))
    response = client.get(f"/{url}")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert "immutable" in response.headers["cache-control"] and response.content[:4] == b"RIFF"
    again = client.get(f"/{url}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and not again.content
    missing = client.get("/listening/media/" + "0" * 32 + ".wav")
    assert missing.status_code == 404 and "not part of any listening test" in missing.text

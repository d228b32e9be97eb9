"""The clip input's server side: any file the decoder reads becomes a wav clip in a folder that is
removed after an hour; a refusal keeps the clip in use and says why; refusals are remembered per
browser session for the page, and forgotten when that session's next request starts."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest
import soundfile as sf
from conftest import tone


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    from codec_arena.ui import outputs

    monkeypatch.setattr(outputs, "ROOT", tmp_path / "out")
    return outputs


def test_old_output_folders_go_when_a_new_one_is_made(outputs) -> None:
    old, fresh = outputs.output_dir("upload-"), outputs.output_dir("compare-")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    newer = outputs.output_dir("generate-")
    assert not old.exists() and fresh.exists() and newer.exists() and newer.name.startswith("generate-")


def test_an_upload_becomes_a_wav_clip_under_the_pruned_root(outputs, tmp_path) -> None:
    from codec_arena.ui.inputs import take_upload

    source = tmp_path / "take one"  # no extension
    sf.write(source, tone(1.0, 22_050).T, 22_050, format="FLAC")
    clip, note, emptied = take_upload(str(source), None)
    assert clip.endswith("take one.wav") and outputs.ROOT in __import__("pathlib").Path(clip).parents
    assert sf.info(clip).samplerate == 22_050 and "Loaded" in note and "1.00 s" in note and emptied is None
    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"not audio\n" * 50)
    kept, note, _ = take_upload(str(junk), clip)
    assert "not audio we can read" in note and "still your previous one" in note
    assert getattr(kept, "get", lambda *_: "update")("__type__") == "update"  # the clip in use stays


def test_a_reason_is_kept_per_session_and_forgotten_by_its_next_request(monkeypatch) -> None:
    from gradio.context import LocalContext

    from codec_arena.errors import RequestError
    from codec_arena.ui import errors

    @errors.user_errors("testing")
    def refuse():
        raise RequestError("Choose at least one codec operating point.")

    @errors.user_errors("testing")
    def succeed():
        return "fine"

    token = LocalContext.request.set(SimpleNamespace(session_hash="s-1"))
    try:
        with pytest.raises(Exception, match="at least one codec"):
            refuse()
        assert errors._reasons["s-1"].startswith("Choose at least one")
        assert succeed() == "fine" and "s-1" not in errors._reasons  # an old reason never explains a new failure
    finally:
        LocalContext.request.reset(token)

"""SpeechTokenizer through `SpeechTokenizer.load_from_checkpoint`, on the random-weight hub cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info, get_codec, windowing
from codec_arena.codecs.speechtokenizer import CHECKPOINT, CONFIG, HUB_ID, SpeechTokenizerCodec
from codec_arena.errors import WeightsUnavailable


def test_the_official_loader_read_the_hub_layout(cache_env):
    from speechtokenizer import SpeechTokenizer

    checkpoint = weights.hub_file(HUB_ID, CHECKPOINT)
    repo = weights.hub_repo_dir(HUB_ID)
    assert checkpoint.parent.name == "speechtokenizer_hubert_avg" and checkpoint.is_file()
    assert checkpoint.parent.parent.parent.name == "snapshots"
    assert checkpoint.parent.parent.name == (repo / "refs" / "main").read_text()
    config = json.loads(weights.hub_file(HUB_ID, CONFIG).read_text())
    codec = get_codec("speechtokenizer")
    assert isinstance(codec.model, SpeechTokenizer) and codec.checkpoint == checkpoint
    # the widths come from config.json (the small test config), so the loader really read it
    assert codec.model.quantizer.dimension == config["dimension"] and codec.model.n_q == config["n_q"] == 8


def test_kbps_picks_the_first_rvq_layers(cache_env):
    info, codec = codec_info("speechtokenizer"), get_codec("speechtokenizer")
    assert info.bitrates_kbps == (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
    clip = Audio(tone(0.5, 16_000), 16_000)
    full, three = codec.encode(clip, 4.0), codec.encode(clip, 1.5)
    assert full.tokens.shape == (8, 25) and three.tokens.shape == (3, 25)
    np.testing.assert_array_equal(three.tokens, full.tokens[:3])  # residual layers are greedy
    assert len(np.unique(full.tokens[0])) > 1, "the first (semantic) layer must not be degenerate"
    assert codec.decode(three).frames == 8_000


def test_ten_millisecond_clip(cache_env):
    codes = get_codec("speechtokenizer").encode(Audio(tone(0.01, 16_000), 16_000), 0.5)
    assert codes.tokens.shape == (1, 1)
    assert get_codec("speechtokenizer").decode(codes).frames == 160


def test_long_input_runs_in_windows_with_context(cache_env):
    """Windows with context give the tokens of one pass (the seams are invisible) and the exact length."""
    loaded = get_codec("speechtokenizer")
    args = (loaded.info, loaded.model, loaded.device, loaded.checkpoint)
    windowed = SpeechTokenizerCodec(*args, window_frames=50, context_frames=25)
    one_pass = SpeechTokenizerCodec(*args, window_frames=10**9)
    rng = np.random.default_rng(0)
    clip = Audio((0.1 * rng.standard_normal((1, 3 * 16_000 + 77))).astype(np.float32), 16_000)
    assert [(w.start, w.stop) for w in windowed.plan(151)] == [(0, 38), (38, 76), (76, 114), (114, 151)]
    codes = windowed.encode(clip, 4.0)
    assert codes.tokens.shape == (8, 151)  # ceil(48077 / 320): no token twice
    assert np.mean(codes.tokens == one_pass.encode(clip, 4.0).tokens) > 0.95
    assert windowed.decode(codes).frames == clip.frames


def test_default_windows_are_ten_seconds():
    plan = windowing.plan(5 * 60 * 50, 500, 50)  # five minutes at 50 Hz
    assert len(plan) == 30 and {w.stop - w.start for w in plan} == {500}
    assert plan[1].lo == plan[1].start - 50 and plan[1].hi == plan[1].stop + 50


def test_missing_weights_name_the_hub_path(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--fnlp--SpeechTokenizer/snapshots/.*/"
                                                 r"speechtokenizer_hubert_avg/SpeechTokenizer\.pt"):
        get_codec("speechtokenizer")

"""SpeechTokenizer through `SpeechTokenizer.load_from_checkpoint`, on the random-weight hub cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import batch_equals_one_at_a_time, seams_are_measured, tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info, get_codec, stream
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


def fresh(window_units: int | None = None) -> SpeechTokenizerCodec:
    """A new adapter on the loaded model (window sizes are per instance)."""
    loaded = get_codec("speechtokenizer")
    codec = SpeechTokenizerCodec(loaded.info, loaded.model, loaded.device, loaded.checkpoint)
    if window_units:
        codec.window_units = window_units
    return codec


def noise(seconds: float, extra: int = 0, seed: int = 0) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio((0.1 * rng.standard_normal((1, int(seconds * 16_000) + extra))).astype(np.float32), 16_000)


def test_long_input_runs_in_windows_with_context(cache_env):
    """Windows with half a second of context give (nearly) the tokens of one pass, no token twice,
    and the exact length."""
    windowed = fresh(window_units=50)
    windowed.context_units = windowed.decode_context_units = 25
    clip = noise(3, 77)
    plan = stream.plan(151, windowed.window_units, windowed.context_units)
    assert [(w.start, w.stop) for w in plan] == [(0, 38), (38, 76), (76, 114), (114, 151)]
    codes = windowed.encode(clip, 4.0)
    assert codes.tokens.shape == (8, 151)  # ceil(48077 / 320): no token twice
    assert np.mean(codes.tokens == fresh().encode(clip, 4.0).tokens) > 0.95
    assert windowed.decode(codes).frames == clip.frames


def test_chunked_against_one_pass_is_measured(cache_env):
    """BiLSTM encoder, LSTM decoder: not exact by construction (`exact = False`); the engine's
    figures are computed, and chunked codes and audio have the one-pass shapes."""
    codec = fresh()
    assert not codec.exact and codec.hop == 320 and codec.context_units == codec.decode_context_units == 50
    # the default context would let every window of this short clip see all of it: 8 frames, so the
    # windows really cut it and the figures measure the LSTMs' seams
    codec.context_units = codec.decode_context_units = 8
    seams_are_measured(codec, noise(1.2, 77).samples, codec.point(4.0), (16, 21), frames=61)  # 4 and 3 windows


@pytest.mark.parametrize("n", [16_000 + 77, 77])
def test_odd_and_sub_frame_lengths(cache_env, n):
    codec = get_codec("speechtokenizer")
    codes = codec.encode(noise(0, n), 2.0)
    assert codes.tokens.shape == (4, -(-n // 320)) and codec.decode(codes).frames == n


def test_batches_equal_one_at_a_time(cache_env):
    """The model takes a batch; its reflect padding of a partial frame means only equal lengths share
    a pass (pads_to_frames = False): 3201 twice together, 3300 (same frames) and 5000 alone."""
    codec = get_codec("speechtokenizer")
    assert codec.batchable and not codec.pads_to_frames
    clips = [noise(0, 3201, 1), noise(0, 3201, 2), noise(0, 3300, 3), noise(0, 5000, 4)]
    batch = batch_equals_one_at_a_time(codec, clips, codec.point(4.0))
    assert [c.tokens.shape for c in batch] == [(8, 11)] * 3 + [(8, 16)]


def test_default_windows_are_ten_seconds(cache_env):
    codec = fresh()
    assert codec.window_units == 500
    plan = stream.plan(5 * 60 * 50, codec.window_units, codec.context_units)  # five minutes at 50 Hz
    assert len(plan) == 30 and {w.stop - w.start for w in plan} == {500}
    assert plan[1].lo == plan[1].start - 50 and plan[1].hi == plan[1].stop + 50


def test_missing_weights_name_the_hub_path(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--fnlp--SpeechTokenizer/snapshots/.*/"
                                                 r"speechtokenizer_hubert_avg/SpeechTokenizer\.pt"):
        get_codec("speechtokenizer")

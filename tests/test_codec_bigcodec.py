"""BigCodec: the authors' `bigcodec.pt` layout read as their inference.py reads it, on random weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import batch_equals_one_at_a_time, seams_are_measured, tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info, get_codec, stream
from codec_arena.codecs.bigcodec import CHECKPOINT, HUB_ID, BigCodecCodec
from codec_arena.errors import WeightsUnavailable


def test_checkpoint_has_the_official_layout(cache_env):
    from bigcodec import CodecDecoder, CodecEncoder

    path = weights.hub_file(HUB_ID, CHECKPOINT)
    assert path.parent.name == (weights.hub_repo_dir(HUB_ID) / "refs" / "main").read_text()
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert set(checkpoint) == {"CodecEnc", "generator"}
    # the official code's torch.nn.utils.weight_norm names, which the package's classes also load
    assert "block.0.weight_g" in checkpoint["CodecEnc"] and "model.0.weight_v" in checkpoint["generator"]
    assert checkpoint["generator"]["quantizer.layers.0._codebook.weight"].shape == (8192, 8)
    model = get_codec("bigcodec").model
    assert isinstance(model["encoder"], CodecEncoder) and isinstance(model["decoder"], CodecDecoder)


def test_one_code_per_200_samples(cache_env):
    info, codec = codec_info("bigcodec"), get_codec("bigcodec")
    assert info.bitrates_kbps == (1.04,) and info.frame_rate * np.log2(info.codebook_size) == 1040
    codes = codec.encode(Audio(tone(1.0, 16_000), 16_000), 1.04)
    assert codes.tokens.shape == (1, 80) and len(np.unique(codes.tokens)) > 1
    tiny = codec.encode(Audio(tone(0.01, 16_000), 16_000), 1.04)
    assert tiny.tokens.shape == (1, 1) and codec.decode(tiny).frames == 160


def test_decoding_the_codes_equals_inference_py(cache_env):
    """inference.py decodes the quantiser's output directly; we decode from the integer codes."""
    codec = get_codec("bigcodec")
    x = tone(0.25, 16_000)
    encoder, decoder = codec.model["encoder"], codec.model["decoder"]
    with torch.inference_mode():
        quantized, _, _ = decoder(encoder(torch.from_numpy(x)[None]), vq=True)  # 4000 samples: whole frames
        reference = decoder(quantized, vq=False)[0].numpy()
    ours = codec.decode(codec.encode(Audio(x, 16_000), 1.04)).samples
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def fresh(window_units: int | None = None) -> BigCodecCodec:
    """A new adapter on the loaded model (window sizes are per instance)."""
    loaded = get_codec("bigcodec")
    codec = BigCodecCodec(loaded.info, loaded.model, loaded.device, loaded.checkpoint)
    if window_units:
        codec.window_units = window_units
    return codec


def noise(n: int, seed: int = 0) -> Audio:
    return Audio((0.1 * np.random.default_rng(seed).standard_normal((1, n))).astype(np.float32), 16_000)


def test_long_input_runs_in_windows_with_context(cache_env):
    windowed = fresh(window_units=13)
    windowed.context_units = windowed.decode_context_units = 16
    clip = noise(9_677)
    assert [(w.start, w.stop) for w in stream.plan(49, 13, 16)] == [(0, 13), (13, 26), (26, 39), (39, 49)]
    codes = windowed.encode(clip, 1.04)
    assert codes.tokens.shape == (1, 49)  # ceil(9677 / 200): no token twice
    assert np.mean(codes.tokens == fresh().encode(clip, 1.04).tokens) > 0.95
    assert windowed.decode(codes).frames == clip.frames


def test_chunked_against_one_pass_is_measured(cache_env):
    """Forward LSTMs in the encoder and decoder: not exact by construction (`exact = False`); the
    engine's figures are computed, and chunked codes and audio have the one-pass shapes."""
    codec = fresh()
    assert not codec.exact and codec.hop == 200 and codec.context_units == codec.decode_context_units == 80
    # the default context would let every window of this short clip see all of it: 8 frames, so the
    # windows really cut it and the figures measure the LSTMs' seams
    codec.context_units = codec.decode_context_units = 8
    assert codec.window_units == 800  # 10 s
    seams_are_measured(codec, noise(12_877).samples, codec.point(1.04), (17, 22), frames=65)  # 4 and 3 windows


@pytest.mark.parametrize("n", [16_077, 77])
def test_odd_and_sub_frame_lengths(cache_env, n):
    codec = get_codec("bigcodec")
    codes = codec.encode(noise(n), 1.04)
    assert codes.tokens.shape == (1, -(-n // 200)) and codec.decode(codes).frames == n


def test_batches_equal_one_at_a_time(cache_env):
    """Clips of equal frame counts (zero-padded to whole frames, as one clip is) share a pass."""
    codec = get_codec("bigcodec")
    assert codec.batchable and codec.pads_to_frames
    clips = [noise(3_201, 1), noise(3_201, 2), noise(3_300, 3), noise(5_000, 4)]
    batch = batch_equals_one_at_a_time(codec, clips, codec.point(1.04))
    assert [c.tokens.shape for c in batch] == [(1, 17)] * 3 + [(1, 25)]


def test_missing_weights_name_the_hub_path(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--Alethia--BigCodec/snapshots/.*/bigcodec\.pt"):
        get_codec("bigcodec")

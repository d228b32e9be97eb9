"""BigCodec: the authors' `bigcodec.pt` layout read as their inference.py reads it, on random weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info, get_codec
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


def test_long_input_runs_in_windows_with_context(cache_env):
    loaded = get_codec("bigcodec")
    args = (loaded.info, loaded.model, loaded.device, loaded.checkpoint)
    windowed = BigCodecCodec(*args, window_frames=13, context_frames=16)
    one_pass = BigCodecCodec(*args, window_frames=10**9)
    rng = np.random.default_rng(0)
    clip = Audio((0.1 * rng.standard_normal((1, 9_677))).astype(np.float32), 16_000)
    assert [(w.start, w.stop) for w in windowed.plan(49)] == [(0, 13), (13, 26), (26, 39), (39, 49)]
    codes = windowed.encode(clip, 1.04)
    assert codes.tokens.shape == (1, 49)  # ceil(9677 / 200): no token twice
    assert np.mean(codes.tokens == one_pass.encode(clip, 1.04).tokens) > 0.95
    assert windowed.decode(codes).frames == clip.frames


def test_missing_weights_name_the_hub_path(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--Alethia--BigCodec/snapshots/.*/bigcodec\.pt"):
        get_codec("bigcodec")

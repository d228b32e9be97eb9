"""HiFi-Codec (AcademiCodec): the official checkpoint layout in the hub cache, our loader reading it, the
GRVQ operating points, windowing and odd lengths. Parity with the official code itself is
`benchmarks/parity/hifi_codec.py` (it needs the official checkout)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import tone

from codec_arena.audio import Audio
from codec_arena.codecs import Codes, codec_info, get_codec, weight_spec
from codec_arena.codecs.hifi_codec import DECODE_CONTEXT_FRAMES, MODELS
from codec_arena.codecs.windowing import plan
from codec_arena.errors import RequestError, WeightsUnavailable
from codec_arena.roundtrip import roundtrip

CODEC = "hifi_codec_16k_320d"  # the cheapest; the others share the code and differ in config only


@pytest.mark.parametrize(("codec_id", "frame_rate", "kbps"), [
    ("hifi_codec_16k_320d", 50, 2.0), ("hifi_codec_24k_320d", 75, 3.0),
    ("hifi_codec_24k_240d", 100, 4.0), ("hifi_codec_16k_320d_universal", 50, 2.0),
])
def test_one_operating_point_all_four_codebooks(codec_id, frame_rate, kbps):
    info = codec_info(codec_id)
    assert (info.frame_rate, info.bitrates_kbps, info.codebook_size) == (frame_rate, (kbps,), 1024)
    assert info.codebooks_for(kbps) == info.max_codebooks == 4
    with pytest.raises(RequestError, match=f"{codec_id} offers {kbps:g} kbps"):
        info.check_bitrate(kbps / 2)


def test_random_checkpoint_is_an_official_file_in_the_hub_cache(cache_env):
    import torch

    repo = Path(cache_env["HF_HOME"]) / "hub" / "models--Dongchao--AcademiCodec"
    path = weight_spec(CODEC).path
    assert path == repo / "snapshots" / (repo / "refs" / "main").read_text() / "HiFi-Codec-16k-320d"
    checkpoint = torch.load(path, weights_only=True)
    assert set(checkpoint) == {"generator", "encoder", "quantizer"}
    generator, encoder, quantizer = checkpoint["generator"], checkpoint["encoder"], checkpoint["quantizer"]
    # weight norm everywhere but the encoder's last conv: 1 + 4 ups + 12 resblocks x 6 (+ conv_post)
    assert sum(k.endswith(".weight_g") for k in generator) == 78
    assert sum(k.endswith(".weight_g") for k in encoder) == 77
    assert "conv_post.weight" in encoder and "conv_post.weight_g" in generator
    assert generator["ups.0.weight_g"].shape == (512, 1, 1)  # ConvTranspose: norm per input channel
    assert encoder["normalize.11.weight"].shape == (512,)
    assert {k: tuple(v.shape) for k, v in quantizer.items()} == {
        f"quantizer_modules{layer}.{group}.embedding.weight": (1024, 256) for layer in ("", "2") for group in (0, 1)}


def test_loader_reads_that_file_and_folds_weight_norm(cache_env):
    import torch

    model = get_codec(CODEC).model
    checkpoint = torch.load(weight_spec(CODEC).path, weights_only=True)
    assert torch.equal(model.quantizer.quantizer_modules2[1].embedding.weight,
                       checkpoint["quantizer"]["quantizer_modules2.1.embedding.weight"])
    g, v = checkpoint["generator"]["ups.1.weight_g"], checkpoint["generator"]["ups.1.weight_v"]
    torch.testing.assert_close(model.generator.ups[1].weight, v * g / v.pow(2).sum((1, 2), keepdim=True).sqrt())


def test_windows_stitch_like_one_pass(cache_env):
    """Short windows: on a 10-frame clip the encoder's context covers the whole clip, so windowed codes
    equal one pass exactly; over 30 frames the decoder's context is cut, and its receptive field
    (14 frames) lies inside it."""
    codec = get_codec(CODEC)
    windowed = copy.copy(codec)
    windowed.window = 4
    clip = Audio(tone(0.2, 16_000), 16_000)
    np.testing.assert_array_equal(windowed.encode(clip, 2.0).tokens, codec.encode(clip, 2.0).tokens)
    windowed.window = 10
    assert [(w.lo, w.hi) for w in plan(30, 10, DECODE_CONTEXT_FRAMES)] == [(0, 26), (0, 30), (4, 30)]
    tokens = np.random.default_rng(0).integers(0, 1024, (4, 30))
    codes = Codes(tokens=tokens, frame_rate=50.0, codebook_size=1024, sample_rate=16_000, num_samples=9_600)
    one, many = codec.decode(codes).samples, windowed.decode(codes).samples
    assert one.shape == many.shape == (1, 9_600)
    assert np.abs(one - many).max() <= 1e-5


@pytest.mark.parametrize("samples", [1, 321])
def test_tiny_and_partial_frames_keep_their_length(cache_env, samples):
    result = roundtrip(Audio(tone(0.05, 16_000)[:, :samples], 16_000), CODEC)
    assert result.codes.frames == math.ceil(samples / 320)
    assert result.output.samples.shape == (1, samples)


def test_progressive_decoding_of_fewer_codebooks(cache_env):
    codec = get_codec(CODEC)
    codes = codec.encode(Audio(tone(0.2, 16_000), 16_000), 2.0)
    full = codec.decode(codes).samples
    for k in (1, 2):
        partial = codec.decode(codes.first(k)).samples
        assert partial.shape == full.shape and np.isfinite(partial).all()
        assert not np.array_equal(partial, full)


def test_missing_weights_name_the_hub_file(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable) as caught:
        roundtrip(Audio(tone(0.2), 16_000), "hifi_codec_24k_240d")
    message = str(caught.value)
    assert str(empty_cache_env / "hf" / "hub" / "models--Dongchao--AcademiCodec") in message
    assert message.count(MODELS["hifi_codec_24k_240d"][0]) == 1  # the file HiFi-Codec-24k-240d
    assert "codec-arena download hifi_codec_24k_240d" in message

"""HiFi-Codec (AcademiCodec): the official checkpoint layout in the hub cache, our loader reading it, the
GRVQ operating points, windows through the engine (with the first pass's whole-input GroupNorm
statistics), batches and odd lengths. Parity with the official code itself is
`benchmarks/parity/hifi_codec.py` (it needs the official checkout)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import tone

from codec_arena.audio import Audio
from codec_arena.codecs import OperatingPoint, codec_info, get_codec, stream, weight_spec
from codec_arena.codecs import hifi_codec as hc
from codec_arena.codecs.chunked import inference
from codec_arena.codecs.hifi_codec import MODELS
from codec_arena.errors import RequestError, WeightsUnavailable
from codec_arena.roundtrip import roundtrip

CODEC = "hifi_codec_16k_320d"  # the cheapest; the others share the code and differ in config only


@pytest.fixture(scope="module")
def narrow_model():
    """HiFi-Codec's architecture with the encoder at a quarter of its width (the same kernels, strides and
    12 GroupNorms, so the same contexts; the loader always builds the full size, too slow for many
    windows), GroupNorm affines and codebooks randomised as the parity check does, so both matter."""
    import torch

    from codec_arena.codecs._hifi_codec_nets import HiFiCodec

    torch.manual_seed(0)
    model = HiFiCodec(replace(hc.config(CODEC), channels=8, upsample_initial_channel=32)).eval()
    with torch.no_grad():
        for norm in model.encoder.normalize:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0, 0.1)
        latent = model.encoder(0.1 * torch.randn(1, 1, 16_000))
        for modules in model.quantizer.layers():
            for module in modules:
                module.embedding.weight.normal_(0, float(latent.std()))
    return model


def narrow(model) -> hc.HiFiCodecCodec:
    return hc.HiFiCodecCodec(codec_info(CODEC), model, "cpu", None)


def speech_like(frames: int) -> np.ndarray:
    """A swelling tone in noise, [1, frames]: GroupNorm statistics change along it."""
    t = np.arange(frames) / 16_000
    noise = np.random.default_rng(1).standard_normal(frames)
    return ((0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * noise) * np.linspace(0.1, 2.0, frames))[None].astype(np.float32)


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


def test_contexts_cover_the_convolutions_reach(cache_env):
    """Computed from the full-size kernels: the encoder reaches 71.5 frames each side (22,871 samples),
    the generator 13.8 frames; two frames of margin each."""
    codec = get_codec(CODEC)
    assert codec.model.encoder.reach() == pytest.approx(22_871.5) and codec.context_units == 74
    assert codec.model.generator.reach() == pytest.approx(13.79, abs=0.01) and codec.decode_context_units == 16
    assert codec.batchable and codec.exact


def test_first_pass_statistics_are_the_one_pass_groupnorm_statistics(narrow_model):
    """The first pass over 4 windows gives every GroupNorm the mean and variance it computes in one pass."""
    codec, samples = narrow(narrow_model), speech_like(48_123)
    seen = {}
    hooks = [norm.register_forward_hook(lambda module, args, out, j=j: seen.update({j: args[0]}))  # returns None
             for j, norm in enumerate(narrow_model.encoder.normalize)]
    try:
        with inference():
            one_pass = codec.latent_chunk(samples[None])
    finally:
        for hook in hooks:
            hook.remove()
    with inference():
        found = codec.first_pass(stream.ArrayReader(samples), window_units=40)
        given = codec.latent_chunk(samples[None], prepared=found)  # the whole clip with them: one pass
    assert len(found) == 24 and np.abs(given - one_pass).max() < 1e-4
    for j, x in seen.items():
        groups = x.double().reshape(narrow_model.encoder.normalize[j].num_groups, -1)
        np.testing.assert_allclose(found[f"mean{j}"], groups.mean(1).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(found[f"var{j}"], groups.var(1, unbiased=False).numpy(), rtol=1e-4, atol=1e-7)
    with inference():
        assert codec.first_pass(stream.ArrayReader(samples[:, :16_000]), window_units=60) == {}  # one window


def test_windows_with_the_first_pass_equal_one_pass(narrow_model):
    """3 s in 4 and in 3 windows: with the first pass's statistics the codes equal one pass and the latent
    agrees to float rounding; the generator's windows equal one pass; `stream.exactness` (which runs
    the first pass as the engine does) says so too."""
    samples, reader = speech_like(48_123), stream.ArrayReader(speech_like(48_123))
    point = OperatingPoint.of(codec_info(CODEC))
    one = narrow(narrow_model)
    reference = one.encode(Audio(samples, 16_000), point)
    with inference():
        one_latent = one.latent_chunk(samples[None])[0]
    codec = narrow(narrow_model)
    for window_units in (40, 60):
        assert len(stream.plan(151, window_units, codec.context_units)) == (4 if window_units == 40 else 3)
        tokens, latent = stream.TokenList(), stream.TokenList()
        with inference():
            prepared = codec.first_pass(reader, window_units)
            stream.encode(codec, reader, point, tokens, window_units=window_units, prepared=prepared)
            stream.encode(codec, reader, point, latent, window_units=window_units, latent=True, prepared=prepared)
        np.testing.assert_array_equal(tokens.tokens(), reference.tokens)
        assert np.abs(latent.tokens() - one_latent).max() < 1e-4
    codec.window_units = 40
    chunked = codec.encode(Audio(samples, 16_000), point)  # the first pass inside
    assert chunked.tokens.shape == (4, 151) and np.array_equal(chunked.tokens, reference.tokens)
    for window_units, windows in ((40, 4), (60, 3)):
        figures = stream.exactness(codec, samples, point, window_units)
        assert figures.windows == windows and figures.equal_codes == 1.0
        assert figures.max_latent_delta < 1e-4 and figures.max_audio_delta < 1e-4


def test_batches_equal_one_at_a_time(narrow_model):
    codec = narrow(narrow_model)
    point = OperatingPoint.of(codec_info(CODEC))
    samples = speech_like(4_000)
    clips = [Audio(samples[:, :3_200].copy(), 16_000), Audio(samples[:, 500:3_610].copy(), 16_000),
             Audio(samples[:, :2_000].copy(), 16_000)]  # 10, 10 and 7 frames
    batched = codec.encode_batch(clips, point)
    for clip, codes in zip(clips, batched, strict=True):
        np.testing.assert_array_equal(codes.tokens, codec.encode(clip, point).tokens)
        assert codes.num_samples == clip.frames
    for codes, audio in zip(batched, codec.decode_batch(batched), strict=True):
        assert audio.frames == codes.num_samples
        np.testing.assert_allclose(audio.samples, codec.decode(codes).samples, rtol=0, atol=1e-4)


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

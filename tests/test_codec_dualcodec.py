"""DualCodec: the hub files (amphion/dualcodec + facebook/w2v-bert-2.0) in the hub-cache layout, loaded
through the official `dualcodec` package (`get_model` widths, `Inference`), on random weights."""

from __future__ import annotations

import math

import dualcodec as package
import numpy as np
import pytest
import torch
from conftest import seams_are_measured

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import OperatingPoint, codec_info, get_codec, stream
from codec_arena.codecs import dualcodec as adapter
from codec_arena.codecs.dualcodec import HUB_ID, MODELS, STATS, W2V_FILES, W2V_ID, DualCodecCodec
from codec_arena.errors import WeightsUnavailable

IDS = list(MODELS)
HOPS = {"dualcodec_12hz": 1920, "dualcodec_25hz": 960}


def noise(n: int, seed: int = 0) -> Audio:
    return Audio((0.1 * np.random.default_rng(seed).standard_normal((1, n))).astype(np.float32), 24_000)


def fresh(codec_id: str, window_units: int | None = None) -> DualCodecCodec:
    """A new adapter on the loaded model (window sizes are per instance)."""
    loaded = get_codec(codec_id)
    codec = DualCodecCodec(loaded.info, loaded.inference, loaded.checkpoint)
    if window_units:
        codec.window_units = window_units
    return codec


def package_encode(codec: DualCodecCodec, samples: np.ndarray, codebooks: int) -> np.ndarray:
    """The package's own call on a clip, tokens [K, T] (semantic codes, then acoustic)."""
    with torch.inference_mode():
        semantic, acoustic = codec.inference.encode(torch.from_numpy(samples[None]), n_quantizers=codebooks)
    return torch.cat([semantic] + ([acoustic] if acoustic is not None else []), dim=1)[0].numpy()


def test_files_have_the_hub_layout_and_load_through_the_package(cache_env):
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    for repo, names in ((W2V_ID, W2V_FILES), (HUB_ID, (STATS, *(m.checkpoint for m in MODELS.values())))):
        for name in names:
            path = weights.hub_file(repo, name)
            assert path.is_file() and path.parent.name == (weights.hub_repo_dir(repo) / "refs" / "main").read_text()
    stats = torch.load(weights.hub_file(HUB_ID, STATS), weights_only=True)
    assert set(stats) == {"mean", "var"} and stats["mean"].shape == stats["var"].shape == (1024,)

    codec = get_codec("dualcodec_12hz")
    assert isinstance(codec.inference, package.Inference)
    assert isinstance(codec.codec, package.codec_model.DualCodec)
    semantic = codec.inference.semantic_cfg
    assert isinstance(semantic.semantic_model, Wav2Vec2BertModel)
    assert isinstance(semantic.feature_extractor, SeamlessM4TFeatureExtractor)
    assert semantic.feature_extractor.padding_value == 1 and semantic.feature_extractor.stride == 2
    assert semantic.semantic_model.name_or_path == str(adapter.w2v_folder())
    # the tiny w2v-BERT has one layer: its last hidden state stands in for the real model's 17th
    assert semantic.layer_idx == 15 and semantic.output_idx == 1
    assert adapter.shape_of(codec.checkpoint) == {**MODELS["dualcodec_12hz"].official, **adapter.SMALL}


@pytest.mark.parametrize("codec_id", IDS)
def test_official_widths_build_what_get_model_builds(codec_id):
    """`get_model(model_id)` (no weights, on the meta device) has the widths `Model.official` says, and our
    composition of the same yaml with those widths (the path of other-width checkpoints) is the same model."""
    m = MODELS[codec_id]
    with torch.device("meta"):
        theirs = {k: list(v.shape) for k, v in package.get_model(m.package_id).state_dict().items()}
        ours = {k: list(v.shape) for k, v in adapter.compose(codec_id, m.official).state_dict().items()}
    assert adapter.widths_of(theirs) == m.official
    assert ours == theirs


@pytest.mark.parametrize("codec_id", IDS)
def test_facts_follow_the_mixed_codebook_formula(codec_id):
    """Codebook 1 has 16384 codes (14 bits), the acoustic ones 4096 (12) or 1024 (10)."""
    info, m = codec_info(codec_id), MODELS[codec_id]
    bits = {"dualcodec_12hz": 12, "dualcodec_25hz": 10}[codec_id]
    assert info.frame_rate == 24_000 / HOPS[codec_id] == m.frame_rate
    assert info.codebook_size == 16_384 and info.codebook_sizes == (16_384,) + (2**bits,) * (info.max_codebooks - 1)
    assert info.max_codebooks == {"dualcodec_12hz": 8, "dualcodec_25hz": 12}[codec_id]
    expected = tuple(round((14 + bits * (k - 1)) * info.frame_rate / 1000, 4) for k in range(1, info.max_codebooks + 1))
    assert info.bitrates_kbps == expected
    assert info.bitrates_kbps[-1] == {"dualcodec_12hz": 1.225, "dualcodec_25hz": 3.1}[codec_id]
    for k, kbps in enumerate(info.bitrates_kbps, start=1):
        assert OperatingPoint.of(info, kbps).codebooks == k


@pytest.mark.parametrize("codec_id", IDS)
def test_codes_are_the_packages_encode_of_the_padded_clip(cache_env, codec_id):
    """ceil(n / hop) frames: the clip zero-padded to whole frames + 15 ms, through `Inference.encode`."""
    info, codec, hop = codec_info(codec_id), get_codec(codec_id), HOPS[codec_id]
    clip = noise(3 * hop + 500)
    padded = np.pad(clip.samples, ((0, 0), (0, 4 * hop + 360 - clip.frames)))
    for k in (1, 2, info.max_codebooks):
        kbps = info.bitrates_kbps[k - 1]
        codes = codec.encode(clip, kbps)
        assert codes.tokens.shape == (k, 4) and codes.frame_rate == info.frame_rate
        np.testing.assert_array_equal(codes.tokens, package_encode(codec, padded, k))
        np.testing.assert_array_equal(codes.extras["codebook_sizes"], info.codebook_sizes[:k])
        bits = sum(math.log2(s) for s in codes.extras["codebook_sizes"])
        assert bits * codes.frame_rate / 1000 == pytest.approx(kbps)
    assert codes.tokens[0].max() < 16_384 and codes.tokens[1:].max() < info.codebook_sizes[1]
    long_codes = codec.encode(noise(24_000), info.bitrates_kbps[-1])
    assert long_codes.frames == 24_000 // hop + (24_000 % hop > 0)
    assert all(len(np.unique(row)) > 1 for row in long_codes.tokens), "random codebooks must give varied codes"
    # without the 15 ms the package's front end yields one frame fewer than a whole-frame clip has
    assert package_encode(codec, noise(4 * hop).samples, 2).shape == (2, 3)


@pytest.mark.parametrize("codec_id", IDS)
def test_decoding_equals_the_packages_decode(cache_env, codec_id):
    info, codec = codec_info(codec_id), get_codec(codec_id)
    clip = noise(24_000, seed=1)
    for kbps in (info.bitrates_kbps[0], info.bitrates_kbps[-1]):
        codes = codec.encode(clip, kbps)
        tokens = torch.from_numpy(codes.tokens[None])
        acoustic = tokens[:, 1:] if codes.codebooks > 1 else None  # the README's semantic-only decode
        with torch.inference_mode():
            reference = codec.inference.decode(tokens[:, :1], acoustic)[0].numpy()
        assert reference.shape[-1] == codes.frames * HOPS[codec_id] - 4  # the decoder's stride-5 layer: 4 short
        out = codec.decode(codes).samples
        assert out.shape == (1, 24_000)
        kept = min(24_000, reference.shape[-1])
        np.testing.assert_allclose(out[:, :kept], reference[:, :kept], atol=1e-6)
        assert not out[:, kept:].any()  # what the decoder does not give (25 Hz: the last 4 samples) is silence


@pytest.mark.parametrize("n", [1, 100, 959, 961, 1_921, 2_281])
def test_tiny_and_odd_lengths(cache_env, n):
    for codec_id in IDS:
        codec = get_codec(codec_id)
        codes = codec.encode(noise(n), codec_info(codec_id).bitrates_kbps[1])
        assert codes.tokens.shape == (2, -(-n // HOPS[codec_id])) and codec.decode(codes).frames == n


@pytest.mark.parametrize("codec_id", IDS)
def test_windowed_decoding_equals_one_pass(cache_env, codec_id):
    """The decoder is convolutions (DAC's, causal ConvNeXt blocks): with its reach either side, windows
    give exactly the one-pass audio."""
    codec, info = fresh(codec_id), codec_info(codec_id)
    assert codec.decode_context_units == {"dualcodec_12hz": 34, "dualcodec_25hz": 17}[codec_id]
    frames = 3 * codec.decode_context_units + 7
    tokens = np.stack([np.random.default_rng(k).integers(0, s, frames) for k, s in enumerate(info.codebook_sizes)])
    one, windowed = [], []
    with torch.inference_mode():
        stream.decode(codec, tokens, {}, frames * codec.hop, one.append, window_units=frames + 1)
        stream.decode(codec, tokens, {}, frames * codec.hop, windowed.append, window_units=13)
    assert len(windowed) == len(stream.plan(frames, 13, codec.decode_context_units)) >= 4
    np.testing.assert_allclose(np.concatenate(windowed, axis=1), np.concatenate(one, axis=1), atol=1e-5)


def test_long_input_runs_in_windows_and_seams_are_measured(cache_env):
    """w2v-BERT attends over the whole window: not exact (`exact = False`); the engine's figures are
    computed, and chunked codes and audio have the one-pass shapes."""
    codec = fresh("dualcodec_25hz")
    assert not codec.exact and codec.hop == 960 and codec.window_units == 250  # 10 s
    # the tiny model: max(the DAC encoder's half reach 8 + 1, twice its one ConvNeXt block's 6 frames)
    assert codec.context_units == 12
    clip = noise(30 * 960 - 300, seed=3)
    point = codec.point(codec.info.bitrates_kbps[-1])
    seams_are_measured(codec, clip.samples, point, (10,), frames=30)
    # the waveform stream is convolutions whose reach the context covers: its latent is one pass's; the
    # semantic stream's (w2v-BERT over the window, filterbanks normalised over it) is not
    latents = {}
    for units in (10, 31):
        sink = stream.TokenList()
        with torch.inference_mode():
            stream.encode(codec, stream.ArrayReader(clip.samples), point, sink, window_units=units, latent=True)
        latents[units] = sink.tokens()
    semantic = codec.codec.convnext_encoder[0].out_channels
    assert latents[10].shape == (semantic + 1024, 30)
    np.testing.assert_allclose(latents[10][semantic:], latents[31][semantic:], atol=1e-5)
    assert np.abs(latents[10][:semantic] - latents[31][:semantic]).max() > 1e-3


def test_missing_weights_name_what_is_missing(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--facebook--w2v-bert-2\.0/snapshots/.*/config\.json"):
        get_codec("dualcodec_12hz")
    folder = weights.hub_snapshot(W2V_ID, {name: b"{}" for name in W2V_FILES})
    assert folder == adapter.w2v_folder()
    with pytest.raises(WeightsUnavailable, match=rf"models--amphion--dualcodec/snapshots/.*/{STATS}"):
        get_codec("dualcodec_25hz")
    weights.hub_snapshot(HUB_ID, {STATS: b""})
    with pytest.raises(WeightsUnavailable, match=r"dualcodec_25hz_16384_1024\.safetensors.*codec-arena download"):
        get_codec("dualcodec_25hz")

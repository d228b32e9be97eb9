"""LLM-Codec (UniAudio 1.5): the official checkpoint layout in the hub cache, our loader reading it, codes
per level at their frame rates, padding, windows through the engine, batches, tiny clips. Parity with
the official code itself is `benchmarks/parity/llm_codec.py` (it needs the official code)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import Codes, codec_info, get_codec, stream
from codec_arena.codecs import _llm_codec_nets as nets
from codec_arena.codecs import llm_codec as lc
from codec_arena.errors import WeightsMismatch, WeightsUnavailable
from codec_arena.roundtrip import roundtrip

ID = lc.CODEC_ID


def noise(n: int, seed: int = 0) -> Audio:
    return Audio((0.1 * np.random.default_rng(seed).standard_normal((1, n))).astype(np.float32), 16_000)


@pytest.fixture(scope="module")
def noiseless(tmp_path_factory):
    """The small random model with the decoder's noise gains at zero (weight_g = 0), read through our
    loader from its own hub cache: decoding is then deterministic, so chunked and batched audio can be
    compared with one pass."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HOME", str(tmp_path_factory.mktemp("llm-codec-noiseless")))
    torch.manual_seed(1)
    lc.write_random_weights(ID, small=True, noise=False)
    codec = lc.load(codec_info(ID), "cpu")
    mp.undo()
    return codec


def test_facts_follow_the_official_config():
    """config.yaml: 16 kHz, hop 3*4*5*8 = 480 (33.3 frames/s), vq_strides 4/2/1, attention window 8;
    codebooks: LLaMA-2's 32000 tokens (level 1: layer1.npy's 3248 words)."""
    info, config = codec_info(ID), lc.recipe()
    assert (config.sample_rate, config.hop, config.vq_strides, config.attn_window_size) == (16_000, 480, (4, 2, 1), 8)
    assert (config.encoder_dim, config.latent_dim, config.decoder_dim) == (32, 512, 1536)
    assert config.codebook_sizes == (3248, 32_000, 32_000) and config.codebook_dim == 4096
    assert info.sample_rate == config.sample_rate and info.frame_rate == pytest.approx(100 / 3)
    assert info.codebook_strides == config.vq_strides and info.frame_multiple == config.unit_frames == 8
    assert info.codebook_size == 32_000 and info.max_codebooks == 3 and info.codebooks_for(info.default_bitrate) == 3
    # 8.3 codes a second from 3248 words, 16.7 + 33.3 from LLaMA-2's 32000 tokens: each at its own bits
    kbps = (math.log2(3248) / 4 + 1.5 * math.log2(32_000)) * 100 / 3 / 1000
    assert info.codebook_sizes == config.codebook_sizes and info.bitrates_kbps == (round(kbps, 3),) == (0.846,)
    assert info.hub_id == "Dongchao/2024" and not info.progressive


def test_checkpoint_has_the_official_layout(cache_env):
    """`{"codec_model": state}` at Dongchao/2024/semantic_acoustic.pth in the hub cache, with the official
    key names: weight-normed convolutions, the attention's rotary buffer, raw [N, dim] codebooks."""
    path = weights.hub_file(lc.HUB_REPO, lc.FILENAME)
    assert path.is_file() and path.parent.name == (weights.hub_repo_dir(lc.HUB_REPO) / "refs" / "main").read_text()
    state = torch.load(path, map_location="cpu", weights_only=True)["codec_model"]
    for key in ("encoder.block.0.weight_g", "encoder.block.0.weight_v", "encoder.block.5.rel_pos.inv_freq",
                "encoder.block.5.to_qkv.weight", "encoder.block.6.weight_v", "decoder.model.2.norm.weight",
                "decoder.model.3.block.1.weight_g", "decoder.model.3.block.2.linear.weight_v",
                "decoder.model.8.weight_v", "quantizer.quantizers.0.cb_proj.weight"):
        assert key in state, key
    assert not any(k.endswith(".weight") and k.replace(".weight", ".weight_v") in state for k in state)
    assert [tuple(state[nets.codebook_key(k)].shape) for k in range(3)] == [(3248, 8), (32_000, 8), (32_000, 8)]
    model = get_codec(ID).model
    assert isinstance(model, nets.MSCodecLM)
    assert (model.config.encoder_dim, model.config.latent_dim, model.config.decoder_dim) == (4, 64, 64)
    assert model.config.codebook_sizes == (3248, 32_000, 32_000)


def test_the_quantizer_keeps_the_projected_codebook(cache_env):
    """What the official `cb_proj(codebook.weight)` computes on every call, computed once at load."""
    state = torch.load(weights.hub_file(lc.HUB_REPO, lc.FILENAME), map_location="cpu", weights_only=True)["codec_model"]
    for k, quantizer in enumerate(get_codec(ID).model.quantizer.quantizers):
        prefix = f"quantizer.quantizers.{k}.cb_proj"
        book = state[nets.codebook_key(k)]
        proj = torch.nn.functional.linear(book, state[f"{prefix}.weight"], state[f"{prefix}.bias"])
        assert torch.equal(quantizer.table, proj)


def test_codes_per_level_at_their_frame_rates(cache_env):
    """One second pads to 5 units of 3840 samples: 40 frames, levels of 10, 20 and 40 codes (8.3, 16.7,
    33.3 a second), coarse codes repeated on the 40-frame grid, equal to the network's own encode."""
    codec = get_codec(ID)
    clip = noise(16_000)
    codes = codec.encode(clip, None)
    assert codes.tokens.shape == (3, 40) and codes.extras["strides"].tolist() == [4, 2, 1]
    assert [codes.level(k).size for k in range(3)] == [10, 20, 40] and codes.token_count == 70
    assert codes.level(0).max() < 3248 and codes.tokens.max() < 32_000
    with torch.inference_mode():
        levels = codec.model.encode(torch.from_numpy(clip.samples)[None])
    for k, level in enumerate(levels):
        np.testing.assert_array_equal(codes.level(k), level[0].numpy())
        assert (codes.tokens[k].reshape(-1, codes.strides[k]) == codes.level(k)[:, None]).all()
    assert all(len(np.unique(codes.level(k))) > 1 for k in range(3))
    again = Codes.from_npz(codes.to_npz())
    assert again.strides.tolist() == [4, 2, 1] and codec.decode(again).frames == 16_000


@pytest.mark.parametrize("n", [1, 3840, 3841, 16_007])
def test_round_trip_lengths_and_tiny_clips(cache_env, n):
    codec = get_codec(ID)
    codes = codec.encode(noise(n), None)
    assert codes.tokens.shape == (3, math.ceil(n / 3840) * 8)
    out = codec.decode(codes)
    assert out.samples.shape == (1, n) and np.isfinite(out.samples).all()


def test_padding_is_counted(cache_env):
    """A 10 ms clip costs a whole 0.24 s unit (2 words + 4 + 8 tokens); exactly one unit costs the nominal rate."""
    short = roundtrip(noise(160), ID)
    assert short.codes.frames == 8 and short.output.frames == 160
    assert short.bitrate_kbps == pytest.approx((2 * math.log2(3248) + 12 * math.log2(32_000)) / 0.01 / 1000)
    exact = roundtrip(noise(3840), ID)
    assert exact.bitrate_kbps == pytest.approx(codec_info(ID).default_bitrate, rel=1e-3)


def test_progressive_decoding_uses_the_first_levels(cache_env):
    codec = get_codec(ID)
    codes = codec.encode(noise(8_000), None)
    for k in (1, 2):
        out = codec.decode(codes.first(k))
        assert out.frames == 8_000 and np.isfinite(out.samples).all()


def test_decoding_adds_fresh_noise(cache_env):
    """As the official `NoiseBlock`: two decodes of the same codes differ (unless torch's seed is reset)."""
    codec = get_codec(ID)
    codes = codec.encode(noise(4_000), None)
    assert not np.allclose(codec.decode(codes).samples, codec.decode(codes).samples)
    torch.manual_seed(3)
    first = codec.decode(codes).samples
    torch.manual_seed(3)
    np.testing.assert_array_equal(first, codec.decode(codes).samples)


def test_windows_give_the_one_pass_codes_and_audio(noiseless):
    """A unit is one padding block (8 frames: an attention window and two coarse codes), so window
    edges are block edges; the context (receptive field read from the model, in units) makes chunked
    codes, latents and (noise off) audio those of one pass."""
    codec = noiseless
    assert codec.exact and codec.hop == 3840 and codec.unit_frames == 8
    assert (codec.context_units, codec.decode_context_units) == (3, 3)
    clip = noise(40_000, seed=5)  # 11 units: 3 windows of 4
    figures = stream.exactness(codec, clip.samples, codec.point(None), window_units=4)
    assert figures.windows == 3 and figures.equal_codes == 1.0
    assert figures.max_latent_delta < 1e-4 and figures.max_audio_delta < 1e-4


def test_the_context_covers_the_full_size_receptive_field():
    """The full-size recipe has the small config's kernels, strides and windows: the same contexts."""
    with torch.device("meta"):
        model = nets.MSCodecLM(lc.recipe())
    codec = lc.LLMCodec(codec_info(ID), model, "meta", None)
    assert (codec.context_units, codec.decode_context_units) == (3, 3)


def test_batches_equal_one_at_a_time(noiseless):
    codec = noiseless
    clips = [noise(5_000, 1), noise(5_000, 2), noise(6_000, 3), noise(9_000, 4)]
    batch, alone = codec.encode_batch(clips, None), [codec.encode(clip, None) for clip in clips]
    for a, b in zip(batch, alone, strict=True):
        np.testing.assert_array_equal(a.tokens, b.tokens)
        assert a.extras["strides"].tolist() == [4, 2, 1]
    assert [c.tokens.shape for c in batch] == [(3, 16)] * 3 + [(3, 24)]
    for a, b, clip in zip(codec.decode_batch(alone), [codec.decode(c) for c in alone], clips, strict=True):
        assert a.frames == clip.frames
        np.testing.assert_allclose(a.samples, b.samples, atol=1e-4)


def test_a_foreign_checkpoint_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    path = lc.write_random_weights(ID, small=True)
    state = torch.load(path, weights_only=True)["codec_model"]
    del state["decoder.model.2.to_out.weight"]
    torch.save({"codec_model": state}, path)
    with pytest.raises(WeightsMismatch, match="not MSCodecLM's"):
        lc.load(codec_info(ID), "cpu")
    torch.save({"generator": state}, path)
    with pytest.raises(WeightsMismatch, match="no `codec_model`"):
        lc.load(codec_info(ID), "cpu")


def test_missing_weights_name_the_hub_path(empty_cache_env):
    with pytest.raises(WeightsUnavailable, match=r"models--Dongchao--2024/snapshots/.*/semantic_acoustic\.pth"):
        get_codec(ID)

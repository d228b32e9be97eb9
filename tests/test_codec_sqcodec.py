"""SQCodec through `sq_codec.get_model`, on random weights in `~/.cache/sq_codec`: facts, codes, windows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import batch_equals_one_at_a_time

from codec_arena.audio import Audio
from codec_arena.codecs import codec_info, get_codec, stream
from codec_arena.codecs.sqcodec import MODELS, MODULES, SQCodecCodec, checkpoint_dir, widths_of, write_random_weights
from codec_arena.errors import WeightsUnavailable

# The README's "available models" table: tokens/s, codebook size, bitrate (bps)
README = {
    "sqcodec_16khz_0k75bps": (44.44, 117_649, 748.6),
    "sqcodec_16khz_1k5bps": (88.89, 117_649, 1497.3),
    "sqcodec_16khz_3kbps": (177.78, 117_649, 2994.5),
    "sqcodec_16khz_6kbps": (355.56, 117_649, 5989.0),
    "sqcodec_16khz_12kbps": (666.67, 250_047, 11954.6),
    "sqcodec_24khz_12kbps": (666.67, 250_047, 11954.6),
    "sqcodec_24khz_24kbps": (1333.33, 250_047, 23909.1),
}
IDS = list(MODELS)


def noise(n: int, rate: int, seed: int = 0) -> Audio:
    return Audio((0.1 * np.random.default_rng(seed).standard_normal((1, n))).astype(np.float32), rate)


@pytest.mark.parametrize("codec_id", IDS)
def test_facts_match_the_readme_table(codec_id):
    info, (tokens_per_s, size, bps) = codec_info(codec_id), README[codec_id]
    assert round(info.frame_rate, 2) == tokens_per_s and info.codebook_size == size and info.max_codebooks == 1
    assert info.frame_rate * math.log2(size) == pytest.approx(bps, abs=0.06)
    assert info.bitrates_kbps == (pytest.approx(bps / 1000, abs=5.5e-4),)  # kbps to 3 decimals
    assert info.check_bitrate(round(bps / 1000, 2)) == info.bitrates_kbps[0]  # "0.75" picks 0.749
    assert info.sample_rate == (24_000 if "24khz" in codec_id else 16_000) and not info.progressive


@pytest.mark.parametrize("codec_id", IDS)
def test_get_model_reads_the_package_cache(cache_env, codec_id):
    """Five state dicts in ~/.cache/sq_codec/<name>.v0, built by the shipped TOML the facts come from."""
    from sq_codec import SQCodec

    folder, model = checkpoint_dir(codec_id), MODELS[codec_id]
    assert folder == Path(cache_env["HOME"]) / ".cache" / "sq_codec" / f"{model.name}.v0"
    assert {p.name for p in folder.glob("*.pt")} == {f"{m}.pt" for m in MODULES}
    codec = get_codec(codec_id)
    assert isinstance(codec, SQCodecCodec) and isinstance(codec.sq, SQCodec)
    assert codec.sq.config.model_path == folder and codec.checkpoint == folder / "en_decoder.pt"
    mc = codec.sq.network.mc
    assert (mc.hop_length, mc.en_coder_window_size, mc.en_coder_depth) == (model.hop, model.window, model.depth)
    assert tuple(mc.vq_config["codebook_dim"]) == model.levels
    assert codec.sq.network.quantizer.vq.codebook_size == codec_info(codec_id).codebook_size
    assert (codec.hop, codec.unit_frames) == (model.hop * model.window, model.window)
    assert codec.context_units == codec.decode_context_units == model.depth + 1
    # the TOML's sample rate is the README's, except 12kbps_24khz's, which says 16 kHz (see the module docstring)
    assert codec.sq.config.sample_rate == (16_000 if model.name == "12kbps_24khz" else model.sample_rate)


@pytest.mark.parametrize("codec_id", IDS)
def test_codes_and_audio_equal_the_package_calls(cache_env, codec_id):
    """A clip inside one attention window: one code per hop over the whole padded window, the package's
    `encode_audio` codes, and its `decode_audio(indices=...)` audio, trimmed to the clip."""
    info, model = codec_info(codec_id), MODELS[codec_id]
    codec = get_codec(codec_id)
    clip = noise(int(0.7 * model.hop * model.window), info.sample_rate)
    codes = codec.encode(clip, info.default_bitrate)
    assert codes.tokens.shape == (1, model.window) and len(np.unique(codes.tokens)) > 1
    assert codes.frame_rate == info.frame_rate
    assert codes.nominal_kbps == pytest.approx(info.bitrates_kbps[0], abs=5.5e-4)
    assert codes.bitrate_kbps == pytest.approx(model.window * math.log2(info.codebook_size) / clip.duration / 1000)
    out = codec.decode(codes)
    with torch.inference_mode():
        _, indices = codec.sq.encode_audio(torch.from_numpy(clip.samples))
        reference = codec.sq.decode_audio(indices=indices)[:, : clip.frames].numpy()
    np.testing.assert_array_equal(codes.tokens, indices.numpy())
    np.testing.assert_allclose(out.samples, reference, atol=1e-6)


def test_depth_plus_one_windows_of_context_give_one_pass_latents(cache_env):
    """Each of the 3 attention layers looks one window back, and the convolutions reach across a window
    edge: a window's encoder output equals one pass once 4 windows of real signal precede it, not 3."""
    codec = get_codec("sqcodec_16khz_6kbps")
    assert codec.context_units == 4
    x = noise(6 * codec.hop, 16_000).samples[None]  # [1, 1, n]: six windows
    with torch.inference_mode():
        whole = codec.latent_chunk(x)
        cut = codec.latent_chunk(x[..., codec.hop:])  # starts one window late
    w = codec.unit_frames
    # the cut's window j is the whole clip's window j + 1, with j windows of signal before it
    np.testing.assert_allclose(cut[..., 4 * w:], whole[..., 5 * w:], atol=1e-5)  # j = 4: equal
    assert np.abs(cut[..., 3 * w: 4 * w] - whole[..., 4 * w: 5 * w]).max() > 1e-3  # j = 3: not


def test_long_input_runs_in_windows(cache_env):
    """The engine on whole attention windows: every window's codes once, the length back."""
    loaded = get_codec("sqcodec_16khz_6kbps")
    codec = SQCodecCodec(loaded.info, loaded.sq, loaded.device, loaded.checkpoint)
    codec.window_units, codec.context_units, codec.decode_context_units = 1, 1, 1
    assert not codec.exact  # the decoder's InstanceNorm1d sees the whole decoded window
    clip = noise(2 * codec.hop + 1, 16_000)
    assert len(stream.plan(3, 1, 1)) == 3
    codes = codec.encode(clip, 6.0)
    assert codes.tokens.shape == (1, 3 * codec.unit_frames)
    out = codec.decode(codes)
    assert out.frames == clip.frames and np.isfinite(out.samples).all()


def test_batches_equal_one_at_a_time(cache_env):
    """Clips of equal window counts (zero-padded to whole windows, as one clip is) share a pass."""
    codec = get_codec("sqcodec_16khz_6kbps")  # windows of 13500 samples, 300 tokens
    assert codec.batchable and codec.pads_to_frames
    clips = [noise(3_000, 16_000, 1), noise(3_000, 16_000, 2), noise(13_500, 16_000, 3), noise(77, 16_000, 4)]
    batch = batch_equals_one_at_a_time(codec, clips, codec.point(6.0))
    assert [c.tokens.shape for c in batch] == [(1, 300)] * 4


def test_widths_are_read_from_the_official_layout(tmp_path, monkeypatch):
    """Full-size files (the official shapes) give the TOML's widths, so get_model builds the TOML's network."""
    monkeypatch.setenv("HOME", str(tmp_path))
    path = write_random_weights("sqcodec_16khz_6kbps", small=False)
    assert widths_of(path.parent) == {"feature_dim": 256, "encoder_dims": (24, 96, 192),
                                      "decoder_dims": (384, 192, 96, 48)}  # configs/6kbps.toml


def test_missing_and_partial_weights_say_where(empty_cache_env):
    with pytest.raises(WeightsUnavailable, match=r"\.cache/sq_codec/3kbps\.v0/en_decoder\.pt"):
        get_codec("sqcodec_16khz_3kbps")
    write_random_weights("sqcodec_16khz_3kbps", small=True)
    (checkpoint_dir("sqcodec_16khz_3kbps") / "quantizer.pt").unlink()
    with pytest.raises(WeightsUnavailable, match=r"3kbps\.v0/quantizer\.pt"):
        get_codec("sqcodec_16khz_3kbps")

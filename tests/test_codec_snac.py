"""SNAC through `SNAC.from_pretrained`, on the random-weight hub cache: multi-scale codes, padding, windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import Codes, accel, codec_info, get_codec, stream
from codec_arena.codecs.snac import SnacCodec
from codec_arena.errors import WeightsUnavailable
from codec_arena.roundtrip import roundtrip


def test_from_pretrained_read_the_hub_layout(cache_env):
    from snac import SNAC

    for codec_id in ("snac_24khz", "snac_32khz", "snac_44khz"):
        repo = f"hubertsiuzdak/{codec_id}"
        snapshot = weights.hub_file(repo, "pytorch_model.bin").parent
        assert snapshot.name == (weights.hub_repo_dir(repo) / "refs" / "main").read_text()
        assert (snapshot / "pytorch_model.bin").is_file()
        config = json.loads((snapshot / "config.json").read_text())
        model = get_codec(codec_id).model
        assert isinstance(model, SNAC)
        assert model.encoder_dim == config["encoder_dim"] and model.attn_window_size == config["attn_window_size"]
        assert model.sampling_rate == codec_info(codec_id).sample_rate


def test_operating_points_match_the_model_cards():
    """0.98, 1.9 and 2.6 kbps (model cards) = 12 bits x sum over levels of the level's rate."""
    for codec_id, card, strides in (("snac_24khz", 0.98, (4, 2, 1)), ("snac_32khz", 1.9, (8, 4, 2, 1)),
                                    ("snac_44khz", 2.6, (8, 4, 2, 1))):
        info = codec_info(codec_id)
        assert info.codebook_strides == strides and info.codebooks_for(card) == len(strides)
        assert info.check_bitrate(card) == info.bitrates_kbps[0]
        assert info.bitrates_kbps[0] == pytest.approx(sum(12 * info.frame_rate / s for s in strides) / 1000, abs=1e-3)
    assert codec_info("snac_44khz").frame_rate == pytest.approx(44_100 / 384)


def test_full_size_configs_have_the_model_cards_sizes():
    """The configs `write_random_weights(small=False)` uses: 19.8 M and 54.5 M parameters (model cards)."""
    from snac import SNAC

    from codec_arena.codecs.snac import CONFIGS

    for codec_id, millions in (("snac_24khz", 19.8), ("snac_32khz", 54.5), ("snac_44khz", 54.5)):
        with torch.device("meta"):
            model = SNAC(**CONFIGS[codec_id])
        assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == millions
        assert model.sampling_rate / model.hop_length == codec_info(codec_id).frame_rate


def test_levels_sit_on_the_finest_grid(cache_env):
    """One second at 32 kHz gives the README's [12, 24, 48, 96] codes, each coarse code repeated."""
    codec = get_codec("snac_32khz")
    x = tone(1.0, 32_000)
    codes = codec.encode(Audio(x, 32_000), 1.9)
    assert codes.tokens.shape == (4, 96) and codes.extras["strides"].tolist() == [8, 4, 2, 1]
    assert [codes.level(k).size for k in range(4)] == [12, 24, 48, 96]
    assert codes.token_count == 180 and codes.nominal_kbps == pytest.approx(1.875)
    with torch.inference_mode():
        levels = codec.model.encode(torch.from_numpy(x)[None])  # the package's own call
    for k, level in enumerate(levels):
        np.testing.assert_array_equal(codes.level(k), level[0].numpy())
        assert (codes.tokens[k].reshape(-1, codes.strides[k]) == codes.level(k)[:, None]).all()
    again = Codes.from_npz(codes.to_npz())
    assert again.strides.tolist() == [8, 4, 2, 1] and codec.decode(again).frames == 32_000


def test_padding_is_counted_and_trimmed(cache_env):
    """Input is padded to whole attention blocks (12288 samples at 32 kHz); the padded codes are
    needed to decode, so a 10 ms clip costs a whole block, and the decoder returns 10 ms."""
    result = roundtrip(Audio(tone(0.01, 32_000), 32_000), "snac_32khz")
    assert result.codes.frames == 32 and result.output.frames == 320
    assert result.bitrate_kbps == pytest.approx(60 * 12 / 0.01 / 1000)
    exact = roundtrip(Audio(tone(0.384, 32_000), 32_000), "snac_32khz")  # exactly one block
    assert exact.codes.frames == 32 and exact.bitrate_kbps == pytest.approx(1.875)
    speech = roundtrip(Audio(tone(0.6, 24_000), 24_000), "snac_24khz")  # 28.1 frames, padded to 32
    assert speech.codes.frames == 32 and speech.output.frames == 14_400


def test_progressive_decoding_uses_the_first_levels(cache_env):
    codec = get_codec("snac_24khz")
    codes = codec.encode(Audio(tone(0.5, 24_000), 24_000), 0.98)
    for k in (1, 2, 3):
        out = codec.decode(codes.first(k))
        assert out.frames == 12_000 and np.isfinite(out.samples).all()


def noiseless(codec_id: str) -> SnacCodec:
    """The loaded weights with the decoder's noise gains at zero: SNAC's `NoiseBlock`s add
    `randn * linear(x)` (fresh Gaussian noise) on every decode; a zero `linear` adds exactly zero."""
    from snac import SNAC
    from snac.layers import NoiseBlock

    loaded = get_codec(codec_id)
    config = json.loads(weights.hub_file(f"hubertsiuzdak/{codec_id}", "config.json").read_text())
    model = SNAC(**config).eval()
    model.load_state_dict(loaded.model.state_dict())
    blocks = [m for m in model.modules() if isinstance(m, NoiseBlock)]
    assert blocks
    with torch.no_grad():
        for block in blocks:
            block.linear.parametrizations.weight.original0.zero_()  # weight norm's g: the weight is 0
    codec = SnacCodec(loaded.info, model, loaded.device, loaded.checkpoint)
    codec.fast = accel.FastParts(None, codec.device)  # torch: a conversion is keyed by the file's weights, not these
    return codec


def noise(n: int, rate: int, seed: int = 0) -> Audio:
    return Audio((0.1 * np.random.default_rng(seed).standard_normal((1, n))).astype(np.float32), rate)


@pytest.mark.parametrize(("codec_id", "n", "sizes"), [("snac_24khz", 13_377, (2, 3)),  # 7 units: 4, 3 windows
                                                      ("snac_32khz", 56_524, (1, 2))])  # 5 units: 5, 3 windows
def test_windows_give_the_one_pass_codes_and_audio(cache_env, codec_id, n, sizes):
    """A unit is one padding unit (an attention block at 32 kHz), so window edges are block edges;
    the context (the receptive field read from the model, in units) makes chunked codes, latents
    and (noise off) audio those of one pass."""
    codec = noiseless(codec_id)
    info = codec.info
    assert codec.exact and codec.unit_frames == info.frame_multiple
    assert codec.hop == codec.model.hop_length * codec.unit_frames
    assert (codec.context_units, codec.decode_context_units) == {"snac_24khz": (4, 4), "snac_32khz": (2, 2)}[codec_id]
    clip = noise(n, info.sample_rate)
    for units in sizes:
        figures = stream.exactness(codec, clip.samples, codec.point(None), window_units=units)
        assert figures.windows >= 3 and figures.equal_codes == 1.0
        assert figures.max_latent_delta < 1e-4 and figures.max_audio_delta < 1e-4
    codec.window_units = sizes[0]
    codes = codec.encode(clip, info.bitrates_kbps[0])
    assert codes.tokens.shape == (len(codec.strides), -(-n // codec.hop) * codec.unit_frames)
    assert codes.extras["strides"].tolist() == codec.strides and codec.decode(codes).frames == n


def test_the_context_covers_the_full_size_receptive_field():
    """The full-size configs have the small ones' kernels, strides and blocks: the same contexts."""
    from snac import SNAC

    from codec_arena.codecs.snac import CONFIGS

    for codec_id, expected in (("snac_24khz", (4, 4)), ("snac_32khz", (2, 2)), ("snac_44khz", (2, 2))):
        with torch.device("meta"):
            model = SNAC(**CONFIGS[codec_id])
        codec = SnacCodec(codec_info(codec_id), model, "meta", None)
        assert (codec.context_units, codec.decode_context_units) == expected


def test_decoding_adds_fresh_noise(cache_env):
    """Why the audio check above turns the noise off: two one-pass decodes of the same codes differ."""
    codec = get_codec("snac_24khz")
    codes = codec.encode(noise(4_000, 24_000), 0.98)
    assert not np.allclose(codec.decode(codes).samples, codec.decode(codes).samples)


@pytest.mark.parametrize("n", [24_077, 100])
def test_odd_and_sub_frame_lengths(cache_env, n):
    codec = get_codec("snac_24khz")  # one unit: 4 frames of 512 samples
    codes = codec.encode(noise(n, 24_000), 0.98)
    assert codes.tokens.shape == (3, -(-n // 2048) * 4) and codec.decode(codes).frames == n


def test_batches_equal_one_at_a_time(cache_env):
    """Clips of equal unit counts (zero-padded as `preprocess` pads one clip) share a pass."""
    codec = noiseless("snac_24khz")
    assert codec.batchable and codec.pads_to_frames
    clips = [noise(5_000, 24_000, 1), noise(5_000, 24_000, 2), noise(5_500, 24_000, 3), noise(9_000, 24_000, 4)]
    batch, alone = codec.encode_batch(clips, 0.98), [codec.encode(clip, 0.98) for clip in clips]
    for a, b in zip(batch, alone, strict=True):
        np.testing.assert_array_equal(a.tokens, b.tokens)
        assert a.extras["strides"].tolist() == [4, 2, 1]
    assert [c.tokens.shape for c in batch] == [(3, 12)] * 3 + [(3, 20)]
    for a, b, clip in zip(codec.decode_batch(alone), [codec.decode(c) for c in alone], clips, strict=True):
        assert a.frames == clip.frames
        np.testing.assert_allclose(a.samples, b.samples, atol=1e-4)


def test_missing_weights_name_the_hub_path(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--hubertsiuzdak--snac_24khz/snapshots/.*/pytorch_model\.bin"):
        get_codec("snac_24khz")

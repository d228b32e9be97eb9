"""SNAC through `SNAC.from_pretrained`, on the random-weight hub cache: multi-scale codes, padding, windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import Codes, codec_info, get_codec
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


@pytest.mark.parametrize("codec_id", ["snac_24khz", "snac_32khz"])
def test_long_input_windows_give_the_one_pass_codes(cache_env, codec_id):
    """Windows are whole padding units (attention blocks) with >= 0.3 s of context, past the encoder's
    receptive field: the codes are those of one pass, and the output has the exact length."""
    loaded = get_codec(codec_id)
    args = (loaded.info, loaded.model, loaded.device, loaded.checkpoint)
    windowed = SnacCodec(*args, window_seconds=0.3, context_seconds=0.3)
    one_pass = SnacCodec(*args, window_seconds=10**6)
    rate = loaded.info.sample_rate
    rng = np.random.default_rng(0)
    clip = Audio((0.1 * rng.standard_normal((1, int(1.2 * rate) + 77))).astype(np.float32), rate)
    codes = windowed.encode(clip, loaded.info.bitrates_kbps[0])
    plan = windowed.plan(codes.frames)
    assert len(plan) == 4 and all(w.start % windowed.unit == 0 and w.lo % windowed.unit == 0 for w in plan)
    assert np.mean(codes.tokens == one_pass.encode(clip, loaded.info.bitrates_kbps[0]).tokens) > 0.99
    assert windowed.decode(codes).frames == clip.frames


def test_missing_weights_name_the_hub_path(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--hubertsiuzdak--snac_24khz/snapshots/.*/pytorch_model\.bin"):
        get_codec("snac_24khz")

"""AudioDec: the release layout our loader reads, its receptive-field windows through the engine, batches,
its operating points."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import yaml
from conftest import tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import OperatingPoint, audiodec, codec_info, get_codec, stream
from codec_arena.codecs import _audiodec_nets as nets
from codec_arena.errors import WeightsUnavailable

IDS = ["audiodec_24khz", "audiodec_48khz"]


@pytest.mark.parametrize("codec_id", IDS)
def test_weights_sit_in_the_release_layout(cache_env, codec_id):
    """exp/{autoencoder,vocoder}/<name>/config.yml + checkpoint-<N>steps.pkl['model']['generator'], stats .npy."""
    release, root = audiodec.RELEASES[codec_id], audiodec.cache_dir()
    ae = root / "exp" / "autoencoder" / release.autoencoder / f"checkpoint-{release.autoencoder_steps}steps.pkl"
    voc = root / "exp" / "vocoder" / release.vocoder / f"checkpoint-{release.vocoder_steps}steps.pkl"
    assert audiodec.weight_spec(codec_id).path == ae and weights.is_random(ae)
    ae_state = torch.load(ae, map_location="cpu")["model"]["generator"]
    voc_state = torch.load(voc, map_location="cpu")["model"]["generator"]
    ae_config = yaml.safe_load((ae.parent / "config.yml").read_text())
    voc_config = yaml.safe_load((voc.parent / "config.yml").read_text())
    code_dim = ae_config["generator_params"]["code_dim"]
    assert ae_state["quantizer.codebook.layers.7.embed"].shape == (code_dim, 1024)  # codebooks stored transposed
    assert any(key.startswith("decoder.") for key in ae_state)  # complete symAD generator, as officially
    assert {"input_conv.conv.weight_g", "input_conv.conv.weight_v", "mean", "scale"} <= set(voc_state)
    stats = np.load(root / voc_config["generator_params"]["stats"])  # relative to the working folder
    np.testing.assert_array_equal(stats, torch.stack([voc_state["mean"], voc_state["scale"]]).numpy())
    # the loader builds what config.yml says (the small test config here), with the checkpoint's weights
    codec = get_codec(codec_id)
    assert codec.autoencoder.encoder.conv.conv.out_channels == ae_config["generator_params"]["encode_channels"]
    torch.testing.assert_close(codec.autoencoder.quantizer.codebook.layers[7].embed,
                               ae_state["quantizer.codebook.layers.7.embed"], rtol=0, atol=0)


def test_operating_points_are_the_full_rvq():
    for codec_id, rate, kbps in (("audiodec_24khz", 80.0, 6.4), ("audiodec_48khz", 160.0, 12.8)):
        info = codec_info(codec_id)
        assert info.frame_rate == rate and info.bitrates_kbps == (kbps,)
        assert info.codebooks_for(kbps) == 8 == info.max_codebooks


def test_receptive_field_matches_the_official_figure():
    """utils/audiodec.py notes 7209 samples for the released encoder; our windows' context covers it."""
    encoder = nets.AutoEncoder(**audiodec.FULL_AUTOENCODER, with_decoder=False)
    assert encoder.left_context() + 1 == 7209
    vocoder = nets.HiFiGANGenerator(**audiodec.FULL_VOCODER, stats="x.npy")
    assert 30 < vocoder.left_context() < 40  # frames of codes


def test_contexts_are_the_receptive_fields_plus_two_frames(cache_env):
    codec = get_codec("audiodec_24khz")  # the small test config has the released kernels and strides
    assert (codec.hop, codec.context_units, codec.decode_context_units) == (300, 27, 40)  # 7208 samples, 37.67 frames
    assert codec.exact and codec.batchable


@pytest.mark.parametrize("window_units", [20, 35])
def test_windowed_coding_equals_one_pass(cache_env, window_units):
    """Windows (6 or 3, each shorter than the encoder's 27-frame context) with their receptive field in
    front give the one-pass codes, latent and audio, with no extra frames."""
    info = codec_info("audiodec_24khz")
    base = tone(1.26, 24_000, freq=300.0)  # 30_240 samples: the last of 101 frames is partial
    samples = base * np.linspace(0.2, 1.5, base.shape[1], dtype=np.float32)
    codec = audiodec.load(info, "cpu")
    figures = stream.exactness(codec, samples, OperatingPoint.of(info), window_units)
    assert figures.windows == (6 if window_units == 20 else 3)
    assert figures.equal_codes == 1.0 and figures.max_latent_delta < 1e-4 and figures.max_audio_delta < 1e-5
    codec.window_units = window_units
    windowed = codec.encode(Audio(samples, 24_000), 6.4)
    assert windowed.tokens.shape == (8, math.ceil(samples.shape[1] / 300)) == (8, 101)
    assert codec.decode(windowed).frames == samples.shape[1]


@pytest.mark.parametrize("samples", [1, 299, 4_801])
def test_odd_and_sub_frame_lengths_keep_their_length(cache_env, samples):
    codec = get_codec("audiodec_24khz")
    codes = codec.encode(Audio(tone(0.25, 24_000)[:, :samples], 24_000), 6.4)
    assert codes.tokens.shape == (8, math.ceil(samples / 300))
    assert codec.decode(codes).samples.shape == (1, samples)


def test_batches_equal_one_at_a_time(cache_env):
    codec = get_codec("audiodec_24khz")
    base = tone(0.2, 24_000) * np.linspace(0.2, 1.5, 4_800, dtype=np.float32)
    clips = [Audio(base[:, :3_000].copy(), 24_000), Audio(base[:, 500:3_410].copy(), 24_000),
             Audio(base[:, :1_000].copy(), 24_000)]  # 10, 10 and 4 frames
    batched = codec.encode_batch(clips, 6.4)
    for clip, codes in zip(clips, batched, strict=True):
        np.testing.assert_array_equal(codes.tokens, codec.encode(clip, 6.4).tokens)
    for codes, audio in zip(batched, codec.decode_batch(batched), strict=True):
        assert audio.frames == codes.num_samples
        np.testing.assert_allclose(audio.samples, codec.decode(codes).samples, rtol=0, atol=1e-4)


def test_short_clips_and_fewer_codebooks(cache_env):
    codec = get_codec("audiodec_48khz")
    tiny = codec.encode(Audio(tone(0.01, 48_000), 48_000), 12.8)  # 480 samples: 2 frames of 300
    assert tiny.tokens.shape == (8, 2) and codec.decode(tiny).frames == 480
    codes = codec.encode(Audio(tone(0.5, 48_000), 48_000), 12.8)
    first = codec.decode(codes.first(2)).samples
    assert first.shape == (1, 24_000) and not np.array_equal(first, codec.decode(codes).samples)


@pytest.mark.parametrize("missing", ["autoencoder", "vocoder"])
def test_missing_weights_name_the_file(tmp_path, monkeypatch, missing):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CODEC_ARENA_OFFLINE", "1")
    info = codec_info("audiodec_24khz")
    audiodec.write_random_weights(info.id, small=True)
    path = (audiodec.autoencoder_checkpoint if missing == "autoencoder" else audiodec.vocoder_checkpoint)(info.id)
    path.unlink()
    with pytest.raises(WeightsUnavailable, match=f"Looked for {path}"):
        audiodec.load(info, "cpu")


def test_fetch_extracts_the_release_zip(tmp_path, monkeypatch):
    """fetch: exp.zip -> both codecs' folders in the cache, zip removed; a config.yml missing from the zip
    comes from the repository. Served from file:// URLs here, through the same urllib calls."""
    import zipfile

    source, cache = tmp_path / "source", tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(source))
    for codec_id in IDS:
        audiodec.write_random_weights(codec_id, small=True)
    layout = audiodec.cache_dir()
    missing = f"exp/vocoder/{audiodec.RELEASES['audiodec_48khz'].vocoder}/config.yml"
    with zipfile.ZipFile(tmp_path / "exp.zip", "w") as bundle:
        for file in sorted((layout / "exp").rglob("*")):
            name = file.relative_to(layout).as_posix()
            if file.is_file() and name != missing and not name.endswith(".random-weights"):
                bundle.write(file, name)
        bundle.writestr("exp/autoencoder/symAAD_vctk_48000_hop300/config.yml", "not ours\n")
    monkeypatch.setattr(audiodec, "RELEASE_URL", (tmp_path / "exp.zip").as_uri())
    monkeypatch.setattr(audiodec, "RAW_URL", layout.as_uri())
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("CODEC_ARENA_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    path = weights.download(audiodec.weight_spec("audiodec_24khz"))
    assert path == audiodec.autoencoder_checkpoint("audiodec_24khz")
    assert audiodec.vocoder_checkpoint("audiodec_48khz").exists()  # one download serves both codecs
    assert (cache / "codec-arena" / "audiodec" / missing).read_bytes() == (layout / missing).read_bytes()
    assert not (cache / "codec-arena" / "audiodec" / "exp" / "autoencoder" / "symAAD_vctk_48000_hop300").exists()
    assert [p.name for p in audiodec.cache_dir().iterdir()] == ["exp"]  # the zip is gone
    codec = audiodec.load(codec_info("audiodec_48khz"), "cpu")
    assert codec.decode(codec.encode(Audio(tone(0.1, 48_000), 48_000), 12.8)).frames == 4_800

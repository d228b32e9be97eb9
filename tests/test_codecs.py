"""Codecs through their real loaders: random-weight checkpoints at the official cache paths
(neural), real FFmpeg encoders (classical)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, tone

from codec_arena.analysis.metrics import estimate_lag
from codec_arena.audio import Audio, load_audio
from codec_arena.codecs import Codes, codec_info, get_codec, list_codecs, stream
from codec_arena.errors import RequestError
from codec_arena.roundtrip import roundtrip

NEURAL = [info.id for info in list_codecs() if info.neural]  # every registered codec runs the same checks
DECODING = [codec_id for codec_id in NEURAL if not codec_info(codec_id).encode_only]  # the round trip's
CLASSICAL = ["opus", "mp3", "aac", "g722"]


def test_listing_needs_no_model_import():
    code = ("import sys; from codec_arena.codecs import list_codecs; ids = [c.id for c in list_codecs()]; "
            "heavy = [m for m in ('torch', 'encodec', 'dac', 'av', 'gradio') if m in sys.modules]; "
            "print(len(ids), heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"{len(NEURAL) + len(CLASSICAL)} []"


def test_registry_has_the_foundation_codecs():
    ids = [info.id for info in list_codecs()]
    assert set(ids) >= {"encodec_24khz", "encodec_48khz", "dac_16khz", "dac_24khz", "dac_44khz", *CLASSICAL}
    assert len(ids) == len(set(ids))
    for info in list_codecs():
        assert info.paper and info.licence and info.bitrates_kbps and info.domain


@pytest.mark.parametrize("codec_id", NEURAL)
def test_neural_codecs_carry_their_facts_and_sources(codec_id):
    info = codec_info(codec_id)
    assert info.sources and info.training_data and info.hub_id and info.discriminators and info.weights
    assert info.default_bitrate in info.bitrates_kbps and info.frame_rate
    if info.continuous:  # float latents: no codebooks; one operating point, their float32 storage
        assert info.codebook_size is None and info.max_codebooks is None
        assert info.bitrates_kbps == (info.float32_kbps,) and info.quantizer.startswith("none: continuous")
        return
    assert info.codebook_size and info.max_codebooks
    assert info.codebooks_for(info.bitrates_kbps[-1]) <= info.max_codebooks


def test_dac_operating_points_follow_the_formula():
    info = codec_info("dac_44khz")
    assert info.frame_rate == pytest.approx(44_100 / 512)
    assert info.bitrates_kbps[-1] == pytest.approx(9 * 10 * 44_100 / 512 / 1000, abs=1e-3)
    assert info.codebooks_for(info.bitrates_kbps[3]) == 4


def test_unknown_codec_and_bitrate_are_clear():
    with pytest.raises(RequestError, match="Unknown codec 'nope'. Known codecs: encodec_24khz"):
        codec_info("nope")
    with pytest.raises(RequestError, match=r"encodec_24khz offers 1.5, 3, 6, 12, 24 kbps; got 5"):
        codec_info("encodec_24khz").check_bitrate(5)
    with pytest.raises(RequestError, match="opus takes 6–256 kbps; got 300"):
        codec_info("opus").check_bitrate(300)


@pytest.mark.parametrize("codec_id", DECODING)
def test_neural_roundtrip_through_the_real_loader(cache_env, codec_id):
    info = codec_info(codec_id)
    clip = Audio(tone(0.6, 22_050, channels=2), 22_050)  # odd rate, stereo: both get conformed
    for kbps in (info.bitrates_kbps[0], info.bitrates_kbps[-1]):
        result = roundtrip(clip, codec_id, kbps)
        codes = result.codes
        assert result.random_weights, "the checkpoint came from the test helper and must say so"
        assert result.output.sample_rate == info.sample_rate
        assert result.output.samples.shape == (info.channels, round(0.6 * info.sample_rate))
        assert np.isfinite(result.output.samples).all()
        if info.continuous:  # latents [D, frames], floats that vary; the bitrate is their float32 storage
            latents = result.encoded
            assert latents.values.shape == (info.latent_dim, math.ceil(0.6 * info.frame_rate))
            assert result.codes is None and latents.values.std() > 0
            assert result.bitrate_kbps == pytest.approx(latents.bitrate_kbps) and latents.bitrate_kbps >= kbps
            continue
        assert codes.codebooks == info.codebooks_for(kbps)
        assert codes.tokens.min() >= 0 and codes.tokens.max() < info.codebook_size
        assert codes.nominal_kbps == pytest.approx(kbps, rel=0.01)
        # measured = tokens actually emitted: at least the operating point, at most one padding unit over
        assert kbps * 0.99 <= result.bitrate_kbps <= kbps * (1 + (info.frame_multiple + 1.5) / (0.6 * info.frame_rate))
        assert len(np.unique(codes.tokens)) > 1, "random codebooks must give varied codes"


def test_codes_survive_npz_and_decode_identically(cache_env):
    codec = get_codec("encodec_48khz")
    clip = Audio(tone(1.2, 48_000, channels=2), 48_000)
    codes = codec.encode(clip, 6.0)
    # 1 s segments with 1% overlap: a full one (150 frames), then the last 0.21 s (32 frames), a scale each
    assert codes.extras["scales"].shape == (2,) and codes.extras["segment_frames"].tolist() == [150, 32]
    assert codes.frames == 182
    again = Codes.from_npz(codes.to_npz())
    np.testing.assert_array_equal(again.tokens, codes.tokens)
    np.testing.assert_array_equal(codec.decode(again).samples, codec.decode(codes).samples)


def test_dac_length_on_a_frame_boundary(cache_env):
    """4 s at 24 kHz is exactly 300 frames: the package's decompress() crashes there; we must not."""
    result = roundtrip(Audio(tone(4.0, 24_000), 24_000), "dac_24khz", 6.0)
    assert result.output.frames == 96_000 and result.codes.frames == 300


def test_encodec_24khz_long_input_is_windowed(cache_env):
    """Past 10 s EnCodec 24k goes through the engine in equal windows with 1 s of context (memory stays
    flat); every frame's token once, no extras; clips up to 10 s are one pass."""
    codec = get_codec("encodec_24khz")
    assert codec.window_units == 750 and (codec.context_units, codec.decode_context_units) == (75, 75)
    windows = stream.plan(900, codec.window_units, codec.context_units)  # 12 s: two windows of 6 s
    assert [(w.start, w.stop, w.lo, w.hi) for w in windows] == [(0, 450, 0, 525), (450, 900, 375, 900)]
    assert len(stream.plan(750, codec.window_units, codec.context_units)) == 1  # 10 s: one pass
    long = codec.encode(Audio(tone(12.0, 24_000), 24_000), 6.0)
    assert long.tokens.shape == (8, 900) and long.extras == {}
    assert codec.decode(long).frames == 12 * 24_000


def test_dac_long_input_is_windowed(cache_env):
    """Past 10 s, DAC runs in two equal windows with context: one token per frame (no overlap cost,
    unlike the package's `compress`), the measured bitrate is the nominal one, the length exact."""
    codec = get_codec("dac_16khz")
    assert len(stream.plan(600, codec.window_units, codec.context_units)) == 2 and codec.context_units == 19
    result = roundtrip(Audio(tone(12.0, 16_000), 16_000), "dac_16khz", 6.0)
    assert result.output.frames == 12 * 16_000 and result.codes.frames == 12 * 50
    assert result.bitrate_kbps == pytest.approx(result.codes.nominal_kbps)


# --- classical codecs, for real ---------------------------------------------------------------

def lag_of(reference: np.ndarray, signal: np.ndarray) -> int:
    return estimate_lag(reference.astype(np.float64), signal.astype(np.float64), max_lag=2_000)


@pytest.mark.parametrize("codec_id", CLASSICAL)
def test_classical_roundtrip_is_aligned_and_measured(codec_id):
    info = codec_info(codec_id)
    speech = load_audio(ROOT / "assets" / "speech_arctic_a0007.wav")
    for kbps in info.bitrates_kbps:
        result = roundtrip(speech, codec_id, kbps)
        x, y = result.input.samples[0], result.output.samples[0]
        assert result.output.sample_rate == info.sample_rate
        assert result.output.samples.shape == result.input.samples.shape  # exact length back
        # Opus below 12 kbps runs SILK narrowband, whose resampler adds ~0.1 ms that Ogg's pre-skip
        # does not signal; everything else comes back sample-aligned.
        assert abs(lag_of(x, y)) <= (6 if codec_id == "opus" and kbps < 12 else 0), f"{codec_id} {kbps}"
        assert result.bitrate_kbps == pytest.approx(result.encoded.payload_bytes * 8 / 4.0 / 1000)
        # measured from the packets: VBR drifts, and AAC caps a mono stream near 140 kbps
        assert 0.8 * min(kbps, 140) <= result.bitrate_kbps <= 1.3 * kbps, f"{codec_id} at {kbps}"
        snr = 10 * np.log10(np.sum(x**2) / np.sum((x - y) ** 2))
        assert snr > (0 if kbps < 20 else 5), f"{codec_id} at {kbps} kbps: SNR {snr:.1f} dB"


def test_classical_keeps_stereo():
    result = roundtrip(Audio(tone(1.0, 44_100, channels=2), 44_100), "mp3", 128)
    assert result.output.channels == 2
    assert roundtrip(Audio(tone(1.0, 44_100, channels=2), 44_100), "g722", 64).output.channels == 1


def test_classical_handles_silence_and_tiny_clips():
    for codec_id in CLASSICAL:
        quiet = roundtrip(Audio(np.zeros((1, 4_800), np.float32), 48_000), codec_id)
        assert np.abs(quiet.output.samples).max() < 1e-3
        tiny = roundtrip(Audio(tone(0.01, 48_000), 48_000), codec_id)
        assert tiny.output.frames == tiny.input.frames


# --- EnCodec through the streaming engine ---

def stereo_clip(seconds: float, rate: int = 48_000, seed: int = 0) -> np.ndarray:
    """Two different channels whose loudness changes along the clip, so every segment has its own scale."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.05 + 0.4 * (1 + np.sin(2 * np.pi * 0.3 * t)) / 2
    left, right = np.sin(2 * np.pi * 440 * t), rng.standard_normal(t.size) * 0.3
    return (envelope * np.stack([left, right])).astype(np.float32)


def fresh(codec_id: str, window_units: int):
    """A new adapter on the shared model, with its own window size (the shared instance stays as it is)."""
    codec = get_codec(codec_id, "cpu")
    other = type(codec)(codec.info, codec.model, "cpu")
    other.window_units = window_units
    return other


@pytest.mark.parametrize(("samples", "segment_frames"), [
    (158_400, [150, 150, 150, 50]),  # 3.3 s
    (3 * 47_520 + 100, [150, 150, 149, 1]),  # the last segment under 160 samples: the one before is 149 frames
])
def test_encodec_48khz_equals_the_package_whole_clip(cache_env, samples, segment_frames):
    """Our codes, scales and audio are the package's own `encode`/`decode` on the whole clip (a 149-frame
    segment padded to 150 in ours); with that segment, windows of one segment change nothing either."""
    import torch

    codec = get_codec("encodec_48khz", "cpu")
    clip = stereo_clip(3.3)[:, :samples]
    with torch.inference_mode():
        codec.model.set_target_bandwidth(6.0)
        frames = codec.model.encode(torch.from_numpy(clip)[None])
        package_audio = codec.model.decode(frames)[0, :, :samples].numpy()
    package_codes = torch.cat([codes for codes, _ in frames], dim=-1)[0].numpy()
    package_scales = torch.cat([scale.reshape(-1) for _, scale in frames]).numpy()
    codes = codec.encode(Audio(clip, 48_000), 6.0)
    assert codes.extras["segment_frames"].tolist() == segment_frames and codes.frames == 150 * 3 + segment_frames[-1]
    real = np.concatenate([np.arange(150 * i, 150 * i + k) for i, k in enumerate(segment_frames)])
    np.testing.assert_array_equal(codes.tokens[:, real], package_codes)
    np.testing.assert_array_equal(codes.extras["scales"], package_scales)
    audio = codec.decode(codes).samples
    assert audio.shape == clip.shape and np.max(np.abs(audio - package_audio)) < 1e-5
    if segment_frames[2] < 150:  # the last window holds one unit; its context must start on a full segment
        figures = stream.exactness(codec, clip, codec.point(6.0), window_units=1)
        assert figures.windows == 4 and figures.equal_codes == 1.0
        assert figures.max_latent_delta < 1e-4 and figures.max_audio_delta < 1e-4


def test_encodec_48khz_chunked_equals_one_pass(cache_env):
    codec = get_codec("encodec_48khz", "cpu")
    samples = stereo_clip(4.0, seed=3)  # 4 segments and 0.04 s: windows of 2, 2 and 1 units
    figures = stream.exactness(codec, samples, codec.point(12.0), window_units=2)
    assert figures.windows == 3 and figures.equal_codes == 1.0
    assert figures.max_latent_delta < 1e-4 and figures.max_audio_delta < 1e-4


def test_encodec_24khz_chunked_figures_and_shapes(cache_env):
    """LSTMs make the seams approximate (exact = False): the figures are measured, not promised."""
    codec = get_codec("encodec_24khz", "cpu")
    assert not codec.exact and get_codec("encodec_48khz", "cpu").exact
    samples = stereo_clip(2.5, 24_000)[:1]  # 188 frames: with 75 of context, later windows start past 0
    for window_units, windows in ((40, 5), (60, 4)):
        figures = stream.exactness(codec, samples, codec.point(6.0), window_units=window_units)
        assert figures.windows == windows and 0.0 <= figures.equal_codes <= 1.0
        assert np.isfinite([figures.max_latent_delta, figures.max_audio_delta]).all()
    chunked = fresh("encodec_24khz", 40)
    codes = chunked.encode(Audio(samples, 24_000), 6.0)
    assert codes.tokens.shape == (8, 188) and codes.extras == {}
    assert chunked.decode(codes).samples.shape == samples.shape


@pytest.mark.parametrize(("codec_id", "lengths"), [
    ("encodec_24khz", [(8_887, 28), (100, 1)]),  # an odd length, less than one 320-sample frame
    ("encodec_48khz", [(52_001, 150 + 15), (100, 1)]),  # a full segment + 4481 samples; less than a frame
])
def test_encodec_lengths(cache_env, codec_id, lengths):
    codec = get_codec(codec_id, "cpu")
    info = codec.info
    for n, frames in lengths:
        samples = stereo_clip(1.2, info.sample_rate)[: info.channels, :n]
        codes = codec.encode(Audio(samples, info.sample_rate), 6.0)
        assert codes.tokens.shape == (info.codebooks_for(6.0), frames) and codes.num_samples == n
        if codec.side_keys:
            assert codes.extras["scales"].shape == codes.extras["segment_frames"].shape == (-(-n // codec.hop),)
        assert codec.decode(codes).samples.shape == (info.channels, n)


@pytest.mark.parametrize(("codec_id", "seconds"), [("encodec_24khz", (0.5, 0.43)), ("encodec_48khz", (1.0, 0.5))])
def test_encodec_batches_equal_one_at_a_time(cache_env, codec_id, seconds):
    """The model takes a batch; its reflect padding means only clips of equal length share one."""
    codec = get_codec(codec_id, "cpu")
    rate, channels = codec.info.sample_rate, codec.info.channels
    clips = [Audio(stereo_clip(seconds[0], rate, seed)[-channels:], rate) for seed in (0, 1)]  # noise differs
    clips.append(Audio(stereo_clip(seconds[1], rate, 2)[-channels:], rate))
    batch = codec.encode_batch(clips, 6.0)
    alone = [codec.encode(clip, 6.0) for clip in clips]
    for ours, single in zip(batch, alone, strict=True):
        np.testing.assert_array_equal(ours.tokens, single.tokens)
        assert ours.extras.keys() == single.extras.keys()
        for key in single.extras:
            np.testing.assert_allclose(ours.extras[key], single.extras[key], rtol=1e-5)
    for ours, single in zip(codec.decode_batch(alone), [codec.decode(codes) for codes in alone], strict=True):
        assert ours.samples.shape == single.samples.shape
        assert np.max(np.abs(ours.samples - single.samples)) < 1e-4

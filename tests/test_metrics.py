"""Known-answer tests for the metrics, and defined answers where a metric does not apply."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from codec_arena.analysis.metrics import align, mel_distance, score, si_sdr, stft_distance
from codec_arena.analysis.tokens import entropy_bits, usage
from codec_arena.audio import Audio, load_audio
from codec_arena.codecs import Codes


@pytest.fixture(scope="module")
def speech() -> Audio:
    return load_audio(ROOT / "assets" / "speech_arctic_a0007.wav")


def with_noise(audio: Audio, snr_db: float, seed: int = 0) -> Audio:
    x = audio.samples
    noise = np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return Audio(x + noise, audio.sample_rate)


def test_identical_signals(speech):
    s = score(speech, speech)
    assert s.values["si_sdr"] > 100
    assert s.values["mel_distance"] == pytest.approx(0, abs=1e-9)
    assert s.values["stft_distance"] == pytest.approx(0, abs=1e-9)
    assert s.values["pesq_wb"] == pytest.approx(4.64, abs=0.01)  # P.862.2's ceiling
    assert s.values["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert s.values["estoi"] == pytest.approx(1.0, abs=1e-6)
    assert s.values["pesq_nb"] > 4.4
    assert s.values["visqol_speech"] == pytest.approx(5.0, abs=0.01)
    assert s.values["speaker_similarity"] == pytest.approx(1.0, abs=1e-4)
    assert list(s.notes) == ["visqol_audio"]  # 16 kHz speech is not full-band


@pytest.mark.parametrize("snr", [0, 10, 20, 30])
def test_si_sdr_equals_the_snr_of_added_noise(speech, snr):
    noisy = with_noise(speech, snr)
    assert si_sdr(speech.samples[0].astype(np.float64), noisy.samples[0].astype(np.float64)) == \
        pytest.approx(snr, abs=0.05)


def test_si_sdr_ignores_scale(speech):
    x = speech.samples[0].astype(np.float64)
    assert si_sdr(x, 0.3 * x) > 100


def test_metrics_order_with_noise(speech):
    scores = [score(speech, with_noise(speech, snr)).values for snr in (5, 15, 30)]
    for key in ("si_sdr", "pesq_wb", "pesq_nb", "stoi", "estoi"):
        assert scores[0][key] < scores[1][key] < scores[2][key], key
    for key in ("mel_distance", "stft_distance"):
        assert scores[0][key] > scores[1][key] > scores[2][key], key


def test_equal_to_pesq_and_pystoi_called_directly(speech):
    from pesq import pesq
    from pystoi import stoi

    noisy = with_noise(speech, 10)
    s = score(speech, noisy).values
    ref, est = speech.samples[0], noisy.samples[0]
    assert s["pesq_wb"] == pytest.approx(pesq(16_000, ref, est, "wb"), abs=1e-4)
    assert s["stoi"] == pytest.approx(stoi(ref, est, 16_000), abs=1e-4)
    assert s["estoi"] == pytest.approx(stoi(ref, est, 16_000, extended=True), abs=1e-4)


def test_delay_is_compensated(speech):
    shifted = Audio(np.concatenate([np.zeros((1, 160), np.float32), speech.samples[:, :-160]], axis=1), 16_000)
    ref, est, lag = align(speech, shifted)
    assert lag == 160
    assert score(speech, shifted).values["si_sdr"] > 30  # the last 10 ms are lost, nothing else


def test_longer_and_shorter_reconstructions_are_trimmed_or_padded(speech):
    longer = Audio(np.pad(speech.samples, ((0, 0), (0, 500))), 16_000)
    assert score(speech, longer).values["si_sdr"] > 100
    shorter = Audio(speech.samples[:, :-500], 16_000)
    assert score(speech, shorter).values["si_sdr"] > 10


def test_silence_gets_reasons_not_nan():
    silence = Audio(np.zeros((1, 16_000), np.float32), 16_000)
    s = score(silence, silence)
    for key in ("si_sdr", "pesq_wb", "stoi", "mel_distance", "stft_distance"):  # nothing to compare against
        assert s.values[key] is None and "silent" in s.notes[key]


def test_short_clip_gets_reasons(speech):
    tiny = Audio(speech.samples[:, 8000:10000], 16_000)  # 0.125 s
    s = score(tiny, tiny)
    assert s.values["pesq_wb"] is None and "0.25 s" in s.notes["pesq_wb"]
    assert s.values["stoi"] is None and "0.4 s" in s.notes["stoi"]
    assert s.values["si_sdr"] > 100


def test_pesq_wb_needs_16k():
    rate = 8_000
    t = np.arange(rate) / rate
    clip = Audio((0.3 * np.sin(2 * np.pi * 300 * t))[None].astype(np.float32), rate)
    s = score(clip, clip)
    assert s.values["pesq_wb"] is None and "below PESQ-WB" in s.notes["pesq_wb"]


def test_clipped_and_loud_input_stays_finite(speech):
    clipped = Audio(np.clip(speech.samples * 20, -1, 1), 16_000)
    s = score(speech, clipped)
    assert all(v is None or np.isfinite(v) for v in s.values.values())


def test_mel_and_stft_distances_grow_with_the_damage(speech):
    x = speech.samples[0].astype(np.float64)
    noise = np.random.default_rng(2).standard_normal(x.size)
    for distance in (lambda a, b: mel_distance(a, b, 16_000), stft_distance):
        assert distance(x, x) == pytest.approx(0, abs=1e-9)
        slight, heavy = distance(x, x + 0.001 * noise), distance(x, x + 0.05 * noise)
        assert 0 < slight < heavy


# --- codebook usage -----------------------------------------------------------------------------

def test_entropy_known_answers():
    assert entropy_bits(np.array([5, 5, 5, 5])) == pytest.approx(2.0)
    assert entropy_bits(np.array([10, 0, 0, 0])) == 0.0
    assert entropy_bits(np.zeros(4)) == 0.0


def test_usage_of_uniform_and_constant_codebooks():
    rng = np.random.default_rng(0)
    tokens = np.stack([np.tile(np.arange(16), 64), np.zeros(1024, int), rng.integers(0, 4, 1024)])
    codes = Codes(tokens=tokens, frame_rate=50.0, codebook_size=16, sample_rate=16_000, num_samples=16_000 * 1024 // 50)
    report = usage(codes)
    uniform, constant, four = report.codebooks
    assert uniform.utilisation == 1.0 and uniform.entropy_bits == pytest.approx(4.0)
    assert uniform.perplexity == pytest.approx(16.0)
    assert constant.used == 1 and constant.entropy_bits == 0 and constant.perplexity == 1
    assert four.used == 4 and four.entropy_bits == pytest.approx(2.0, abs=0.01)
    assert report.tokens_per_second == pytest.approx(150.0)


def test_single_codebook_usage():
    codes = Codes(tokens=np.arange(100)[None] % 7, frame_rate=25.0, codebook_size=8, sample_rate=8_000,
                  num_samples=32_000)
    report = usage(codes)
    assert len(report.codebooks) == 1 and report.codebooks[0].used == 7


# --- ViSQOL and speaker similarity (models shipped inside their PyPI packages) ---------------------

def test_visqol_known_answers(speech):
    from codec_arena.analysis.metrics import visqol_score

    x = speech.samples[0].astype(np.float64)
    assert visqol_score(x, x, 16_000, "speech") == pytest.approx(5.0, abs=0.01)
    noisy = [visqol_score(x, with_noise(speech, snr).samples[0].astype(np.float64), 16_000, "speech")
             for snr in (5, 25)]
    assert 1.0 <= noisy[0] < noisy[1] < 5.0


def test_visqol_audio_mode_needs_full_band(speech):
    s = score(speech, speech)
    assert s.values["visqol_audio"] is None and "full-band" in s.notes["visqol_audio"]
    wide = Audio(speech.to(48_000, 1).samples, 48_000)
    assert score(wide, with_noise(wide, 10)).values["visqol_audio"] < score(wide, wide).values["visqol_audio"]


def test_speaker_similarity(speech):
    from codec_arena.analysis.metrics import speaker_similarity

    x = speech.samples[0].astype(np.float64)
    assert speaker_similarity(x, x, 16_000) == pytest.approx(1.0, abs=1e-4)
    noise = np.random.default_rng(1).standard_normal(x.size) * 0.1
    assert speaker_similarity(x, x + 0.3 * noise, 16_000) < 0.99


def test_pesq_on_long_speech_is_segmented_not_a_crash(speech):
    """75 utterances in 5 minutes overrun the PESQ C code's table (a segfault); we score 20 s segments."""
    from codec_arena.analysis.metrics import pesq_score

    x = np.tile(speech.samples[0], 75).astype(np.float64)
    noisy = x + 0.01 * np.random.default_rng(0).standard_normal(x.size)
    value = pesq_score(x, noisy, 16_000, "wb")
    assert 1.0 < value < 4.64
    short = pesq_score(x[: 20 * 16_000], noisy[: 20 * 16_000], 16_000, "wb")
    assert value == pytest.approx(short, abs=0.1)  # the same speech and noise: the same score


def test_very_short_clips_and_negative_lags(speech):
    short = Audio(speech.samples[:, 8000:8100], 16_000)  # 6 ms: shorter than the ±50 ms lag search
    s = score(short, short)
    assert s.values["si_sdr"] > 100 and s.lag_samples == 0
    early = Audio(speech.samples[:, 80:], 16_000)  # the reconstruction leads by 5 ms
    _, _, lag = align(speech, early)
    assert lag == -80
    assert score(speech, early).values["si_sdr"] > 30

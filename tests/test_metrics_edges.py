"""Edge inputs the metrics must read correctly: near-silence that is not exact zeros, and clips
shorter than the lag search."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, tone

from codec_arena.analysis.metrics import QUALITY_KEYS, SILENCE_DBFS, align, estimate_lag, level_dbfs, score
from codec_arena.audio import Audio, load_audio

RATE = 16_000


def antiphase_stereo(seconds: float = 3.0) -> Audio:
    """Left and right in antiphase, apart by a 16-bit-sized residue: the mono mix is about -96 dBFS."""
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * RATE)) / RATE
    left = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    left += 0.05 * rng.standard_normal(t.size)
    right = -(left + rng.standard_normal(t.size) / 32_768)
    return Audio(np.stack([left, right]).astype(np.float32), RATE)


def random_noise(frames: int) -> Audio:
    """What a random-weight decoder returns: noise unrelated to its input."""
    return Audio(0.1 * np.random.default_rng(4).standard_normal((1, frames)).astype(np.float32), RATE)


# --- A. near-silent originals -----------------------------------------------------------------------

def test_antiphase_stereo_downmix_is_near_silent_not_scored():
    """The downmix is float residue: ViSQOL gave it 5, SI-SDR +17 dB, the STFT distance 4539."""
    original = antiphase_stereo().to(RATE, 1)  # what a mono codec is given, as the app downmixes
    level = level_dbfs(original.samples[0])
    assert -100 < level < -90
    s = score(original, random_noise(original.frames))
    for key in QUALITY_KEYS:
        assert s.values[key] is None, f"{key} = {s.values[key]}"
        assert "near-silent" in s.notes[key] and f"{level:.1f} dBFS" in s.notes[key], s.notes[key]
        assert f"{SILENCE_DBFS:.0f} dBFS floor" in s.notes[key]
    assert s.lag_samples == 0  # no lag is searched for in float residue


def test_exact_silence_says_silent():
    silence = Audio(np.zeros((1, RATE), np.float32), RATE)
    s = score(silence, random_noise(RATE))
    assert all(s.values[key] is None and "silent" in s.notes[key] for key in QUALITY_KEYS)


def test_no_lag_is_searched_in_near_silence():
    residue = np.random.default_rng(5).standard_normal(RATE) / 65_536
    clip = tone(1.0)[0].astype(np.float64)
    assert estimate_lag(residue, np.roll(residue, 300), 800) == 0
    assert estimate_lag(clip, np.roll(residue, 300), 800) == 0


def test_quiet_real_speech_is_still_scored():
    """Speech at -45 dBFS RMS is quiet, not silent: it is scored like the same speech at full level."""
    speech = load_audio(ROOT / "assets" / "speech_arctic_a0007.wav")
    x = speech.samples
    quiet = Audio((x * 10 ** (-45 / 20) / np.sqrt(np.mean(x**2))).astype(np.float32), RATE)
    assert level_dbfs(quiet.samples[0]) > SILENCE_DBFS
    noise = np.random.default_rng(6).standard_normal(x.shape).astype(np.float32) * 10 ** (-65 / 20)
    s = score(quiet, Audio(quiet.samples + noise, RATE))
    for key in QUALITY_KEYS:
        if key != "visqol_audio":  # 16 kHz speech is not full-band
            assert s.values[key] is not None, f"{key}: {s.notes.get(key)}"
    assert 19 < s.values["si_sdr"] < 21


def test_a_short_sound_in_a_long_silence_is_judged_by_the_sound():
    """One second of -45 dBFS tone in 20 s of digital silence: the overall RMS is -58 dBFS, the
    active level -48 dBFS, both above the floor; and it is the tone's level that is reported."""
    clip = np.zeros(20 * RATE)
    clip[RATE: 2 * RATE] = tone(1.0)[0] * 10 ** (-45 / 20) / 0.3 * np.sqrt(2)
    assert level_dbfs(clip) == pytest.approx(-45 - 10 * np.log10(2), abs=0.5)


# --- B. clips shorter than the lag search ----------------------------------------------------------

def short_clip() -> Audio:
    return Audio(tone(0.05, RATE, freq=700), RATE)  # 50 ms, 800 samples


def test_fifty_ms_clip_is_aligned_sanely():
    clip = short_clip()
    assert align(clip, clip)[2] == 0
    delayed = Audio(np.pad(clip.samples, ((0, 0), (2, 0)))[:, : clip.frames], RATE)
    assert align(clip, delayed)[2] == 2


@pytest.mark.parametrize("seed", range(8))
def test_lag_search_is_bounded_by_the_clip(seed):
    """Unrelated output (random weights) must not be read as a delay of most of the clip: the search
    goes to a quarter of the clip at most (200 samples of 800), not the full +-50 ms."""
    clip = short_clip()
    unrelated = Audio(0.3 * np.random.default_rng(seed).standard_normal((1, 960)).astype(np.float32), RATE)
    lag = align(clip, unrelated)[2]
    assert abs(lag) <= clip.frames // 4, f"lag {lag} of an {clip.frames}-sample clip"

"""Spectrogram figures: right frequencies, one colour scale, flat cost on long clips."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tone

from codec_arena.analysis.plots import MAX_COLUMNS, log_power_spectrogram, spectrogram_figure
from codec_arena.audio import Audio


def test_tone_peaks_at_its_frequency():
    times, freqs, db = log_power_spectrogram(Audio(tone(1.0, 16_000, freq=1000), 16_000))
    assert freqs[np.argmax(db.mean(axis=1))] == pytest.approx(1000, abs=16_000 / 512)
    assert times[-1] == pytest.approx(1.0, abs=0.05)


def test_five_minutes_is_pooled_to_a_bounded_image():
    five_minutes = Audio(np.random.default_rng(0).standard_normal((1, 300 * 16_000)).astype(np.float32), 16_000)
    times, _, db = log_power_spectrogram(five_minutes)
    assert db.shape[1] <= MAX_COLUMNS and times[-1] == pytest.approx(300, rel=0.01)


def test_panels_share_one_colour_scale_and_frequency_axis():
    loud = Audio(tone(0.5, 16_000), 16_000)
    quiet = Audio(tone(0.5, 48_000) * 0.01, 48_000)
    fig = spectrogram_figure([("loud", loud), ("quiet", quiet)])
    from matplotlib.collections import QuadMesh

    meshes = [c for ax in fig.axes[:2] for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 2
    assert meshes[0].get_clim() == meshes[1].get_clim()
    assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim() == (20.0, 24_000.0)


def test_silence_and_tiny_clips_plot():
    fig = spectrogram_figure([("silence", Audio(np.zeros((1, 100), np.float32), 8_000))])
    assert fig.axes


def test_code_histogram_sends_used_codes_only_and_sizes_bars_to_the_codebook():
    """A 65,536-entry FSQ codebook: the figure carries the used codes, with bars wide enough to see."""
    from codec_arena.analysis.plots import codebook_usage_figure
    from codec_arena.analysis.tokens import usage
    from codec_arena.codecs import Codes

    tokens = np.array([[5, 5, 40_000, 65_535, 5]])
    report = usage(Codes(tokens=tokens, frame_rate=50.0, codebook_size=65_536, sample_rate=16_000, num_samples=1_600))
    bar = codebook_usage_figure(report).data[0]
    assert list(bar.x) == [5, 40_000, 65_535] and list(bar.y) == [3, 1, 1]
    assert bar.width > 100

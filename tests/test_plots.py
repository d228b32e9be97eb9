"""Spectrogram figures: right frequencies, one colour scale, flat cost on long clips."""

from __future__ import annotations

import io
import warnings

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


def panel_xlims(fig) -> set[tuple[float, float]]:
    return {ax.get_xlim() for ax in fig.axes if ax.get_label() != "<colorbar>"}


@pytest.mark.parametrize("recon_rate, extra", [(16_000, 0), (48_000, 96)])
def test_fifty_ms_panels_share_one_time_axis(recon_rate, extra):
    """A 50 ms clip at 16 kHz and its reconstruction (same rate, or 48 kHz and 2 ms longer): every
    panel, difference panels too, spans the same seconds; it was 0.025 s against 0.010 s."""
    from codec_arena.analysis.plots import spectrogram_grid

    original = Audio(tone(0.05, 16_000, freq=700), 16_000)
    recon = Audio(np.pad(tone(0.05, recon_rate, freq=700), ((0, 0), (0, extra))), recon_rate)
    longest = max(original.duration, recon.duration)
    for fig in (spectrogram_figure([("original", original), ("reconstruction", recon)]),
                spectrogram_grid(original, [("reconstruction", recon)])):
        limits = panel_xlims(fig)
        assert len(limits) == 1, limits
        assert limits.pop() == pytest.approx((0.0, longest))
        with warnings.catch_warnings():  # the layout still fits (a caption placed in data units broke it)
            warnings.simplefilter("error")
            fig.savefig(io.BytesIO(), format="png", dpi=40)


def test_long_reconstruction_at_another_rate_shares_the_time_axis():
    from codec_arena.analysis.plots import spectrogram_grid

    original = Audio(tone(2.0, 16_000), 16_000)
    recon = Audio(tone(2.1, 24_000), 24_000)
    fig = spectrogram_grid(original, [("a", recon), ("b", original)])
    limits = panel_xlims(fig)
    assert len(limits) == 1 and limits.pop() == pytest.approx((0.0, 2.1)), limits


def test_spectrogram_columns_cover_the_clip_at_its_true_times():
    """Centred frames: a 50 ms clip's columns span 0..0.05 s whatever the rate (one 2048-sample frame
    at 48 kHz was drawn as 0.011 s)."""
    for rate in (16_000, 48_000):
        times, _, db = log_power_spectrogram(Audio(tone(0.05, rate), rate))
        assert times[0] == 0.0 and times[-1] == pytest.approx(0.05)
        assert np.all(np.diff(times) > 0) and db.shape[1] == times.size - 1

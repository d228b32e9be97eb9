"""Figures. Matplotlib's object API (no pyplot) so figures are safe to build in server threads."""

from __future__ import annotations

import numpy as np

from ..audio import Audio

DYNAMIC_RANGE_DB = 80.0
MAX_COLUMNS = 1200  # time columns drawn; longer clips are max-pooled so a 5 min file plots fast


def log_power_spectrogram(audio: Audio, window_s: float = 0.032) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, freqs, dB) of the mono mix; Hann window, 75% overlap, max-pooled in time."""
    mono = audio.samples.mean(axis=0)
    n_fft = int(2 ** round(np.log2(audio.sample_rate * window_s)))
    hop = n_fft // 4
    if mono.size < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.size))
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop]
    pool = max(1, int(np.ceil(frames.shape[0] / MAX_COLUMNS)))
    window = np.hanning(n_fft).astype(np.float32)
    block = pool * 256  # frames per FFT batch: memory stays flat on long files
    columns = []
    for start in range(0, frames.shape[0], block):
        power = np.abs(np.fft.rfft(frames[start:start + block] * window, axis=1)).astype(np.float32) ** 2
        pad = (-power.shape[0]) % pool
        columns.append(np.pad(power, ((0, pad), (0, 0))).reshape(-1, pool, power.shape[1]).max(axis=1))
    power = np.concatenate(columns)
    hop *= pool
    db = 10 * np.log10(power.T + 1e-12)
    times = np.arange(db.shape[1] + 1) * hop / audio.sample_rate
    freqs = np.fft.rfftfreq(n_fft, 1 / audio.sample_rate)
    return times, freqs, db


def spectrogram_figure(panels: list[tuple[str, Audio]]):
    """Log-frequency spectrograms stacked vertically on one colour scale, so levels compare."""
    from matplotlib.figure import Figure

    spectra = [(title, *log_power_spectrogram(audio)) for title, audio in panels]
    top = max(float(db.max()) for *_, db in spectra)
    nyquist = max(float(freqs[-1]) for _, _, freqs, _ in spectra)  # one frequency axis for all panels
    fig = Figure(figsize=(9, 2.3 * len(spectra) + 0.4), layout="constrained")
    axes = fig.subplots(len(spectra), 1, squeeze=False)[:, 0]
    mesh = None
    for ax, (title, times, freqs, db) in zip(axes, spectra, strict=True):
        edges = np.concatenate([[20.0], np.sqrt(freqs[1:-1] * freqs[2:]), [freqs[-1]]])  # bin 1 is >= 31 Hz
        mesh = ax.pcolormesh(times, edges, db[1:], shading="flat", cmap="magma",
                             vmin=top - DYNAMIC_RANGE_DB, vmax=top, rasterized=True)
        ax.set_yscale("log")
        ax.set_ylim(20.0, nyquist)
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_ylabel("Hz")
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(mesh, ax=list(axes), label="dB (shared scale)", shrink=0.9)
    return fig

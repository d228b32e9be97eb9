"""Figures. Matplotlib's object API (no pyplot) so figures are safe to build in server threads."""

from __future__ import annotations

import numpy as np

from ..audio import Audio

DYNAMIC_RANGE_DB = 80.0
MAX_COLUMNS = 1200  # time columns drawn; longer clips are max-pooled so a 5 min file plots fast


def log_power_spectrogram(audio: Audio, window_s: float = 0.032) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, freqs, dB) of the mono mix; Hann window, 75% overlap, max-pooled in time. Frames are
    centred (zero padding of half a window each side), so column k is the sound around k·hop and the
    column edges in `times` run from 0 to the clip's duration at any rate: a 50 ms clip spans 0.05 s,
    not the 0.011 s of the one uncentred 2048-sample frame it had at 48 kHz."""
    n_fft = int(2 ** round(np.log2(audio.sample_rate * window_s)))
    hop = n_fft // 4
    mono = np.pad(audio.samples.mean(axis=0), n_fft // 2)
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
    db = 10 * np.log10(power.T + 1e-12)
    times = np.clip((np.arange(db.shape[1] + 1) * pool - 0.5) * hop / audio.sample_rate, 0.0, audio.duration)
    times[-1] = audio.duration  # the last frame also holds the samples past its centre's half-hop
    freqs = np.fft.rfftfreq(n_fft, 1 / audio.sample_rate)
    return times, freqs, db


def draw_spectrogram(ax, times: np.ndarray, freqs: np.ndarray, values: np.ndarray, top_hz: float, **style):
    """One log-frequency panel: bins as bands between geometric-mean edges, from 20 Hz up."""
    edges = np.concatenate([[20.0], np.sqrt(freqs[1:-1] * freqs[2:]), [freqs[-1]]])  # bin 1 is >= 31 Hz
    mesh = ax.pcolormesh(times, edges, values[1:], shading="flat", rasterized=True, **style)
    ax.set(yscale="log", ylim=(20.0, top_hz))
    return mesh


def share_time_axis(axes, panels: list[tuple[str, Audio]]) -> None:
    """One x range, 0 to the longest panel's duration, on every panel: a reconstruction at another rate
    or a little longer lines up with its original instead of each panel stretching to its own length."""
    end = max(audio.duration for _, audio in panels)
    for ax in axes:
        ax.set_xlim(0.0, end)


def spectrogram_figure(panels: list[tuple[str, Audio]]):
    """Log-frequency spectrograms stacked vertically on one colour scale and one time axis, so levels
    and times compare."""
    from matplotlib.figure import Figure

    spectra = [(title, *log_power_spectrogram(audio)) for title, audio in panels]
    top = max(float(db.max()) for *_, db in spectra)
    nyquist = max(float(freqs[-1]) for _, _, freqs, _ in spectra)  # one frequency axis for all panels
    fig = Figure(figsize=(9, 2.3 * len(spectra) + 0.4), layout="constrained")
    axes = fig.subplots(len(spectra), 1, squeeze=False, sharex=True)[:, 0]
    mesh = None
    for ax, (title, times, freqs, db) in zip(axes, spectra, strict=True):
        mesh = draw_spectrogram(ax, times, freqs, db, nyquist, cmap="magma", vmin=top - DYNAMIC_RANGE_DB, vmax=top)
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_ylabel("Hz")
    share_time_axis(axes, panels)
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(mesh, ax=list(axes), label="dB (shared scale)", shrink=0.9)
    return fig


def spectrogram_grid(original: Audio, reconstructions: list[tuple[str, Audio]]):
    """Original, each reconstruction and its difference (reconstruction dB − original dB): the
    spectrograms share one colour scale, the differences their own symmetric one (red = added,
    blue = lost), and every panel one time axis."""
    from matplotlib.figure import Figure

    from ..audio import resample

    panels = [("original", original)] + reconstructions
    spectra = [(title, *log_power_spectrogram(audio)) for title, audio in panels]
    top = max(float(db.max()) for *_, db in spectra)
    nyquist = max(float(freqs[-1]) for _, _, freqs, _ in spectra)
    rows = len(reconstructions) + 1
    fig = Figure(figsize=(12, 2.2 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, 2, squeeze=False, sharex=True)
    spec_mesh = diff_mesh = None
    for row, (title, times, freqs, db) in enumerate(spectra):
        ax = axes[row, 0]
        spec_mesh = draw_spectrogram(ax, times, freqs, db, nyquist, cmap="magma", vmin=top - DYNAMIC_RANGE_DB,
                                     vmax=top)
        ax.set_ylabel("Hz")
        ax.set_title(title, fontsize=10, loc="left")
        diff_ax = axes[row, 1]
        if row == 0:
            diff_ax.axis("off")
            diff_ax.text(0.5, 0.5, "difference: reconstruction − original (dB)\nred = energy added, blue = lost",
                         ha="center", va="center", fontsize=10, transform=diff_ax.transAxes)  # x is time
            continue
        audio = panels[row][1]
        at_original_rate = Audio(resample(audio.samples, audio.sample_rate, original.sample_rate)
                                 if audio.sample_rate != original.sample_rate else audio.samples,
                                 original.sample_rate)
        _, _, reference_db = spectra[0][1:]
        times_r, freqs_r, recon_db = log_power_spectrogram(at_original_rate)
        width = min(recon_db.shape[1], reference_db.shape[1])
        diff = np.clip(recon_db[:, :width] - reference_db[:, :width], -30, 30)
        diff_mesh = draw_spectrogram(diff_ax, times_r[: width + 1], freqs_r, diff, original.sample_rate / 2,
                                     cmap="RdBu_r", vmin=-30, vmax=30)
        diff_ax.set_title(f"{title} − original", fontsize=10, loc="left")
    share_time_axis(axes.ravel(), panels)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    fig.colorbar(spec_mesh, ax=list(axes[:, 0]), label="dB (shared)", shrink=0.8)
    if diff_mesh is not None:
        fig.colorbar(diff_mesh, ax=list(axes[1:, 1]), label="Δ dB", shrink=0.8)
    return fig


def codebook_usage_figure(report, title: str = ""):
    """Per-codebook code histograms (plotly): hover shows code id and count. Only used codes are sent,
    drawn wide enough to see: a 65,536-entry FSQ codebook would otherwise be invisible one-pixel bars."""
    import plotly.graph_objects as go

    fig = go.Figure()
    width = max(1.0, report.codebook_size / 400)
    for book in report.codebooks:
        used = np.flatnonzero(book.counts)
        fig.add_trace(go.Bar(
            x=used, y=book.counts[used], width=width, name=f"codebook {book.index + 1}",
            visible=True if book.index == 0 else "legendonly",
            hovertemplate="code %{x}<br>count %{y}<extra>" + f"codebook {book.index + 1}</extra>"))
    fig.update_layout(title=title or "Code usage per codebook (click the legend to show others)",
                      xaxis_title="code id", yaxis_title="count", barmode="overlay", height=360,
                      xaxis_range=[-width, report.codebook_size - 1 + width],
                      margin=dict(l=50, r=20, t=50, b=40))
    return fig


def utilisation_figure(report):
    """Utilisation, entropy and perplexity per codebook (plotly)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    books = [b.index + 1 for b in report.codebooks]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("utilisation (codes used / size)", "entropy (bits)"))
    fig.add_trace(go.Bar(x=books, y=[b.utilisation for b in report.codebooks], name="utilisation",
                         hovertemplate="codebook %{x}: %{y:.1%}<extra></extra>"), 1, 1)
    fig.add_trace(go.Bar(x=books, y=[b.entropy_bits for b in report.codebooks], name="entropy",
                         customdata=[b.perplexity for b in report.codebooks],
                         hovertemplate="codebook %{x}: %{y:.2f} bits, perplexity %{customdata:.0f}<extra></extra>"),
                  1, 2)
    bits = np.log2(report.codebook_size)
    fig.add_hline(y=bits, line_dash="dot", annotation_text=f"max {bits:g} bits", row=1, col=2)
    fig.update_layout(height=320, showlegend=False, margin=dict(l=50, r=20, t=50, b=40))
    fig.update_xaxes(title_text="codebook")
    return fig


def token_heatmap(tokens: np.ndarray, frame_rate: float, title: str = "Tokens (codebooks × frames)"):
    """Codebooks × frames heatmap of code ids (plotly)."""
    import plotly.graph_objects as go

    tokens = np.asarray(tokens).reshape(-1, tokens.shape[-1])
    times = np.arange(tokens.shape[1]) / frame_rate
    fig = go.Figure(go.Heatmap(z=tokens, x=times, y=np.arange(1, tokens.shape[0] + 1), colorscale="Viridis",
                               colorbar=dict(title="code"),
                               hovertemplate="t %{x:.2f} s<br>codebook %{y}<br>code %{z}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="codebook", height=320,
                      margin=dict(l=50, r=20, t=50, b=40))
    return fig


def rate_distortion_figure(rows: list[dict], metric: str, label: str):
    """Bitrate on x, a metric on y, a line per codec, a point per operating point (plotly)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for codec in dict.fromkeys(row["codec"] for row in rows):
        points = sorted((r["bitrate_kbps"], r.get(metric)) for r in rows if r["codec"] == codec)
        points = [(x, y) for x, y in points if y is not None]
        if points:
            fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                                     name=codec, hovertemplate="%{x:.3g} kbps: %{y:.3f}<extra>" + codec + "</extra>"))
    fig.update_layout(title=f"Rate–distortion: {label}", xaxis_title="bitrate (kbps, log)", yaxis_title=label,
                      xaxis_type="log", height=420, margin=dict(l=50, r=20, t=50, b=40))
    return fig

"""Codec-SUPERB's per-clip metrics, reproduced number for number, beside the app's own metrics.

Why both: the app's metrics (`analysis.metrics`) are defined for honest comparison inside the app
(delay compensation, silence guards, pystoi, PESQ at the codec's rate). The published Codec-SUPERB
leaderboard (github.com/voidful/Codec-SUPERB, `SoundCodec/metrics.py: get_metrics`, applied by
`scripts/benchmarking.py`) defines its columns differently, so a number from the app cannot be set
beside a number from the leaderboard. These can: `superb_metrics` returns what `get_metrics` returns
for the same pair, to 1e-6 (checked against the official code by
`benchmarks/parity/codec_superb_metrics.py`; the test compares with the official values stored in
`tests/data/codec_superb_reference.json`). The code is ours; only the definitions are theirs.

The definitions, quirks included (reproduced on purpose, not fixed):

* Both signals are first zero-padded at the end to the longer length (`pad_arrays_to_match`); there
  is no delay compensation. Audio is float32 (audiotools turns float64 into float32).
* `mel` and `stft` are DAC's multi-scale losses with default arguments (we call the installed
  `dac.nn.loss` classes: their code is the official one, line for line); `waveform` is the mean
  absolute sample difference.
* `pesq` and `pesq-wb` are the same number: wide-band PESQ after resampling both signals to 16 kHz
  with audiotools' `AudioSignal.resample` (julius); 1.0 when PESQ raises (e.g. no utterance found).
* That resampling happens in place, before `stoi` and `f0corr` run: at any rate other than 16 kHz,
  these two see the 16 kHz signals, whatever metrics were asked for.
* `stoi` is Codec-SUPERB's own STOI port, not pystoi (vectorised here): resample_poly to 10 kHz,
  silent-frame removal whose frame energies are read one sample early (frame 0 starts at sample -1,
  i.e. wraps to the last sample) while the frames kept are read from the right place, 15 third-octave
  bands, 30-frame segments, clipping at -15 dB SDR. Clipped to [0, 1]; 0.0 when it fails or is NaN,
  or when fewer than 30 frames are left.
* `f0corr` reads the (16 kHz) audio as if it were 22.05 kHz with a 256-sample hop: Praat's
  autocorrelation pitch (`to_pitch_ac`, 50-1100 Hz, voicing threshold 0.6), voiced frames only, in
  cents minus their median, aligned by librosa's DTW, then torchmetrics' float32 Pearson correlation
  (which calls a sequence whose variance is under sqrt(float32 eps) of its squared largest deviation
  constant: NaN, then 0.0). 0.0 when either side has no voiced frame or when pitch extraction fails.
* A metric that raises is NaN: `mel` and `stft` on clips of 1024 samples or fewer (the reflection
  padding of the 2048-point STFT fails).

One deliberate difference: an empty pair, or one holding NaN or inf, gives NaN for every metric; the
official code then reports the fallbacks PESQ 1.0, STOI 0.0 and f0corr 0.0, which would read as scores.

Heavy libraries (torch, audiotools, dac, pesq, parselmouth, librosa) are imported when first used.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

NAMES: tuple[str, ...] = ("mel", "stft", "waveform", "pesq", "pesq-wb", "stoi", "f0corr")
HIGHER_IS_BETTER: dict[str, bool] = {
    "mel": False, "stft": False, "waveform": False, "pesq": True, "pesq-wb": True, "stoi": True, "f0corr": True,
}
DESCRIPTIONS: dict[str, str] = {
    "mel": "DAC mel loss, defaults: for (window 2048, 150 mels) and (512, 80), hop window/4, "
           "L1 of log10(clamp(mel, 1e-5)^2) plus L1 of mel, summed; lower is better.",
    "stft": "DAC multi-scale STFT loss, defaults: for windows 2048 and 512, hop window/4, "
            "L1 of log10(clamp(|STFT|, 1e-5)^2) plus L1 of |STFT|, summed; lower is better.",
    "waveform": "Mean absolute difference of the zero-padded waveforms at the clip's rate; lower is better.",
    "pesq": "Wide-band PESQ (P.862.2) after julius resampling to 16 kHz (Codec-SUPERB's 'pesq' is wide-band "
            "too); 1.0 when PESQ fails; higher is better.",
    "pesq-wb": "Wide-band PESQ (P.862.2) after julius resampling to 16 kHz, the same number as 'pesq'; "
               "1.0 when PESQ fails; higher is better.",
    "stoi": "Codec-SUPERB's own STOI port (not pystoi) on the 16 kHz-resampled pair, clipped to [0, 1], "
            "0.0 when it fails; higher is better.",
    "f0corr": "Pearson correlation of DTW-aligned voiced pitch in cents minus median (Praat AC pitch, 50-1100 Hz, "
              "16 kHz audio read as 22.05 kHz, hop 256); 0.0 when unvoiced; higher is better.",
}
VERSION: int = 1

PESQ_RATE = 16000  # PESQ's rate; `stoi` and `f0corr` see this rate too (resampled in place first)
F0_RATE = 22050  # the rate f0corr assumes, whatever the audio's rate
F0_HOP = 256
F0_MIN, F0_MAX = 50, 1100
F0_VOICING = 0.6

# STOI (Taal et al. 2011) as Codec-SUPERB's port sets it up
STOI_RATE = 10000
STOI_FRAME = 256
STOI_HOP = STOI_FRAME // 2  # the silent-frame overlap-add below relies on 50 % overlap
STOI_NFFT = 512
STOI_BANDS = 15
STOI_LOW_BAND = 150.0  # centre of the first third-octave band, Hz
STOI_SEGMENT = 30  # frames per intermediate intelligibility segment
STOI_CLIP = 10 ** (15 / 20)  # from the lower SDR bound, -15 dB
STOI_DYN_RANGE = 40.0  # dB below the loudest frame that count as silent
STOI_EPS = 1e-10
STOI_CHUNK = 1024  # segments evaluated at once (bounds memory on long clips)


def superb_metrics(reference: np.ndarray, estimate: np.ndarray, sample_rate: int,
                   names: Sequence[str] = NAMES) -> dict[str, float]:
    """reference/estimate: mono float arrays at the same rate (any lengths: padded like Codec-SUPERB).

    Returns {name: value} for `names`, in that order; a metric that fails is NaN, as in `get_metrics`.
    """
    wanted = list(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in NAMES]
    if unknown:
        raise ValueError(f"unknown Codec-SUPERB metric(s) {unknown}; known: {list(NAMES)}")
    ref, est = _pad_to_match(_mono(reference), _mono(estimate))
    if ref.size == 0 or not (np.isfinite(ref).all() and np.isfinite(est).all()):
        return dict.fromkeys(wanted, math.nan)

    import torch
    from audiotools import AudioSignal

    values: dict[str, float] = {}
    with torch.no_grad():
        x, y = AudioSignal(ref, sample_rate), AudioSignal(est, sample_rate)
        losses = _losses()
        for name in ("mel", "stft", "waveform"):
            if name in wanted:
                values[name] = _or_nan(lambda name=name: float(losses[name](x, y).item()))
        if any(name in wanted for name in ("pesq", "pesq-wb", "stoi", "f0corr")):
            _resample_in_place(x, y)  # what the official PESQ does first, to everything after it
        if "pesq" in wanted or "pesq-wb" in wanted:
            score = _or_nan(lambda: _pesq(x, y))
            values.update({name: score for name in ("pesq", "pesq-wb") if name in wanted})
        if "stoi" in wanted:
            values["stoi"] = _or_nan(lambda: _stoi_score(x, y))
        if "f0corr" in wanted:
            values["f0corr"] = _or_nan(lambda: _f0corr(x, y))
    return {name: values[name] for name in wanted}


def _mono(audio: np.ndarray) -> np.ndarray:
    """The benchmark squeezes its arrays; anything still not 1-D is not a mono clip."""
    array = np.squeeze(np.asarray(audio))
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"expected a mono (1-D) signal, got shape {np.shape(audio)}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return array


def _pad_to_match(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad the shorter at the end, as the benchmark does before scoring."""
    n = max(a.size, b.size)
    return np.pad(a, (0, n - a.size)), np.pad(b, (0, n - b.size))


def _or_nan(compute) -> float:
    """`get_metrics` turns any exception into NaN."""
    try:
        return float(compute())
    except Exception:
        return math.nan


@functools.lru_cache(maxsize=1)
def _losses() -> dict:
    """DAC's loss modules with default arguments: the same code Codec-SUPERB carries."""
    from dac.nn.loss import L1Loss, MelSpectrogramLoss, MultiScaleSTFTLoss

    return {"mel": MelSpectrogramLoss(), "stft": MultiScaleSTFTLoss(), "waveform": L1Loss()}


def _resample_in_place(x, y) -> None:
    """The official PESQ resamples both AudioSignals in place (x first); a failure leaves the rest as is."""
    try:
        x.resample(PESQ_RATE)
        y.resample(PESQ_RATE)
    except Exception:
        pass


def _channel(signal) -> np.ndarray:
    """The single channel of a (1, 1, T) AudioSignal as a float32 array."""
    return signal.audio_data[0, 0].cpu().numpy()


def _pesq(x, y) -> float:
    """Wide-band PESQ of the 16 kHz pair; 1.0 where the official one would have raised."""
    from pesq import pesq

    if x.sample_rate != PESQ_RATE or y.sample_rate != PESQ_RATE:
        return 1.0  # the official resampling raised
    try:
        return float(pesq(PESQ_RATE, _channel(x), _channel(y), "wb"))
    except Exception:
        return 1.0


def _stoi_score(x, y) -> float:
    """STOI at x's current rate, clipped to [0, 1]; 0.0 on failure or NaN, as the official wrapper."""
    try:
        score = float(np.clip(_stoi(_channel(x), _channel(y), x.sample_rate), 0.0, 1.0))
    except Exception:
        return 0.0
    return 0.0 if math.isnan(score) else score


def _stoi(clean: np.ndarray, processed: np.ndarray, sample_rate: int) -> float:
    """Codec-SUPERB's STOI (not pystoi): raises where theirs raises; 0.0 when under 30 frames remain."""
    from scipy.signal import resample_poly

    if np.size(clean) != np.size(processed):
        raise ValueError("clean and processed should have the same length")
    if sample_rate != STOI_RATE:
        clean = resample_poly(clean, STOI_RATE, sample_rate)
        processed = resample_poly(processed, STOI_RATE, sample_rate)
    clean, processed = _drop_silent_frames(clean, processed)
    bands = _third_octave_bands()
    x_bands = np.sqrt(bands @ _power_spectrogram(clean))  # (bands, frames)
    y_bands = np.sqrt(bands @ _power_spectrogram(processed))
    segments = x_bands.shape[1] - STOI_SEGMENT + 1
    if segments <= 0:
        return 0.0
    total = 0.0
    for start in range(0, segments, STOI_CHUNK):
        stop = min(start + STOI_CHUNK, segments) + STOI_SEGMENT - 1
        total += _segment_correlations(x_bands[:, start:stop], y_bands[:, start:stop]).sum()
    return float(total / segments)


def _hann(n: int) -> np.ndarray:
    """The port's window: a Hann of n + 2 points without its two zero ends."""
    from scipy.signal.windows import hann

    return hann(n + 2)[1:-1]


def _drop_silent_frames(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overlap-add only the frames of both within 40 dB of x's loudest frame, windowed, packed together.

    The quirk kept: the energy of the frame starting at s is measured on x[s - 1 : s - 1 + N] (s = 0
    reads x[-1], the last sample, first); the samples kept are x[s : s + N].
    """
    n, hop = STOI_FRAME, STOI_HOP
    window = _hann(n)
    starts = np.arange(0, x.size - n, hop)
    offsets = np.arange(n)
    framed = x[starts[:, None] - 1 + offsets] * window
    energy_db = 20 * np.log10(np.sqrt(np.sum(framed * framed, axis=1)) / np.sqrt(n) + STOI_EPS)
    kept = starts[(energy_db - np.max(energy_db) + STOI_DYN_RANGE) > 0]  # np.max raises on no frames, as theirs

    def pack(signal: np.ndarray) -> np.ndarray:
        frames = signal[kept[:, None] + offsets] * window  # (kept, N); frame c lands at c * hop
        heads, tails = frames[:, :hop], frames[:, hop:]
        return np.concatenate([heads[0], (heads[1:] + tails[:-1]).ravel(), tails[-1]])

    return pack(x), pack(y)


def _power_spectrogram(x: np.ndarray) -> np.ndarray:
    """|one-sided DFT|^2 of the whole frames (hop N/2, the port's window, scaled by 1/sum(window)): (bins, frames).

    The port keeps int((len - N) / hop) frames: the last full frame is dropped.
    """
    n, hop = STOI_FRAME, STOI_HOP
    window = _hann(n)
    count = int((x.size - n) / hop)
    frames = x[np.arange(max(count, 0))[:, None] * hop + np.arange(n)] * window
    spectrum = np.fft.rfft(frames, n=STOI_NFFT, axis=1) / window.sum()
    return (np.abs(spectrum) ** 2).T


@functools.lru_cache(maxsize=1)
def _third_octave_bands() -> np.ndarray:
    """(bands, bins) 0/1 matrix of third-octave bands from 150 Hz, edges snapped to the nearest DFT bin."""
    freqs = np.linspace(0, STOI_RATE, STOI_NFFT + 1)[: STOI_NFFT // 2 + 1]
    k = np.arange(STOI_BANDS)
    centre = STOI_LOW_BAND * 2.0 ** (k / 3)
    lower = np.sqrt(centre * STOI_LOW_BAND * 2.0 ** ((k - 1) / 3))
    upper = np.sqrt(centre * STOI_LOW_BAND * 2.0 ** ((k + 1) / 3))
    matrix = np.zeros((STOI_BANDS, freqs.size))
    for band in range(STOI_BANDS):
        low = int(np.argmin((freqs - lower[band]) ** 2))
        high = int(np.argmin((freqs - upper[band]) ** 2))
        matrix[band, low:high] = 1
    # bands are kept up to the last one that is non-empty and not narrower than the band before it
    widths = matrix.sum(axis=1)
    growing = [i for i in range(STOI_BANDS - 1) if widths[i + 1] >= widths[i] and widths[i + 1] != 0]
    return matrix[: growing[-1] + 2]


def _segment_correlations(x_bands: np.ndarray, y_bands: np.ndarray) -> np.ndarray:
    """Intermediate intelligibility of every 30-frame segment: band-mean correlation of x and clipped, scaled y."""
    from numpy.lib.stride_tricks import sliding_window_view

    xs = sliding_window_view(x_bands, STOI_SEGMENT, axis=1)  # (bands, segments, 30)
    ys = sliding_window_view(y_bands, STOI_SEGMENT, axis=1)
    scale = np.sqrt(np.sum(xs * xs, axis=2, keepdims=True) / (np.sum(ys * ys, axis=2, keepdims=True) + STOI_EPS))
    ys = np.minimum(ys * scale, xs + xs * STOI_CLIP)

    def unit(v: np.ndarray) -> np.ndarray:
        centred = v - v.mean(axis=2, keepdims=True)
        return centred / (np.sqrt(np.sum(centred * centred, axis=2, keepdims=True)) + STOI_EPS)

    return np.sum(unit(xs) * unit(ys), axis=(0, 2)) / STOI_BANDS


def _f0corr(x, y) -> float:
    """Pitch-contour correlation of the pair as the official F0CorrLoss computes it (0.0 in its failure cases)."""
    import librosa

    ref, deg = _pitch_cents(x), _pitch_cents(y)
    if ref is None or deg is None or min(ref.size, deg.size) <= 1:
        return 0.0
    try:
        _, path = librosa.sequence.dtw(ref, deg, backtrack=True)
    except Exception:
        return 0.0
    correlation = _pearson_float32(ref[path[:, 0]], deg[path[:, 1]])
    return 0.0 if math.isnan(correlation) else correlation


def _pitch_cents(signal) -> np.ndarray | None:
    """Voiced Praat pitch in cents re 440 Hz minus its median, the audio read as 22.05 kHz; None if none."""
    import parselmouth

    hop_ms = F0_HOP / F0_RATE * 1000  # the same float steps as the official time step
    try:
        sound = parselmouth.Sound(signal.audio_data[0].cpu().numpy(), F0_RATE)
        pitch = sound.to_pitch_ac(time_step=hop_ms / 1000, voicing_threshold=F0_VOICING,
                                  pitch_floor=F0_MIN, pitch_ceiling=F0_MAX)
        f0 = np.asarray(pitch.selected_array["frequency"], dtype=np.float64)
    except Exception:
        return None
    voiced = f0[f0 != 0]
    if voiced.size == 0:
        return None
    cents = 1200 * np.log2(voiced / 440)
    return cents - np.median(cents)


def _pearson_float32(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation with torchmetrics' float32 arithmetic (its `PearsonCorrCoef` on one batch).

    Each sequence is scaled by its largest deviation from the mean first; if a scaled variance is
    under sqrt(float32 eps), or anything is not finite, the result is NaN. Clamped to [-1, 1].
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(a)).float()
    y = torch.from_numpy(np.ascontiguousarray(b)).float()
    n = x.shape[0]
    count = torch.full((1,), float(n))
    stats = []
    for v in (x, y):
        mean = v.mean(0)
        centre = mean * n / count  # the running mean after one update, as torchmetrics rounds it
        spread = torch.clamp(torch.max((v - centre).abs(), dim=0)[0], min=0.0)
        sum_sq = ((v - mean) ** 2).sum(0)
        stats.append((v - mean, spread, sum_sq))
    (dx, spread_x, ss_x), (dy, spread_y, ss_y) = stats
    var_x = ss_x / (count - 1) * torch.pow(spread_x, -2)
    var_y = ss_y / (count - 1) * torch.pow(spread_y, -2)
    cov = (dx * dy).sum(0) / (count - 1) / (spread_x * spread_y)
    bound = math.sqrt(torch.finfo(torch.float32).eps)
    if bool((var_x < bound).any() | (var_y < bound).any() | ~torch.isfinite(var_x).all()
            | ~torch.isfinite(var_y).all() | ~torch.isfinite(cov).all()):
        return math.nan
    return float(torch.clamp(cov / (var_x * var_y).sqrt(), -1.0, 1.0).item())

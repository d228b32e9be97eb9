"""Signal metrics of a reconstruction against its original, each with its source.

Codecs pad and shift, so every reconstruction is first delay-compensated (cross-correlation within
±50 ms, and within a quarter of the clip, so a 50 ms clip cannot be read as delayed by most of itself)
and trimmed or padded to the original's length (`align`). A metric that cannot be computed for a clip
(silence, too short, no speech) is None with a note saying why: never a crash, never NaN. Metrics run
on the mono mix at the codec's rate unless they say otherwise.

Near-silence counts as silence. PESQ, ViSQOL and STOI normalise level, and SI-SDR and the spectral
distances are relative to the original, so float residue scores as if it were sound: a stereo file in
antiphase downmixes to about -96 dBFS, and random noise then got ViSQOL 5 against it. An original
whose active level (`level_dbfs`: the RMS of its loudest tenth, in 100 blocks, so a short sound in a
long silence is judged by the sound) is below `SILENCE_DBFS` = -60 dBFS gets no comparative metric and
no lag search. Why -60: 16-bit quantisation noise and float rounding residue lie near -96 to -101 dBFS
and a quiet room's noise floor near -60 to -70, while speech recorded quietly is still -45 dBFS or more
(ordinary levels are -20 to -30); -60 leaves 15 dB below quiet speech and over 30 dB above residue.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ..audio import Audio, resample
from ..runtime import cache as model_cache

MAX_LAG_SECONDS = 0.05
SILENCE_DBFS = -60.0  # an original quieter than this (active level) is near-silent: nothing to compare against
EPS = 1e-12


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    higher_is_better: bool
    unit: str = ""


SPECS = [
    MetricSpec("bitrate_kbps", "bitrate", False, "kbps"),
    MetricSpec("token_rate", "tokens/s", False, "1/s"),
    MetricSpec("si_sdr", "SI-SDR", True, "dB"),
    MetricSpec("mel_distance", "mel distance", False),
    MetricSpec("stft_distance", "multi-res STFT", False),
    MetricSpec("pesq_wb", "PESQ WB", True),
    MetricSpec("pesq_nb", "PESQ NB", True),
    MetricSpec("stoi", "STOI", True),
    MetricSpec("estoi", "ESTOI", True),
    MetricSpec("visqol_speech", "ViSQOL speech", True),
    MetricSpec("visqol_audio", "ViSQOL audio", True),
    MetricSpec("speaker_similarity", "speaker sim.", True),
    MetricSpec("real_time_factor", "RTF", False),
    MetricSpec("peak_memory_mb", "memory +MB", False, "MB"),
]
QUALITY_KEYS = ["si_sdr", "mel_distance", "stft_distance", "pesq_wb", "pesq_nb", "stoi", "estoi", "visqol_speech",
                "visqol_audio", "speaker_similarity"]


@dataclass
class Scores:
    values: dict[str, float | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    lag_samples: int = 0

    def set(self, key: str, compute: Callable[[], float]) -> None:
        """Run one metric; its failure or a non-finite value becomes None with the reason."""
        try:
            value = float(compute())
        except NotApplicable as reason:
            self.values[key], self.notes[key] = None, str(reason)
            return
        except Exception as exc:  # a metric library refusing this clip must not sink the others
            self.values[key], self.notes[key] = None, f"{type(exc).__name__}: {exc}"[:200]
            return
        if math.isfinite(value):
            self.values[key] = value
        else:
            self.values[key], self.notes[key] = None, "not finite for this clip"


class NotApplicable(Exception):
    """The metric is undefined for this input (the message says why)."""


def mono(audio: Audio) -> np.ndarray:
    return audio.samples.mean(axis=0).astype(np.float64)


def level_dbfs(x: np.ndarray) -> float:
    """Active level in dBFS: the RMS of the loudest tenth of the signal, cut into 100 equal blocks (one
    sample each when shorter). Unlike the whole-clip RMS it is not diluted by silence around a sound
    (a 1 s sound in 20 s reads 3 dB under its own level, not 13), and it needs no sample rate, so every
    metric and `estimate_lag` apply the same test. -inf for digital silence."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return -math.inf
    starts = np.linspace(0, x.size, min(100, x.size) + 1).astype(int)[:-1]
    energy = np.add.reduceat(x * x, starts)
    lengths = np.diff(np.append(starts, x.size))
    loudest = np.argsort(energy / lengths)[-max(1, len(starts) // 10):]
    power = energy[loudest].sum() / lengths[loudest].sum()
    return 10 * math.log10(power) if power > 0 else -math.inf


def near_silent(x: np.ndarray) -> bool:
    return level_dbfs(x) < SILENCE_DBFS


def silence_note(reference: np.ndarray) -> str | None:
    """Why no comparative metric applies to this original, as a sentence for a person; None if it has sound."""
    level = level_dbfs(reference)
    if level >= SILENCE_DBFS:
        return None
    if not math.isfinite(level):
        return "the original is silent (every sample is zero): nothing to compare against"
    return (f"the original is near-silent ({level:.1f} dBFS RMS at its loudest, below the {SILENCE_DBFS:.0f} dBFS "
            "floor): nothing to compare against")


def require_sound(reference: np.ndarray) -> None:
    """Each metric's own guard, for callers that skip `score`."""
    note = silence_note(reference)
    if note:
        raise NotApplicable(note)


def estimate_lag(reference: np.ndarray, estimate: np.ndarray, max_lag: int) -> int:
    """Samples by which `estimate` trails `reference` (FFT cross-correlation). |lag| is at most max_lag
    and a quarter of the reference, so a clip shorter than the search cannot match a sliver of itself
    (the overlap at the window's edge) and report a delay of most of its length. 0 when either signal
    is near-silent: residue has no delay to find."""
    if near_silent(reference) or near_silent(estimate):
        return 0
    max_lag = min(max_lag, len(reference) // 4, len(estimate) - 1)
    n = 1 << math.ceil(math.log2(len(reference) + len(estimate)))
    corr = np.fft.irfft(np.fft.rfft(estimate, n) * np.conj(np.fft.rfft(reference, n)), n)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(corr[lags])])


def align(reference: Audio, estimate: Audio) -> tuple[np.ndarray, np.ndarray, int]:
    """Mono reference and estimate at the reference's rate, delay-compensated, same length."""
    ref = mono(reference)
    est = mono(estimate)
    if estimate.sample_rate != reference.sample_rate:
        est = resample(est[None].astype(np.float32), estimate.sample_rate, reference.sample_rate)[0]
    lag = estimate_lag(ref, est, int(MAX_LAG_SECONDS * reference.sample_rate))
    est = est[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), est])
    est = est[: len(ref)] if len(est) >= len(ref) else np.pad(est, (0, len(ref) - len(est)))
    return ref, est.astype(np.float64), lag


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux et al., "SDR – half-baked or well done?", ICASSP 2019)."""
    require_sound(reference)
    alpha = np.dot(estimate, reference) / (np.dot(reference, reference) + EPS)
    target = alpha * reference
    return 10 * np.log10((np.dot(target, target) + EPS) / (np.dot(estimate - target, estimate - target) + EPS))


def _stft_magnitude(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| with a periodic Hann window, centred frames (reflect padding), shape (bins, frames)."""
    pad = n_fft // 2
    x = np.pad(x, pad, mode="reflect") if len(x) > pad else np.pad(x, pad)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    window = np.hanning(n_fft + 1)[:-1]
    return np.abs(np.fft.rfft(frames * window, axis=1)).T


def mel_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Multi-scale log-mel L1, as DAC's `MelSpectrogramLoss` (Kumar et al., 2023, and the
    Codec-SUPERB mel distance): window lengths 32…2048 with 5…320 mels, hop = window/4, L1 between
    log10(max(mel, 1e-5)^2), summed over scales."""
    import librosa

    require_sound(reference)
    total = 0.0
    for n_mels, window in zip([5, 10, 20, 40, 80, 160, 320], [32, 64, 128, 256, 512, 1024, 2048], strict=True):
        basis = librosa.filters.mel(sr=sample_rate, n_fft=window, n_mels=n_mels, fmin=0.0, fmax=sample_rate / 2)
        mels = [basis @ _stft_magnitude(x, window, window // 4) for x in (reference, estimate)]
        logs = [np.log10(np.maximum(m, 1e-5) ** 2) for m in mels]
        total += float(np.mean(np.abs(logs[0] - logs[1])))
    return total


def stft_distance(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Multi-resolution STFT loss (Yamamoto et al., Parallel WaveGAN, 2020): spectral convergence plus
    log-magnitude L1, averaged over (FFT, hop) = (512, 128), (1024, 256), (2048, 512)."""
    require_sound(reference)
    total = 0.0
    for n_fft, hop in [(512, 128), (1024, 256), (2048, 512)]:
        ref, est = _stft_magnitude(reference, n_fft, hop), _stft_magnitude(estimate, n_fft, hop)
        convergence = np.linalg.norm(ref - est) / (np.linalg.norm(ref) + EPS)
        log_l1 = np.mean(np.abs(np.log(np.maximum(ref, 1e-7)) - np.log(np.maximum(est, 1e-7))))
        total += convergence + log_l1
    return total / 3


PESQ_SEGMENT_SECONDS = 20.0


def pesq_score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, mode: str) -> float:
    """ITU-T P.862.2 wide-band (16 kHz) or P.862 narrow-band (8 kHz) MOS-LQO via the `pesq` package.

    PESQ is defined for short recordings (P.862 suggests 8–20 s), and the package's C code overruns
    a fixed table of 50 utterances and crashes the process on long speech. Clips over 30 s are
    therefore scored in 20 s segments and the mean is reported."""
    from pesq import pesq

    rate = 16_000 if mode == "wb" else 8_000
    if sample_rate < rate:
        raise NotApplicable(f"the codec runs at {sample_rate} Hz, below PESQ-{mode.upper()}'s {rate} Hz")
    ref, est = (resample(x[None].astype(np.float32), sample_rate, rate)[0] for x in (reference, estimate))
    if len(ref) < rate // 4:
        raise NotApplicable("PESQ needs at least 0.25 s")
    require_sound(ref)
    step = len(ref) if len(ref) <= 30 * rate else int(PESQ_SEGMENT_SECONDS * rate)
    scores = []
    for start in range(0, len(ref), step):
        a, b = ref[start:start + step], est[start:start + step]
        if len(a) < rate or near_silent(a):  # a short or silent segment adds nothing
            continue
        try:
            scores.append(pesq(rate, a, b, mode))
        except Exception:  # pesq's NoUtterancesError and friends: a segment without speech
            continue
    if not scores:
        raise NotApplicable("PESQ found no speech to score")
    return float(np.mean(scores))


def stoi_score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, extended: bool) -> float:
    """STOI (Taal et al., 2011) or ESTOI (Jensen & Taal, 2016) via `pystoi` (resamples to 10 kHz)."""
    from pystoi import stoi

    if len(reference) < 0.4 * sample_rate:
        raise NotApplicable("STOI needs at least 0.4 s (30 frames of 384 ms analysis)")
    require_sound(reference)
    return stoi(reference, estimate, sample_rate, extended=extended)


_VISQOL_LOCK = threading.Lock()
_TORCH_THREADS: int | None = None  # set in a process that only scores (`prepare_scoring_process`)


def _visqol(mode: str):
    from visqol.api import VisqolApi

    def load():
        api = VisqolApi()
        api.create(mode=mode, use_lattice_model=False) if mode == "speech" else api.create(mode=mode)
        return api

    return model_cache.get(f"visqol_{mode}", "cpu", load)


def visqol_score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, mode: str) -> float:
    """ViSQOL v3 MOS-LQO (Chinen et al., QoMEX 2020) via `visqol-python`: speech mode at 16 kHz
    (polynomial mapping), audio mode at 48 kHz (the bundled SVR model)."""
    rate = 16_000 if mode == "speech" else 48_000
    if mode == "speech" and sample_rate < rate:
        raise NotApplicable(f"the codec runs at {sample_rate} Hz, below ViSQOL speech mode's 16 kHz")
    if mode == "audio" and sample_rate < 32_000:
        raise NotApplicable(f"ViSQOL audio mode is for full-band audio; this codec runs at {sample_rate} Hz")
    require_sound(reference)
    if len(reference) < 0.5 * sample_rate:
        raise NotApplicable("ViSQOL needs at least 0.5 s")
    ref, est = (resample(x[None].astype(np.float32), sample_rate, rate)[0].astype(np.float64)
                for x in (reference, estimate))
    with _VISQOL_LOCK:
        return _visqol(mode).measure_from_arrays(ref, est, rate).moslqo


def speaker_similarity(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Cosine similarity of GE2E speaker embeddings (Wan et al., 2018) from Resemblyzer, whose
    encoder weights ship in its wheel (so it works offline). 1 = same voice."""
    from resemblyzer import VoiceEncoder, preprocess_wav

    require_sound(reference)
    encoder = model_cache.get("resemblyzer", "cpu", lambda: VoiceEncoder("cpu", verbose=False))
    if _TORCH_THREADS:  # again each time: ViSQOL's numba (OpenMP layer) resets the count it shares with torch
        import torch

        torch.set_num_threads(_TORCH_THREADS)
    embeddings = []
    for x in (reference, estimate):
        wav = preprocess_wav(x.astype(np.float32), source_sr=sample_rate)  # 16 kHz, silences trimmed
        if len(wav) < 16_000 * 0.5:
            raise NotApplicable("less than 0.5 s of voiced audio to embed")
        embeddings.append(encoder.embed_utterance(wav))
    return float(np.dot(embeddings[0], embeddings[1]))


def score(reference: Audio, estimate: Audio) -> Scores:
    """Every signal metric of `estimate` against `reference` (both at the codec's rate). A near-silent
    original makes them all n/a at once, with the measured level in the note."""
    scores = Scores()
    ref, est, scores.lag_samples = align(reference, estimate)
    note = silence_note(ref)
    if note:
        scores.values |= dict.fromkeys(QUALITY_KEYS)
        scores.notes |= dict.fromkeys(QUALITY_KEYS, note)
        return scores
    rate = reference.sample_rate
    scores.set("si_sdr", lambda: si_sdr(ref, est))
    scores.set("mel_distance", lambda: mel_distance(ref, est, rate))
    scores.set("stft_distance", lambda: stft_distance(ref, est))
    scores.set("pesq_wb", lambda: pesq_score(ref, est, rate, "wb"))
    scores.set("pesq_nb", lambda: pesq_score(ref, est, rate, "nb"))
    scores.set("stoi", lambda: stoi_score(ref, est, rate, extended=False))
    scores.set("estoi", lambda: stoi_score(ref, est, rate, extended=True))
    scores.set("visqol_speech", lambda: visqol_score(ref, est, rate, "speech"))
    scores.set("visqol_audio", lambda: visqol_score(ref, est, rate, "audio"))
    scores.set("speaker_similarity", lambda: speaker_similarity(ref, est, rate))
    return scores


def prepare_scoring_process(sample_rates: Iterable[int]) -> None:
    """Ready a process that only scores (the CLI's, beside the one running the codecs) while the codec
    still loads: one torch thread, then every metric once on a second of signal at each rate, so the
    libraries are imported, ViSQOL's and Resemblyzer's models loaded and their first-call costs (numba's
    cache, oneDNN's kernels) paid. One thread because Resemblyzer's LSTM is a chain of small per-frame
    products: a second intra-op thread adds a fork/join per step and nothing else, and beside a codec
    using every core it made speaker similarity 10-100x slower. The numbers do not depend on the thread
    count, nor on what was scored before (tests/test_compare_speed.py)."""
    global _TORCH_THREADS
    import torch

    from ..signals import seeded_audio

    _TORCH_THREADS = 1
    torch.set_num_threads(_TORCH_THREADS)
    for rate in sorted(set(sample_rates)):
        clip = seeded_audio(rate, 1.0)[None]
        score(Audio(clip, rate), Audio(0.5 * clip, rate))

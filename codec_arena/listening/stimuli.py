"""Render a test's stimuli once: the excerpt, its low-pass anchors and each codec's version, aligned
to the reference, loudness-matched (ITU-R BS.1770 through pyloudnorm) and stored as FLAC.

Codec round trips are cached on disk by (clip, operating point, weights file), so a teacher who
builds a second test from the same clips does not wait again; a cached random-weight render is
dropped when real weights arrive because the weights file is part of the key.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import Audio, to_flac_bytes
from ..errors import AudioInputError, RequestError
from .protocols import ANCHORS, REFERENCE

MIN_SECONDS = 1.0  # BS.1770 gates 400 ms blocks; shorter excerpts give no integrated loudness
MAX_SECONDS = 15.0  # BS.1534-3 advises excerpts of about 10 s; longer clips are cut (documented)
MIN_RATE, MAX_RATE = 16_000, 48_000  # below 16 kHz the 7 kHz anchor would be the reference itself
TARGET_LUFS = -23.0  # EBU R128
PEAK_CEILING_DBFS = -1.0  # the target is lowered for the whole test if a gain would clip anything
ANCHOR_ORDER = 8  # Butterworth order, run forwards and backwards: zero phase, -6 dB at the cut-off


@dataclass(frozen=True)
class Stimulus:
    clip: str
    condition: str
    audio: Audio
    loudness_lufs: float  # after matching
    gain_db: float
    random_weights: bool = False
    bitrate_kbps: float | None = None
    cache_file: str | None = None  # the render-cache entry it came from, removed with the test

    def flac(self) -> bytes:
        return to_flac_bytes(self.audio)


def read_flac(data: bytes) -> Audio:
    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return Audio(np.ascontiguousarray(samples.T), rate)


def excerpt(audio: Audio, name: str) -> Audio:
    """The part of a clip a test plays: at most MAX_SECONDS, mono or stereo, 16–48 kHz."""
    if audio.duration < MIN_SECONDS:
        raise AudioInputError(f"'{name}' is {audio.duration:.2f} s long; a listening test needs at least "
                              f"{MIN_SECONDS:g} s per clip.")
    rate = min(max(audio.sample_rate, MIN_RATE), MAX_RATE)
    cut = Audio(audio.samples[:, : int(MAX_SECONDS * audio.sample_rate)], audio.sample_rate)
    out = cut.to(rate, 1 if audio.channels == 1 else 2)
    if not np.isfinite(loudness(out)):  # refused here, before any codec runs, and named as the clip's fault
        raise AudioInputError(f"'{name}' is silent (too quiet to measure its loudness), so it cannot be used in a "
                              "listening test; pick a clip with sound in it.")
    return out


def low_pass(audio: Audio, cutoff_hz: float) -> Audio:
    """The BS.1534-3 anchor: the reference low-passed at `cutoff_hz`, zero phase so it stays aligned."""
    from scipy.signal import butter, sosfiltfilt

    if cutoff_hz >= audio.sample_rate / 2:
        return audio
    sos = butter(ANCHOR_ORDER, cutoff_hz, btype="low", fs=audio.sample_rate, output="sos")
    return Audio(sosfiltfilt(sos, audio.samples, axis=1).astype(np.float32), audio.sample_rate)


def aligned(reference: Audio, output: Audio) -> Audio:
    """A codec's output at the reference's rate and channels, its delay removed, the same length."""
    from ..analysis.metrics import MAX_LAG_SECONDS, estimate_lag

    out = output.to(reference.sample_rate, reference.channels).samples
    lag = estimate_lag(reference.samples.mean(0).astype(np.float64), out.mean(0).astype(np.float64),
                       int(MAX_LAG_SECONDS * reference.sample_rate))
    out = out[:, lag:] if lag >= 0 else np.pad(out, ((0, 0), (-lag, 0)))
    n = reference.frames
    out = out[:, :n] if out.shape[1] >= n else np.pad(out, ((0, 0), (0, n - out.shape[1])))
    return Audio(np.ascontiguousarray(out, dtype=np.float32), reference.sample_rate)


def loudness(audio: Audio) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(audio.sample_rate).integrated_loudness(audio.samples.T.astype(np.float64)))


def match_loudness(renders: list[tuple[str, str, Audio]], target: float = TARGET_LUFS) -> tuple[float, list]:
    """One gain per stimulus so all reach the same integrated loudness; the common target is lowered
    until no stimulus peaks above PEAK_CEILING_DBFS. Returns the target and (clip, condition, audio, gain)."""
    measured = []
    for clip, condition, audio in renders:
        level = loudness(audio)
        if not np.isfinite(level):
            raise AudioInputError(f"'{clip}' ({condition}) is silent, so it cannot be loudness-matched; "
                                  "pick a clip with sound in it.")
        peak = 20 * np.log10(max(float(np.abs(audio.samples).max()), 1e-9))
        measured.append((clip, condition, audio, level, peak))
    target = min([target] + [level + PEAK_CEILING_DBFS - peak for *_, level, peak in measured])
    out = []
    for clip, condition, audio, level, _ in measured:
        gain = target - level
        out.append((clip, condition, Audio((audio.samples * 10 ** (gain / 20)).astype(np.float32),
                                           audio.sample_rate), gain))
    return target, out


def _cache_key(audio: Audio, point: str) -> str:
    from ..codecs import weights_identity
    from ..compare import parse_point

    digest = hashlib.sha256(audio.samples.tobytes() + str(audio.sample_rate).encode() + point.encode())
    digest.update(weights_identity(parse_point(point).codec).encode())
    return digest.hexdigest()[:32]


def codec_version(reference: Audio, point: str, cache_dir: Path | None) -> tuple[Audio, bool, float]:
    """(aligned output, random weights, measured kbps) of one operating point, from the render cache
    when it has it."""
    from ..compare import parse_point
    from ..roundtrip import roundtrip

    path = cache_dir / f"{_cache_key(reference, point)}.npz" if cache_dir else None
    if path and path.exists():
        with np.load(path) as cached:
            return (Audio(cached["samples"], int(cached["rate"])), bool(cached["random"]), float(cached["kbps"]))
    parsed = parse_point(point)
    result = roundtrip(reference, parsed)
    audio = aligned(reference, result.output)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp.npz")  # writers never share it
        np.savez(partial, samples=audio.samples, rate=audio.sample_rate, random=result.random_weights,
                 kbps=result.bitrate_kbps)
        partial.replace(path)
    return audio, result.random_weights, result.bitrate_kbps


def render(clips: dict[str, Audio], needed: set[tuple[str, str]], cache_dir: Path | None = None,
           progress: Callable[[float, str], None] | None = None) -> tuple[float, list[Stimulus]]:
    """Every (clip, condition) a test needs, loudness-matched together. Returns the common loudness."""
    if not needed:
        raise RequestError("The test has nothing to render.")
    renders, facts = [], {}
    for i, (clip, condition) in enumerate(sorted(needed)):
        if progress:
            progress(i / len(needed), f"{clip}: {condition}")
        reference = clips[clip]
        if condition == REFERENCE:
            audio = reference
        elif condition in ANCHORS:
            audio = low_pass(reference, ANCHORS[condition])
        else:
            audio, random_weights, kbps = codec_version(reference, condition, cache_dir)
            cached = f"{_cache_key(reference, condition)}.npz" if cache_dir else None
            facts[(clip, condition)] = (random_weights, kbps, cached)
        renders.append((clip, condition, audio))
    target, matched = match_loudness(renders)
    stimuli = [Stimulus(clip, condition, audio, target, gain, *facts.get((clip, condition), (False, None, None)))
               for clip, condition, audio, gain in matched]
    if progress:
        progress(1.0, "rendered")
    return target, stimuli

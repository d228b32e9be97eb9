"""Deterministic test signals, shared by the tests and the parity scripts in `benchmarks/parity/`
(which compare our ports with official code on exactly these inputs)."""

from __future__ import annotations

import numpy as np

# The pairs on which `analysis.superb` is checked against the official Codec-SUPERB code; the
# reference JSON in tests/data records this recipe, so a change here is caught.
SUPERB_RECIPE = {
    "signal": "codec_arena/signals.py seeded_audio(sample_rate, seconds) (rng seed 1234)",
    "seconds": 2.0,
    "rates": [16000, 24000, 44100],
    "noise_seed": 2024,
    "noise_std": 0.02,
    "lowpass": {"butter_order": 8, "cutoff_hz": 3000, "filter": "scipy.signal.sosfilt"},
    "delay_s": 0.012,
    "shorter": {"keep": 0.85, "gain": 0.8},
    "near_silent_std": 1e-4,
    "too_short_s": 0.04,
    "stoi_probe": {"rate": 10000, "last_sample": 1e7, "noise_std": 0.02},
}
SUPERB_PAIRS = ("noise", "lowpass", "delayed", "shorter", "near-silent", "identical", "too-short")


def seeded_audio(sample_rate: int, seconds: float) -> np.ndarray:
    """A few seconds of speech-like signal: gliding harmonics and bursts of noise, float32 (T,)."""
    rng = np.random.default_rng(1234)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2.3 * t) ** 2)
    noise = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 1.1 * t) > 0.6)
    return (0.2 * voiced + 0.05 * noise).astype(np.float32)


def superb_pairs(sample_rate: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(reference, estimate) pairs at one rate, as the parity script and the test build them."""
    from scipy.signal import butter, sosfilt

    ref = seeded_audio(sample_rate, SUPERB_RECIPE["seconds"])
    noise = np.random.default_rng(SUPERB_RECIPE["noise_seed"]).standard_normal(ref.size).astype(np.float32)
    lowpass = SUPERB_RECIPE["lowpass"]
    sos = butter(lowpass["butter_order"], lowpass["cutoff_hz"], fs=sample_rate, output="sos")
    delay = np.zeros(int(SUPERB_RECIPE["delay_s"] * sample_rate), np.float32)
    keep = int(SUPERB_RECIPE["shorter"]["keep"] * ref.size)
    short = int(SUPERB_RECIPE["too_short_s"] * sample_rate)
    return {
        "noise": (ref, ref + np.float32(SUPERB_RECIPE["noise_std"]) * noise),
        "lowpass": (ref, sosfilt(sos, ref).astype(np.float32)),
        "delayed": (ref, np.concatenate([delay, ref])),
        "shorter": (ref, np.float32(SUPERB_RECIPE["shorter"]["gain"]) * ref[:keep]),
        "near-silent": (ref, np.float32(SUPERB_RECIPE["near_silent_std"]) * noise),
        "identical": (ref, ref.copy()),
        "too-short": (ref[:short], (ref + np.float32(SUPERB_RECIPE["noise_std"]) * noise)[:short]),
    }


def superb_stoi_probe() -> tuple[np.ndarray, np.ndarray]:
    """10 kHz pair whose reference ends in a huge sample, read only through the STOI frame-0 wrap quirk."""
    probe = SUPERB_RECIPE["stoi_probe"]
    ref = seeded_audio(probe["rate"], SUPERB_RECIPE["seconds"]).astype(np.float64)
    est = ref + probe["noise_std"] * np.random.default_rng(SUPERB_RECIPE["noise_seed"]).standard_normal(ref.size)
    ref[-1] = probe["last_sample"]
    return ref, est

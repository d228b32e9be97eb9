"""What every parity script needs: where the official checkout is, and the same seeded test signal."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

TOLERANCE = 1e-5  # max abs audio difference a port may show


def default_official(name: str) -> Path:
    """`$CODEC_ARENA_OFFICIAL_DIR/<name>`, else `/work/official/<name>`."""
    base = os.environ.get("CODEC_ARENA_OFFICIAL_DIR")
    return Path(base) / name if base else Path("/work/official") / name


def seeded_audio(sample_rate: int, seconds: float) -> np.ndarray:
    """A few seconds of speech-like test signal: gliding harmonics and bursts of noise, float32 (T,)."""
    rng = np.random.default_rng(1234)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2.3 * t) ** 2)
    noise = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 1.1 * t) > 0.6)
    return (0.2 * voiced + 0.05 * noise).astype(np.float32)

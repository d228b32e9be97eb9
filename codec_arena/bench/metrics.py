"""Which metrics a bench run computes: Codec-SUPERB's definitions under their own names (`mel`,
`stft`, `waveform`, `pesq`, `pesq-wb`, `stoi`, `f0corr`), so numbers sit beside its leaderboard, and
the app's own metrics as `app.<key>` (`app.si_sdr`, `app.visqol_speech`, ...), which keep the app's
definitions. The metric version (definitions and the chosen set) keys every stored result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..analysis.superb import NAMES
from ..errors import RequestError

APP_PREFIX = "app."
APP_VERSION = 1  # bump with a change to the app metrics' definitions
SUPERB_DEFAULT = NAMES  # Codec-SUPERB's seven, in its order


def _app_metrics() -> dict[str, Callable[[np.ndarray, np.ndarray, int], float]]:
    from ..analysis import metrics as m

    return {
        "si_sdr": lambda r, e, sr: m.si_sdr(r, e),
        "mel_distance": m.mel_distance,
        "stft_distance": lambda r, e, sr: m.stft_distance(r, e),
        "pesq_wb": lambda r, e, sr: m.pesq_score(r, e, sr, "wb"),
        "pesq_nb": lambda r, e, sr: m.pesq_score(r, e, sr, "nb"),
        "stoi": lambda r, e, sr: m.stoi_score(r, e, sr, extended=False),
        "estoi": lambda r, e, sr: m.stoi_score(r, e, sr, extended=True),
        "visqol_speech": lambda r, e, sr: m.visqol_score(r, e, sr, "speech"),
        "visqol_audio": lambda r, e, sr: m.visqol_score(r, e, sr, "audio"),
        "speaker_similarity": m.speaker_similarity,
    }


def available() -> list[str]:
    from ..analysis.metrics import QUALITY_KEYS

    return [*SUPERB_DEFAULT, *(APP_PREFIX + k for k in QUALITY_KEYS)]


def parse_metrics(names: Sequence[str] | None) -> tuple[str, ...]:
    """The chosen metrics, validated once: Codec-SUPERB's set by default; `app` adds every app metric."""
    if not names:
        return SUPERB_DEFAULT
    chosen: list[str] = []
    for item in names:
        for name in (n.strip() for n in item.split(",")):
            if not name:
                continue
            expanded = {"superb": list(SUPERB_DEFAULT),
                        "app": [n for n in available() if n.startswith(APP_PREFIX)]}.get(name, [name])
            for n in expanded:
                if n not in available():
                    raise RequestError(f"Unknown metric '{n}'. Choose from: {', '.join(available())} "
                                       "(or 'superb', 'app').")
                if n not in chosen:
                    chosen.append(n)
    return tuple(chosen)


def metric_version(names: Sequence[str]) -> str:
    """Definitions and chosen set: a rerun with other metrics measures again instead of mixing rows."""
    from ..analysis import superb

    parts = [f"superb{superb.VERSION}"]
    if any(n.startswith(APP_PREFIX) for n in names):
        parts.append(f"app{APP_VERSION}")
    return "+".join(parts) + ":" + ",".join(names)


def higher_is_better(name: str) -> bool:
    """A metric's direction: Codec-SUPERB's, or the app's for `app.<key>`; a name neither knows (from an
    uploaded file) reads as a distance, lower is better."""
    from ..analysis import superb

    if name.startswith(APP_PREFIX):
        from ..analysis.metrics import SPECS

        return any(s.higher_is_better for s in SPECS if s.key == name[len(APP_PREFIX):])
    return superb.HIGHER_IS_BETTER.get(name, False)


def compute(names: Sequence[str], original: np.ndarray, original_rate: int, estimate_at_original: np.ndarray,
            reference_at_codec: np.ndarray, estimate_at_codec: np.ndarray, codec_rate: int) -> dict[str, float | None]:
    """Codec-SUPERB's metrics on the original against the reconstruction resampled to the original's
    rate (as its benchmark does); the app's on the delay-aligned pair at the codec's rate (as Compare
    does). A metric that fails on this clip is None (left out of means, like Codec-SUPERB's NaN)."""
    from ..analysis import superb

    values: dict[str, float | None] = {}
    superb_names = [n for n in names if not n.startswith(APP_PREFIX)]
    if superb_names:
        values |= superb.superb_metrics(original, estimate_at_original, original_rate, superb_names)
    app = _app_metrics()
    for name in names:
        if name.startswith(APP_PREFIX):
            try:
                values[name] = float(app[name[len(APP_PREFIX):]](reference_at_codec, estimate_at_codec, codec_rate))
            except Exception:  # NotApplicable or a library refusing this clip: n/a for this clip only
                values[name] = None
    return {k: (v if v is not None and math.isfinite(v) else None) for k, v in values.items()}

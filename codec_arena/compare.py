"""Compare one clip across codec operating points: round trips, metrics, and the rows reports use.

An operating point is written `codec@kbps` (`dac_44khz@7.75`, `opus@24`); a bare codec id means its
default bitrate. The CLI's `compare`, the Compare tab and the rate–distortion sweep all go through
`compare()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .analysis.metrics import Scores, score
from .audio import Audio
from .codecs import codec_info, list_codecs
from .errors import CodecArenaError, RequestError, WeightsUnavailable
from .roundtrip import RoundTrip, roundtrip


@dataclass(frozen=True)
class OperatingPoint:
    codec: str
    kbps: float | None = None

    def __str__(self) -> str:
        return self.codec if self.kbps is None else f"{self.codec}@{self.kbps:g}"


def parse_point(text: str) -> OperatingPoint:
    codec, _, kbps = str(text).strip().partition("@")
    info = codec_info(codec.strip())
    if not kbps.strip():
        return OperatingPoint(info.id, info.default_bitrate)
    try:
        value = float(kbps.removesuffix("kbps").strip())
    except ValueError:
        raise RequestError(f"'{text}': write an operating point as codec@kbps, e.g. dac_44khz@7.75.") from None
    return OperatingPoint(info.id, info.check_bitrate(value))


def all_points(codec_ids: list[str] | None = None) -> list[OperatingPoint]:
    """Every operating point of these codecs (all codecs when None): what the sweep runs."""
    infos = [codec_info(c) for c in codec_ids] if codec_ids else list_codecs()
    return [OperatingPoint(info.id, kbps) for info in infos for kbps in info.bitrates_kbps]


@dataclass
class Entry:
    point: OperatingPoint
    result: RoundTrip
    scores: Scores

    def row(self) -> dict[str, Any]:
        """One reconstruction as `metrics.json` writes it: codec, bitrate_kbps, then one key per metric."""
        r, codes = self.result, self.result.codes
        notes = dict(self.scores.notes)
        if codes is None:
            notes["token_rate"] = "classical codec: a byte stream, not tokens"
        if r.random_weights:
            notes["random_weights"] = "random test weights: quality metrics are meaningless, timings are real"
        return {
            "codec": r.info.id, "bitrate_kbps": round(r.bitrate_kbps, 3), "requested_kbps": r.requested_kbps,
            "codebooks": codes.codebooks if codes else None,
            "token_rate": round(codes.tokens.size / r.input.duration, 2) if codes else None,
            **{k: (round(v, 4) if v is not None else None) for k, v in self.scores.values.items()},
            "delay_ms": round(1000 * self.scores.lag_samples / r.input.sample_rate, 2),
            "real_time_factor": round(r.real_time_factor, 4), "peak_memory_mb": round(r.peak_memory_mb, 1),
            "random_weights": r.random_weights, "notes": notes,
        }


@dataclass(eq=False)  # hashed by identity: Gradio hashes session state to see what changed
class Comparison:
    original: Audio
    entries: list[Entry]
    skipped: list[tuple[OperatingPoint, str]] = field(default_factory=list)  # weights unavailable


def compare(audio: Audio, points: list[OperatingPoint],
            progress: Callable[[float, str], None] | None = None) -> Comparison:
    """Round-trip and score every point. A codec whose weights cannot be had is skipped with its
    message (the others still run); if none can run, that message is the error."""
    if not points:
        raise RequestError("Choose at least one codec operating point.")
    entries, skipped = [], []
    for i, point in enumerate(points):
        if progress:
            progress(i / len(points), f"{point}")
        try:
            result = roundtrip(audio, point.codec, point.kbps)
        except WeightsUnavailable as missing:
            skipped.append((point, str(missing)))
            continue
        entries.append(Entry(point, result, score(result.input, result.output)))
    if progress:
        progress(1.0, "done")
    if not entries:
        raise CodecArenaError(" ".join(message for _, message in skipped))
    return Comparison(audio, entries, skipped)

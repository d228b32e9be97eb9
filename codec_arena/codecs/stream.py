"""The one streaming engine: every neural codec's long input goes through here.

A `ChunkedCodec` declares its hop (input samples per unit, a unit being a token frame or EnCodec
48 kHz's one-second segment), the context its receptive field needs, and its chunk functions. The
engine cuts the unit timeline into equal windows, runs each with `context` units of real signal on
both sides that are computed and dropped, and keeps only each window's own units: every kept unit
sees the surroundings it sees in one pass, so for codecs without recurrent state or global attention
chunked codes equal one-pass codes; no token is emitted twice, so the bitrate stays the nominal one.
Whole-file steps (a loudness or peak normalisation) use `SignalStats` from a first pass over the
same blocks, so a chunked result still equals the one-pass result. Readers and sinks hide whether
the samples live in memory or on disk: whole-clip calls are the one-window case of the same path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..audio_stream import BLOCK_SECONDS  # how much audio a pass over a reader holds at once

if TYPE_CHECKING:
    from .base import OperatingPoint
    from .chunked import ChunkedCodec

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Window:
    start: int  # first unit kept
    stop: int  # one past the last unit kept
    lo: int  # first unit the model sees (left context)
    hi: int  # one past the last unit it sees (right context)


def plan(units: int, max_units: int, context: int) -> list[Window]:
    """Equal windows of at most `max_units` covering `units`; one window without context when
    everything fits."""
    if units <= max_units:
        return [Window(0, units, 0, units)]
    count = math.ceil(units / max_units)
    size = math.ceil(units / count)
    return [Window(s, min(s + size, units), max(0, s - context), min(units, s + size + context))
            for s in range(0, units, size)]


# --- whole-file statistics (the first pass) ------------------------------------------------------

@dataclass
class SignalStats:
    """Peak and ITU-R BS.1770 integrated loudness of a signal seen block by block: the K-weighting
    filter carries its state across blocks and gating blocks are built from 100 ms energies, so any
    block size gives the same figures."""

    sample_rate: int
    peak: float = 0.0
    frames: int = 0
    sum_squares: float = 0.0  # over every sample of every channel (the plain RMS some feature extractors use)
    _energies: list[np.ndarray] = field(default_factory=list)  # per 100 ms step, per channel
    _partial: np.ndarray | None = None  # filtered samples of an unfinished 100 ms step
    _state: np.ndarray | None = None

    def add(self, block: np.ndarray) -> None:
        """Block [C, n]."""
        from scipy.signal import sosfilt

        if block.size == 0:
            return
        self.peak = max(self.peak, float(np.max(np.abs(block))))
        self.frames += block.shape[1]
        self.sum_squares += float(np.sum(np.square(block, dtype=np.float64)))
        sos = _k_weighting(int(self.sample_rate))
        if self._state is None:
            self._state = np.zeros((sos.shape[0], block.shape[0], 2))
        filtered, self._state = sosfilt(sos, block.astype(np.float64), axis=1, zi=self._state)
        if self._partial is not None:
            filtered = np.concatenate([self._partial, filtered], axis=1)
        step = self._step
        whole = filtered.shape[1] // step * step
        if whole:
            squares = filtered[:, :whole] ** 2
            self._energies.append(squares.reshape(filtered.shape[0], -1, step).mean(axis=2).T)
        self._partial = filtered[:, whole:]

    @property
    def rms(self) -> float:
        count = self.frames * (self._state.shape[1] if self._state is not None else 1)
        return math.sqrt(self.sum_squares / count) if count else 0.0

    @property
    def _step(self) -> int:
        return max(1, round(0.1 * self.sample_rate))

    def loudness(self) -> float:
        """Integrated loudness in LUFS (-70 for silence or clips under 400 ms)."""
        if not self._energies:
            return -70.0
        steps = np.concatenate(self._energies)  # (steps, channels)
        if len(steps) < 4:
            return -70.0
        blocks = (steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:]) / 4  # 400 ms blocks, 75 % overlap
        power = blocks.sum(axis=1)  # channel weights are 1 for mono and stereo
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10 * np.log10(power)
        gated = power[block_lufs > -70.0]
        if not gated.size:
            return -70.0
        relative = -0.691 + 10 * np.log10(gated.mean()) - 10.0
        with np.errstate(divide="ignore"):
            final = power[(block_lufs > -70.0) & (block_lufs > relative)]
        return float(-0.691 + 10 * np.log10(final.mean())) if final.size else -70.0


@lru_cache(maxsize=8)
def _k_weighting(rate: int) -> np.ndarray:
    """The BS.1770 pre-filter (high shelf + high pass) as second-order sections, for any rate
    (the bilinear-transform design pyloudnorm uses)."""
    sections = []
    for gain_db, q, fc, kind in ((4.0, 1 / np.sqrt(2), 1500.0, "shelf"), (0.0, 0.5, 38.0, "highpass")):
        a_gain = 10 ** (gain_db / 40)
        w0 = 2 * np.pi * fc / rate
        alpha = np.sin(w0) / (2 * q)
        if kind == "shelf":
            b = [a_gain * ((a_gain + 1) + (a_gain - 1) * np.cos(w0) + 2 * np.sqrt(a_gain) * alpha),
                 -2 * a_gain * ((a_gain - 1) + (a_gain + 1) * np.cos(w0)),
                 a_gain * ((a_gain + 1) + (a_gain - 1) * np.cos(w0) - 2 * np.sqrt(a_gain) * alpha)]
            a = [(a_gain + 1) - (a_gain - 1) * np.cos(w0) + 2 * np.sqrt(a_gain) * alpha,
                 2 * ((a_gain - 1) - (a_gain + 1) * np.cos(w0)),
                 (a_gain + 1) - (a_gain - 1) * np.cos(w0) - 2 * np.sqrt(a_gain) * alpha]
        else:
            b = [(1 + np.cos(w0)) / 2, -(1 + np.cos(w0)), (1 + np.cos(w0)) / 2]
            a = [1 + alpha, -2 * np.cos(w0), 1 - alpha]
        sections.append(np.concatenate([np.array(b) / a[0], np.array(a) / a[0]]))
    return np.stack(sections)


# --- where samples come from and go to ------------------------------------------------------------

class Reader(Protocol):
    """Samples [C, n] at the codec's rate and channel count, read by range."""

    frames: int

    def read(self, start: int, stop: int) -> np.ndarray: ...


class ArrayReader:
    def __init__(self, samples: np.ndarray) -> None:
        self.samples, self.frames = samples, samples.shape[1]

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.samples[:, start:stop]


def blocks(reader: Reader, block: int) -> Iterator[np.ndarray]:
    for start in range(0, reader.frames, block):
        yield reader.read(start, min(start + block, reader.frames))


def stats_of(reader: Reader, sample_rate: int) -> SignalStats:
    stats = SignalStats(sample_rate)
    for piece in blocks(reader, int(BLOCK_SECONDS * sample_rate)):
        stats.add(piece)
    return stats


class TokenSink(Protocol):
    def add(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> None: ...


@dataclass
class TokenList:
    """Tokens kept in memory (a clip); files use `codes_file.CodesWriter`."""

    pieces: list[np.ndarray] = field(default_factory=list)
    side: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> None:
        self.pieces.append(tokens)
        for key, value in side.items():
            self.side.setdefault(key, []).append(value)

    def tokens(self) -> np.ndarray:
        return np.concatenate(self.pieces, axis=1)

    def extras(self) -> dict[str, np.ndarray]:
        return {key: np.concatenate(values) for key, values in self.side.items()}


# --- the engine -----------------------------------------------------------------------------------

def units_for(codec: ChunkedCodec, samples: int) -> int:
    return max(1, math.ceil(samples / codec.hop))


def encode(codec: ChunkedCodec, reader: Reader, point: OperatingPoint, sink: TokenSink, gain: float = 1.0,
           window_units: int | None = None, progress: Progress | None = None, latent: bool = False,
           prepared: dict[str, np.ndarray] | None = None) -> None:
    """Encode everything `reader` holds into `sink`, window by window: tokens [K, frames] per window
    (`latent=True`: the encoder's output before quantization, [D, frames], for exactness checks).
    `prepared`: what the codec's `first_pass` gathered over the whole input, given to every chunk."""
    units = units_for(codec, reader.frames)
    windows = plan(units, window_units or codec.window_units, codec.context_units)
    extra = {"prepared": prepared} if prepared else {}
    if latent:
        def chunk(x):
            return codec.latent_chunk(x, **extra)
    else:
        def chunk(x):
            return codec.encode_chunk(x, point, **extra)
    for i, w in enumerate(windows):
        samples = reader.read(w.lo * codec.hop, min(w.hi * codec.hop + codec.read_ahead, reader.frames))
        if gain != 1.0:
            samples = samples * np.float32(gain)
        tokens, side = _split(chunk(np.ascontiguousarray(samples, dtype=np.float32)[None]))
        keep = slice((w.start - w.lo) * codec.unit_frames, (w.stop - w.lo) * codec.unit_frames)
        sink.add(tokens[0][:, keep], {k: v[0][w.start - w.lo: w.stop - w.lo] for k, v in side.items()})
        if progress:
            progress((i + 1) / len(windows), f"encoded {w.stop * codec.hop / codec.info.sample_rate:.0f} s")


def decode(codec: ChunkedCodec, tokens: np.ndarray, side: dict[str, np.ndarray], num_samples: int,
           write: Callable[[np.ndarray], None], window_units: int | None = None,
           progress: Progress | None = None) -> None:
    """Decode tokens [K, T] window by window, passing samples [C, m] to `write` in order, num_samples
    in all (a decoder that returns a few samples short is padded with silence)."""
    units = max(1, math.ceil(tokens.shape[1] / codec.unit_frames))
    windows = plan(units, window_units or codec.window_units, codec.decode_context_units)
    written = 0
    for i, w in enumerate(windows):
        piece = tokens[:, w.lo * codec.unit_frames: w.hi * codec.unit_frames]
        wav = codec.decode_chunk(np.ascontiguousarray(piece)[None], {k: v[w.lo:w.hi][None] for k, v in side.items()})[0]
        start, stop = (w.start - w.lo) * codec.hop, (w.stop - w.lo) * codec.hop
        stop = min(stop, start + num_samples - written)
        kept = wav[:, start:stop]
        if kept.shape[1] < stop - start:
            kept = np.pad(kept, ((0, 0), (0, stop - start - kept.shape[1])))
        write(np.ascontiguousarray(kept, dtype=np.float32))
        written += kept.shape[1]
        if progress:
            progress((i + 1) / len(windows), f"decoded {written / codec.info.sample_rate:.0f} s")


def _split(out) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A chunk function returns tokens [B, K, T], or (tokens, {name: [B, units, ...]}) with per-unit side data."""
    if isinstance(out, tuple):
        return np.asarray(out[0]), {k: np.asarray(v) for k, v in out[1].items()}
    return np.asarray(out), {}


# --- exactness: chunked against one pass ----------------------------------------------------------

@dataclass(frozen=True)
class Exactness:
    codec: str
    windows: int
    equal_codes: float  # share of tokens equal to one pass, 0..1
    max_latent_delta: float  # max |chunked - one pass| of the encoder output before quantization
    max_audio_delta: float  # max |chunked - one pass| of the decoded audio (from the same codes)

    def row(self) -> dict[str, object]:
        return {"codec": self.codec, "windows": self.windows, "equal codes (%)": round(100 * self.equal_codes, 3),
                "max |Δ latent|": float(f"{self.max_latent_delta:.3g}"),
                "max |Δ audio|": float(f"{self.max_audio_delta:.3g}")}


def exactness(codec: ChunkedCodec, samples: np.ndarray, point: OperatingPoint, window_units: int) -> Exactness:
    """Encode and decode `samples` [C, n] in windows of `window_units` and in one window; compare."""
    from .chunked import inference, whole_clip_units

    with codec.lock, inference():
        return _exactness(codec, samples, point, window_units, whole_clip_units(samples.shape[1], codec))


def _exactness(codec: ChunkedCodec, samples: np.ndarray, point: OperatingPoint, window_units: int,
               whole: int) -> Exactness:
    gain = codec.input_gain(stats_of(ArrayReader(samples), codec.info.sample_rate))[0]
    results = {}
    for name, size in (("chunked", window_units), ("one pass", whole)):
        prepared = codec.first_pass(ArrayReader(samples), size) if codec.whole_input_pass else None
        tokens, latents = TokenList(), TokenList()
        encode(codec, ArrayReader(samples), point, tokens, gain, size, prepared=prepared)
        encode(codec, ArrayReader(samples), point, latents, gain, size, latent=True, prepared=prepared)
        results[name] = (tokens, latents.tokens())
    chunked_tokens, one_tokens = results["chunked"][0], results["one pass"][0]
    audio = {}
    for name, size in (("chunked", window_units), ("one pass", whole)):
        pieces: list[np.ndarray] = []
        decode(codec, one_tokens.tokens(), one_tokens.extras(), samples.shape[1], pieces.append, size)
        audio[name] = np.concatenate(pieces, axis=1)
    units = units_for(codec, samples.shape[1])
    return Exactness(
        codec=codec.info.id, windows=len(plan(units, window_units, codec.context_units)),
        equal_codes=float(np.mean(chunked_tokens.tokens() == one_tokens.tokens())),
        max_latent_delta=float(np.max(np.abs(results["chunked"][1] - results["one pass"][1]))),
        max_audio_delta=float(np.max(np.abs(audio["chunked"] - audio["one pass"]))))

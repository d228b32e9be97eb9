"""The round trip every front end runs: conform the audio, encode, decode, measure; and progressive
decoding (the first k codebooks of a residual stack, k = 1 … n) to hear what each stage adds.

The app, the CLI and the benchmarks all call `roundtrip`, so what the benchmark measures is what
users get.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import weights
from .audio import Audio
from .codecs import Codec, CodecInfo, Codes, Encoded, codec_info, get_codec
from .codecs.base import OperatingPoint
from .errors import RequestError
from .memory import peak_memory

MAX_STAGES = 9  # the synced player's keys 1–9 (0 is the original)


@dataclass(frozen=True)
class RoundTrip:
    info: CodecInfo
    bitrate_kbps: float  # measured: tokens x bits x frame rate, or payload bytes over duration
    requested_kbps: float
    input: Audio  # the original as the codec saw it (resampled, channels mapped)
    output: Audio
    encoded: Encoded
    load_s: float
    encode_s: float
    decode_s: float
    peak_memory_mb: float  # increase over the start of the call
    peak_process_mb: float  # process RSS peak (CPU) or allocated peak (CUDA)
    device: str
    random_weights: bool  # outputs are noise; never present them as quality
    weights_id: str = ""  # fingerprint of the weights (what a codes file records)

    @property
    def codes(self) -> Codes | None:
        return self.encoded if isinstance(self.encoded, Codes) else None

    @property
    def real_time_factor(self) -> float:
        return (self.encode_s + self.decode_s) / max(self.input.duration, 1e-9)

    def summary(self) -> dict[str, Any]:
        codes = self.codes
        return {
            "codec": self.info.id, "requested_kbps": self.requested_kbps,
            "bitrate_kbps": round(self.bitrate_kbps, 3),
            "codebooks": codes.codebooks if codes else None, "frames": codes.frames if codes else None,
            "frame_rate": self.info.frame_rate, "sample_rate": self.output.sample_rate,
            "channels": self.output.channels, "duration_s": round(self.input.duration, 3),
            "load_s": round(self.load_s, 4), "encode_s": round(self.encode_s, 4),
            "decode_s": round(self.decode_s, 4), "real_time_factor": round(self.real_time_factor, 4),
            "peak_memory_mb": round(self.peak_memory_mb, 1), "peak_process_mb": round(self.peak_process_mb, 1),
            "device": self.device,
            "random_weights": self.random_weights,
        }


def roundtrip(audio: Audio, point: OperatingPoint | str, bitrate_kbps: float | None = None,
              device: str | None = None) -> RoundTrip:
    """Encode and decode a clip at an operating point (or a codec id and bitrate, validated here once)."""
    if not isinstance(point, OperatingPoint):
        point = OperatingPoint.of(codec_info(point), bitrate_kbps)
    info, requested = point.info, point.bitrate_kbps
    info.require_decoder("round-trip audio")
    started = time.perf_counter()
    codec = get_codec(info.id, device)
    load_s = time.perf_counter() - started
    device = codec.device
    conformed = audio.to(info.sample_rate, info.channels_for(audio.channels))
    with peak_memory(device) as memory:
        started = time.perf_counter()
        encoded = codec.encode(conformed, point)
        encoded_at = time.perf_counter()
        output = codec.decode(encoded)
        decoded_at = time.perf_counter()
    checkpoint = codec.checkpoint
    return RoundTrip(
        info=info, bitrate_kbps=encoded.bitrate_kbps, requested_kbps=requested, input=conformed,
        output=output, encoded=encoded, load_s=load_s, encode_s=encoded_at - started,
        decode_s=decoded_at - encoded_at, peak_memory_mb=memory.mb, peak_process_mb=memory.peak_mb, device=device,
        random_weights=bool(checkpoint and weights.is_random(checkpoint)), weights_id=codec.weights_id,
    )


@dataclass(frozen=True)
class Encoding:
    """A clip's tokens with no way back to audio (an encode-only tokenizer): what Compare hands the Tokens tab."""

    point: OperatingPoint
    input: Audio  # the clip as the tokenizer saw it
    codes: Codes
    load_s: float
    encode_s: float
    device: str
    random_weights: bool
    weights_id: str = ""


def encode_clip(audio: Audio, point: OperatingPoint, device: str | None = None) -> Encoding:
    """Conform and encode a clip, timed: the round trip's first half, for tokenizers without a decoder."""
    info = point.info
    started = time.perf_counter()
    codec = get_codec(info.id, device)
    load_s = time.perf_counter() - started
    conformed = audio.to(info.sample_rate, info.channels_for(audio.channels))
    started = time.perf_counter()
    codes = codec.encode(conformed, point)
    checkpoint = codec.checkpoint
    return Encoding(point, conformed, codes, load_s, time.perf_counter() - started, codec.device,
                    bool(checkpoint and weights.is_random(checkpoint)), codec.weights_id)


def progressive_stages(n: int) -> list[int]:
    """Which k to decode for n codebooks: all of 1…n when n <= 9, else 9 spread from 1 to n."""
    if n <= MAX_STAGES:
        return list(range(1, n + 1))
    return sorted({int(round(k)) for k in np.linspace(1, n, MAX_STAGES)})


def progressive_decode(codec: str | Codec, codes: Codes, device: str | None = None, ks: list[int] | None = None,
                       progress: Callable[[float, str], None] | None = None) -> list[tuple[str, Audio]]:
    """Decode `codes` with their first k codebooks for each k of `ks` (default `progressive_stages`), as
    ("first k of n", audio) pairs; `progress(fraction, message)` is called before each decode (each is a
    full decode). `codec` is a loaded codec or a codec id (loaded from the shared cache on `device`).
    A `RequestError` refuses a codec without a residual stack to peel and codes with one codebook."""
    info = codec.info if not isinstance(codec, str) else codec_info(codec)
    n = codes.codebooks
    info.require_decoder("decode progressively")
    if not info.progressive:
        raise RequestError(f"{info.id} has no residual stack to peel ({info.quantizer}, {info.max_codebooks} "
                           "codebook(s)): its codes only decode together. Try an RVQ codec such as EnCodec or DAC.")
    if n == 1:
        raise RequestError(f"{info.id} at {codes.nominal_kbps:.3g} kbps uses one codebook: choose a higher bitrate "
                           "to hear codebooks add up.")
    ks = progressive_stages(n) if ks is None else list(ks)
    if not all(1 <= k <= n for k in ks):
        raise RequestError(f"Progressive decoding takes 1 to {n} codebooks; got {ks}.")
    if isinstance(codec, str):
        codec = get_codec(codec, device)
    decoded = []
    for i, k in enumerate(ks):
        if progress is not None:
            progress(i / len(ks), f"decoding with the first {k} of {n} codebooks")
        decoded.append((f"first {k} of {n}", codec.decode(codes.first(k))))
    return decoded

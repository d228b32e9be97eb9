"""The round trip every front end runs: conform the audio, encode, decode, measure.

The app, the CLI and the benchmarks all call `roundtrip`, so what the benchmark measures is what
users get.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from . import weights
from .audio import Audio
from .codecs import CodecInfo, Codes, Encoded, codec_info, get_codec
from .memory import peak_memory


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


def roundtrip(audio: Audio, codec_id: str, bitrate_kbps: float | None = None,
              device: str | None = None) -> RoundTrip:
    info = codec_info(codec_id)
    requested = info.check_bitrate(bitrate_kbps if bitrate_kbps is not None else info.default_bitrate)
    started = time.perf_counter()
    codec = get_codec(codec_id, device)
    load_s = time.perf_counter() - started
    device = getattr(codec, "device", "cpu")
    conformed = audio.to(info.sample_rate, info.channels_for(audio.channels))
    with peak_memory(device) as memory:
        started = time.perf_counter()
        encoded = codec.encode(conformed, requested)
        encoded_at = time.perf_counter()
        output = codec.decode(encoded)
        decoded_at = time.perf_counter()
    checkpoint = getattr(codec, "checkpoint", None)
    return RoundTrip(
        info=info, bitrate_kbps=encoded.bitrate_kbps, requested_kbps=requested, input=conformed,
        output=output, encoded=encoded, load_s=load_s, encode_s=encoded_at - started,
        decode_s=decoded_at - encoded_at, peak_memory_mb=memory.mb, peak_process_mb=memory.peak_mb, device=device,
        random_weights=bool(checkpoint and weights.is_random(checkpoint)),
    )

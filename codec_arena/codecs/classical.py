"""Classical codecs (Opus, MP3, AAC, G.722) through FFmpeg's encoders in PyAV, all in memory.

They are the baseline every neural codec paper compares against. The bitrate we report is measured
from the encoded packets (container overhead excluded), not the bitrate asked for: encoders round,
and VBR modes drift.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ..audio import Audio
from .base import Codec, CodecInfo, OperatingPoint, Payload


@dataclass(frozen=True)
class _Format:
    encoder: str
    container: str
    delay: int = 0  # samples the decoder emits before the signal (not signalled in the container)


FORMATS = {
    "opus": _Format("libopus", "ogg"),
    "mp3": _Format("libmp3lame", "mp3"),
    "aac": _Format("aac", "adts", delay=1024),
    "g722": _Format("g722", "g722", delay=22),  # the QMF filter bank's 22-sample delay
}
_COMMON = dict(codebook_size=None, max_codebooks=None, frame_rate=None, quantizer="classical", weights="none")
INFOS = [
    CodecInfo(id="opus", family="Opus", sample_rate=48_000, channels=2, flexible_channels=True,
              bitrates_kbps=(6.0, 12.0, 24.0, 32.0, 64.0, 128.0, 256.0), bitrate_range_kbps=(6.0, 256.0),
              default_bitrate_kbps=24.0, domain="general", licence="BSD (libopus)",
              paper="RFC 6716 (Valin et al., 2012)", code_url="https://opus-codec.org", **_COMMON),
    CodecInfo(id="mp3", family="MP3", sample_rate=44_100, channels=2, flexible_channels=True,
              bitrates_kbps=(32.0, 64.0, 96.0, 128.0, 192.0, 256.0, 320.0), bitrate_range_kbps=(32.0, 320.0),
              default_bitrate_kbps=128.0, domain="music", licence="LGPL (LAME)",
              paper="ISO/IEC 11172-3 (MPEG-1 Layer III)", code_url="https://lame.sourceforge.io", **_COMMON),
    CodecInfo(id="aac", family="AAC", sample_rate=44_100, channels=2, flexible_channels=True,
              bitrates_kbps=(32.0, 64.0, 96.0, 128.0, 192.0, 256.0), bitrate_range_kbps=(16.0, 320.0),
              default_bitrate_kbps=64.0, domain="music", licence="LGPL (FFmpeg native AAC encoder)",
              paper="ISO/IEC 13818-7 (MPEG-2 AAC-LC)", code_url="https://ffmpeg.org", **_COMMON),
    CodecInfo(id="g722", family="G.722", sample_rate=16_000, channels=1,
              bitrates_kbps=(64.0,), default_bitrate_kbps=64.0, domain="speech", licence="FFmpeg (LGPL)",
              paper="ITU-T G.722 (sub-band ADPCM, 1988)", code_url="https://ffmpeg.org", **_COMMON),
]


def load(info: CodecInfo, device: str) -> ClassicalCodec:
    return ClassicalCodec(info)


class ClassicalCodec(Codec):
    """FFmpeg's encoder through PyAV; the whole clip at once (the CLI streams only neural codecs)."""

    def __init__(self, info: CodecInfo) -> None:
        self.info = info
        self.format = FORMATS[info.id]

    def encode(self, audio: Audio, point: OperatingPoint | float) -> Payload:
        """Audio [C, n] -> a Payload (container bytes) at the point's bitrate."""
        import av

        bitrate = self.point(point).bitrate_kbps
        layout = "mono" if audio.channels == 1 else "stereo"
        buffer = io.BytesIO()
        payload_bytes = 0
        with av.open(buffer, mode="w", format=self.format.container) as container:
            stream = container.add_stream(self.format.encoder, rate=audio.sample_rate, layout=layout)
            stream.bit_rate = int(bitrate * 1000)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio.samples), format="fltp", layout=layout)
            frame.sample_rate = audio.sample_rate
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                payload_bytes += packet.size
                container.mux(packet)
        return Payload(data=buffer.getvalue(), container=self.format.container, payload_bytes=payload_bytes,
                       sample_rate=audio.sample_rate, channels=audio.channels, num_samples=audio.frames,
                       codec_id=self.info.id)

    def decode(self, payload: Payload) -> Audio:
        """Payload -> Audio [C, num_samples], the encoder's delay removed."""
        import av

        chunks = []
        with av.open(io.BytesIO(payload.data), mode="r", format=payload.container) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            layout = "mono" if payload.channels == 1 else "stereo"
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=payload.sample_rate)
            for frame in container.decode(stream):
                chunks += [out.to_ndarray() for out in resampler.resample(frame)]
            chunks += [out.to_ndarray() for out in resampler.resample(None)]
        samples = np.concatenate(chunks, axis=1)[:, self._delay(rate, payload.sample_rate):]
        samples = _fit_length(samples, payload.num_samples)
        return Audio(np.ascontiguousarray(samples, dtype=np.float32), payload.sample_rate)

    def _delay(self, decoded_rate: int, output_rate: int) -> int:
        return round(self.format.delay * output_rate / decoded_rate) if decoded_rate else 0


def _fit_length(samples: np.ndarray, frames: int) -> np.ndarray:
    if samples.shape[1] >= frames:
        return samples[:, :frames]
    return np.pad(samples, ((0, 0), (0, frames - samples.shape[1])))

"""Audio in and out: decode any upload, check it, conform it to what a codec needs, write wav.

Samples are float32 shaped (channels, frames). Reading tries libsndfile (wav, flac, ogg, mp3) and
then FFmpeg through PyAV (m4a, webm from a browser microphone, opus, ...). Anything we cannot use
raises `AudioInputError` with a sentence a person understands; silence and clipping are accepted
because they are real audio that metrics must cope with.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AudioInputError

MAX_CHANNELS = 8
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000
DEFAULT_MAX_SECONDS = 300.0
MIN_SECONDS = 0.01


def max_seconds_from_env() -> float:
    """The duration cap: `CODEC_ARENA_MAX_SECONDS`, default five minutes."""
    raw = os.environ.get("CODEC_ARENA_MAX_SECONDS", "")
    try:
        return float(raw) if raw else DEFAULT_MAX_SECONDS
    except ValueError:
        return DEFAULT_MAX_SECONDS


@dataclass(frozen=True)
class Audio:
    """float32 samples shaped (channels, frames) and their rate."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def frames(self) -> int:
        return self.samples.shape[1]

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    def to(self, sample_rate: int, channels: int) -> Audio:
        """The same sound at another rate and channel count (downmix by mean, upmix by copy)."""
        samples = map_channels(self.samples, channels)
        if sample_rate != self.sample_rate:
            samples = resample(samples, self.sample_rate, sample_rate)
        if samples.shape[1] == 0:
            raise AudioInputError(f"The clip is too short to resample to {sample_rate} Hz.")
        return Audio(samples, sample_rate)


def from_array(samples: np.ndarray, sample_rate: int, max_seconds: float | None = None) -> Audio:
    """Validate an in-memory signal; 1-D arrays are mono."""
    array = np.asarray(samples)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise AudioInputError(f"Audio must be 1-D or (channels, frames); got shape {array.shape}.")
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / np.iinfo(array.dtype).max
    return validate(Audio(np.ascontiguousarray(array, dtype=np.float32), int(sample_rate)), max_seconds)


def validate(audio: Audio, max_seconds: float | None = None) -> Audio:
    """Raise `AudioInputError` for audio no codec can take; return it unchanged otherwise."""
    cap = max_seconds_from_env() if max_seconds is None else max_seconds
    check_format(audio.sample_rate, audio.channels, audio.frames, cap)
    if audio.frames == 0:
        raise AudioInputError("The audio contains no samples (zero length).")
    if audio.duration < MIN_SECONDS:
        raise AudioInputError(f"The clip is only {audio.duration * 1000:.1f} ms long; at least "
                              f"{MIN_SECONDS * 1000:.0f} ms are needed.")
    if not np.isfinite(audio.samples).all():
        raise AudioInputError(
            "The audio contains NaN or infinite sample values, so it cannot be encoded. "
            "Re-export it from your editor."
        )
    return audio


def check_format(sample_rate: int, channels: int, frames: int, max_seconds: float) -> None:
    """Checks that need only the header, so huge files are refused before they are decoded."""
    if channels < 1:
        raise AudioInputError("The audio has no channels.")
    if channels > MAX_CHANNELS:
        raise AudioInputError(
            f"The audio has {channels} channels; at most {MAX_CHANNELS} are supported. "
            "Downmix it to mono or stereo first."
        )
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioInputError(
            f"The sample rate is {sample_rate} Hz; supported rates are "
            f"{MIN_SAMPLE_RATE // 1000} kHz to {MAX_SAMPLE_RATE // 1000} kHz."
        )
    if frames / sample_rate > max_seconds:
        raise AudioInputError(
            f"The audio is {frames / sample_rate:.1f} s long; the limit is {max_seconds:g} s. "
            "Trim it, or raise CODEC_ARENA_MAX_SECONDS when running locally."
        )


def load_audio(source: str | Path | bytes, max_seconds: float | None = None) -> Audio:
    """Read a path or bytes in any format libsndfile or FFmpeg reads."""
    cap = max_seconds_from_env() if max_seconds is None else max_seconds
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise AudioInputError(f"No such audio file: {path}.")
        data = path.read_bytes()
    else:
        data = bytes(source)
    if not data:
        raise AudioInputError("The file is empty (0 bytes).")
    try:
        audio = _read_soundfile(data, cap)
    except AudioInputError:
        raise
    except Exception:
        audio = _read_ffmpeg(data, cap)
    return validate(audio, cap)


def _read_soundfile(data: bytes, max_seconds: float) -> Audio:
    import soundfile as sf

    with sf.SoundFile(io.BytesIO(data)) as handle:
        # libsndfile quietly shortens a truncated wav to what is there; its header still tells
        declared = max(handle.frames, _wav_declared_frames(data) or 0)
        check_format(handle.samplerate, handle.channels, declared, max_seconds)
        samples = handle.read(dtype="float32", always_2d=True).T
        rate = handle.samplerate
    # frame counts of compressed formats are estimates (an MP3 without a Xing header is off by a frame
    # or two), so only a real shortfall counts as truncation
    if declared - samples.shape[1] > max(0.1 * rate, 0.02 * declared):
        raise _truncated(samples.shape[1] / rate, declared / rate)
    return Audio(np.ascontiguousarray(samples), rate)


def _wav_declared_frames(data: bytes) -> int | None:
    """Frames the RIFF/WAVE header promises (None if not a wav, or a streamed one of unknown size)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    position, block_align = 12, 0
    while position + 8 <= len(data):
        chunk, size = data[position:position + 4], int.from_bytes(data[position + 4:position + 8], "little")
        if chunk == b"fmt " and position + 22 <= len(data):
            block_align = int.from_bytes(data[position + 20:position + 22], "little")
        if chunk == b"data":
            unknown = size in (0, 0xFFFFFFFF)
            return None if unknown or not block_align else size // block_align
        position += 8 + size + (size & 1)
    return None


def _read_ffmpeg(data: bytes, max_seconds: float) -> Audio:
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r")
    except Exception as exc:
        raise AudioInputError(
            "This file is not audio we can read (tried libsndfile and FFmpeg). "
            "Upload wav, flac, ogg, opus, mp3, m4a or webm."
        ) from exc
    with container:
        streams = container.streams.audio
        if not streams:
            raise AudioInputError("The file has no audio stream (is it a video without sound, or not media?).")
        stream = streams[0]
        rate = stream.codec_context.sample_rate or stream.rate or 0
        channels = stream.codec_context.channels or 0
        declared = (container.duration or 0) / 1e6
        check_format(rate, channels, int(declared * rate), max_seconds)
        resampler = av.AudioResampler(format="fltp")
        chunks: list[np.ndarray] = []
        frames = 0
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        chunk = out.to_ndarray()
                        chunks.append(chunk)
                        frames += chunk.shape[1]
                        if frames / rate > max_seconds:
                            check_format(rate, channels, frames, max_seconds)
        except AudioInputError:
            raise
        except Exception as exc:
            if not chunks:
                raise AudioInputError(
                    "This file is not audio we can read: FFmpeg could not decode it."
                ) from exc
            raise _truncated(frames / rate, declared) from exc
    if not chunks:
        raise AudioInputError("The audio contains no samples (zero length).")
    samples = np.concatenate(chunks, axis=1).astype(np.float32)
    if declared > 1.0 and frames / rate < 0.9 * declared:
        raise _truncated(frames / rate, declared)
    return Audio(np.ascontiguousarray(samples), rate)


def _truncated(read_s: float, declared_s: float) -> AudioInputError:
    return AudioInputError(
        f"The file looks truncated: its header promises {declared_s:.2f} s but only {read_s:.2f} s "
        "could be decoded. Upload the complete file."
    )


def map_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    """Downmix by averaging (to mono, copied to every output channel), upmix mono by copying; other
    upmixes repeat the first channels."""
    have = samples.shape[0]
    if have == channels:
        return samples
    if channels == 1:
        return samples.mean(axis=0, keepdims=True, dtype=np.float32)
    if have == 1:
        return np.repeat(samples, channels, axis=0)
    if have > channels:  # e.g. 5.1 to stereo: mix everything down, so no channel (dialogue) is lost
        return np.repeat(samples.mean(axis=0, keepdims=True, dtype=np.float32), channels, axis=0)
    return np.concatenate([samples, samples[: channels - have]], axis=0)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling with libsoxr (high quality), channels kept."""
    import soxr

    out = soxr.resample(samples.T, from_rate, to_rate, quality="HQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, samples.shape[0]).T)


def to_wav_bytes(audio: Audio) -> bytes:
    """16-bit PCM wav (what every browser plays); samples beyond ±1 are clipped."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio.samples, -1.0, 1.0).T, audio.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def to_flac_bytes(audio: Audio) -> bytes:
    """Lossless 16-bit FLAC: half the size of wav, decoded by every current browser."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio.samples, -1.0, 1.0).T, audio.sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def write_wav(audio: Audio, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_wav_bytes(audio))
    return path

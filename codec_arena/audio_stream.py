"""Audio files read and written block by block, so an hour-long file never sits in memory.

`open_conformed` gives the codec's view of a file (its rate, its channels) as a random-access
reader: a wav/flac/ogg already at the codec's rate is read in place through libsndfile; anything else
(another rate, mp3, m4a, webm, ...) is decoded, resampled (libsoxr's streaming resampler) and
channel-mapped once, block by block, into a float32 wav in a temporary folder. A file that ends early
or breaks in the middle raises `AudioInputError` naming the position. `WavWriter` writes to a
temporary name and renames at the end, so an interrupted run never leaves an output that looks
complete; a full disk is one clear error.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .audio import check_format, map_channels
from .errors import AudioInputError, CodecArenaError

BLOCK_SECONDS = 10.0


def clock(seconds: float) -> str:
    """12:34.567, or 1:02:03.000 past an hour."""
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:06.3f}" if hours else f"{minutes}:{secs:06.3f}"


class SoundFileReader:
    """Random access to a file libsndfile reads, mapped to `channels`."""

    def __init__(self, path: Path, channels: int, frames: int | None = None) -> None:
        import soundfile as sf

        self.path, self.channels = Path(path), channels
        self._file = sf.SoundFile(str(path))
        self.sample_rate = self._file.samplerate
        self.frames = self._file.frames if frames is None else frames

    def read(self, start: int, stop: int) -> np.ndarray:
        try:
            self._file.seek(start)
            block = self._file.read(stop - start, dtype="float32", always_2d=True).T
        except Exception as exc:  # libsndfile: "flac decoder lost sync" and the like
            raise _broken(self.path, start / self.sample_rate, self.frames / self.sample_rate) from exc
        if block.shape[1] < stop - start:
            raise _broken(self.path, (start + block.shape[1]) / self.sample_rate, self.frames / self.sample_rate)
        _check_finite(block)
        return np.ascontiguousarray(map_channels(block, self.channels))

    def close(self) -> None:
        self._file.close()


class RawReader:
    """Interleaved float32 samples in a temporary file (what `open_conformed` and the decoder's
    second pass write): read by range with plain file I/O."""

    def __init__(self, path: Path, channels: int, sample_rate: int) -> None:
        self.path, self.channels, self.sample_rate = Path(path), channels, sample_rate
        self.frames = self.path.stat().st_size // (4 * channels)

    def read(self, start: int, stop: int) -> np.ndarray:
        count = max(0, stop - start) * self.channels
        data = np.fromfile(self.path, dtype=np.float32, count=count, offset=start * self.channels * 4)
        return np.ascontiguousarray(data.reshape(-1, self.channels).T)

    def close(self) -> None:
        pass


class RawWriter:
    """Interleaved float32 to a temporary file; OSError (a full disk) comes through with its errno."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed in __exit__)

    def write(self, samples: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(samples.T, dtype=np.float32).tobytes())

    def __enter__(self) -> RawWriter:
        return self

    def __exit__(self, *exc) -> bool:
        self._file.close()
        return False


def open_conformed(path: Path, sample_rate: int, channels: int, workdir: Path) -> SoundFileReader | RawReader:
    """A reader at `sample_rate` with `channels`; `workdir` holds the conformed copy when one is needed."""
    path = Path(path)
    if not path.is_file():
        raise AudioInputError(f"No such audio file: {path}.")
    if path.stat().st_size == 0:
        raise AudioInputError("The file is empty (0 bytes).")
    native = _soundfile_facts(path)
    if native is not None:
        rate, have, frames = native
        check_format(rate, have, frames, float("inf"))
        if rate == sample_rate:
            return SoundFileReader(path, channels, _check_complete(path, frames, rate))
        blocks = _soundfile_blocks(path, frames, rate)
    else:
        rate, have, blocks = _ffmpeg_blocks(path)
    target = workdir / "conformed.f32"  # a full disk here is an OSError the caller names (`is_disk_full`)
    _conform(blocks, rate, sample_rate, channels, target)
    return RawReader(target, channels, sample_rate)


def _soundfile_facts(path: Path) -> tuple[int, int, int] | None:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:
        return None
    frames = info.frames
    if info.format == "WAV" or path.suffix.lower() == ".wav":
        declared = _declared_wav_frames(path)
        frames = max(frames, declared or 0)
    return info.samplerate, info.channels, frames


def _declared_wav_frames(path: Path) -> int | None:
    """What the RIFF header promises (libsndfile quietly shortens a truncated wav to what is there)."""
    from .audio import _wav_declared_frames

    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    return _wav_declared_frames(head)


def _check_complete(path: Path, frames: int, rate: int) -> int:
    """Frames there are. A wav whose data stops well before its header says is refused before any work,
    naming where it stops; a few missing milliseconds (an estimate, a cut tail) are accepted."""
    import soundfile as sf

    have = sf.info(str(path)).frames
    if frames - have > max(0.1 * rate, 0.02 * frames):
        raise _broken(path, have / rate, frames / rate)
    return have


def _soundfile_blocks(path: Path, frames: int, rate: int):
    import soundfile as sf

    block, done = int(BLOCK_SECONDS * rate), 0
    with sf.SoundFile(str(path)) as handle:
        while done < frames:
            try:
                piece = handle.read(min(block, frames - done), dtype="float32", always_2d=True).T
            except Exception as exc:
                raise _broken(path, done / rate, frames / rate) from exc
            if piece.shape[1] == 0:
                if frames - done > max(0.1 * rate, 0.02 * frames):
                    raise _broken(path, done / rate, frames / rate)
                return
            done += piece.shape[1]
            yield piece


def _ffmpeg_blocks(path: Path) -> tuple[int, int, object]:
    import av

    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:
        raise AudioInputError("This file is not audio we can read (tried libsndfile and FFmpeg). "
                              "Use wav, flac, ogg, opus, mp3, m4a or webm.") from exc
    streams = container.streams.audio
    if not streams:
        container.close()
        raise AudioInputError("The file has no audio stream (is it a video without sound, or not media?).")
    stream = streams[0]
    rate = stream.codec_context.sample_rate or stream.rate or 0
    channels = stream.codec_context.channels or 0
    declared = (container.duration or 0) / 1e6
    try:
        check_format(rate, channels, int(declared * rate), float("inf"))
    except AudioInputError:
        container.close()
        raise

    def blocks():
        resampler = av.AudioResampler(format="fltp")
        done = 0
        with container:
            try:
                for packet in container.demux(stream):
                    for frame in packet.decode():
                        for out in resampler.resample(frame):
                            chunk = out.to_ndarray().astype(np.float32)
                            done += chunk.shape[1]
                            yield chunk
            except Exception as exc:
                if not done:
                    raise AudioInputError("This file is not audio we can read: FFmpeg could not decode it.") from exc
                raise _broken(path, done / rate, declared) from exc
        if declared > 1.0 and done / rate < 0.9 * declared:
            raise _broken(path, done / rate, declared)

    return rate, channels, blocks()


def _conform(blocks, rate: int, sample_rate: int, channels: int, target: Path) -> None:
    import soxr

    stream = soxr.ResampleStream(rate, sample_rate, channels, dtype="float32", quality="HQ") \
        if rate != sample_rate else None
    written = 0
    with RawWriter(target) as out:
        for block in blocks:
            _check_finite(block)
            mapped = map_channels(block, channels)
            if stream is not None:
                mapped = stream.resample_chunk(np.ascontiguousarray(mapped.T)).T
            out.write(mapped)
            written += mapped.shape[1]
        if stream is not None:
            tail = stream.resample_chunk(np.zeros((0, channels), np.float32), last=True).T
            out.write(tail)
            written += tail.shape[1]
    if written == 0:
        raise AudioInputError("The audio contains no samples (zero length).")


def _check_finite(block: np.ndarray) -> None:
    if not np.isfinite(block).all():
        raise AudioInputError("The audio contains NaN or infinite sample values, so it cannot be encoded. "
                              "Re-export it from your editor.")


def _broken(path: Path, at_s: float, declared_s: float) -> AudioInputError:
    return AudioInputError(f"{Path(path).name} breaks off at {clock(at_s)} (of {clock(declared_s)} its header "
                           "promises): the file is truncated or corrupt there. Nothing was written; "
                           "use the complete file.")


# --- writing ---------------------------------------------------------------------------------------

class DiskFull(CodecArenaError):
    def __init__(self, target: Path | str) -> None:
        super().__init__(f"No room left to write {target} (the disk, or your file-size limit, is full); nothing "
                         "was left behind. Free some space or write to another disk, and run it again.")
        self.target = target

    def __reduce__(self):
        return (type(self), (self.target,))


class atomic_path:
    """`with atomic_path(target) as partial:` write to `partial`; it becomes `target` only if the block
    completes. An exception, Ctrl-C or a full disk removes it; a full disk raises `DiskFull`."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.target.with_name(f".{self.target.stem}.partial-{os.getpid()}{self.target.suffix}")

    def __enter__(self) -> Path:
        return self.partial

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is None:
            os.replace(self.partial, self.target)
            return False
        self.partial.unlink(missing_ok=True)
        if is_disk_full(error):
            raise DiskFull(self.target) from error
        return False


def is_disk_full(error: BaseException | None) -> bool:
    """ENOSPC or EFBIG, as an OSError or as libsndfile's wording of it."""
    if isinstance(error, OSError) and error.errno in (28, 27):
        return True
    text = str(error).lower()
    return error is not None and ("no space left" in text or "file too large" in text)


class WavWriter:
    """16-bit PCM wav (what every player plays; samples beyond ±1 clipped), written block by block
    under a temporary name with Python's `wave`, so a full disk surfaces as an OSError with its errno."""

    def __init__(self, target: Path, sample_rate: int, channels: int) -> None:
        import wave

        self._atomic = atomic_path(target)
        self.partial = self._atomic.__enter__()
        self._file = wave.open(str(self.partial), "wb")  # noqa: SIM115 (closed in __exit__)
        self._file.setnchannels(channels)
        self._file.setsampwidth(2)
        self._file.setframerate(sample_rate)

    def write(self, samples: np.ndarray) -> None:
        """Samples [C, n]."""
        pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
        self._file.writeframesraw(np.ascontiguousarray(pcm.T).tobytes())

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        closing_error = None
        try:
            self._file.close()  # writes the final sizes into the header
        except Exception as exc:
            closing_error = exc
            if error is None:
                kind, error, traceback = type(exc), exc, exc.__traceback__
        self._atomic.__exit__(kind, error, traceback)  # renames, or removes (DiskFull when the disk is full)
        if closing_error is not None and error is closing_error:
            raise closing_error
        return False

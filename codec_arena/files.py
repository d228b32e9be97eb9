"""Files of any length through a codec, in flat memory: what `codec-arena encode`, `decode` and
`roundtrip` run.

encode: the input is conformed block by block (`audio_stream.open_conformed`), a first pass gathers
the whole-file statistics a codec normalises with, then the engine (`codecs.stream`) encodes window
by window, appending codes to the codes file as it goes. decode: the engine decodes window by window
into a wav; a codec that restores the input's loudness gets a second pass over a float32 temporary
file. Every output is written under a temporary name and renamed at the end.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio_stream import DiskFull, RawReader, RawWriter, WavWriter, is_disk_full, open_conformed
from .codecs import codes_file, stream
from .codecs.base import Codec, CodecInfo, Codes, OperatingPoint
from .codecs.chunked import ChunkedCodec, inference
from .errors import RequestError

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class FileResult:
    path: Path
    seconds: float  # audio duration
    elapsed_s: float
    codes: codes_file.Header
    bitrate_kbps: float  # measured: the codes' own tokens over the duration (decode)


MAX_WAV_BYTES = 2**32 - 1024  # a RIFF wav's size field is 32 bits


def require_codes_file(info: CodecInfo) -> None:
    """Refuse, before any model loads, a codec whose output a codes file cannot hold (integer tokens only)."""
    if info.continuous:
        raise RequestError(f"{info.id} is a continuous tokenizer: it makes float latents, and codes files hold "
                           "integer tokens; use `codec-arena roundtrip` for it.")
    if not info.neural:
        raise RequestError(f"{info.id} is a classical codec: it makes bytes, not tokens; use "
                           "`codec-arena roundtrip` for it.")


def streaming_codec(codec: Codec) -> ChunkedCodec:
    """The codec, if codes files can hold what it makes (integer tokens) and it runs on the engine."""
    require_codes_file(codec.info)
    assert isinstance(codec, ChunkedCodec), f"{codec.info.id}: every neural codec runs on the engine"
    return codec


def encode_file(codec: Codec, point: OperatingPoint, source: Path, out: Path,
                progress: Progress | None = None) -> FileResult:
    """Audio file -> codes file (`codes_file`), never holding more than a window of audio. Temporary
    files (a conformed copy, the token spool) live beside `out` and go whatever happens."""
    codec, out = streaming_codec(codec), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".codec-arena-", dir=out.parent) as work:
        writer, reader = codes_file.CodesWriter(out, codec.info.codebook_size), None
        try:
            reader = open_conformed(Path(source), codec.info.sample_rate, codec.info.channels, Path(work))
            with codec.lock, inference():
                extras = codec.encode_into(reader, point, writer, progress)
            header = codes_file.Header(
                codec_id=codec.info.id, weights=codec.weights_id, sample_rate=codec.info.sample_rate,
                frame_rate=float(codec.info.frame_rate), codebook_size=int(codec.info.codebook_size),
                num_samples=reader.frames, codebooks=writer.codebooks or 0, frames=writer.frames,
                bitrate_kbps=round(point.bitrate_kbps, 3))
            writer.close(header, extras)
        except BaseException as exc:
            writer.discard()
            if is_disk_full(exc):
                raise DiskFull(out) from exc
            raise
        finally:
            if reader is not None:
                reader.close()
    seconds = header.num_samples / header.sample_rate
    return FileResult(out, seconds, time.perf_counter() - started, header, header.bitrate_kbps)


def decode_file(codec: Codec, source: Path, out: Path, progress: Progress | None = None,
                expect_codec: str | None = None) -> FileResult:
    """Codes file -> 16-bit wav, window by window."""
    codec, out = streaming_codec(codec), Path(out)
    started = time.perf_counter()
    codes, header = codes_file.read(Path(source), codec_id=expect_codec or codec.info.id, weights=codec.weights_id)
    if codes.num_samples * codec.info.channels * 2 > MAX_WAV_BYTES:
        raise RequestError(f"{codes.num_samples / codes.sample_rate / 3600:.1f} h of audio is more than a wav file "
                           "holds (4 GiB): encode the recording in parts.")
    out.parent.mkdir(parents=True, exist_ok=True)
    side = codec.side_of(codes)
    with codec.lock, inference():
        if not codec.whole_file_gain:
            with WavWriter(out, codec.info.sample_rate, codec.info.channels) as writer:
                stream.decode(codec, codes.tokens, side, codes.num_samples, writer.write, progress=progress)
        else:
            _decode_with_output_gain(codec, codes, side, out, progress)
    return FileResult(out, codes.num_samples / codes.sample_rate, time.perf_counter() - started, header,
                      codes.bitrate_kbps)


def _decode_with_output_gain(codec: ChunkedCodec, codes: Codes, side: dict, out: Path,
                             progress: Progress | None) -> None:
    """Decode to a float32 temporary file while measuring it, then copy it over with the gain."""
    rate = codec.info.sample_rate
    stats = stream.SignalStats(rate)
    with tempfile.TemporaryDirectory(prefix=".codec-arena-", dir=out.parent) as work:
        raw = Path(work) / "decoded.f32"
        try:
            with RawWriter(raw) as spool:
                def write(samples: np.ndarray) -> None:
                    stats.add(samples)
                    spool.write(samples)

                stream.decode(codec, codes.tokens, side, codes.num_samples, write, progress=progress)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFull(out) from exc
            raise
        gain = np.float32(codec.output_gain(codes, stats))
        decoded = RawReader(raw, codec.info.channels, rate)
        with WavWriter(out, rate, codec.info.channels) as writer:
            for block in stream.blocks(decoded, int(stream.BLOCK_SECONDS * rate)):
                writer.write(block * gain)


def roundtrip_file(codec: Codec, point: OperatingPoint, source: Path, out: Path, codes_out: Path | None = None,
                   progress: Progress | None = None) -> tuple[FileResult, FileResult]:
    """encode_file then decode_file; the codes go to `codes_out` or a temporary file."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".codec-arena-", dir=Path(out).parent) as work:
        codes_path = Path(codes_out) if codes_out else Path(work) / "codes.npz"
        half = (lambda f, m: progress(f / 2, m)) if progress else None
        encoded = encode_file(codec, point, source, codes_path, half)
        rest = (lambda f, m: progress(0.5 + f / 2, m)) if progress else None
        decoded = decode_file(codec, codes_path, out, rest)
    return encoded, decoded

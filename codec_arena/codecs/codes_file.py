"""The codes file: tokens plus what decoding them needs, versioned and kept apart from the networks
(as DAC's `DACFile` is).

A codes file is an `.npz` (a zip of `.npy` arrays, so `numpy.load` opens it anywhere):
- `header`: a JSON string: format name and version, codec id, the weights' fingerprint, the facts
  decoding needs (sample rate, frame rate, codebook size, samples, bitrate) and the extras' names;
- `tokens`: int16 (int32 for codebooks over 32768 entries) [K, T], stored column-major so a long
  file is written frame by frame as the encoder goes;
- `extra_<name>`: small arrays a decoder needs (EnCodec 48 kHz's per-segment scales, DAC's input
  loudness, ...).
`read` refuses, in one line, a file from another codec, another format version or other weights.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio_stream import atomic_path
from ..errors import CodecArenaError
from .base import Codes

FORMAT = "codec-arena-codes"
VERSION = 1


class CodesFileError(CodecArenaError):
    """A codes file that cannot be decoded here (the message says why and what to do)."""


@dataclass(frozen=True)
class Header:
    codec_id: str
    weights: str  # fingerprint of the weights file that made the codes ('' when unknown: not checked)
    sample_rate: int
    frame_rate: float
    codebook_size: int
    num_samples: int
    codebooks: int
    frames: int
    bitrate_kbps: float
    version: int = VERSION

    def to_json(self, extras: list[str]) -> str:
        return json.dumps({"format": FORMAT, **self.__dict__, "extras": extras})


def header_of(codes: Codes, weights: str) -> Header:
    return Header(codec_id=codes.codec_id, weights=weights, sample_rate=codes.sample_rate,
                  frame_rate=codes.frame_rate, codebook_size=codes.codebook_size, num_samples=codes.num_samples,
                  codebooks=codes.codebooks, frames=codes.frames, bitrate_kbps=round(codes.nominal_kbps, 3))


def token_dtype(codebook_size: int) -> np.dtype:
    return np.dtype(np.int16 if codebook_size <= 2**15 else np.int32)


def to_bytes(codes: Codes, weights: str) -> bytes:
    """A whole codes file in memory (the app's download)."""
    buffer = io.BytesIO()
    _write_zip(buffer, header_of(codes, weights), codes.tokens, codes.extras)
    return buffer.getvalue()


def write(path: Path, codes: Codes, weights: str) -> Path:
    """Written to a temporary name beside `path` and renamed: an interrupted write leaves no file
    that looks complete."""
    with atomic_path(path) as partial, open(partial, "wb") as handle:
        _write_zip(handle, header_of(codes, weights), codes.tokens, codes.extras)
    return path


def _write_zip(handle, header: Header, tokens: np.ndarray, extras: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _put_header_and_extras(archive, header, extras)
        archive.writestr("tokens.npy", _npy(np.asfortranarray(tokens.astype(token_dtype(header.codebook_size)))))


def _put_header_and_extras(archive: zipfile.ZipFile, header: Header, extras: dict[str, np.ndarray]) -> None:
    archive.writestr("header.npy", _npy(np.array(header.to_json(sorted(extras)))))
    for name, value in extras.items():
        archive.writestr(f"extra_{name}.npy", _npy(np.asarray(value)))


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class CodesWriter:
    """Tokens appended window by window ([K, k] each) to a raw spool file, then packed into the codes
    file on `close` (under a temporary name, renamed last). Memory holds one window at a time."""

    def __init__(self, path: Path, codebook_size: int) -> None:
        self.path, self.codebook_size = Path(path), codebook_size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        spool = tempfile.NamedTemporaryFile(prefix=".codes-", dir=self.path.parent, delete=False)  # noqa: SIM115
        self._spool = spool  # closed by close() or discard()  # noqa: SIM115 (closed in close/discard)
        self.frames, self.codebooks = 0, None
        self.side: dict[str, list[np.ndarray]] = {}

    def add(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> None:
        self.codebooks = tokens.shape[0]
        self._spool.write(np.ascontiguousarray(tokens.T.astype(token_dtype(self.codebook_size))).tobytes())
        self.frames += tokens.shape[1]
        for key, value in side.items():
            self.side.setdefault(key, []).append(value)

    def close(self, header: Header, extras: dict[str, np.ndarray]) -> Path:
        dtype = token_dtype(self.codebook_size)
        extras = {**extras, **{k: np.concatenate(v) for k, v in self.side.items()}}
        try:
            self._spool.close()
            with atomic_path(self.path) as partial, \
                    zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                _put_header_and_extras(archive, header, extras)
                with archive.open("tokens.npy", "w", force_zip64=True) as out, open(self._spool.name, "rb") as raw:
                    np.lib.format.write_array_header_1_0(out, {
                        "descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": True,
                        "shape": (self.codebooks or 0, self.frames)})
                    while chunk := raw.read(1 << 22):
                        out.write(chunk)
        finally:
            self.discard()
        return self.path

    def discard(self) -> None:
        with contextlib.suppress(OSError):  # a full disk fails the last flush too; the file goes anyway
            self._spool.close()
        Path(self._spool.name).unlink(missing_ok=True)


def read_header(path: Path | str, codec_id: str | None = None) -> Header:
    """The header alone (which codec to load), checked as `read` checks it, weights aside."""
    return _open(path, lambda npz, meta: _header(meta), codec_id, None)


def read(path: Path | str | bytes, codec_id: str | None = None, weights: str | None = None) -> tuple[Codes, Header]:
    """Codes and header; refuses a file from another codec (`codec_id`), format version or weights."""
    def codes_of(npz, meta: dict) -> tuple[Codes, Header]:
        header = _header(meta)
        extras = {k: npz[f"extra_{k}"] for k in meta.get("extras", [])}
        tokens = np.ascontiguousarray(np.asarray(npz["tokens"], dtype=np.int64))
        return Codes(tokens=tokens, frame_rate=header.frame_rate, codebook_size=header.codebook_size,
                     sample_rate=header.sample_rate, num_samples=header.num_samples, codec_id=header.codec_id,
                     extras=extras), header

    return _open(path, codes_of, codec_id, weights)


def _header(meta: dict) -> Header:
    return Header(**{k: meta[k] for k in Header.__dataclass_fields__})


def _open(path: Path | str | bytes, take, codec_id: str | None, weights: str | None):
    """`take(npz, meta)` on a checked codes file; every failure is one `CodesFileError` sentence."""
    name = "the codes file" if isinstance(path, bytes) else str(path)
    if not isinstance(path, bytes) and not Path(path).is_file():
        raise CodesFileError(f"No such codes file: {path}.")
    try:
        with np.load(io.BytesIO(path) if isinstance(path, bytes) else Path(path), allow_pickle=False) as npz:
            if "header" not in npz.files:
                raise CodesFileError(f"{name} is not a Codec Arena codes file (no header): write one with "
                                     "`codec-arena encode`.")
            meta = json.loads(str(npz["header"]))
            _check(meta, name, codec_id, weights)
            return take(npz, meta)
    except CodesFileError:
        raise
    except Exception as exc:  # not a zip, a damaged member, bad JSON, a missing field
        raise CodesFileError(f"{name} is not a readable codes file ({type(exc).__name__}: {exc}).") from exc


def _check(meta: dict, name: str, codec_id: str | None, weights: str | None) -> None:
    if meta.get("format") != FORMAT:
        raise CodesFileError(f"{name} is not a Codec Arena codes file (format {meta.get('format')!r}).")
    if meta.get("version") != VERSION:
        newer = int(meta.get("version", 0)) > VERSION
        raise CodesFileError(f"{name} is codes format version {meta.get('version')}; this Codec Arena reads "
                             f"version {VERSION}: " + ("upgrade codec-arena to decode it." if newer
                                                       else "re-encode the audio with this version."))
    if codec_id is not None and meta.get("codec_id") != codec_id:
        raise CodesFileError(f"{name} holds {meta.get('codec_id')} codes, not {codec_id}: decode it with "
                             f"--codec {meta.get('codec_id')} (or leave --codec out).")
    if weights is not None and meta.get("weights") and meta.get("weights") != weights:
        raise CodesFileError(f"{name} was made with other {meta.get('codec_id')} weights (fingerprint "
                             f"{meta.get('weights') or 'none'}, here {weights or 'none'}): decode it where those "
                             "weights are, or encode the audio again here.")

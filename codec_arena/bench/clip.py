"""One clip of a benchmark dataset: where its bytes are, which split it belongs to, and its hash.

The hash (of the encoded file's bytes) keys every result, so renaming or moving a dataset does not
redo finished work, and a changed file is measured again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

OVERALL = "overall"  # the aggregate over every split, as Codec-SUPERB names it


@dataclass(frozen=True)
class Clip:
    id: str  # unique within the dataset: a relative path, a manifest's path, or "<split>/<row>"
    sha256: str  # of the file's bytes ("" where the file could not be read: see `problem`)
    split: str = ""  # Speech / Audio / Music / ..., "" when the dataset has none
    transcript: str | None = None
    path: str | None = None  # a file to read ...
    data: bytes | None = None  # ... or the encoded file itself (rows of a `datasets` dataset)
    problem: str | None = None  # why the reader could not offer this clip (recorded as failed, run goes on)

    def content(self) -> bytes:
        """The encoded audio file (wav, flac, mp3, ...) as bytes."""
        if self.data is not None:
            return self.data
        if self.path is None:
            raise FileNotFoundError(f"{self.id}: no path and no data")
        return Path(self.path).read_bytes()

    @property
    def key(self) -> str:
        """What results are keyed by: the content hash, or the id for a clip that could not be read."""
        return self.sha256 or f"unreadable:{self.id}"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

"""What every parity script needs: where the official checkout is, and the same seeded test signal."""

from __future__ import annotations

import os
from pathlib import Path

from codec_arena.signals import seeded_audio  # noqa: F401  (the seeded test signal every script uses)

TOLERANCE = 1e-5  # max abs audio difference a port may show


def default_official(name: str) -> Path:
    """`$CODEC_ARENA_OFFICIAL_DIR/<name>`, else `/work/official/<name>`."""
    base = os.environ.get("CODEC_ARENA_OFFICIAL_DIR")
    return Path(base) / name if base else Path("/work/official") / name

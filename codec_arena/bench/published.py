"""The published Codec-SUPERB results (codec-superb-tiny), shipped as data so the Leaderboard can set a
run of ours beside them without a download.

`assets/codec_superb/codec_superb_tiny.json` is written by `scripts/import_codec_superb.py` from a
Codec-SUPERB checkout (its commit and date are in the file); each of their codecs carries its family,
kbps, token rate and, where it is the same model as one of ours, our operating point (`our_id`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from .board import BoardRow, Facts, from_superb_json

ASSET = Path(__file__).resolve().parents[2] / "assets" / "codec_superb" / "codec_superb_tiny.json"
SOURCE = "published"


@functools.lru_cache(maxsize=1)
def published() -> dict[str, Any]:
    """The asset as written by the import script (read once)."""
    return json.loads(ASSET.read_text(encoding="utf-8"))


def short_provenance() -> str:
    """"Codec-SUPERB, cfccafc 2026-05-05": what a published row's source cell says."""
    data = published()
    return f"Codec-SUPERB, {data['commit'][:7]} {data['date'][:10]}"


def provenance() -> str:
    data = published()
    return f"Codec-SUPERB results/codec-superb-tiny at {data['commit'][:7]} ({data['date'][:10]})"


def our_point(label: str) -> str | None:
    """Our operating point ("dac_16khz@6") for one of their codec names, where it is the same model."""
    entry = published()["codecs"].get(label)
    return entry.get("our_id") if entry else None


def _facts(label: str) -> Facts:
    entry = published()["codecs"][label]
    our_id = entry.get("our_id")
    return Facts(our_id.partition("@")[0] if our_id else None, entry.get("family", ""), entry.get("kbps"),
                 entry.get("token_rate"))


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[BoardRow, ...]:
    results = {name: entry["results"] for name, entry in published()["codecs"].items()}
    return tuple(from_superb_json(results, SOURCE, provenance(), _facts))


def published_rows() -> list[BoardRow]:
    """One row per (codec, split) of the published results; the rows are frozen, the list is a copy."""
    return list(_rows())

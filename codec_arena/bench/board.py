"""Leaderboard rows: one codec configuration on one split, with its metric means, from any source
(a bench run here, the published Codec-SUPERB results, or a results file a user uploads).

The files `codec-arena bench` writes are read back here, so the tab shows exactly what the CLI wrote:
`summary.json` (ours: means, 95% intervals, counts, random-weight flags), `codec_superb.json`
(Codec-SUPERB's `{codec: {split: {metric: mean}}}` layout) and `clips.csv` (one row per clip).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..analysis.superb import NAMES as SUPERB_METRICS
from ..errors import RequestError
from .aggregate import aggregate

SUMMARY_FORMAT = "codec-arena-bench"
SUMMARY_VERSION = 1
MAX_FILE_BYTES = 50 << 20


class BoardFileError(RequestError):
    """A results file that cannot be shown (the message says what was expected)."""


@dataclass(frozen=True)
class Facts:
    """What places a configuration on the board, where it is known."""

    codec_id: str | None = None  # our registry id: the row can open in Compare
    family: str = ""
    kbps: float | None = None
    token_rate: float | None = None  # tokens per second
    random_weights: bool = False


@dataclass(frozen=True)
class BoardRow:
    source: str  # "published" | "run" | "uploaded"
    label: str  # the configuration as its source names it: "dac_16khz@6", or Codec-SUPERB's "dac_16k"
    split: str  # Speech / Audio / Music / ... or "overall"
    facts: Facts
    values: dict[str, float | None]  # metric -> mean
    ci95: dict[str, float | None] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)
    provenance: str = ""  # where the figures come from (commit and date, or the run's dataset and date)


def point_facts(label: str) -> Facts:
    """Facts for one of our operating points ("dac_16khz@6"); empty facts for a name we do not run."""
    from ..compare import parse_point
    from ..errors import CodecArenaError

    try:
        point = parse_point(label)
    except CodecArenaError:
        return Facts(family=label.split("@")[0])
    return Facts(point.codec, point.info.family, point.kbps, point.token_rate)


def from_summary(data: Mapping[str, Any], source: str = "run") -> list[BoardRow]:
    """Rows from our `summary.json`."""
    if data.get("format") != SUMMARY_FORMAT:
        raise BoardFileError("This JSON is not a codec-arena bench summary (no \"format\": \"codec-arena-bench\").")
    if int(data.get("version", 0)) > SUMMARY_VERSION:
        raise BoardFileError(f"This summary is format version {data.get('version')}; this codec-arena reads up to "
                             f"{SUMMARY_VERSION}. Update codec-arena to view it.")
    provenance = f"{data.get('dataset', '?')}, {data.get('created', '?')}"
    rows = []
    for label, splits in data.get("results", {}).items():
        facts_in = data.get("points", {}).get(label, {})
        facts = Facts(facts_in.get("codec"), facts_in.get("family", ""), facts_in.get("kbps"),
                      facts_in.get("token_rate"), bool(facts_in.get("random_weights")))
        for split, metrics in splits.items():
            rows.append(BoardRow(source, label, split, facts,
                                 {m: s.get("mean") for m, s in metrics.items()},
                                 {m: s.get("ci95") for m, s in metrics.items()},
                                 {m: int(s.get("n", 0)) for m, s in metrics.items()}, provenance))
    return rows


def from_superb_json(data: Mapping[str, Any], source: str, provenance: str = "",
                     facts_of: Callable[[str], Facts] = point_facts) -> list[BoardRow]:
    """Rows from Codec-SUPERB's results layout `{codec: {split: {metric: mean}}}` (theirs or ours).
    Entries Codec-SUPERB writes for codecs it could not evaluate (`encode_only`, `error`) are left out."""
    rows = []
    for label, splits in data.items():
        if not isinstance(splits, Mapping) or "encode_only" in splits or "error" in splits:
            continue
        facts = facts_of(label)
        for split, metrics in splits.items():
            if not isinstance(metrics, Mapping):
                continue
            values = {m: _number(v) for m, v in metrics.items()}
            rows.append(BoardRow(source, label, split, facts, values, provenance=provenance))
    return rows


def from_clips_csv(text: str, source: str = "uploaded", provenance: str = "") -> list[BoardRow]:
    """Rows from our per-clip CSV: aggregated here the way `bench` aggregates."""
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    if not {"point", "split", "status"} <= set(columns):
        raise BoardFileError(f"This CSV has columns {', '.join(columns[:8]) or 'none'}; a bench clips.csv has "
                             "point, split, status and one column per metric.")
    metrics = [c for c in columns if c in SUPERB_METRICS or c.startswith("app.")]
    rows = [{"point": r["point"], "split": r["split"],
             "metrics": {m: _number(r.get(m)) for m in metrics}, "random": r.get("random_weights") == "True"}
            for r in reader if r.get("status") == "done"]
    if not rows:
        raise BoardFileError("This CSV has no finished rows (status 'done') to show.")
    random = {r["point"] for r in rows if r["random"]}
    out = []
    for (label, split), summaries in aggregate(rows, metrics).items():
        facts = point_facts(label)
        facts = Facts(facts.codec_id, facts.family, facts.kbps, facts.token_rate, label in random)
        out.append(BoardRow(source, label, split, facts, {m: s.mean for m, s in summaries.items()},
                            {m: s.ci95 for m, s in summaries.items()}, {m: s.n for m, s in summaries.items()},
                            provenance))
    return out


def load_results_file(path: str | Path, source: str = "uploaded") -> list[BoardRow]:
    """Any of the files `bench` writes (summary.json, codec_superb.json, clips.csv), or a Codec-SUPERB
    results JSON; anything else is refused with what was expected."""
    path = Path(path)
    name = path.name
    expected = "Upload summary.json, codec_superb.json or clips.csv from a `codec-arena bench` output folder."
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise BoardFileError(f"{name} is larger than {MAX_FILE_BYTES >> 20} MB. {expected}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BoardFileError(f"{name} is not a text file. {expected}") from None
    except OSError as exc:
        raise BoardFileError(f"{name} could not be read ({exc.strerror}).") from None
    provenance = f"uploaded {name}"
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BoardFileError(f"{name} is not valid JSON (line {exc.lineno}: {exc.msg}). {expected}") from None
        if not isinstance(data, dict):
            raise BoardFileError(f"{name} holds a JSON {type(data).__name__}, not a results object. {expected}")
        rows = from_summary(data, source) if "format" in data else from_superb_json(data, source, provenance)
    else:
        rows = from_clips_csv(text, source, provenance)
    if not rows:
        raise BoardFileError(f"{name} holds no results. {expected}")
    return rows


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def runs_index() -> Path:
    """The list of bench output folders on this machine: what the Leaderboard tab shows as local runs."""
    from ..listening.store import data_dir

    return data_dir() / "bench" / "runs.txt"


def record_run(out_dir: Path) -> None:
    """Add a finished run's folder to the index (once)."""
    index = runs_index()
    index.parent.mkdir(parents=True, exist_ok=True)
    known = set(index.read_text().splitlines()) if index.exists() else set()
    entry = str(Path(out_dir).resolve())
    if entry not in known:
        with open(index, "a", encoding="utf-8") as handle:
            handle.write(entry + "\n")


def local_runs() -> list[BoardRow]:
    """Rows of every indexed run whose summary still exists; unreadable ones are skipped."""
    index = runs_index()
    rows: list[BoardRow] = []
    if not index.exists():
        return rows
    for line in dict.fromkeys(index.read_text(encoding="utf-8").splitlines()):
        summary = Path(line) / "summary.json"
        try:
            rows += from_summary(json.loads(summary.read_text(encoding="utf-8")), "run")
        except (OSError, ValueError, BoardFileError):
            continue
    return rows

"""What a bench run leaves in its output folder, beside `results.sqlite`:

- `clips.csv` and `clips.parquet`: one row per (clip, operating point), metrics as columns;
- `summary.json`: per point and split, each metric's mean, 95% interval and count, with the facts
  that place the point on a leaderboard (family, kbps, tokens/s, random weights);
- `codec_superb.json`: the means in Codec-SUPERB's results layout `{codec: {split: {metric: mean}}}`,
  submittable there unchanged (keys are our operating points, e.g. `dac_16khz@6`).

Each file is written under a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..audio_stream import atomic_path
from .aggregate import Groups, aggregate
from .board import SUMMARY_FORMAT, SUMMARY_VERSION
from .metrics import higher_is_better

INFO_COLUMNS = ("codec", "family", "kbps", "token_rate", "bitrate_kbps", "duration_s", "sample_rate", "encode_s",
                "decode_s", "device", "random_weights", "weights_id", "worker")


def clip_table(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Flat per-clip records: identity, status, one column per metric, then timings and facts."""
    table = []
    for row in rows:
        record = {"clip_id": row["clip_id"], "split": row["split"], "point": row["point"], "status": row["status"],
                  "reason": row["reason"]}
        record |= {m: row["metrics"].get(m) for m in metrics}
        record |= {c: row.get(c) for c in INFO_COLUMNS}
        record["clip_sha256"] = row["clip_sha256"]
        table.append(record)
    return table


def write_csv(table: list[dict[str, Any]], path: Path) -> Path:
    with atomic_path(path) as partial, open(partial, "w", newline="", encoding="utf-8") as handle:
        columns = list(table[0]) if table else ["clip_id", "split", "point", "status", "reason"]
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(table)
    return path


def write_parquet(table: list[dict[str, Any]], path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(path) as partial:
        pq.write_table(pa.Table.from_pylist(table), partial)
    return path


def summary(groups: Groups, metrics: Sequence[str], points: Mapping[str, dict], dataset: str, metric_version: str,
            counts: Mapping[str, int]) -> dict[str, Any]:
    results: dict[str, dict] = {}
    for (point, split), summaries in groups.items():
        results.setdefault(point, {})[split] = {
            m: {"mean": s.mean, "ci95": s.ci95, "n": s.n} for m, s in summaries.items()}
    return {"format": SUMMARY_FORMAT, "version": SUMMARY_VERSION, "dataset": dataset,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "metric_version": metric_version,
            "metrics": list(metrics), "higher_is_better": {m: higher_is_better(m) for m in metrics},
            "points": dict(points), "results": results, "counts": dict(counts)}


def superb_layout(groups: Groups) -> dict[str, dict[str, dict[str, float | None]]]:
    out: dict[str, dict] = {}
    for (point, split), summaries in groups.items():
        out.setdefault(point, {})[split] = {m: s.mean for m, s in summaries.items()}
    return out


def write_json(data: Any, path: Path) -> Path:
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def write_all(out: Path, rows: Sequence[Mapping[str, Any]], metrics: Sequence[str], points: Mapping[str, dict],
              dataset: str, metric_version: str, counts: Mapping[str, int]) -> list[Path]:
    """Every export from the stored rows: finished rows feed the means, failed ones stay in the clip table."""
    table = clip_table(rows, metrics)
    groups = aggregate([r for r in rows if r["status"] == "done"], metrics)
    return [write_csv(table, out / "clips.csv"), write_parquet(table, out / "clips.parquet"),
            write_json(summary(groups, metrics, points, dataset, metric_version, counts), out / "summary.json"),
            write_json(superb_layout(groups), out / "codec_superb.json")]

"""Write a comparison to a folder: metrics.json / metrics.csv, the wavs, the tokens, and a
self-contained report.html (players, spectrograms, metrics, charts) that opens offline."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .analysis.metrics import QUALITY_KEYS, SPECS
from .audio import Audio, write_wav
from .compare import Entry
from .player import PLAYER_CSS, PLAYER_JS, player_html
from .roundtrip import Encoding

COLUMNS = ["codec", "bitrate_kbps", "requested_kbps", "codebooks", "token_rate", *QUALITY_KEYS, "delay_ms",
           "real_time_factor", "peak_memory_mb", "random_weights"]
LABELS = {spec.key: spec.label for spec in SPECS} | {
    "codec": "codec", "requested_kbps": "asked kbps", "codebooks": "codebooks", "delay_ms": "delay (ms)"}
# the metrics table people read (app and report.html): the operating point first, then what was measured
TABLE_COLUMNS = ["bitrate_kbps", "codebooks", "token_rate", *QUALITY_KEYS, "delay_ms", "real_time_factor",
                 "peak_memory_mb"]
SCORED = {spec.key: spec.higher_is_better for spec in SPECS
          if spec.key in QUALITY_KEYS or spec.key in ("real_time_factor", "peak_memory_mb")}
RANDOM_MARK = "⚠\u00a0random"  # one unbreakable word: a narrow cell wraps before it, never inside
# short words, so seventeen columns read at 1440 px without a word broken in two
SHORT = {"bitrate_kbps": "kbps used", "token_rate": "tokens per s", "stft_distance": "MR-STFT",
         "peak_memory_mb": "memory +MB"}


def header(key: str) -> str:
    """A column's label with its direction where it is a score: ↑ higher is better, ↓ lower is better."""
    label = SHORT.get(key) or LABELS.get(key, key)
    return label if key not in SCORED else f"{label} {'↑' if SCORED[key] else '↓'}"


def table_headers() -> list[str]:
    return ["operating point", *(header(key) for key in TABLE_COLUMNS)]


def shown(value: Any) -> Any:
    """A cell as a person reads it: n/a for a metric that does not apply, three significant digits and at most
    three decimals (the CSV and JSON keep every digit)."""
    if value is None:
        return "n/a"
    return round(float(f"{value:.3g}"), 3) + 0.0 if isinstance(value, float) else value  # + 0.0: no "-0.0"


def table_rows(entries: list[Entry]) -> list[list]:
    """One row per reconstruction: `codec@kbps` (marked when the weights are random), then TABLE_COLUMNS."""
    rows = []
    for entry in entries:
        row = entry.row()
        point = f"{entry.point} {RANDOM_MARK}" if row["random_weights"] else str(entry.point)
        rows.append([point, *(shown(row.get(key)) for key in TABLE_COLUMNS)])
    return rows


def file_stem(index: int, entry: Entry) -> str:
    return f"{index + 1:02d}_{entry.point.codec}_{entry.result.requested_kbps:g}kbps"


def write_metrics(entries: list[Entry], out: Path) -> tuple[Path, Path]:
    rows = [entry.row() for entry in entries]
    json_path, csv_path = out / "metrics.json", out / "metrics.csv"
    json_path.write_text(json.dumps(rows, indent=2))
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*COLUMNS, "notes"])
        for row in rows:
            notes = "; ".join(f"{k}: {v}" for k, v in row["notes"].items())
            writer.writerow([("" if row.get(c) is None else row.get(c)) for c in COLUMNS] + [notes])
    return json_path, csv_path


def write_outputs(original: Audio, entries: list[Entry], out: Path, html_report: bool = True,
                  tokenized: Sequence[Encoding] = ()) -> list[Path]:
    """Everything a user downloads; returns the paths written. `tokenized`: encode-only tokenizers' codes."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [write_wav(original, out / "00_original.wav")]
    for i, entry in enumerate(entries):
        paths.append(write_wav(entry.result.output, out / f"{file_stem(i, entry)}.wav"))
        if entry.result.codes is not None:
            path = out / f"{file_stem(i, entry)}_tokens.npz"
            path.write_bytes(entry.result.codes.to_npz(entry.result.weights_id))
            paths.append(path)
    for encoding in tokenized:
        paths.append(out / f"{encoding.point.codec}_tokens.npz")
        paths[-1].write_bytes(encoding.codes.to_npz(encoding.weights_id))
    paths += write_metrics(entries, out)
    if html_report:
        paths.append(write_html(original, entries, out / "report.html"))
    return paths


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def metrics_table_html(entries: list[Entry]) -> str:
    """The app's metrics table: operating point first, directions in the headers; hover a cell for why n/a."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table_headers())
    body = []
    for entry, cells in zip(entries, table_rows(entries), strict=True):
        notes = entry.row()["notes"]
        tds = [f'<th scope="row" title="{html.escape(notes.get("random_weights", ""))}">{html.escape(cells[0])}</th>']
        for key, value in zip(TABLE_COLUMNS, cells[1:], strict=True):
            tds.append(f'<td title="{html.escape(notes.get(key, ""))}">{html.escape(str(value))}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def rate_distortion(rows: list[dict[str, Any]], metric: str):
    """The rate–distortion chart, with codecs that ran on random test weights marked in the legend."""
    from .analysis.plots import rate_distortion_figure

    fig = rate_distortion_figure(rows, metric, LABELS.get(metric, metric))
    random = {row["codec"] for row in rows if row["random_weights"]}
    for trace in fig.data:
        if trace.name in random:
            trace.name = f"{trace.name} {RANDOM_MARK} weights"
    return fig


def write_html(original: Audio, entries: list[Entry], path: Path) -> Path:
    from .analysis.plots import spectrogram_grid

    rows = [entry.row() for entry in entries]
    sources = [("original", original)] + [(str(e.point), e.result.output) for e in entries]
    grid = spectrogram_grid(original, [(str(e.point), e.result.output) for e in entries])
    charts = []
    for key in ["mel_distance", "pesq_wb", "stoi", "si_sdr"]:
        if any(row.get(key) is not None for row in rows):
            fig = rate_distortion(rows, key)
            charts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if not charts else False))
    random = any(row["random_weights"] for row in rows)
    warning = ("<p class=warn>⚠ Some codecs ran on <b>random test weights</b>: their audio is noise and their "
               "quality metrics are meaningless; timings and memory are real.</p>") if random else ""
    notes = "".join(f"<li><b>{html.escape(r['codec'])}@{r['requested_kbps']:g}</b> {html.escape(k)}: "
                    f"{html.escape(v)}</li>" for r in rows for k, v in r["notes"].items())
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Codec Arena report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:24px auto;padding:0 16px}}
table{{border-collapse:collapse;font-size:14px}}td,th{{border:1px solid #ddd;padding:4px 8px;text-align:right}}
th{{background:#f3f3fa}}th[scope=row]{{text-align:left;white-space:nowrap}}
.warn{{background:#fff4e5;padding:8px;border-left:4px solid #f59e0b}}
img{{max-width:100%}}{PLAYER_CSS}</style></head><body>
<h1>Codec Arena report</h1><p>{stamp} · original: {original.duration:.2f} s, {original.sample_rate} Hz,
{original.channels} channel(s) · {len(entries)} reconstruction(s)</p>{warning}
{player_html(sources)}
<h2>Metrics</h2>{metrics_table_html(entries)}
<p>Hover a cell for why a metric is n/a. Reconstructions were delay-compensated before scoring.</p>
<ul>{notes}</ul>
<h2>Spectrograms</h2><img alt="spectrograms" src="{_png(grid)}">
<h2>Rate–distortion</h2>{''.join(charts) or '<p>No quality metric applies to these clips.</p>'}
<script>(function(){{ const element = document; {PLAYER_JS} }})();</script>
</body></html>"""
    path.write_text(page)
    return path

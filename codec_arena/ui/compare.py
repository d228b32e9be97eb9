"""Compare tab: one clip through several operating points, heard in one synced player, seen in a
spectrogram grid, scored in a metrics table, swept into a rate–distortion chart."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from ..analysis.metrics import QUALITY_KEYS
from ..compare import Comparison, Entry, all_points, compare, parse_point
from ..errors import RequestError
from ..models import gpu
from ..report import COLUMNS, LABELS, write_outputs
from .errors import user_errors
from .inputs import clip_input, load_clip
from .player import PLAYER_CSS, PLAYER_JS, player_html

DEFAULT_POINTS = ["encodec_24khz@6", "dac_16khz@6", "opus@24"]
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "codec-arena"
KEEP_OUTPUTS_S = 3600.0  # downloads of a comparison stay this long; Gradio keeps its own copies too


def output_dir() -> Path:
    """A fresh folder for one comparison's files; folders older than an hour are removed, so a
    long-running Space does not fill its disk."""
    import shutil
    import time

    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT_ROOT.iterdir():
        if time.time() - old.stat().st_mtime > KEEP_OUTPUTS_S:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="compare-", dir=OUTPUT_ROOT))


def point_choices() -> list[str]:
    return [str(point) for point in all_points()]


def table(entries: list[Entry]) -> list[list]:
    rows = [entry.row() for entry in entries]
    shown = [c for c in COLUMNS if c != "random_weights"]
    return [[("n/a" if row.get(c) is None else row.get(c)) for c in shown] for row in rows]


def warning(comparison: Comparison) -> str:
    entries = comparison.entries
    random = [str(e.point) for e in entries if e.result.random_weights]
    notes = sorted({f"**{e.point}** {k}: {v}" for e in entries for k, v in e.scores.notes.items()})
    text = "".join(f"> ⛔ **{point} skipped.** {message}\n\n" for point, message in comparison.skipped)
    if random:
        text += ("> ⚠️ **Random test weights** for " + ", ".join(random) + ": their audio is noise and their "
                 "quality metrics are meaningless. Timings and memory are real.\n\n")
    if notes:
        text += "**n/a explained:** " + " · ".join(notes)
    return text


@user_errors("comparing codecs")
@gpu(duration=180)
def run_compare(audio_path: str | None, points: list[str] | str | None, progress=gr.Progress()):
    """Returns the player, metrics rows, spectrogram grid, notes, downloads, and the entries (state)."""
    from ..analysis.plots import spectrogram_grid

    original = load_clip(audio_path)
    if isinstance(points, str):
        points = [p for p in points.split(",") if p.strip()]
    chosen = [parse_point(p) for p in (points or [])]
    comparison = compare(original, chosen, progress=lambda f, msg: progress(f, desc=f"round trip {msg}"))
    entries = comparison.entries
    sources = [("original", original)] + [(str(e.point), e.result.output) for e in entries]
    out = output_dir()
    files = write_outputs(original, entries, out, html_report=False)
    grid = spectrogram_grid(original, [(str(e.point), e.result.output) for e in entries])
    return (player_html(sources), table(entries), grid, warning(comparison), [str(p) for p in files],
            comparison)


@user_errors("sweeping operating points")
@gpu(duration=600)
def run_sweep(audio_path: str | None, points: list[str] | None, metric: str, progress=gr.Progress()):
    """Every operating point of the chosen codecs, into a rate–distortion chart."""
    from ..analysis.plots import rate_distortion_figure

    original = load_clip(audio_path)
    codecs = list(dict.fromkeys(parse_point(p).codec for p in (points or [])))
    if not codecs:
        raise RequestError("Choose at least one codec operating point; the sweep runs all of its bitrates.")
    entries = compare(original, all_points(codecs), progress=lambda f, msg: progress(f, desc=f"sweep {msg}")).entries
    rows = [entry.row() for entry in entries]
    return rate_distortion_figure(rows, metric, LABELS.get(metric, metric)), table(entries)


def build(state):
    """The tab's widgets; returns `run_after(event)`, which chains a comparison after another event
    (the Overview's "open in Compare" uses it), plus the clip and point selectors it fills."""
    with gr.Row():
        with gr.Column(scale=1):
            clip = clip_input()
            points = gr.Dropdown(label="Codecs @ kbps (pick several; type to filter, or type e.g. opus@40)",
                                 choices=point_choices(), value=DEFAULT_POINTS, multiselect=True,
                                 allow_custom_value=True)
            go = gr.Button("Compare", variant="primary")
        with gr.Column(scale=2):
            player = gr.HTML(value="<p>Run a comparison to fill the synced player.</p>", js_on_load=PLAYER_JS,
                             css_template=PLAYER_CSS, elem_id="ca-compare-player")
            notes = gr.Markdown()
    metrics = gr.Dataframe(label="Metrics (hover a column name; n/a has its reason above)",
                           headers=[LABELS.get(c, c) for c in COLUMNS if c != "random_weights"],
                           interactive=False, wrap=True)
    gr.Markdown("**Spectrograms** (one colour scale) **and differences** from the original")
    spectrograms = gr.Plot(show_label=False)
    downloads = gr.File(label="Downloads: wavs, tokens (.npz), metrics (CSV, JSON)", file_count="multiple")
    with gr.Accordion("Rate–distortion sweep", open=False):
        with gr.Row():
            metric = gr.Dropdown(label="Metric", choices=[(LABELS[k], k) for k in QUALITY_KEYS], value="mel_distance")
            sweep = gr.Button("Sweep every bitrate of the chosen codecs")
        chart = gr.Plot(label="Rate–distortion")
        sweep_table = gr.Dataframe(headers=[LABELS.get(c, c) for c in COLUMNS if c != "random_weights"],
                                   interactive=False, wrap=True)
    outputs = [player, metrics, spectrograms, notes, downloads, state]
    go.click(run_compare, inputs=[clip, points], outputs=outputs, api_name="compare")
    sweep.click(run_sweep, inputs=[clip, points, metric], outputs=[chart, sweep_table], api_name="sweep")

    def run_after(event) -> None:
        event.success(run_compare, inputs=[clip, points], outputs=outputs, api_visibility="private")

    return clip, points, run_after

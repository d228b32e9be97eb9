"""Compare tab: one clip through several operating points, heard in one synced player, seen in a
spectrogram grid, scored in a metrics table, swept into a rate–distortion chart."""

from __future__ import annotations

import gradio as gr

from ..analysis.metrics import QUALITY_KEYS
from ..compare import Comparison, ResultCache, all_points, compare, parse_point
from ..errors import RequestError
from ..player import PLAYER_CSS, PLAYER_JS, player_html
from ..report import LABELS, rate_distortion, table_headers, table_rows, write_outputs
from ..runtime import gpu
from .errors import show_reason, user_errors
from .inputs import clip_input, load_clip
from .outputs import output_dir
from .text import code, md

DEFAULT_POINTS = ["encodec_24khz@6", "dac_16khz@6", "opus@24"]
# pixels per column for the longest word or number in it (IBM Plex Mono 14 px, 4 px padding): all seventeen
# columns fit 1440 px; the operating point is pinned for narrower screens
COLUMN_WIDTHS = ["170px", *(f"{w}px" for w in (52, 86, 62, 62, 78, 70, 52, 52, 56, 62, 62, 62, 70, 56, 56, 62))]
# The metrics tables' cells get 4 px padding instead of 8 (a theme variable, scoped to the two tables), and the
# operating point stays in view when a table scrolls sideways: Gradio 6.31 takes `pinned_columns` but does not
# draw it, so its first column (body cells `data-col="0"`, header `data-heading="0"`) is made sticky here.
TABLE_HEAD = """<style>
#ca-compare-metrics, #ca-compare-sweep { --size-2: 4px; }
:is(#ca-compare-metrics, #ca-compare-sweep) :is([role=gridcell][data-col="0"], th[data-heading="0"]) {
  position: sticky; left: 0; z-index: 3; background: inherit; }
:is(#ca-compare-metrics, #ca-compare-sweep) th[data-heading="0"] { background: var(--table-even-background-fill); }
</style>"""
TABLE_LABEL = "Metrics: ↑ higher is better, ↓ lower is better; n/a has its reason above; ⚠ random = random test weights"
NOT_SWEPT = "It only encodes (it has no decoder), and a rate–distortion sweep needs audio back."
SWEEP_LABEL = "Every bitrate: ↑ higher is better, ↓ lower is better; ⚠ random = random test weights"


def point_choices(decoding: bool = False) -> list[str]:
    """Every operating point; `decoding`: only codecs that give audio back (listening tests)."""
    return [str(point) for point in all_points(decoding=decoding)]


def skipped_notes(comparison: Comparison) -> str:
    """A quoted line per operating point that could not run (its weights are missing), with the reason."""
    return "".join(f"> ⛔ {code(point)} **skipped.** {md(message)}\n\n" for point, message in comparison.skipped)


def warning(comparison: Comparison) -> str:
    """Skipped points, the random-weights warning and why each n/a is n/a; ids and messages are escaped, so
    `dac_44khz@7.752` stays text (not a mailto: link)."""
    entries = comparison.entries
    random = [code(e.point) for e in entries if e.result.random_weights]
    notes = sorted({f"{code(e.point)} {md(LABELS.get(k, k))}: {md(v)}" for e in entries
                    for k, v in e.scores.notes.items()})
    notes += [f"{code(e.point)} {md(LABELS.get('token_rate', 'token_rate'))}: {md(e.row()['notes']['token_rate'])}"
              for e in entries if e.result.codes is None]  # bytes or float latents: why no token rate
    text = skipped_notes(comparison)
    if random:
        text += ("> ⚠️ **Random test weights** for " + ", ".join(random) + ": their audio is noise and their "
                 "quality metrics are meaningless. Timings and memory are real.\n\n")
    if notes:
        text += "**n/a explained:** " + " · ".join(notes)
    return text


@user_errors("comparing codecs")
@gpu(duration=180)
def run_compare(audio_path: str | None, points: list[str] | str | None, cache: ResultCache | None,
                progress=gr.Progress()):
    """Returns the player, metrics rows, spectrogram grid, notes, downloads, the entries (state), the results
    shown, and the page's cache of round trips (returned so it survives a ZeroGPU worker too)."""
    from ..analysis.plots import spectrogram_grid

    original = load_clip(audio_path)
    if isinstance(points, str):
        points = [p for p in points.split(",") if p.strip()]
    chosen = [parse_point(p) for p in (points or [])]
    comparison = compare(original, chosen, progress=lambda f, msg: progress(f, desc=f"round trip {msg}"),
                         cache=cache)
    entries = comparison.entries
    sources = [("original", original)] + [(str(e.point), e.result.output) for e in entries]
    out = output_dir("compare-")
    files = write_outputs(original, entries, out, html_report=False, tokenized=comparison.tokenized)
    grid = spectrogram_grid(original, [(str(e.point), e.result.output) for e in entries])
    return (player_html(sources), table_rows(entries), grid, warning(comparison), [str(p) for p in files],
            comparison, gr.Column(visible=True), cache)


@user_errors("sweeping operating points")
@gpu(duration=600)
def run_sweep(audio_path: str | None, points: list[str] | None, metric: str, cache: ResultCache | None,
              progress=gr.Progress()):
    """Every operating point of the chosen codecs, into a rate–distortion chart; points this page has already
    computed for the clip (in Compare or an earlier sweep) are taken from `cache`, not run again."""
    original = load_clip(audio_path)
    infos = list({p.codec: p.info for p in map(parse_point, points or [])}.values())
    if not infos:
        raise RequestError("Choose at least one codec operating point; the sweep runs all of its bitrates.")
    decoding = [info.id for info in infos if not info.encode_only]
    if not decoding:  # a rate–distortion chart needs audio back
        raise infos[0].no_decoder("be swept for a rate–distortion chart")
    swept = compare(original, all_points(decoding), progress=lambda f, msg: progress(f, desc=f"sweep {msg}"),
                    cache=cache)
    swept.skipped += [(parse_point(info.id), NOT_SWEPT) for info in infos if info.encode_only]
    rows = [entry.row() for entry in swept.entries]
    return rate_distortion(rows, metric), table_rows(swept.entries), sweep_note(swept), gr.Column(visible=True), cache


def sweep_note(swept: Comparison) -> str:
    """How many points ran and how many were already there; skipped codecs with their reason."""
    n, reused = len(swept.entries), swept.reused
    text = f"{n} operating point{'s' if n != 1 else ''}: {n - reused} computed, {reused} reused from this page."
    return "\n\n".join(filter(None, [text, skipped_notes(swept).rstrip()]))


def build(state):
    """The tab's widgets; returns `run_after(event)`, which chains a comparison after another event
    (the Overview's "open in Compare" uses it), plus the clip and point selectors it fills. The results
    (metrics, spectrograms, downloads) stay hidden until a comparison fills them."""
    # round trips of this page, shared by Compare and the sweep; dropped after an hour without a comparison
    cache = gr.State(ResultCache(max_mb=48), time_to_live=3600)  # per visitor: kept small
    with gr.Row():
        with gr.Column(scale=1):
            clip = clip_input()
            points = gr.Dropdown(label="Codecs @ kbps (pick several; type to filter, or type e.g. opus@40)",
                                 choices=point_choices(), value=DEFAULT_POINTS, multiselect=True,
                                 allow_custom_value=True)
            go = gr.Button("Compare", variant="primary")
        with gr.Column(scale=2):
            player = gr.HTML(value="<p>The synced player appears here after <b>Compare</b>.</p>",
                             js_on_load=PLAYER_JS, css_template=PLAYER_CSS, head=TABLE_HEAD,
                             elem_id="ca-compare-player")
            notes = gr.Markdown(elem_id="ca-compare-notes")  # the tab's notes: warnings, n/a reasons, refusals
    with gr.Column(visible=False) as results:
        metrics = gr.Dataframe(label=TABLE_LABEL, headers=table_headers(), interactive=False, wrap=True,
                               pinned_columns=1, column_widths=COLUMN_WIDTHS, elem_id="ca-compare-metrics")
        gr.Markdown("**Spectrograms** (one colour scale) **and differences** from the original")
        spectrograms = gr.Plot(show_label=False)
        downloads = gr.File(label="Downloads: wavs, tokens (.npz), metrics (CSV, JSON)", file_count="multiple")
    with gr.Accordion("Rate–distortion sweep", open=False):
        with gr.Row():
            metric = gr.Dropdown(label="Metric", choices=[(LABELS[k], k) for k in QUALITY_KEYS], value="mel_distance")
            sweep = gr.Button("Sweep every bitrate of the chosen codecs")
        gr.Markdown("Points already computed for this clip (here or in Compare) are reused, not run again.")
        sweep_notes = gr.Markdown(elem_id="ca-sweep-notes")  # the sweep's notes: counts, skips, refusals
        with gr.Column(visible=False) as swept:
            chart = gr.Plot(label="Rate–distortion")
            sweep_table = gr.Dataframe(label=SWEEP_LABEL, headers=table_headers(), interactive=False, wrap=True,
                                       pinned_columns=1, column_widths=COLUMN_WIDTHS, elem_id="ca-compare-sweep")
    outputs = [player, metrics, spectrograms, notes, downloads, state, results, cache]
    compared = go.click(run_compare, inputs=[clip, points, cache], outputs=outputs, api_name="compare")
    show_reason(compared, notes, [player, metrics, spectrograms, downloads])
    swept_event = sweep.click(run_sweep, inputs=[clip, points, metric, cache],
                              outputs=[chart, sweep_table, sweep_notes, swept, cache], api_name="sweep")
    show_reason(swept_event, sweep_notes, [chart, sweep_table])

    def run_after(event) -> None:
        opened = event.success(run_compare, inputs=[clip, points, cache], outputs=outputs, api_visibility="private")
        show_reason(opened, notes, [player, metrics, spectrograms, downloads])

    return clip, points, run_after

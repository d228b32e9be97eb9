"""Leaderboard tab: the published Codec-SUPERB results, the bench runs of this machine and a results file
the visitor uploads, in one sortable table per split and one rate–distortion scatter.

The web app only reads results: long benchmarks run from the CLI (`codec-arena bench`). Rows measured with
random test weights are shown (their timings are real) but never ranked. A row whose codec runs here opens
it in the Compare tab, the way the Overview's buttons do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import gradio as gr  # at module level: Gradio resolves the handlers' `gr.SelectData` annotations here

from ..bench.board import SUPERB_METRICS, BoardRow, load_results_file, local_runs
from ..bench.metrics import higher_is_better
from ..bench.published import our_point, published, published_rows, short_provenance
from ..errors import RequestError

SPLITS = ("overall", "Speech", "Audio", "Music")
GROUPINGS = ("bitrate band", "token-rate band", "none")
INF = math.inf
# (upper bound inclusive, label): bands wide enough to hold a codec family's neighbouring points
KBPS_BANDS = ((1.5, "≤ 1.5 kbps"), (3.0, "1.5–3 kbps"), (6.0, "3–6 kbps"), (12.0, "6–12 kbps"), (INF, "> 12 kbps"))
# single-codebook LM tokenizers (≤ 100/s), a few codebooks, a DAC/EnCodec at 6 kbps, at 12-16 kbps, above
TOKEN_BANDS = ((100.0, "≤ 100 tok/s"), (300.0, "100–300 tok/s"), (800.0, "300–800 tok/s"),
               (1600.0, "800–1600 tok/s"), (INF, "> 1600 tok/s"))
UNKNOWN = {"bitrate band": "kbps unknown", "token-rate band": "token rate unknown", "none": "all"}
RANDOM_GROUP = "random weights — not a quality result"
NOT_HERE = "—"  # the "Runs here as" cell of a row whose codec does not run in this app
SOURCE_ORDER = {"run": 0, "uploaded": 1, "published": 2}  # ties: this machine's figures first
FIXED_COLUMNS = ("Configuration", "#", "Group", "Source", "Family", "kbps", "tokens/s")
LAST_COLUMN = "Runs here as"
WIDTHS = {"Configuration": "164px", "#": "32px", "Group": "78px", "Source": "140px", "Family": "104px",
          "kbps": "50px", "tokens/s": "56px", LAST_COLUMN: "148px"}
# the seven Codec-SUPERB metrics in 430 px: the whole table fits 1440 px without scrolling sideways
METRIC_WIDTHS = {"waveform": "80px", "pesq-wb": "66px", "f0corr": "68px"}  # room for the sort arrow
METRIC_WIDTH = "56px"


def header(metric: str) -> str:
    """The column title: the metric and its direction ("mel ↓", "stoi ↑")."""
    return f"{metric} {'↑' if higher_is_better(metric) else '↓'}"


def metrics_of(rows: Iterable[BoardRow]) -> list[str]:
    """Codec-SUPERB's metrics first, then any other metric the rows carry (an app metric of a bench run)."""
    others = dict.fromkeys(m for row in rows for m in row.values if m not in SUPERB_METRICS)
    return [*SUPERB_METRICS, *sorted(others)]


def for_split(rows: Iterable[BoardRow], split: str) -> list[BoardRow]:
    """The rows of one split (names compared without case: a dataset may write "speech")."""
    wanted = split.casefold()
    return [row for row in rows if row.split.casefold() == wanted]


def band(value: float | None, bands: Sequence[tuple[float, str]], unknown: str) -> str:
    if value is None:
        return unknown
    return next(label for upper, label in bands if value <= upper + 1e-9)


def group_of(row: BoardRow, grouping: str) -> str:
    """The row's group: its bitrate or token-rate band (random-weight rows always go to their own group)."""
    if row.facts.random_weights:
        return RANDOM_GROUP
    if grouping == "bitrate band":
        return band(row.facts.kbps, KBPS_BANDS, UNKNOWN[grouping])
    if grouping == "token-rate band":
        return band(row.facts.token_rate, TOKEN_BANDS, UNKNOWN[grouping])
    return UNKNOWN["none"]


def group_order(grouping: str) -> list[str]:
    """Groups in the order the table shows them: bands from low to high, unknown, random weights last."""
    bands = {"bitrate band": KBPS_BANDS, "token-rate band": TOKEN_BANDS}.get(grouping, ())
    return [*(label for _, label in bands), UNKNOWN.get(grouping, "all"), RANDOM_GROUP]


@dataclass(frozen=True)
class Ranked:
    row: BoardRow
    group: str
    rank: int | None  # within its group; None for random-weight rows and rows without the metric


def rank(rows: Iterable[BoardRow], metric: str, grouping: str = "bitrate band") -> list[Ranked]:
    """Rows ordered group by group, best first by `metric` in its direction; rows without a value for it
    follow their group unranked, and random-weight rows come last, in a group of their own, never ranked."""
    if grouping not in GROUPINGS:
        raise RequestError(f"Group by one of: {', '.join(GROUPINGS)} (not '{grouping}').")
    sign = -1.0 if higher_is_better(metric) else 1.0
    order = group_order(grouping)

    def key(row: BoardRow) -> tuple:
        value = row.values.get(metric)
        return (order.index(group_of(row, grouping)), value is None, sign * value if value is not None else 0.0,
                SOURCE_ORDER.get(row.source, 3),
                row.facts.kbps if row.facts.kbps is not None else INF, row.label)

    out: list[Ranked] = []
    counts: dict[str, int] = {}
    for row in sorted(rows, key=key):
        group = group_of(row, grouping)
        ranked = group != RANDOM_GROUP and row.values.get(metric) is not None
        if ranked:
            counts[group] = counts.get(group, 0) + 1
        out.append(Ranked(row, group, counts[group] if ranked else None))
    return out


def runs_here(row: BoardRow) -> str | None:
    """The operating point this row opens in Compare ("dac_16khz@6"), or None when it does not run here."""
    from ..compare import parse_point
    from ..errors import CodecArenaError

    if row.source == "published":
        return our_point(row.label)
    if not row.facts.codec_id:
        return None
    for text in (row.label, row.facts.codec_id):
        try:
            point = parse_point(text)
        except CodecArenaError:
            continue
        if point.codec == row.facts.codec_id:
            return str(point)
    return None


def source_text(row: BoardRow) -> str:
    """Where a row's figures come from, as its table cell says it."""
    if row.source == "published":
        return f"published ({short_provenance()})"
    return f"{row.source} ({row.provenance})" if row.provenance else row.source


def _round(value: float | None, places: int = 3) -> float | None:
    return None if value is None else round(float(value), places)


def columns(metrics: Sequence[str]) -> list[str]:
    return [*FIXED_COLUMNS, *(header(m) for m in metrics), LAST_COLUMN]


def cells(entry: Ranked, metrics: Sequence[str]) -> list[Any]:
    row = entry.row
    return [row.label, entry.rank, entry.group, source_text(row), row.facts.family or NOT_HERE,
            _round(row.facts.kbps), _round(row.facts.token_rate, 1),
            *(_round(row.values.get(m)) for m in metrics), runs_here(row) or NOT_HERE]


def all_rows(uploaded: Sequence[BoardRow] | None = None) -> list[BoardRow]:
    """Published, this machine's runs (read afresh: a run may have finished since), and the visitor's file."""
    return [*published_rows(), *local_runs(), *(uploaded or [])]


def table(ranked: Sequence[Ranked], metrics: Sequence[str]):
    """The Dataframe's value: numbers stay numbers (so a header click sorts them as numbers)."""
    import pandas as pd

    return pd.DataFrame([cells(entry, metrics) for entry in ranked], columns=columns(metrics))


def datatypes(metrics: Sequence[str]) -> list[str]:
    return ["str", "number", "str", "str", "str", "number", "number", *(["number"] * len(metrics)), "str"]


def widths(metrics: Sequence[str]) -> list[str]:
    return [*(WIDTHS[c] for c in FIXED_COLUMNS), *(METRIC_WIDTHS.get(m, METRIC_WIDTH) for m in metrics),
            WIDTHS[LAST_COLUMN]]


# distinct colours, none grey (random-weight rows are grey); a family keeps its colour across splits
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
           "#222222", "#1b1b7a", "#e6ab02", "#1b9e77", "#c51b7d", "#66a61e", "#a6761d")
KBPS_TICKS = (0.25, 0.5, 1, 1.5, 3, 6, 12, 24, 48, 96, 192)
SYMBOLS = {"published": "circle", "run": "diamond", "uploaded": "square"}


def family_colour(family: str, others: Iterable[str]) -> str:
    """A family's colour: the published families in a fixed order, then the other families shown."""
    known = sorted({entry["family"] for entry in published()["codecs"].values()})
    order = [*known, *sorted(set(others) - set(known))]
    return PALETTE[order.index(family) % len(PALETTE)]


def scatter(ranked: Sequence[Ranked], metric: str, split: str):
    """Selected metric against kbps (log axis), one colour per family; hover shows the row. Random-weight
    rows are grey crosses, apart from the families, because their quality figures mean nothing."""
    import plotly.graph_objects as go

    plotted = [e for e in ranked if e.row.facts.kbps and e.row.values.get(metric) is not None]
    traces: dict[str, list[Ranked]] = {}
    for entry in plotted:
        name = RANDOM_GROUP if entry.group == RANDOM_GROUP else (entry.row.facts.family or "?")
        traces.setdefault(name, []).append(entry)
    families = sorted(name for name in traces if name != RANDOM_GROUP)
    fig = go.Figure()
    template = ("<b>%{customdata[0]}</b><br>%{customdata[1]}<br>split %{customdata[2]}<br>"
                f"{escape(metric)} %{{customdata[3]}}<br>%{{x:.3g}} kbps · %{{customdata[4]}} tokens/s<extra></extra>")
    for name in [*families, RANDOM_GROUP] if RANDOM_GROUP in traces else families:
        members, random = traces[name], name == RANDOM_GROUP
        fig.add_trace(go.Scatter(
            x=[e.row.facts.kbps for e in members], y=[e.row.values[metric] for e in members], mode="markers",
            name=name, customdata=[hover(e, metric) for e in members], hovertemplate=template,
            error_y=dict(type="data", array=[e.row.ci95.get(metric) or 0.0 for e in members], thickness=1, width=2,
                         visible=any(e.row.ci95.get(metric) for e in members)),
            marker=dict(size=10, symbol=["x" if random else SYMBOLS.get(e.row.source, "circle") for e in members],
                        color="#9a9a9a" if random else family_colour(name, families),
                        line=dict(width=0.5, color="white"))))
    direction = "higher is better" if higher_is_better(metric) else "lower is better"
    fig.update_layout(
        title=dict(text=f"{escape(metric)} ({direction}) against bitrate — {escape(split)}", font=dict(size=14)),
        xaxis=dict(title="kbps (log scale)", type="log", tickvals=KBPS_TICKS, ticktext=[f"{t:g}" for t in KBPS_TICKS]),
        yaxis=dict(title=header(metric)),
        legend=dict(orientation="h", yanchor="top", y=-0.18, font=dict(size=11)), height=520,
        margin=dict(l=50, r=40, t=40, b=10), hovermode="closest", template="plotly_white",
        modebar=dict(orientation="v"))  # beside the plot, not over the title on a phone
    return fig


def hover(entry: Ranked, metric: str) -> list[str]:
    row = entry.row
    value = f"{row.values[metric]:.4g}"
    if row.ci95.get(metric):
        value += f" ± {row.ci95[metric]:.2g}"
    if row.n.get(metric):
        value += f" (n={row.n[metric]})"
    tokens = f"{row.facts.token_rate:g}" if row.facts.token_rate else "?"
    return [escape(row.label), escape(source_text(row)), escape(row.split), value, tokens]


def leaderboard(split: str = "overall", metric: str = "mel", group_by: str = "bitrate band") -> list[dict[str, Any]]:
    """The leaderboard rows of one split (published and this machine's bench runs), ranked by `metric`
    within each group, as the table shows them; every row also carries its provenance and intervals."""
    rows = for_split(all_rows(), split)
    metrics = metrics_of(rows)
    if metric not in metrics:
        raise RequestError(f"Rank by one of: {', '.join(metrics)} (not '{metric}').")
    out = []
    for entry in rank(rows, metric, group_by):
        record = dict(zip(columns(metrics), cells(entry, metrics), strict=True))
        record.update(source=entry.row.source, split=entry.row.split, provenance=entry.row.provenance,
                      random_weights=entry.row.facts.random_weights,
                      ci95={m: v for m, v in entry.row.ci95.items() if v is not None}, n=dict(entry.row.n))
        out.append(record)
    return out


def contents(split: str, metric: str, grouping: str, uploaded: Sequence[BoardRow] | None):
    """What the tab shows for these controls: (table, scatter, metrics on offer, the metric ranked by)."""
    rows = all_rows(uploaded)
    metrics = metrics_of(rows)
    if metric not in metrics:
        metric = "mel"
    ranked = rank(for_split(rows, split), metric, grouping)
    return table(ranked, metrics), scatter(ranked, metric, split), metrics, metric


def view(split: str, metric: str, grouping: str, uploaded: Sequence[BoardRow] | None):
    """Everything the tab redraws when a control changes: the table, the scatter, the metric choices."""
    frame, figure, metrics, metric = contents(split, metric, grouping, uploaded)
    return (gr.Dataframe(value=frame, datatype=datatypes(metrics), column_widths=widths(metrics)), figure,
            gr.Dropdown(choices=[(header(m), m) for m in metrics], value=metric))


def split_choices(uploaded: Sequence[BoardRow] | None) -> list[str]:
    """Codec-SUPERB's splits, then any other split a run or an uploaded file carries (a dataset of one's own)."""
    known = {name.casefold() for name in SPLITS}
    extra = {}
    for row in all_rows(uploaded):
        if row.split.casefold() not in known:
            extra.setdefault(row.split.casefold(), row.split)
    return [*SPLITS, *sorted(extra.values(), key=str.casefold)]


def open_point(point: str, clip: str | None, current: list[str] | None) -> tuple[list[str], str]:
    """The Compare selection with this operating point first (the Overview's rule for the rest)."""
    from ..compare import parse_point
    from .overview import open_in_compare

    chosen = parse_point(point)
    points, clip = open_in_compare(chosen.codec, clip, current)
    return [str(chosen), *points[1:]], clip


def about() -> str:
    """The note under the tab: metric definitions, where the published figures come from, where runs run."""
    from ..analysis.superb import DESCRIPTIONS as described

    data = published()
    lines = "\n".join(f"- **{m}** ({'↑' if higher_is_better(m) else '↓'}): {described[m]}" for m in SUPERB_METRICS)
    not_evaluated = ", ".join(f"`{k}` ({v})" for k, v in data.get("not_evaluated", {}).items())
    return f"""#### About these figures
**Metrics** (Codec-SUPERB's definitions; ↓ lower is better, ↑ higher is better):
{lines}

**Published figures**: [Codec-SUPERB]({data['source']}) `results/codec-superb-tiny` at commit
`{data['commit'][:7]}` ({data['date'][:10]}), {data['licence']} licence, on {data.get('dataset', 'codec-superb-tiny')}.
Where several of their result files hold a codec, the newest with metrics counts (as their own leaderboard
script decides). kbps and tokens/s are exact for codecs that run here, otherwise as their leaderboard lists them.
Not shown, as they have no reconstruction figures: {not_evaluated or 'none'}.

**Your figures**: rows of `codec-arena bench` runs on this machine appear here; upload a `summary.json`,
`codec_superb.json` or `clips.csv` from a run elsewhere to set it beside them. A run with random test
weights is listed apart and never ranked: its quality figures are not a quality result.

Long benchmarks run from the CLI (`codec-arena bench`), never in the web app."""


INTRO = ("Published Codec-SUPERB figures beside your own `codec-arena bench` runs. Pick a split and a metric "
         "to rank by; any column sorts from the ⋮ menu in its header, and the search box finds a codec. "
         "**Click a row** to open that codec in the Compare tab on your clip (rows marked — in *Runs here as* are "
         "codecs this app does not run).")
LEGEND = ("Marker shapes: ● published, ◆ run on this machine, ■ uploaded; grey × = random weights. "
          "Bars: 95% intervals where a run has them. Rows without a bitrate are not plotted.")
CSS = """<style>
#ca-leaderboard-table { --size-2: 4px; }
#ca-leaderboard-table :is([role=gridcell], th) { font-size: 0.8rem; line-height: 1.3; }
#ca-leaderboard-table [role=gridcell] { overflow-wrap: anywhere; cursor: pointer; }
#ca-leaderboard-table :is([role=gridcell][data-col="0"], th[data-heading="0"]) {
  position: sticky; left: 0; z-index: 3; background: inherit; }
#ca-leaderboard-table th[data-heading="0"] { background: var(--table-even-background-fill); }
</style>"""


def build(tab, compare_clip, compare_points, tabs, then_compare) -> None:
    """`then_compare(event)` chains the Compare tab's run after a row opens its codec (as in the Overview);
    opening `tab` redraws it, so a bench run that finished since the page loaded shows up."""
    from .errors import show_reason, user_errors
    from .text import md

    gr.Markdown(f"### Leaderboard\n{INTRO}")
    notes = gr.Markdown(elem_id="ca-leaderboard-notes")  # the tab's notes: a refused request's reason
    uploaded = gr.State([])  # the visitor's uploaded rows (this page only)
    frame, figure, metrics, _ = contents("overall", "mel", "bitrate band", [])
    with gr.Row(equal_height=True):
        split = gr.Radio(split_choices([]), value="overall", label="Split", elem_id="ca-leaderboard-split", scale=2)
        metric = gr.Dropdown(choices=[(header(m), m) for m in metrics], value="mel", label="Rank by",
                             elem_id="ca-leaderboard-metric")
        grouping = gr.Radio(list(GROUPINGS), value="bitrate band", label="Group by", elem_id="ca-leaderboard-group",
                            scale=2)
    gr.Markdown("**Ranked within each group**; random-weight rows are listed last and never ranked.",
                elem_classes="ca-caption")
    board = gr.Dataframe(value=frame, datatype=datatypes(metrics), column_widths=widths(metrics), interactive=False,
                         wrap=True, max_height=560, show_search="search", elem_id="ca-leaderboard-table",
                         show_label=False)  # a label would share its line with the search box: too narrow on a phone
    plot = gr.Plot(value=figure, show_label=False, elem_id="ca-leaderboard-plot")
    gr.Markdown(LEGEND)
    upload = gr.File(label="Add a bench results file (summary.json, codec_superb.json or clips.csv)",
                     file_types=[".json", ".csv"], height=150, elem_id="ca-leaderboard-upload")
    gr.Markdown(about(), elem_id="ca-leaderboard-about")
    gr.HTML(CSS, padding=False)  # the table's style; last, so its empty block adds no gap between parts

    controls = [split, metric, grouping, uploaded]
    shown = [board, plot, metric]

    @user_errors("updating the leaderboard")
    def redraw(split_name, metric_name, group_name, rows):
        return view(split_name, metric_name, group_name, rows)

    for control in (split, metric, grouping):
        control.change(redraw, controls, shown, api_visibility="private", show_progress="hidden")

    @user_errors("updating the leaderboard")
    def reopen(split_name, metric_name, group_name, rows):
        return *view(split_name, metric_name, group_name, rows), gr.Radio(choices=split_choices(rows))

    tab.select(reopen, controls, [*shown, split], api_visibility="private", show_progress="hidden")

    @user_errors("reading the results file")
    def on_upload(path, split_name, metric_name, group_name):
        if not path:
            return [], *view(split_name, metric_name, group_name, []), gr.Radio(choices=split_choices([])), ""
        rows = load_results_file(path)  # a BoardFileError says what was expected
        configurations = len({r.label for r in rows})
        random = len({r.label for r in rows if r.facts.random_weights})
        note = (f"Added {len(rows)} rows ({configurations} configurations) from {md(path.rsplit('/', 1)[-1])}"
                + (f"; {random} with random weights, listed apart." if random else "."))
        return rows, *view(split_name, metric_name, group_name, rows), gr.Radio(choices=split_choices(rows)), note

    uploaded_event = upload.change(on_upload, [upload, split, metric, grouping], [uploaded, *shown, split, notes],
                                   api_visibility="private")
    show_reason(uploaded_event, notes, [])

    @user_errors("opening the codec in Compare")
    def on_select(clip, current, event: gr.SelectData):
        values = event.row_value or []
        point = values[-1] if values else None
        if not point or point == NOT_HERE:
            label = values[0] if values else "This row"
            raise RequestError(f"{label} does not run in this app (no codec here is the same model), so it cannot "
                               "open in Compare.")
        points, clip = open_point(point, clip, current)
        return gr.Tabs(selected="compare"), points, clip, ""

    opened = board.select(on_select, [compare_clip, compare_points], [tabs, compare_points, compare_clip, notes],
                          api_visibility="private")
    show_reason(opened, notes, [])
    then_compare(opened)
    gr.api(leaderboard, api_name="leaderboard")


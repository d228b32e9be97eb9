"""The owner's view of a test's results: a headline, tables, a plot and CSV files, from
`service.Results`."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..errors import RequestError
from ..listening import service, stats
from ..listening.protocols import METHODS
from ..listening.service import Results
from .errors import user_errors
from .text import code, md

UNSCREENED = "Show all participants (without post-screening)"
CI_COLUMNS = ("ci95_low", "ci95_high")


def summary_columns(method: str) -> list[str]:
    """The summary's columns on screen: those of the CSV but `note`, which the CI cells say."""
    return [c for c in stats.SUMMARY_COLUMNS[method] if c != "note"]


def label(column: str) -> str:
    """A column's name on screen and in the legend: the CSV's name, in words (`prefer_a` is "prefer a")."""
    return column.replace("_", " ")


def _cell(row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    if value is None and column in CI_COLUMNS:
        return stats.TOO_FEW
    return round(value, 3) if isinstance(value, float) else value


def table(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[_cell(row, c) for c in columns] for row in rows]


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def headline(found: Results) -> str:
    test = found.test
    done = sum(1 for p in found.participants if p["completion_code"])
    lines = [f"### {md(test.title)}",
             f"{METHODS[test.method].name} · {plural(len(test.trials), 'trial')} "
             f"({test.trials_each} per participant) · "
             f"**{plural(len(found.participants), 'participant')}** ({done} finished) · "
             f"**{plural(len(found.responses), 'response')}**"]
    if found.excluded:
        rated = len({r["participant"] for r in found.responses})
        lines.append(f"**Post-screening (BS.1534-3): {len(found.excluded)} of {plural(rated, 'participant')} "
                     "excluded** for rating the hidden reference below 90 in more than 15% of their trials: "
                     + ", ".join(f"{p} ({share:.0%})" for p, share in sorted(found.excluded.items()))
                     + ". The summary leaves them out; the raw CSV marks them.")
        if len(found.excluded) == rated:
            lines.append(f"**Everyone was excluded**, so the summary and the plot are empty. Press **{UNSCREENED}** "
                         "to see every rating.")
        else:
            lines.append(f"Press **{UNSCREENED}** to include them.")
    elif found.flagged:
        lines.append(f"**Post-screening is off:** {plural(len(found.flagged), 'participant')} would be excluded "
                     "(hidden reference below 90 in more than 15% of their trials); they are included below.")
    elif test.method == "mushra":
        lines.append("**Post-screening (BS.1534-3):** nobody excluded.")
    if test.method in ("mushra", "mos"):
        low, high = found.scale
        lines.append(f"Mean per condition with its 95% confidence interval (bootstrap, always within "
                     f"{low:g}–{high:g}), best first. A condition with fewer than {stats.MIN_RATINGS} ratings shows "
                     f"*{stats.TOO_FEW}* instead of an interval.")
    elif test.method == "abx":
        lines.append("ABX: correct identifications of X; the p-value is the chance of doing at least as well by "
                     "guessing (one-sided binomial). Below 0.05: the codec is audible.")
    else:
        lines.append("A/B: a and b are the two conditions of each pair (the letters A and B that participants saw "
                     "were shuffled on every trial); *prefer a*, *prefer b* and *no preference* count the answers. "
                     "The p-value is a two-sided binomial test on the answers with a preference (*no preference* "
                     "left out).")
    random = test.settings.get("random_weights") or []
    if random:
        lines.append(f"> ⚠️ **Random test weights** for {', '.join(code(p) for p in random)}: those stimuli are noise, "
                     "so their ratings say nothing about the codecs. Download the real weights and build the test "
                     "again.")
    if not found.responses:
        lines.append("No responses yet. Share the participant link.")
    return "\n\n".join(lines)


def figure(found: Results):
    """Box plots of scores (MUSHRA, MOS), preference bars (A/B) or share correct (ABX)."""
    import plotly.graph_objects as go

    method = found.test.method
    kept = [r for r in found.responses if r["participant"] not in found.excluded]
    if not kept:
        return None
    if method in ("mushra", "mos"):
        return stats.box_figure(stats.scores(kept), f"{METHODS[method].name}: scores per condition", found.scale)
    fig = go.Figure()
    if method == "abx":
        rows = found.summary
        fig.add_bar(x=[r["condition"] for r in rows], y=[100 * r["fraction"] for r in rows],
                    text=[f"{r['correct']}/{r['total']}, p={r['p_value']:.3g}" for r in rows])
        fig.add_hline(y=50, line_dash="dash", annotation_text="chance")
        fig.update_layout(title="ABX: % correct", yaxis={"range": [0, 100], "title": "% correct"})
    else:
        pairs = [f"a: {r['a']} · b: {r['b']}" for r in found.summary]
        for key in ("prefer_a", "no_preference", "prefer_b"):
            fig.add_bar(y=pairs, x=[r[key] for r in found.summary], name=label(key), orientation="h")
        fig.update_layout(barmode="stack", title="A/B preferences", xaxis={"title": "answers"})
    fig.update_layout(height=420, margin={"l": 60, "r": 20, "t": 50, "b": 60})
    return fig


def export(found: Results) -> list[str]:
    """CSV files: raw responses (one row per rating or choice), the summary, per clip, participants, stimuli."""
    from .outputs import output_dir

    folder = output_dir("results-")  # removed after an hour, like every download
    written = []
    for name, text in found.csv_files().items():
        (folder / name).write_text(text)
        written.append(str(folder / name))
    return written


# --- the Results section --------------------------------------------------------------------------------------
@user_errors("reading the results")
def show_results(test_id: str, token: str, screening: bool = True):
    """Headline, summary, plot, per clip, participants, CSV files, and the unscreened button, shown when
    post-screening left someone out."""
    found = service.results(test_id, token, screening)
    columns = summary_columns(found.test.method)
    by_clip = ["clip", *columns]
    return (headline(found), gr.Dataframe(value=table(found.summary, columns), headers=[label(c) for c in columns]),
            figure(found),
            gr.Dataframe(value=table(found.summary_by_clip, by_clip), headers=[label(c) for c in by_clip],
                         visible=bool(found.summary_by_clip)),
            table(found.participants, PARTICIPANT_COLUMNS), export(found), gr.Button(visible=bool(found.excluded)))


def show_unscreened(test_id: str, token: str):
    """One click from "everyone was excluded" to every rating: untick post-screening, show again."""
    return (False, *show_results(test_id, token, False))


PARTICIPANT_COLUMNS = ["participant", "answered", "trials", "completion_code"]


@user_errors("deleting the test")
def delete(test_id: str, token: str, confirmed: bool):
    if not confirmed:
        raise RequestError("Tick the box to confirm: deleting removes the test and every response for good.")
    service.delete(test_id, token)
    return f"Test `{test_id}` and all its responses were deleted."


def results_section():
    with gr.Row():
        test_id = gr.Textbox(label="Test id", max_length=40)
        token = gr.Textbox(label="Owner token (from the owner link)", type="password", max_length=80)
        go = gr.Button("Show results", variant="primary")
    screening = gr.Checkbox(label="Apply the BS.1534-3 post-screening (MUSHRA: leave out participants who rate the "
                                  "hidden reference below 90 in more than 15% of their trials)", value=True)
    headline = gr.Markdown(elem_id="ca-listening-headline")
    unscreened = gr.Button(UNSCREENED, visible=False, size="sm")
    summary = gr.Dataframe(label="Summary", interactive=False, wrap=True)
    plot = gr.Plot(show_label=False)
    by_clip = gr.Dataframe(label="Per clip", interactive=False, wrap=True)
    participants = gr.Dataframe(label="Participants and completion codes",
                                headers=[label(c) for c in PARTICIPANT_COLUMNS], interactive=False)
    files = gr.File(label="CSV exports: raw responses, summary, per clip, participants, stimuli", file_count="multiple")
    with gr.Accordion("Delete this test", open=False):
        confirm = gr.Checkbox(label="Delete the test, its stimuli and every response, for good")
        delete_button = gr.Button("Delete", variant="stop")
        deleted = gr.Markdown()
    outputs = [headline, summary, plot, by_clip, participants, files, unscreened]
    go.click(show_results, [test_id, token, screening], outputs, api_visibility="private")
    screening.input(show_results, [test_id, token, screening], outputs, api_visibility="private")
    unscreened.click(show_unscreened, [test_id, token], [screening, *outputs], api_visibility="private")
    delete_button.click(delete, [test_id, token, confirm], deleted, api_visibility="private")
    return test_id, token, outputs

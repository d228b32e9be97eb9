"""The owner's view of a test's results: a headline, tables, a plot and CSV files, from
`service.Results`."""

from __future__ import annotations

from typing import Any

from ..listening import stats
from ..listening.protocols import METHODS
from ..listening.service import Results

SUMMARY_COLUMNS = {
    "mushra": ["condition", "n", "mean", "ci95_low", "ci95_high", "std"],
    "mos": ["condition", "n", "mean", "ci95_low", "ci95_high", "std"],
    "ab": ["a", "b", "prefer_a", "prefer_b", "no_preference", "n", "p_value"],
    "ab_noref": ["a", "b", "prefer_a", "prefer_b", "no_preference", "n", "p_value"],
    "abx": ["condition", "correct", "total", "fraction", "p_value"],
}


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def table(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[_round(row.get(c)) for c in columns] for row in rows]


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def headline(found: Results) -> str:
    test = found.test
    done = sum(1 for p in found.participants if p["completion_code"])
    lines = [f"### {test.title}",
             f"{METHODS[test.method].name} · {plural(len(test.trials), 'trial')} "
             f"({test.trials_each} per participant) · "
             f"**{plural(len(found.participants), 'participant')}** ({done} finished) · "
             f"**{plural(len(found.responses), 'response')}**"]
    if found.excluded:
        lines.append(f"**Post-screening (BS.1534-3):** {plural(len(found.excluded), 'participant')} excluded for "
                     "rating the hidden reference below 90 in more than 15% of their trials: "
                     + ", ".join(f"{p} ({share:.0%})" for p, share in sorted(found.excluded.items()))
                     + ". The summary leaves them out; the raw CSV marks them.")
    elif found.flagged:
        lines.append(f"**Post-screening is off:** {plural(len(found.flagged), 'participant')} would be excluded "
                     "(hidden reference below 90 in more than 15% of their trials); they are included below.")
    elif test.method == "mushra":
        lines.append("**Post-screening (BS.1534-3):** nobody excluded.")
    if test.method in ("mushra", "mos"):
        lines.append("Mean per condition with its 95% confidence interval (t-distribution), best first.")
    elif test.method == "abx":
        lines.append("ABX: correct identifications of X; the p-value is the chance of doing at least as well by "
                     "guessing (one-sided binomial). Below 0.05: the codec is audible.")
    else:
        lines.append("A/B: preferences per pair; the p-value is a two-sided binomial test on the answers with a "
                     "preference (no-preference answers left out).")
    random = test.settings.get("random_weights") or []
    if random:
        lines.append(f"> ⚠️ **Random test weights** for {', '.join(random)}: those stimuli are noise, so their "
                     "ratings say nothing about the codecs. Download the real weights and build the test again.")
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
        labels = [f"{r['a']} vs {r['b']}" for r in found.summary]
        for key, name in (("prefer_a", "prefer first"), ("no_preference", "no preference"),
                          ("prefer_b", "prefer second")):
            fig.add_bar(y=labels, x=[r[key] for r in found.summary], name=name, orientation="h")
        fig.update_layout(barmode="stack", title="A/B preferences", xaxis={"title": "answers"})
    fig.update_layout(height=420, margin={"l": 60, "r": 20, "t": 50, "b": 60})
    return fig


def export(found: Results) -> list[str]:
    """CSV files: raw responses (one row per rating or choice), the summary, per clip, participants, stimuli."""
    from .compare import output_dir

    folder = output_dir()  # removed after an hour, like every download
    written = []
    for name, text in found.csv_files().items():
        (folder / name).write_text(text)
        written.append(str(folder / name))
    return written

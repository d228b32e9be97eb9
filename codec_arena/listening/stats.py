"""Results of a listening test from its raw responses: means with t-based 95% confidence intervals,
BS.1534-3 post-screening, binomial tests for A/B and ABX, box plots, and CSV rows.

Responses come from `Store.responses`: one dict per submitted trial with its answer in terms of
conditions (see `protocols.validate_answer`). The tests check every number here against scipy.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from .protocols import REFERENCE

CONFIDENCE = 0.95
SCREEN_BELOW = 90.0  # BS.1534-3 §4.1.2: the hidden reference rated below 90 ...
SCREEN_FRACTION = 0.15  # ... in more than 15% of the trials excludes the assessor


@dataclass(frozen=True)
class Interval:
    n: int
    mean: float
    std: float
    low: float  # the 95% confidence interval (t-distribution); equal to the mean when n < 2
    high: float


def mean_interval(values: list[float], confidence: float = CONFIDENCE) -> Interval:
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Interval(0, float("nan"), float("nan"), float("nan"), float("nan"))
    mean = float(x.mean())
    if n < 2:
        return Interval(1, mean, 0.0, mean, mean)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * std / np.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


def scores(responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per rated condition: participant, trial, clip, condition, score (MUSHRA and MOS)."""
    return [{"participant": r["participant"], "trial": r["trial"], "clip": r["clip"], "condition": condition,
             "score": float(score)}
            for r in responses for condition, score in r["answer"].get("scores", {}).items()]


def post_screening(responses: list[dict[str, Any]]) -> dict[str, float]:
    """Participants BS.1534-3 excludes, with the fraction of their trials where the hidden reference
    got less than 90."""
    low, total = defaultdict(int), defaultdict(int)
    for r in responses:
        reference = r["answer"].get("scores", {}).get(REFERENCE)
        if reference is not None:
            total[r["participant"]] += 1
            low[r["participant"]] += reference < SCREEN_BELOW
    return {p: low[p] / total[p] for p in total if low[p] / total[p] > SCREEN_FRACTION}


def rating_summary(rows: list[dict[str, Any]], by_clip: bool = False) -> list[dict[str, Any]]:
    """Mean, standard deviation and 95% CI per condition (and per clip when asked)."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        groups[(row["clip"], row["condition"]) if by_clip else (row["condition"],)].append(row["score"])
    summary = []
    for key, values in groups.items():
        interval = mean_interval(values)
        summary.append({**({"clip": key[0]} if by_clip else {}), "condition": key[-1], "n": interval.n,
                        "mean": interval.mean, "std": interval.std, "ci95_low": interval.low,
                        "ci95_high": interval.high})
    return sorted(summary, key=lambda s: (s.get("clip", ""), -s["mean"]))


def preference_summary(responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per pair of systems: how often each was preferred, ties, and a two-sided binomial test on the
    non-tied answers (is one preferred more often than chance?)."""
    from scipy.stats import binomtest

    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in responses:
        answer = r["answer"]
        if "preferred" not in answer:
            continue
        a, b = answer["pair"]
        counts[(a, b)][2 if answer["preferred"] is None else (0 if answer["preferred"] == a else 1)] += 1
    summary = []
    for (a, b), (prefer_a, prefer_b, ties) in counts.items():
        decided = prefer_a + prefer_b
        p = binomtest(prefer_a, decided, 0.5).pvalue if decided else float("nan")
        summary.append({"a": a, "b": b, "prefer_a": prefer_a, "prefer_b": prefer_b, "no_preference": ties,
                        "n": decided + ties, "p_value": float(p)})
    return summary


def abx_summary(responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per system: correct identifications of X out of all, and the one-sided binomial p-value of
    doing at least that well by guessing."""
    from scipy.stats import binomtest

    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in responses:
        answer = r["answer"]
        if "correct" not in answer:
            continue
        system = answer["pair"][1]  # the pair is (reference, system)
        tally[system][0] += bool(answer["correct"])
        tally[system][1] += 1
    return [{"condition": system, "correct": correct, "total": total, "fraction": correct / total,
             "p_value": float(binomtest(correct, total, 0.5, alternative="greater").pvalue)}
            for system, (correct, total) in tally.items()]


def box_figure(rows: list[dict[str, Any]], title: str, scale: tuple[float, float]):
    """Plotly box plot of scores per condition (best mean first), each rating as a point, and the mean
    with its 95% confidence interval as a black diamond beside each box (the last trace)."""
    import plotly.graph_objects as go

    summary = rating_summary(rows)
    figure = go.Figure()
    for condition in (s["condition"] for s in summary):
        values = [row["score"] for row in rows if row["condition"] == condition]
        figure.add_trace(go.Box(y=values, name=condition, boxpoints="all", jitter=0.4, pointpos=0,
                                marker={"size": 5}))
    figure.add_trace(go.Scatter(
        x=[s["condition"] for s in summary], y=[s["mean"] for s in summary], mode="markers", name="mean, 95% CI",
        marker={"symbol": "diamond", "size": 10, "color": "black"},
        error_y={"type": "data", "symmetric": False, "array": [s["ci95_high"] - s["mean"] for s in summary],
                 "arrayminus": [s["mean"] - s["ci95_low"] for s in summary], "color": "black"}))
    figure.update_layout(title=title, yaxis={"range": [scale[0] - 0.05 * (scale[1] - scale[0]),
                                                       scale[1] + 0.05 * (scale[1] - scale[0])], "title": "score"},
                         showlegend=False, height=420, margin={"l": 50, "r": 20, "t": 50, "b": 80})
    return figure


def csv_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()

"""Results of a listening test from its raw responses: mean ratings with 95% confidence intervals that
stay on the scale, BS.1534-3 post-screening, binomial tests for A/B and ABX, box plots, and CSV tables
whose columns are defined here once (so a table without rows still exports its header).

Confidence interval of a mean rating: the percentile bootstrap (`scipy.stats.bootstrap`, 9,999
resamples, seeded, so the same ratings always give the same interval), expanded for small samples as
Hesterberg proposes ("What teachers should know about the bootstrap", The American Statistician 69,
2015): the percentiles are taken at α'/2 = Φ(−√(n/(n−1))·t(α/2, n−1)) instead of α/2. In simulations
with 6 to 20 ratings the plain percentile and BCa intervals covered the mean only 83–92% of the time,
the expanded one 89–95%, close to the t-interval. Each end is a mean of resampled ratings, so the
interval lies between the lowest and the highest rating, hence on the scale; it is clipped to the scale
all the same. (The t-interval used before gave −585 to 685 on 0–100 for the ratings 0 and 100.)

Fewer than `MIN_RATINGS` = 6 ratings get no interval ("too few ratings"; n, mean and sd stay): an
interval within the range of the ratings misses the mean whenever they all fall on one side of it,
which for ratings spread symmetrically about their mean happens with probability 2^(1−n), 25% with 3
ratings and 6% with 5; from 6 ratings on (3%) it can be a 95% interval.

Responses come from `Store.responses`: one dict per submitted trial with its answer in terms of
conditions (see `protocols.validate_answer`). The tests check every number here against scipy.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .protocols import REFERENCE

CONFIDENCE = 0.95
MIN_RATINGS = 6  # fewer get no interval: see the module docstring
RESAMPLES = 9999
SEED = 1534  # any fixed seed: the same ratings give the same interval on every page load
BATCH_VALUES = 2_000_000  # resampled ratings held at once (16 MB), however many ratings a condition has
TOO_FEW = "too few ratings"
SCREEN_BELOW = 90.0  # BS.1534-3 §4.1.2: the hidden reference rated below 90 ...
SCREEN_FRACTION = 0.15  # ... in more than 15% of the trials excludes the assessor

# The columns of every table, in the JSON and the CSV files; the per-clip tables put "clip" first.
RATING_COLUMNS = ["condition", "n", "mean", "ci95_low", "ci95_high", "std", "note"]
PREFERENCE_COLUMNS = ["a", "b", "prefer_a", "prefer_b", "no_preference", "n", "p_value"]
ABX_COLUMNS = ["condition", "correct", "total", "fraction", "p_value"]
SUMMARY_COLUMNS = {"mushra": RATING_COLUMNS, "mos": RATING_COLUMNS, "ab": PREFERENCE_COLUMNS,
                   "ab_noref": PREFERENCE_COLUMNS, "abx": ABX_COLUMNS}
RAW_COLUMNS = ["participant", "excluded", "position", "trial", "clip", "submitted_at", "shown_as", "condition",
               "score", "choice", "x", "correct"]
PARTICIPANT_COLUMNS = ["participant", "joined_at", "completed_at", "completion_code", "answered", "trials"]
STIMULUS_COLUMNS = ["clip", "condition", "sample_rate", "seconds", "loudness_lufs", "gain_db", "random_weights",
                    "bitrate_kbps"]


def scale_of(method: str) -> tuple[float, float]:
    """The rating scale: ACR/MOS 1–5, MUSHRA 0–100 (the other methods are counts, shown in %)."""
    return (1.0, 5.0) if method == "mos" else (0.0, 100.0)


def iso_time(seconds: float | None) -> str | None:
    """A stored time (seconds since 1970) as ISO 8601 in UTC to the millisecond, which spreadsheets and
    people read: 2026-12-03T04:05:06.123+00:00."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Interval:
    n: int
    mean: float
    std: float  # 0 for one rating
    low: float | None  # the 95% confidence interval of the mean; None with fewer than MIN_RATINGS ratings
    high: float | None


def expanded_level(n: int, confidence: float = CONFIDENCE) -> float:
    """The percentile level that makes a bootstrap interval of n values about as wide as the t-interval
    (Hesterberg 2015): 1 − 2Φ(−√(n/(n−1))·t(1 − α/2, n−1)); it tends to `confidence` as n grows."""
    from scipy import stats

    t = stats.t.ppf((1 + confidence) / 2, n - 1)
    return float(1 - 2 * stats.norm.cdf(-np.sqrt(n / (n - 1)) * t))


def bootstrap_interval(values: list[float], scale: tuple[float, float],
                       confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The expanded percentile bootstrap interval of the mean of two or more values, on the scale."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if x.min() == x.max():  # every resample has the same mean
        low = high = float(x[0])
    else:
        result = stats.bootstrap((x,), np.mean, n_resamples=RESAMPLES, batch=max(1, BATCH_VALUES // x.size),
                                 confidence_level=expanded_level(x.size, confidence), method="percentile",
                                 rng=np.random.default_rng(SEED))
        low, high = result.confidence_interval
    return float(np.clip(low, *scale)), float(np.clip(high, *scale))


def mean_interval(values: list[float], scale: tuple[float, float] = (0.0, 100.0),
                  confidence: float = CONFIDENCE) -> Interval:
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Interval(0, float("nan"), float("nan"), None, None)
    mean, std = float(x.mean()), float(x.std(ddof=1)) if n > 1 else 0.0
    if n < MIN_RATINGS:
        return Interval(n, mean, std, None, None)
    return Interval(n, mean, std, *bootstrap_interval(x, scale, confidence))


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


def rating_summary(rows: list[dict[str, Any]], by_clip: bool = False,
                   scale: tuple[float, float] = (0.0, 100.0)) -> list[dict[str, Any]]:
    """Mean, standard deviation and 95% CI per condition (and per clip when asked); `note` says why a
    row has no interval."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        groups[(row["clip"], row["condition"]) if by_clip else (row["condition"],)].append(row["score"])
    summary = []
    for key, values in groups.items():
        interval = mean_interval(values, scale)
        note = None if interval.low is not None else f"{TOO_FEW} for a confidence interval (fewer than {MIN_RATINGS})"
        summary.append({**({"clip": key[0]} if by_clip else {}), "condition": key[-1], "n": interval.n,
                        "mean": interval.mean, "ci95_low": interval.low, "ci95_high": interval.high,
                        "std": interval.std, "note": note})
    return sorted(summary, key=lambda s: (s.get("clip", ""), -s["mean"]))


def preference_summary(responses: list[dict[str, Any]], by_clip: bool = False) -> list[dict[str, Any]]:
    """Per pair of conditions a and b (per clip when asked): how often each was preferred, no-preference
    answers, and a two-sided binomial test on the answers with a preference (is one preferred more often
    than chance?)."""
    from scipy.stats import binomtest

    counts: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in responses:
        answer = r["answer"]
        if "preferred" not in answer:
            continue
        a, b = answer["pair"]
        key = (r["clip"], a, b) if by_clip else (a, b)
        counts[key][2 if answer["preferred"] is None else (0 if answer["preferred"] == a else 1)] += 1
    summary = []
    for (*clip, a, b), (prefer_a, prefer_b, ties) in counts.items():
        decided = prefer_a + prefer_b
        p = float(binomtest(prefer_a, decided, 0.5).pvalue) if decided else None  # all ties: no test (never NaN)
        summary.append({**({"clip": clip[0]} if by_clip else {}), "a": a, "b": b, "prefer_a": prefer_a,
                        "prefer_b": prefer_b, "no_preference": ties, "n": decided + ties, "p_value": p})
    return sorted(summary, key=lambda s: s.get("clip", ""))


def abx_summary(responses: list[dict[str, Any]], by_clip: bool = False) -> list[dict[str, Any]]:
    """Per condition (per clip when asked): correct identifications of X out of all, and the one-sided
    binomial p-value of doing at least that well by guessing."""
    from scipy.stats import binomtest

    tally: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for r in responses:
        answer = r["answer"]
        if "correct" not in answer:
            continue
        system = answer["pair"][1]  # the pair is (reference, system)
        key = (r["clip"], system) if by_clip else (system,)
        tally[key][0] += bool(answer["correct"])
        tally[key][1] += 1
    summary = [{**({"clip": clip[0]} if by_clip else {}), "condition": system, "correct": correct, "total": total,
                "fraction": correct / total,
                "p_value": float(binomtest(correct, total, 0.5, alternative="greater").pvalue)}
               for (*clip, system), (correct, total) in tally.items()]
    return sorted(summary, key=lambda s: s.get("clip", ""))


def box_figure(rows: list[dict[str, Any]], title: str, scale: tuple[float, float]):
    """Plotly box plot of scores per condition (best mean first), each rating as a point, and the mean
    with its 95% confidence interval as a black diamond beside each box (the last trace); a condition with
    too few ratings for an interval gets a hollow diamond and no error bar."""
    import plotly.graph_objects as go

    summary = rating_summary(rows, scale=scale)
    figure = go.Figure()
    for condition in (s["condition"] for s in summary):
        values = [row["score"] for row in rows if row["condition"] == condition]
        figure.add_trace(go.Box(y=values, name=condition, boxpoints="all", jitter=0.4, pointpos=0,
                                marker={"size": 5}))
    few = [s for s in summary if s["ci95_low"] is None]
    if few:
        figure.add_trace(go.Scatter(
            x=[s["condition"] for s in few], y=[s["mean"] for s in few], mode="markers+text", name=f"mean, {TOO_FEW}",
            text=[f"{TOO_FEW} (n={s['n']})" for s in few], textposition="top center",
            marker={"symbol": "diamond-open", "size": 10, "color": "black"}))
    shown = [s for s in summary if s["ci95_low"] is not None]
    figure.add_trace(go.Scatter(
        x=[s["condition"] for s in shown], y=[s["mean"] for s in shown], mode="markers", name="mean, 95% CI",
        marker={"symbol": "diamond", "size": 10, "color": "black"},
        error_y={"type": "data", "symmetric": False, "array": [s["ci95_high"] - s["mean"] for s in shown],
                 "arrayminus": [s["mean"] - s["ci95_low"] for s in shown], "color": "black"}))
    figure.update_layout(title=title, yaxis={"range": [scale[0] - 0.05 * (scale[1] - scale[0]),
                                                       scale[1] + 0.05 * (scale[1] - scale[0])], "title": "score"},
                         showlegend=False, height=420, margin={"l": 50, "r": 20, "t": 50, "b": 80})
    return figure


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """CSV with its header row even without rows; a key outside `columns` is a bug and raises."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()

"""Listening-test statistics checked against scipy and closed forms: t intervals, BS.1534-3
post-screening at its boundaries, binomial tests for A/B and ABX, the box plot and the CSV."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from scipy import stats as sps

from codec_arena.listening import stats
from codec_arena.listening.protocols import REFERENCE


def test_mean_interval_matches_scipy_t_interval() -> None:
    values = list(np.random.default_rng(0).uniform(20, 90, 17))
    got = stats.mean_interval(values)
    low, high = sps.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sps.sem(values))
    assert got.n == 17
    assert got.mean == pytest.approx(np.mean(values))
    assert got.std == pytest.approx(np.std(values, ddof=1))
    assert (got.low, got.high) == (pytest.approx(low), pytest.approx(high))
    wider = stats.mean_interval(values, confidence=0.99)
    assert wider.low < got.low and wider.high > got.high


def test_mean_interval_by_hand() -> None:
    """2, 4, 6: mean 4, s = 2, half-width t(0.975, 2) * 2 / sqrt(3) with t = 4.302652729911275."""
    got = stats.mean_interval([2, 4, 6])
    half = 4.302652729911275 * 2 / math.sqrt(3)
    assert (got.n, got.mean, got.std) == (3, 4.0, 2.0)
    assert got.low == pytest.approx(4 - half, abs=1e-9) and got.high == pytest.approx(4 + half, abs=1e-9)


def test_mean_interval_of_one_and_no_values() -> None:
    one = stats.mean_interval([73.0])
    assert (one.n, one.mean, one.std, one.low, one.high) == (1, 73.0, 0.0, 73.0, 73.0)
    none = stats.mean_interval([])
    assert none.n == 0 and all(math.isnan(v) for v in (none.mean, none.std, none.low, none.high))


def mushra(participant: str, reference: float, trial: int = 0, clip: str = "a", **others: float) -> dict:
    return {"participant": participant, "position": trial, "trial": trial, "clip": clip,
            "answer": {"scores": {REFERENCE: reference, **others}}, "submitted_at": 0.0}


def test_post_screening_at_the_boundaries() -> None:
    """Excluded when the hidden reference gets below 90 in more than 15% of trials: 2/13 = 15.4% is out,
    1/7 = 14.3% and 3/20 = 15% stay, and 90 itself is fine."""
    responses = [mushra("p_out", 89 if i < 2 else 100, i) for i in range(13)]
    responses += [mushra("p_in", 89 if i < 1 else 95, i) for i in range(7)]
    responses += [mushra("p_ninety", 90, i) for i in range(5)]
    responses += [mushra("p_fifteen", 50 if i < 3 else 100, i) for i in range(20)]  # exactly 15%: not more
    responses += [mushra("p_zero", 0, i) for i in range(2)]
    responses.append({"participant": "p_ab", "position": 0, "trial": 0, "clip": "a",
                      "answer": {"preferred": None, "pair": ["x", "y"]}, "submitted_at": 0.0})
    excluded = stats.post_screening(responses)
    assert excluded == {"p_out": pytest.approx(2 / 13), "p_zero": 1.0}


def test_scores_and_rating_summary_per_condition_and_clip() -> None:
    responses = [mushra("p1", 100, 0, "a", codec=40), mushra("p2", 96, 0, "a", codec=50),
                 mushra("p1", 98, 1, "b", codec=70)]
    rows = stats.scores(responses)
    assert len(rows) == 6 and {r["condition"] for r in rows} == {REFERENCE, "codec"}
    summary = stats.rating_summary(rows)
    assert [s["condition"] for s in summary] == [REFERENCE, "codec"]  # best mean first
    codec = summary[1]
    expected = stats.mean_interval([40, 50, 70])
    assert (codec["n"], codec["mean"], codec["ci95_low"], codec["ci95_high"]) == (
        3, pytest.approx(160 / 3), pytest.approx(expected.low), pytest.approx(expected.high))
    by_clip = stats.rating_summary(rows, by_clip=True)
    assert [(s["clip"], s["condition"], s["n"]) for s in by_clip] == [
        ("a", REFERENCE, 2), ("a", "codec", 2), ("b", REFERENCE, 1), ("b", "codec", 1)]
    assert by_clip[1]["mean"] == 45


def ab(participant: str, preferred: str | None, pair: tuple[str, str] = ("opus@24", "mp3@64")) -> dict:
    return {"participant": participant, "position": 0, "trial": 0, "clip": "a",
            "answer": {"preferred": preferred, "pair": list(pair)}, "submitted_at": 0.0}


def test_preference_summary_counts_and_two_sided_binomial() -> None:
    responses = [ab(f"p{i}", "opus@24") for i in range(9)] + [ab("p9", "mp3@64")]
    responses += [ab(f"t{i}", None) for i in range(3)]
    responses += [ab(f"q{i}", "aac@64" if i < 3 else "mp3@32", ("aac@64", "mp3@32")) for i in range(7)]
    summary = {(s["a"], s["b"]): s for s in stats.preference_summary(responses)}
    first = summary[("opus@24", "mp3@64")]
    assert (first["prefer_a"], first["prefer_b"], first["no_preference"], first["n"]) == (9, 1, 3, 13)
    assert first["p_value"] == pytest.approx(22 / 1024)  # 2 * (C(10,9) + C(10,10)) / 2^10: ties left out
    assert first["p_value"] == pytest.approx(sps.binomtest(9, 10, 0.5).pvalue)
    second = summary[("aac@64", "mp3@32")]
    assert (second["prefer_a"], second["prefer_b"], second["no_preference"]) == (3, 4, 0)
    assert second["p_value"] == pytest.approx(sps.binomtest(3, 7, 0.5).pvalue) == pytest.approx(1.0)


def test_preference_summary_with_only_ties_has_no_p_value() -> None:
    (only,) = stats.preference_summary([ab("p1", None), ab("p2", None)])
    assert (only["prefer_a"], only["prefer_b"], only["no_preference"], only["n"]) == (0, 0, 2, 2)
    assert math.isnan(only["p_value"])


def abx(participant: str, correct: bool, system: str = "opus@24") -> dict:
    guess = REFERENCE if correct else system
    return {"participant": participant, "position": 0, "trial": 0, "clip": "a", "submitted_at": 0.0,
            "answer": {"guess": guess, "x": REFERENCE, "correct": correct, "pair": [REFERENCE, system]}}


def test_abx_summary_is_a_one_sided_binomial_test() -> None:
    responses = [abx(f"p{i}", i < 12) for i in range(16)] + [abx(f"q{i}", i < 5, "mp3@64") for i in range(10)]
    summary = {s["condition"]: s for s in stats.abx_summary(responses)}
    opus = summary["opus@24"]
    assert (opus["correct"], opus["total"], opus["fraction"]) == (12, 16, 0.75)
    assert opus["p_value"] == pytest.approx(sps.binomtest(12, 16, 0.5, alternative="greater").pvalue)
    assert opus["p_value"] == pytest.approx(sum(math.comb(16, k) for k in range(12, 17)) / 2**16)
    mp3 = summary["mp3@64"]
    assert (mp3["correct"], mp3["total"]) == (5, 10)
    assert mp3["p_value"] == pytest.approx(sps.binomtest(5, 10, 0.5, alternative="greater").pvalue)
    assert mp3["p_value"] == pytest.approx(638 / 1024)


def test_box_figure_has_one_box_per_condition_best_first_and_the_means_with_their_intervals() -> None:
    responses = [mushra(f"p{i}", 100, 0, **{"opus@24": 60 + i, "mp3@64": 30 + i, "anchor_3.5khz": 10})
                 for i in range(4)]
    figure = stats.box_figure(stats.scores(responses), "MUSHRA", (0.0, 100.0))
    *boxes, means = figure.data
    assert [trace.name for trace in boxes] == [REFERENCE, "opus@24", "mp3@64", "anchor_3.5khz"]
    assert [len(trace.y) for trace in boxes] == [4, 4, 4, 4]
    assert sorted(boxes[1].y) == [60, 61, 62, 63]
    interval = stats.mean_interval([60, 61, 62, 63])
    assert means.y[1] == pytest.approx(61.5) and means.error_y.array[1] == pytest.approx(interval.high - 61.5)
    assert figure.layout.yaxis.range == (-5.0, 105.0)


def test_csv_text_round_trips_through_dictreader() -> None:
    rows = [{"participant": "p-1", "excluded": False, "trial": 3, "clip": "a, with comma", "condition": "opus@24",
             "score": 71.5, "choice": ""},
            {"participant": "p-2", "excluded": True, "trial": 0, "clip": 'quote "q"', "condition": REFERENCE,
             "score": 100.0, "choice": "no preference"}]
    text = stats.csv_text(rows)
    read = list(csv.DictReader(io.StringIO(text)))
    assert read == [{key: str(value) for key, value in row.items()} for row in rows]
    assert stats.csv_text([]) == ""

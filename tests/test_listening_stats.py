"""Listening-test statistics checked against scipy and closed forms: bootstrap intervals that stay on
the scale (and "too few ratings" below the minimum), BS.1534-3 post-screening at its boundaries,
binomial tests for A/B and ABX, the box plot, ISO times and the CSV."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from scipy import stats as sps

from codec_arena.listening import stats
from codec_arena.listening.protocols import REFERENCE


def test_the_interval_is_scipys_expanded_percentile_bootstrap_on_the_same_seed() -> None:
    values = list(np.random.default_rng(0).uniform(20, 90, 17))
    got = stats.mean_interval(values)
    level = stats.expanded_level(17)
    expected = sps.bootstrap((np.asarray(values),), np.mean, n_resamples=9999, batch=stats.BATCH_VALUES // 17,
                             confidence_level=level, method="percentile", rng=np.random.default_rng(stats.SEED))
    assert (got.n, got.mean, got.std) == (17, pytest.approx(np.mean(values)), pytest.approx(np.std(values, ddof=1)))
    assert (got.low, got.high) == tuple(pytest.approx(v, abs=1e-12) for v in expected.confidence_interval)
    assert stats.mean_interval(values) == got  # seeded: the same ratings give the same interval
    low, high = sps.t.interval(0.95, 16, loc=np.mean(values), scale=sps.sem(values))
    assert got.low == pytest.approx(low, abs=1.5) and got.high == pytest.approx(high, abs=1.5)  # about as wide
    wider = stats.mean_interval(values, confidence=0.99)
    assert wider.low < got.low and wider.high > got.high


def test_expanded_level_by_hand() -> None:
    """Hesterberg's level for n = 10: 1 - 2 Phi(-sqrt(10/9) t(0.975, 9)), t = 2.262157162798205; it tends
    to 0.95 as n grows."""
    z = math.sqrt(10 / 9) * 2.262157162798205
    assert stats.expanded_level(10) == pytest.approx(1 - math.erfc(z / math.sqrt(2)), abs=1e-12)
    assert stats.expanded_level(10) == pytest.approx(0.98290, abs=1e-5)
    assert 0.95 < stats.expanded_level(10_000) < 0.9501


def test_too_few_ratings_have_no_interval_but_keep_n_mean_and_sd() -> None:
    five = stats.mean_interval([2, 4, 6, 8, 10])
    assert (five.n, five.mean, five.std, five.low, five.high) == (5, 6.0, pytest.approx(math.sqrt(10)), None, None)
    one = stats.mean_interval([73.0])
    assert (one.n, one.mean, one.std, one.low, one.high) == (1, 73.0, 0.0, None, None)
    none = stats.mean_interval([])
    assert none.n == 0 and math.isnan(none.mean) and none.low is None
    six = stats.mean_interval([2, 4, 6, 8, 10, 12])
    assert six.low is not None and 2 <= six.low < 7 < six.high <= 12
    same = stats.mean_interval([100] * 6)
    assert (same.low, same.high) == (100.0, 100.0)


@pytest.mark.parametrize(("values", "scale"), [
    ([0, 100], (0, 100)), ([100, 100, 0], (0, 100)), ([98, 99, 100, 100], (0, 100)),
    ([0, 0, 0, 100, 100, 100], (0, 100)), ([100, 100, 100, 100, 100, 0], (0, 100)), ([0, 0, 0, 0, 0, 0, 100], (0, 100)),
    ([1, 5], (1, 5)), ([5, 5, 1], (1, 5)), ([1, 1, 1, 1, 1, 5], (1, 5)), ([5, 5, 5, 5, 5, 1], (1, 5)),
    ([5, 5, 5, 5, 4, 5, 5, 5], (1, 5)), ([1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], (1, 5)),
])
def test_no_interval_leaves_the_scale_even_without_the_minimum(values, scale) -> None:
    """The bootstrap itself (from 2 ratings) stays within the ratings; the minimum only adds "too few"."""
    low, high = stats.bootstrap_interval(values, scale)
    assert scale[0] <= min(values) <= low <= high <= max(values) <= scale[1]
    got = stats.mean_interval(values, scale)
    assert (got.low is None) == (len(values) < stats.MIN_RATINGS)
    if got.low is not None:
        assert (got.low, got.high) == (low, high) and low <= got.mean <= high


def test_a_huge_class_is_resampled_in_batches() -> None:
    values = list(np.random.default_rng(1).integers(0, 101, 3000).astype(float))
    got = stats.mean_interval(values)
    low, high = sps.t.interval(0.95, 2999, loc=np.mean(values), scale=sps.sem(values))
    assert got.low == pytest.approx(low, abs=0.2) and got.high == pytest.approx(high, abs=0.2)


@pytest.mark.parametrize("values", [
    [0, 100], [100, 100, 0], [98, 99, 100, 100], [0, 0, 100, 100, 100], [0, 0, 0, 100, 100, 100],
    [100, 100, 100, 100, 100, 0], [98, 99, 100, 100, 100, 100], [0, 1, 0, 0, 2, 0, 0], [3, 97, 50, 0, 100, 100, 0, 1]])
def test_a_mushra_interval_never_leaves_0_to_100(values) -> None:
    got = stats.mean_interval(values)
    assert got.n == len(values) and got.mean == pytest.approx(np.mean(values))
    assert got.std == pytest.approx(np.std(values, ddof=1))
    if len(values) < 6:
        assert got.low is None and got.high is None, f"{values}: {got}"
    else:
        assert 0 <= got.low <= got.mean <= got.high <= 100, f"{values}: [{got.low}, {got.high}]"


def test_times_are_iso_8601_in_utc() -> None:
    assert stats.iso_time(1796270706.123) == "2026-12-03T04:05:06.123+00:00"
    assert stats.iso_time(0.0) == "1970-01-01T00:00:00.000+00:00"
    assert stats.iso_time(None) is None


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
    assert (codec["n"], codec["mean"], codec["ci95_low"], codec["ci95_high"]) == (3, pytest.approx(160 / 3), None, None)
    assert codec["note"] == "too few ratings for a confidence interval (fewer than 6)"
    assert list(codec) == stats.RATING_COLUMNS
    by_clip = stats.rating_summary(rows, by_clip=True)
    assert [(s["clip"], s["condition"], s["n"]) for s in by_clip] == [
        ("a", REFERENCE, 2), ("a", "codec", 2), ("b", REFERENCE, 1), ("b", "codec", 1)]
    assert by_clip[1]["mean"] == 45 and list(by_clip[1]) == ["clip", *stats.RATING_COLUMNS]
    mos = stats.rating_summary([{"clip": "a", "condition": "c", "score": s} for s in [1, 1, 1, 1, 1, 5]], scale=(1, 5))
    assert mos[0]["ci95_low"] == 1.0 and mos[0]["ci95_high"] <= 5 and mos[0]["note"] is None


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
    assert all(list(row) == stats.PREFERENCE_COLUMNS for row in summary.values())


def test_preference_and_abx_summaries_per_clip() -> None:
    responses = [{**ab(f"p{i}", "opus@24" if i < 4 else None), "clip": "a" if i % 2 else "b"} for i in range(6)]
    by_clip = stats.preference_summary(responses, by_clip=True)
    assert [(r["clip"], r["prefer_a"], r["no_preference"]) for r in by_clip] == [("a", 2, 1), ("b", 2, 1)]
    assert list(by_clip[0]) == ["clip", *stats.PREFERENCE_COLUMNS]
    responses = [{**abx(f"p{i}", i < 3), "clip": "a" if i < 2 else "b"} for i in range(5)]
    by_clip = stats.abx_summary(responses, by_clip=True)
    assert [(r["clip"], r["correct"], r["total"]) for r in by_clip] == [("a", 2, 2), ("b", 1, 3)]
    assert list(by_clip[0]) == ["clip", *stats.ABX_COLUMNS]


def test_preference_summary_with_only_ties_has_no_p_value() -> None:
    (only,) = stats.preference_summary([ab("p1", None), ab("p2", None)])
    assert (only["prefer_a"], only["prefer_b"], only["no_preference"], only["n"]) == (0, 0, 2, 2)
    assert only["p_value"] is None  # no test without a preference; null in JSON, never NaN


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
                 for i in range(6)]
    figure = stats.box_figure(stats.scores(responses), "MUSHRA", (0.0, 100.0))
    *boxes, means = figure.data
    assert [trace.name for trace in boxes] == [REFERENCE, "opus@24", "mp3@64", "anchor_3.5khz"]
    assert [len(trace.y) for trace in boxes] == [6, 6, 6, 6]
    assert sorted(boxes[1].y) == [60, 61, 62, 63, 64, 65]
    interval = stats.mean_interval([60, 61, 62, 63, 64, 65])
    assert means.y[1] == pytest.approx(62.5) and means.error_y.array[1] == pytest.approx(interval.high - 62.5)
    assert means.error_y.arrayminus[1] == pytest.approx(62.5 - interval.low)
    assert figure.layout.yaxis.range == (-5.0, 105.0)


def test_box_figure_draws_no_error_bar_for_too_few_ratings() -> None:
    responses = [mushra(f"p{i}", 100, 0, **{"opus@24": 60 + i}) for i in range(6)]
    responses += [mushra(f"q{i}", 100, 1, **{"mp3@64": 30 + i}) for i in range(2)]
    figure = stats.box_figure(stats.scores(responses), "MUSHRA", (0.0, 100.0))
    *boxes, few, means = figure.data
    assert [trace.name for trace in boxes] == [REFERENCE, "opus@24", "mp3@64"]
    assert list(few.x) == ["mp3@64"] and few.error_y.array is None and few.text == ("too few ratings (n=2)",)
    assert list(means.x) == [REFERENCE, "opus@24"] and len(means.error_y.array) == 2


def test_csv_text_round_trips_through_dictreader() -> None:
    rows = [{"participant": "p-1", "excluded": False, "trial": 3, "clip": "a, with comma", "condition": "opus@24",
             "score": 71.5, "choice": ""},
            {"participant": "p-2", "excluded": True, "trial": 0, "clip": 'quote "q"', "condition": REFERENCE,
             "score": 100.0, "choice": "no preference"}]
    columns = ["participant", "excluded", "trial", "clip", "condition", "score", "choice"]
    text = stats.csv_text(rows, columns)
    read = list(csv.DictReader(io.StringIO(text)))
    assert read == [{key: str(value) for key, value in row.items()} for row in rows]
    assert stats.csv_text([], ["a", "prefer_a"]) == "a,prefer_a\n"  # the header, without rows too
    assert stats.csv_text([{"a": 1, "b": None}], ["a", "b"]) == "a,b\n1,\n"  # None: an empty cell
    with pytest.raises(ValueError, match="not in fieldnames"):
        stats.csv_text([{"a": 1, "stray": 2}], ["a"])

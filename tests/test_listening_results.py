"""The owner's results over a real store, as the teacher meets them: every CSV even when post-screening
leaves nobody (with a one-click unscreened view), confidence intervals inside the scale or "too few
ratings", ISO 8601 times in the CSVs, and one A/B vocabulary in the table, legend, CSV and headline."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable
from datetime import datetime

import pytest
from test_listening_store import clips

from codec_arena.listening import api, protocols, service
from codec_arena.listening.protocols import REFERENCE
from codec_arena.listening.store import DB_NAME, Store

POINTS = ["opus@24", "mp3@64"]
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")
UNSCREENED = "Show all participants (without post-screening)"


@pytest.fixture
def shown():
    """The owner's Results view. It imports Gradio, and with it huggingface_hub, which reads HF_HOME once:
    so not at collection, before the session's temporary caches are set."""
    from codec_arena.ui import listening_results

    return listening_results


@pytest.fixture
def db(tmp_path, monkeypatch) -> Store:
    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path))  # the app's handlers find the same store
    return Store(tmp_path / DB_NAME)


def take(db: Store, test_id: str, rate: Callable) -> str:
    """One participant answers every trial: `rate(condition)` is a MUSHRA or MOS score; for A/B,
    `rate(pair)` is the preferred condition or None. Returns the participant's id."""
    token, participant = service.join(test_id, db=db)
    test = db.test(test_id)
    for slot in participant.slots:
        trial = test.trials[slot.trial]
        seen = [trial.conditions[i] for i in slot.order]
        keys = protocols.letters(len(seen))
        payload: dict = {"played": protocols.sources(trial, slot)}
        if test.method == "mushra":
            payload["ratings"] = {k: rate(c) for k, c in zip(keys, seen, strict=True)}
        elif test.method == "mos":
            payload["rating"] = rate(seen[0])
        else:
            preferred = rate(trial.conditions)
            payload["choice"] = protocols.NO_PREFERENCE if preferred is None else keys[seen.index(preferred)]
        service.submit(test_id, token, slot.position, payload, db=db)
    return participant.id


def read_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


# --- 4: post-screening that leaves nobody ------------------------------------------------------------------
def test_every_csv_keeps_its_header_when_post_screening_excludes_everyone(db) -> None:
    created = service.create_test("t", "mushra", clips(), POINTS, db=db)
    for _ in range(2):  # both rate the hidden reference 50: both excluded
        take(db, created.test_id, lambda c: 50 if c == REFERENCE else 40)
    found = service.results(created.test_id, created.owner_token, db=db)
    assert len(found.excluded) == 2 and found.summary == [] and found.summary_by_clip == []
    files = found.csv_files()
    names = ["raw_responses", "summary", "summary_by_clip", "participants", "stimuli"]
    assert sorted(files) == sorted(f"{created.test_id}-{name}.csv" for name in names)
    header, rows = read_csv(files[f"{created.test_id}-summary.csv"])
    assert rows == [] and header[:4] == ["condition", "n", "mean", "ci95_low"]
    header, rows = read_csv(files[f"{created.test_id}-summary_by_clip.csv"])
    assert rows == [] and header[:2] == ["clip", "condition"]
    _, raw = read_csv(files[f"{created.test_id}-raw_responses.csv"])
    assert len(raw) == 2 * 5 and {row["excluded"] for row in raw} == {"True"}


def test_a_test_without_responses_has_every_csv_too(db) -> None:
    created = service.create_test("t", "ab", clips(), POINTS, db=db)
    files = service.results(created.test_id, created.owner_token, db=db).csv_files()
    header, rows = read_csv(files[f"{created.test_id}-raw_responses.csv"])
    assert rows == [] and header[:3] == ["participant", "excluded", "position"]
    header, _ = read_csv(files[f"{created.test_id}-summary.csv"])
    assert header == ["a", "b", "prefer_a", "prefer_b", "no_preference", "n", "p_value"]
    assert read_csv(files[f"{created.test_id}-participants.csv"])[0][:3] == ["participant", "joined_at", "completed_at"]


def test_the_headline_says_everyone_was_excluded_and_one_click_shows_them_all(db, shown) -> None:
    import gradio as gr

    created = service.create_test("t", "mushra", clips(), POINTS, db=db)
    for _ in range(2):
        take(db, created.test_id, lambda c: 50 if c == REFERENCE else 40)
    headline, summary, plot, _, _, files, button = shown.show_results(created.test_id, created.owner_token)
    assert "2 of 2 participants excluded" in headline and "Everyone was excluded" in headline
    assert UNSCREENED in headline and summary.value["data"] == [] and plot is None
    assert isinstance(button, gr.Button) and button.visible and len(files) == 5
    screening, headline, summary, plot, *_, button = shown.show_unscreened(created.test_id, created.owner_token)
    assert screening is False and "Post-screening is off" in headline
    assert len(summary.value["data"]) == 5 and plot is not None and not button.visible


def test_the_unscreened_button_is_shown_only_when_screening_left_someone_out(db, shown) -> None:
    import gradio as gr

    created = service.create_test("t", "mushra", clips(), POINTS, db=db)
    take(db, created.test_id, lambda c: 100 if c == REFERENCE else 40)
    assert not shown.show_results(created.test_id, created.owner_token)[-1].visible
    take(db, created.test_id, lambda c: 50 if c == REFERENCE else 40)
    headline, *_, button = shown.show_results(created.test_id, created.owner_token)
    assert button.visible and "1 of 2 participants excluded" in headline
    with gr.Blocks():
        _, _, outputs = shown.results_section()
    assert isinstance(outputs[-1], gr.Button) and outputs[-1].value == UNSCREENED and not outputs[-1].visible


# --- 5: confidence intervals inside the scale ----------------------------------------------------------------
def test_two_ratings_are_too_few_for_an_interval_in_the_table_json_and_csv(db, shown) -> None:
    created = service.create_test("t", "mushra", clips(), POINTS, db=db)
    for score in (0, 100):
        take(db, created.test_id, lambda c, s=score: 100 if c == REFERENCE else s)
    found = service.results(created.test_id, created.owner_token, db=db)
    row = next(r for r in found.summary if r["condition"] == "opus@24")
    assert (row["n"], row["mean"]) == (2, 50.0) and row["std"] == pytest.approx(70.7107, abs=1e-4)
    assert row["ci95_low"] is None and row["ci95_high"] is None, row
    assert "too few ratings" in row["note"]
    columns = shown.summary_columns(found.test.method)
    cells = dict(zip(columns, shown.table([row], columns)[0], strict=True))
    assert cells["ci95_low"] == cells["ci95_high"] == "too few ratings" and cells["mean"] == 50.0
    result = api.results(created.test_id, created.owner_token)
    as_json = json.loads(json.dumps(result, allow_nan=False))
    opus = next(r for r in as_json["summary"] if r["condition"] == "opus@24")
    assert opus["ci95_low"] is None and "too few ratings" in opus["note"]
    _, summary = read_csv(found.csv_files()[f"{created.test_id}-summary.csv"])
    opus = next(r for r in summary if r["condition"] == "opus@24")
    assert (opus["ci95_low"], opus["ci95_high"], opus["n"]) == ("", "", "2") and "too few" in opus["note"]


@pytest.mark.parametrize(("method", "ratings", "scale"), [
    ("mushra", [0, 0, 0, 100, 100, 100], (0, 100)),
    ("mushra", [100, 100, 100, 100, 100, 0], (0, 100)),
    ("mos", [1, 1, 1, 1, 1, 5], (1, 5)),
    ("mos", [5, 5, 5, 5, 5, 1], (1, 5)),
])
def test_intervals_from_the_service_stay_on_the_scale(db, method, ratings, scale) -> None:
    created = service.create_test("t", method, clips(), POINTS, db=db)
    for score in ratings:
        take(db, created.test_id, lambda c, s=score: scale[1] if c == REFERENCE else s)
    found = service.results(created.test_id, created.owner_token, db=db)
    for row in found.summary + found.summary_by_clip:
        assert row["n"] == len(ratings)
        assert scale[0] <= row["ci95_low"] <= row["mean"] <= row["ci95_high"] <= scale[1], row


# --- 8: times in ISO 8601 --------------------------------------------------------------------------------
def test_csv_times_are_iso_8601_in_utc(db) -> None:
    created = service.create_test("t", "mos", clips(), POINTS, db=db)
    before = time.time()
    take(db, created.test_id, lambda c: 4)
    service.join(created.test_id, db=db)  # joined, not finished: no completion time
    files = service.results(created.test_id, created.owner_token, db=db).csv_files()
    _, raw = read_csv(files[f"{created.test_id}-raw_responses.csv"])
    assert len(raw) == 3
    for row in raw:
        assert ISO_UTC.fullmatch(row["submitted_at"]), row["submitted_at"]
        assert before - 1 <= datetime.fromisoformat(row["submitted_at"]).timestamp() <= time.time() + 1
    _, people = read_csv(files[f"{created.test_id}-participants.csv"])
    done, waiting = sorted(people, key=lambda p: p["completed_at"], reverse=True)
    assert ISO_UTC.fullmatch(done["joined_at"]) and ISO_UTC.fullmatch(done["completed_at"])
    assert ISO_UTC.fullmatch(waiting["joined_at"]) and waiting["completed_at"] == ""
    participants = api.results(created.test_id, created.owner_token)["participants"]
    assert all(ISO_UTC.fullmatch(p["joined_at"]) for p in participants)


# --- 9: one A/B vocabulary -------------------------------------------------------------------------------
def test_ab_table_legend_csv_and_headline_use_the_same_words(db, shown) -> None:
    created = service.create_test("t", "ab_noref", clips(), POINTS, db=db)
    take(db, created.test_id, lambda pair: pair[0])
    take(db, created.test_id, lambda pair: pair[1])
    take(db, created.test_id, lambda pair: None)
    headline, summary, plot, *_ = shown.show_results(created.test_id, created.owner_token)
    headers = summary.value["headers"]
    assert headers[:5] == ["a", "b", "prefer a", "prefer b", "no preference"]
    assert summary.value["data"][0][2:5] == [1, 1, 1]
    legend = [trace.name for trace in plot.data]
    assert sorted(legend) == sorted(["prefer a", "prefer b", "no preference"]), legend
    assert "a and b are the two conditions of each pair" in headline
    assert all(word in headline for word in ("prefer a", "prefer b", "no preference"))
    found = service.results(created.test_id, created.owner_token)
    header, _ = read_csv(found.csv_files()[f"{created.test_id}-summary.csv"])
    assert [column.replace("_", " ") for column in header] == headers


def test_the_csv_columns_are_exactly_the_keys_of_the_rows(db) -> None:
    """The columns are defined once in `stats`; a key the store or the summaries add must be added there."""
    from codec_arena.listening import stats

    for method in protocols.METHODS:
        created = service.create_test("t", method, clips(), POINTS, db=db)
        top = stats.scale_of(method)[1]
        take(db, created.test_id, lambda c, top=top: c[0] if isinstance(c, tuple) else top if c == REFERENCE else 3)
        found = service.results(created.test_id, created.owner_token, db=db)
        columns = stats.SUMMARY_COLUMNS[method]
        assert {tuple(row) for row in found.summary} == {tuple(columns)}
        assert {tuple(row) for row in found.summary_by_clip} == {("clip", *columns)}
        assert {tuple(row) for row in found.raw_rows()} == {tuple(stats.RAW_COLUMNS)}
        assert [list(row) for row in found.participants] == [stats.PARTICIPANT_COLUMNS]
        assert {tuple(row) for row in found.stimuli} == {tuple(stats.STIMULUS_COLUMNS)}

"""A class of phones takes listening tests: for every method, three trials in a row at 390×844 with
touch only (taps and drags, no keys, no mouse). Every trial must start blank (no radio chosen, every
slider without a rating, Submit disabled until this trial's answers are given), the answers read back
from the database must be the ones given, the screen must hold only what a participant needs, and the
audio must come as equal-sized files, each loaded once."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from browser import CHROMIUM, PHONE, browser_page, drag
from conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]
SHOTS = ARTIFACTS / "listening-phone"
# method: (clips, operating points): three trials each
PLANS = {"mushra": (3, ["opus@12"]), "ab": (3, ["opus@12", "mp3@32"]), "ab_noref": (3, ["opus@12", "mp3@32"]),
         "abx": (1, ["opus@12", "mp3@32", "aac@32"]), "mos": (1, ["opus@12", "mp3@32"])}
CHOICES = {"ab": ["A", "none", "B"], "ab_noref": ["B", "A", "none"], "abx": ["A", "B", "A"], "mos": ["4", "2", "5"]}


def clip(path: Path, freq: float, seconds: float = 1.2, rate: int = 24_000) -> str:
    t = np.arange(int(seconds * rate)) / rate
    x = sum(0.3 / k * np.sin(2 * np.pi * freq * k * t) for k in range(1, 30) if freq * k < rate / 2)
    sf.write(path, (0.5 * x + 0.01 * np.random.default_rng(int(freq)).standard_normal(t.size)).astype(np.float32),
             rate)
    return str(path)


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False, analytics_enabled=False)


def create(client, folder: Path, method: str) -> dict:
    from gradio_client import handle_file

    n, points = PLANS[method]
    files = [handle_file(clip(folder / f"{method}-{i}.wav", 150.0 + 70 * i)) for i in range(n)]
    *_, details = client.predict("Listening in class", method, files, [], points, 0, False, "",
                                 api_name="/listening_create")
    assert details["trials_each"] == 3
    return details


def tap_every_source(page, trial) -> None:
    """Play, then tap each version while it plays: each counts as heard after a second (MOS: all of it)."""
    trial.locator(".ca-play").tap()
    for i in range(trial.locator("[data-src]").count()):
        trial.locator("[data-src]").nth(i).tap()
        page.wait_for_timeout(1250)


def rate_by_touch(page, slider, share: float, how: str) -> int:
    """Tap the slider's track at `share` of its width, drag a finger there from its other end, or tap the
    way iOS Safari does it (the pointer events arrive, the browser itself moves nothing)."""
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    x = box["x"] + 15 + (box["width"] - 30) * share  # the thumb's centre travels 15 px inside each end
    if how == "tap":
        page.touchscreen.tap(x, y)
    elif how == "drag":
        drag(page, (box["x"] + box["width"] - 20 if share < 0.5 else box["x"] + 20, y), (x, y))
    else:
        for kind in ("pointerdown", "pointerup"):
            slider.dispatch_event(kind, {"pointerType": "touch", "clientX": x, "clientY": y, "bubbles": True,
                                         "isPrimary": True})
        assert abs(int(slider.input_value()) - round(100 * share)) <= 1, slider.input_value()
    page.wait_for_timeout(150)
    return int(slider.input_value())


def assert_blank(trial) -> None:
    assert trial.locator("input.ca-choice:checked").count() == 0
    for i in range(trial.locator(".ca-rate").count()):
        slider = trial.locator(".ca-rate").nth(i)
        assert slider.get_attribute("data-touched") is None  # its thumb is hidden: no rating is suggested
        assert slider.input_value() == "50"  # not where the last trial's rating left it
    assert all(text == "not rated" for text in trial.locator(".ca-value").all_inner_texts())
    assert trial.locator(".ca-submit").is_disabled()


def assert_fits_a_phone(page, trial) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways scrolling
    for selector in ("[data-src]", ".ca-play", ".ca-pick", ".ca-submit", ".ca-choices label"):
        for box in (b.bounding_box() for b in trial.locator(selector).all()):
            assert box["height"] >= 44 and box["width"] >= 44, (selector, box)  # big enough for a finger
    for row in trial.locator(".ca-rating").all():
        assert row.locator(".ca-rate").bounding_box()["width"] >= 0.85 * width  # full-width slider
        labels = [b.bounding_box() for b in row.locator(".ca-bands span").all()]
        assert [t.inner_text() for t in row.locator(".ca-bands span").all()] == ["Bad", "Poor", "Fair", "Good",
                                                                                 "Excellent"]
        assert all(a["x"] + a["width"] <= b["x"] for a, b in zip(labels, labels[1:], strict=False))  # no overlap


def first_screen_is_plain(page) -> None:
    """Only what a participant needs: no test id box, no empty resume box, no method jargon, no tabs."""
    page.get_by_role("button", name="Start", exact=True).wait_for(timeout=30_000)
    assert not page.get_by_label("Test id (from the link you were given)").is_visible()
    assert not page.get_by_role("button", name="Open", exact=True).is_visible()
    assert not page.get_by_label(re.compile("resume code")).is_visible()  # folded under More
    text = page.locator("body").inner_text()
    for jargon in ("MUSHRA", "hidden reference", "anchor", "ABX", "ACR", "condition", "stimul"):
        assert jargon.lower() not in text.lower(), jargon
    assert not page.locator("[role=tab]", has_text="Compare").first.is_visible()
    assert page.locator("#ca-listening-more").get_by_text("More").is_visible()


@pytest.mark.parametrize("method", list(PLANS))
def test_three_trials_in_a_row_start_blank_on_a_phone(app_url, client, tmp_path, method) -> None:
    from codec_arena.listening.store import store

    SHOTS.mkdir(parents=True, exist_ok=True)
    details = create(client, tmp_path, method)
    given: dict[int, dict[str, object]] = {}  # position -> what the participant answered, in their letters
    media: list[tuple[str, int]] = []
    with browser_page(*PHONE, touch=True, extra_args=["--autoplay-policy=no-user-gesture-required"]) as page:
        page.on("response", lambda r: "/listening/media/" in r.url and media.append(
            (r.url, int(r.headers.get("content-length", -1)))))
        page.goto(details["participant_link"])
        first_screen_is_plain(page)
        page.screenshot(path=str(SHOTS / f"{method}-0-start.png"))
        page.get_by_role("button", name="Start", exact=True).tap()
        for number in range(3):
            trial = page.locator(".ca-trial")
            page.get_by_text(f"Trial {number + 1} of 3").wait_for(timeout=30_000)
            assert "data:audio" not in trial.inner_html()  # audio comes as files, not inside the page
            assert not trial.locator(".ca-loop").is_visible() and not trial.locator("kbd").first.is_visible()
            assert_blank(trial)  # trial 2 and 3 were patched into the element of trial 1
            tap_every_source(page, trial)
            assert_blank(trial)  # every version played, still nothing answered: Submit stays disabled
            position = int(trial.get_attribute("data-slot"))
            if method == "mushra":
                assert_fits_a_phone(page, trial)
                ratings = {}
                for i, slider in enumerate(trial.locator(".ca-rate").all()):
                    key = slider.get_attribute("data-key")
                    share = (0.15 + 0.17 * i + 0.05 * number) % 1
                    ratings[key] = rate_by_touch(page, slider, share, ("tap", "drag", "ios")[i % 3])
                    expected = ratings[key]
                    value = trial.locator(".ca-value").nth(i).inner_text()
                    assert value.startswith(f"{expected} · "), value
                given[position] = ratings
                assert len(set(ratings.values())) > 1
            else:
                if number == 0:
                    assert_fits_a_phone(page, trial)
                choice = CHOICES[method][number]
                trial.locator(f"input.ca-choice[value='{choice}']").locator("xpath=..").tap()
                given[position] = {"choice": choice}
            page.wait_for_timeout(300)
            assert not trial.locator(".ca-submit").is_disabled()
            page.screenshot(path=str(SHOTS / f"{method}-{number + 1}.png"), full_page=number == 0)
            trial.locator(".ca-submit").tap()
            page.get_by_text(f"Saved ({number + 1} of 3)").wait_for(timeout=30_000)
        page.locator(".ca-code").wait_for(timeout=30_000)

    db = store()
    test = db.test(details["test_id"])
    responses = db.responses(test.id)
    assert sorted(r["position"] for r in responses) == [0, 1, 2]
    for r in responses:
        conditions = test.trials[r["trial"]].conditions
        letters = [chr(ord("A") + k) for k in range(len(r["order"]))]
        behind = {letter: conditions[index] for letter, index in zip(letters, r["order"], strict=True)}
        answer, mine = r["answer"], given[r["position"]]
        if method == "mushra":
            assert answer["scores"] == {behind[k]: float(v) for k, v in mine.items()}
        elif method == "mos":
            assert answer["scores"] == {behind["A"]: float(mine["choice"])}
        elif method == "abx":
            assert answer["guess"] == behind[mine["choice"]]
        else:
            assert answer["preferred"] == (None if mine["choice"] == "none" else behind[mine["choice"]])
    loaded = {}
    for url, size in media:
        loaded.setdefault(url, []).append(size)
    assert all(len(sizes) == 1 for sizes in loaded.values())  # each file loaded once
    urls, per_trial = list(loaded), len(loaded) // 3  # in the order they were first asked for, trial by trial
    assert per_trial >= 1 and len(urls) == 3 * per_trial
    for t in range(3):  # every version of a trial has the same size: no anchor to spot from outside
        assert len({loaded[u][0] for u in urls[t * per_trial:(t + 1) * per_trial]}) == 1

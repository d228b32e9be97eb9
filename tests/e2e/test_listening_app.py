"""The Listening test tab in the running app: creating a test over gradio_client, refusals, and the
whole classroom flow in headless chromium (a teacher creates a MUSHRA test, a participant does the
practice trial, answers, closes the tab, resumes and finishes; the owner sees the result)."""

from __future__ import annotations

import html
import json
import re
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from browser import CHROMIUM, DESKTOP, browser_page, open_tab
from conftest import ARTIFACTS

pytestmark = pytest.mark.e2e
SHOTS = ARTIFACTS / "listening"


def clip(path: Path, seconds: float = 2.0, rate: int = 24_000, freq: float = 220.0) -> Path:
    """A harmonic tone with a little noise: enough above 7 kHz for the anchors to differ audibly."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(int(freq))
    x = sum(0.3 / k * np.sin(2 * np.pi * freq * k * t) for k in range(1, 40) if freq * k < rate / 2)
    sf.write(path, (0.5 * x + 0.01 * rng.standard_normal(t.size)).astype(np.float32), rate)
    return path


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False, analytics_enabled=False)


@pytest.fixture(scope="module")
def abx_test(client, tmp_path_factory):
    from gradio_client import handle_file

    folder = tmp_path_factory.mktemp("clips")
    files = [handle_file(str(clip(folder / f"tone{f}.wav", freq=f))) for f in (220.0, 330.0)]
    summary, share, details = client.predict(
        "ABX over the API", "abx", files, [], ["opus@12", "mp3@32"], 0, False, "", api_name="/listening_create")
    assert details["participant_link"] in share and html.escape(details["owner_link"]) in share
    return summary, details


def test_create_over_the_api_gives_links_and_a_working_test(client, abx_test):
    summary, details = abx_test
    assert details["trials"] == 4 and details["trials_each"] == 4 and details["random_weights"] == []
    assert f"?test={details['test_id']}&owner={details['owner_token']}" in details["owner_link"]
    assert "owner" not in details["participant_link"] and details["test_id"] in summary
    # gradio_client calls 127.0.0.1: the link it gets would send students to their own device, and says so
    assert details["participant_link"].startswith("http://127.0.0.1:") and "will not work for your students" in summary
    joined = client.predict(details["test_id"], api_name="/listening_join")
    trial = client.predict(details["test_id"], joined["token"], api_name="/listening_next")
    assert trial["letters"] == ["A", "B", "X"] and not trial["has_reference"]
    assert [a["key"] for a in trial["audio"]] == ["A", "B", "X"]
    sizes = {len(urllib.request.urlopen(f"{client.src.rstrip('/')}/{a['url']}").read()) for a in trial["audio"]}
    assert len(sizes) == 1  # every version of the trial has the same byte size
    answer = json.dumps({"played": ["A", "B", "X"], "choice": "A"})
    receipt = client.predict(details["test_id"], joined["token"], trial["position"], answer,
                             api_name="/listening_submit")
    assert receipt == {"saved": True, "position": trial["position"], "duplicate": False, "answered": 1, "total": 4,
                       "completion_code": None}
    results = client.predict(details["test_id"], details["owner_token"], api_name="/listening_results")
    assert results["responses"] == 1 and results["summary"][0]["total"] == 1


def test_refusals_are_clear_messages(client, abx_test):
    from gradio_client.exceptions import AppError

    _, details = abx_test
    test_id = details["test_id"]
    cases = [
        (("/listening_results", test_id, "not-the-token"), "owner link"),
        (("/listening_results", test_id, ""), "owner link"),
        (("/listening_delete", test_id, details["owner_token"][:-1] + "x"), "owner link"),
        (("/listening_join", "no-such-test"), "no listening test"),
        (("/listening_next", test_id, "forged-token"), "not part of this test"),
    ]
    token = client.predict(test_id, api_name="/listening_join")["token"]
    position = client.predict(test_id, token, api_name="/listening_next")["position"]
    cases += [
        (("/listening_submit", test_id, token, position, json.dumps({"played": ["A"], "choice": "A"})), "Listen to"),
        (("/listening_submit", test_id, token, position, json.dumps({"played": ["A", "B", "X"], "choice": "C"})),
         "X is A or B"),
        (("/listening_submit", test_id, token, 99, json.dumps({"played": ["A", "B", "X"], "choice": "A"})),
         "not one of your trials"),
        (("/listening_submit", test_id, token, position, "{not json"), "not valid JSON"),
        (("/listening_submit", test_id, token, "abc", json.dumps({"played": ["A", "B", "X"], "choice": "A"})),
         "not one of your trials"),
        (("/listening_next", "[Log in](https://evil.example)", token), "not a listening test id"),
    ]
    for (endpoint, *args), message in cases:
        with pytest.raises(AppError, match=re.compile(message, re.IGNORECASE)):
            client.predict(*args, api_name=endpoint)
    assert client.predict(test_id, details["owner_token"], api_name="/listening_results")["responses"] >= 1


def test_creating_with_bad_input_is_refused(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(2400, np.float32) + 0.1, 24_000)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(48_000, np.float32), 24_000)
    tone = clip(tmp_path / "tone.wav")
    for files, method, points, message in [
        ([], "mushra", ["opus@12"], "at least one clip|1 to 12 clips"),
        ([short], "mushra", ["opus@12"], "at least 1 s"),
        ([silent], "mos", ["opus@12"], "silent"),
        ([tone], "ab", ["opus@12"], "at least 2"),
        ([tone], "mushra", ["no_such_codec@6"], "no_such_codec"),
        ([tone], "mushra", ["opus@12", "mp3@32", "aac@32", "opus@6", "opus@24", "mp3@64", "aac@64", "opus@32"],
         "at most 10"),
    ]:
        with pytest.raises(AppError, match=re.compile(message, re.IGNORECASE)):
            client.predict("t", method, [handle_file(str(f)) for f in files], [], points, 0, True, "",
                           api_name="/listening_create")


def play_every_source(page, trial) -> None:
    trial.locator(".ca-play").click()
    for i in range(trial.locator("[data-src]").count()):
        trial.locator("[data-src]").nth(i).click()
        page.wait_for_timeout(1200)  # a source counts as played after a second of listening


def copied(page, button) -> str:
    """What a copy button puts on the clipboard. Over http on a LAN the page is no secure context, so
    Gradio copies with `execCommand('copy')` from a scratch text area: the copy event tells what."""
    page.evaluate("""() => { window.__copied = null; document.addEventListener('copy', e => {
        window.__copied = e.target.value !== undefined ? e.target.value : String(getSelection()); },
        {once: true, capture: true}); }""")
    button.click()
    page.wait_for_function("() => window.__copied !== null", timeout=5_000)
    return page.evaluate("() => window.__copied")


def decode_qr(png: bytes) -> list[str]:
    """The texts of the QR codes in a screenshot (zxing-cpp)."""
    import io

    import zxingcpp
    from PIL import Image

    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_class_takes_a_mushra_test_in_the_browser(app_url, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    clips = [clip(tmp_path / "violin-ish.wav", freq=196.0), clip(tmp_path / "voice-ish.wav", freq=140.0)]
    port = app_url.rsplit(":", 1)[1]
    classroom = f"http://classroom.test:{port}"  # a name for this machine, as a class on the LAN would use
    with browser_page(*DESKTOP, extra_args=["--autoplay-policy=no-user-gesture-required",
                                            "--host-resolver-rules=MAP classroom.test 127.0.0.1"],
                      ) as teacher:
        teacher.goto(classroom)
        open_tab(teacher, "Listening test")
        teacher.locator("[role=tab]", has_text="Build a test").first.click()
        build = teacher.locator("#listening-build")
        build.get_by_label("Title").fill("Week 3: codecs at low bitrates")
        build.locator("input[type=file]").first.set_input_files([str(c) for c in clips])
        teacher.wait_for_timeout(1500)
        build.get_by_role("button", name="Create the test").click()
        build.get_by_text("Test created").wait_for(timeout=240_000)
        teacher.wait_for_timeout(1000)
        teacher.screenshot(path=str(SHOTS / "1-teacher-created.png"), full_page=True)
        participant_link = teacher.locator("input#ca-participant-link").input_value()
        owner_link = teacher.locator("input#ca-owner-link").input_value()
        assert re.fullmatch(rf"{classroom}/\?test=[\w-]+", participant_link)  # the address the browser used
        assert owner_link.startswith(participant_link + "&owner=")
        text = build.inner_text()
        assert "Random test weights" in text  # the default points include neural codecs with test weights
        assert "will not work for your students" not in text  # not a loopback address: no warning
        assert decode_qr(teacher.locator("#ca-participant-qr svg").screenshot()) == [participant_link]
        copy_buttons = teacher.locator("#ca-listening-share .ca-copy")
        assert copied(teacher, copy_buttons.nth(0)) == participant_link
        assert copied(teacher, copy_buttons.nth(1)) == owner_link
        with teacher.expect_download() as download:
            teacher.locator("#ca-owner-download").click()
        saved = Path(download.value.path()).read_text()
        assert owner_link in saved and participant_link in saved

    with browser_page(*DESKTOP) as teacher:  # the same app opened at 127.0.0.1: the class could not use it
        teacher.goto(app_url)
        open_tab(teacher, "Listening test")
        teacher.locator("[role=tab]", has_text="Build a test").first.click()
        build = teacher.locator("#listening-build")
        build.locator("input[type=file]").first.set_input_files([str(clips[0])])
        build.get_by_label("ABX: can you hear the codec?").check()
        teacher.wait_for_timeout(1000)
        build.get_by_role("button", name="Create the test").click()
        warning = build.get_by_text("will not work for your students")
        warning.wait_for(timeout=240_000)
        assert "GRADIO_SERVER_NAME=0.0.0.0" in build.inner_text()
        teacher.screenshot(path=str(SHOTS / "1b-teacher-loopback-warning.png"), full_page=True)

    with browser_page(extra_args=["--autoplay-policy=no-user-gesture-required",
                                  "--host-resolver-rules=MAP classroom.test 127.0.0.1"]) as page:
        page.goto(participant_link)
        start = page.get_by_role("button", name="Start", exact=True)
        start.wait_for(timeout=30_000)
        assert not page.locator("[role=tab]", has_text="Compare").first.is_visible()  # only their test
        assert page.get_by_text("Week 3: codecs at low bitrates").first.is_visible()
        start.click()
        practice = page.locator(".ca-trial[data-training='1']")
        practice.wait_for(timeout=30_000)
        assert "anchor_3.5khz" in practice.inner_text()  # the practice trial names the versions
        practice.locator(".ca-play").click()  # the practice is still playing when the test starts
        page.wait_for_timeout(1200)
        assert not practice.locator(".ca-submit").is_disabled()  # practice moves on whenever you like
        page.screenshot(path=str(SHOTS / "2-participant-practice.png"), full_page=True)
        practice.locator(".ca-submit").click()

        trial = page.locator(".ca-trial[data-training='0']")
        trial.wait_for(timeout=30_000)
        assert "anchor" not in trial.inner_text() and "opus" not in trial.inner_text()  # blind from here on
        assert trial.locator(".ca-submit").is_disabled()
        play_every_source(page, trial)  # the trial's own sources, not the practice's (Gradio reuses the element)
        assert trial.get_attribute("data-played").split(",") == ["Reference", *"ABCDEF"]
        assert page.evaluate("() => window.__caPlayers.size") == 1  # one audio graph: the practice's was closed
        for i in range(trial.locator(".ca-rate").count()):
            trial.locator(".ca-rate").nth(i).fill(str(90 + 2 * i))  # the hidden reference gets >= 90 too
        assert not trial.locator(".ca-submit").is_disabled()
        page.wait_for_timeout(500)  # the button's colour transition
        page.screenshot(path=str(SHOTS / "3-participant-trial.png"), full_page=True)
        trial.locator(".ca-submit").click()
        page.get_by_text("Saved (1 of 2)").wait_for(timeout=30_000)

        page.goto(participant_link)  # the tab was closed: the browser remembers the participant
        page.get_by_role("button", name="Continue (2 of 2)").click()
        trial = page.locator(".ca-trial[data-training='0']")
        trial.wait_for(timeout=30_000)
        play_every_source(page, trial)
        for i in range(trial.locator(".ca-rate").count()):
            trial.locator(".ca-rate").nth(i).fill(str(100 - i))
        trial.locator(".ca-submit").click()
        code = page.locator(".ca-code")
        code.wait_for(timeout=30_000)
        assert re.fullmatch(r"CA-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}", code.inner_text())
        page.screenshot(path=str(SHOTS / "4-participant-done.png"), full_page=True)
        completion = code.inner_text()

    with browser_page(extra_args=["--host-resolver-rules=MAP classroom.test 127.0.0.1"]) as owner:
        owner.goto(owner_link)
        headline = owner.locator("#ca-listening-headline")
        headline.get_by_text("2 responses").wait_for(timeout=30_000)
        owner.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        owner.wait_for_timeout(1000)
        owner.screenshot(path=str(SHOTS / "5-owner-results.png"), full_page=True)
        page_text = owner.locator("#listening-results").inner_text()
        assert completion in page_text and "anchor_3.5khz" in page_text and "1 participant" in page_text
        assert "raw_responses" in page_text and "summary" in page_text

"""The app in headless Debian chromium: what a visitor sees after a DAC round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import CHROMIUM, browser_page, open_tab, roundtrip_in_browser
from conftest import ARTIFACTS, ROOT

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]


def test_dac_roundtrip_in_the_browser(app_url):
    shot = ARTIFACTS / "roundtrip_dac_16khz.png"
    with browser_page() as page:
        summary = roundtrip_in_browser(page, app_url, ROOT / "assets" / "speech_arctic_a0007.wav",
                                       "DAC · dac_16khz", shot)
        assert "dac_16khz" in summary and "measured bitrate" in summary
        assert page.get_by_text("Random test weights").is_visible()
        assert page.locator("audio, [data-testid=waveform-Reconstruction]").count() >= 1
    assert shot.stat().st_size > 20_000


def test_visitor_clicks_an_example_and_listens(app_url):
    """The Space visitor's path: click an example, keep the default codec, run, get a player."""
    with browser_page() as page:
        page.goto(app_url)
        tab = open_tab(page, "Round trip")
        tab.get_by_text("piano (44.1 kHz)", exact=True).click()
        page.wait_for_timeout(1500)
        tab.get_by_role("button", name="Encode → decode").click()
        tab.get_by_text("measured bitrate").first.wait_for(timeout=120_000)
        assert tab.get_by_text("encodec_24khz").first.is_visible()
        page.screenshot(path=str(ARTIFACTS / "example_encodec.png"), full_page=True)


def test_microphone_recording_roundtrip(app_url):
    """Chromium's fake microphone (a beep) records through Gradio's recorder into the round trip."""
    with browser_page(extra_args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
                      permissions=["microphone"]) as page:
        page.goto(app_url)
        tab = open_tab(page, "Round trip")
        tab.get_by_role("button", name="Record", exact=True).click()  # the clip box records (uploads go above)
        page.wait_for_timeout(2500)
        tab.locator("button:visible", has_text="Stop").first.click()
        page.wait_for_timeout(2000)
        tab.get_by_role("button", name="Encode → decode").click()
        summary = tab.get_by_text("measured bitrate").first
        summary.wait_for(timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "microphone_encodec.png"), full_page=True)
        frames = int(re.search(r"× (\d+) frames", summary.inner_text()).group(1))
        assert frames >= 75, "at least a second of the recording reached the codec (75 frames/s)"


def test_huge_upload_is_refused_with_a_message(app_url, tmp_path):
    """Uploads over 200 MB are refused before they are sent (`launch(max_file_size=...)`)."""
    huge = tmp_path / "huge.wav"
    with open(huge, "wb") as handle:  # sparse: 201 MB on paper, nothing on disk
        handle.truncate(201 * 2**20)
    with browser_page() as page:
        page.goto(app_url)
        page.locator("#tab-compare input[type=file]").first.set_input_files(str(huge))
        toast = page.locator("[data-testid=toast-body]").first
        toast.wait_for(timeout=30_000)
        assert "exceed the maximum allowed size of 200.0 Mb" in toast.inner_text()

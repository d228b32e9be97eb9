"""The Compare and Tokens tabs: over the API with gradio_client, and in chromium as a researcher uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import CHROMIUM, browser_page
from conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.e2e
SPEECH = ROOT / "assets" / "speech_arctic_a0007.wav"


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_compare_endpoint(client):
    from gradio_client import handle_file

    player, table, _grid, notes, files = client.predict(
        handle_file(str(SPEECH)), ["opus@24", "encodec_24khz@3", "mp3@64"], api_name="/compare")
    assert player.count('data-action="select"') == 4  # original + three
    rows = table["data"]
    assert [row[0] for row in rows] == ["opus", "encodec_24khz", "mp3"]
    names = sorted(Path(f).name for f in files)
    assert "metrics.json" in names and "01_opus_24kbps.wav" in names and "02_encodec_24khz_3kbps_tokens.npz" in names
    metrics = json.loads(Path(next(f for f in files if f.endswith("metrics.json"))).read_text())
    assert metrics[0]["pesq_wb"] > 3 and metrics[0]["stoi"] > 0.9
    assert "Random test weights" in notes and "encodec_24khz@3" in notes


def test_compare_rejects_bad_requests(client):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="at least one codec"):
        client.predict(handle_file(str(SPEECH)), [], api_name="/compare")
    with pytest.raises(AppError, match="offers 1.5, 3, 6, 12, 24 kbps"):
        client.predict(handle_file(str(SPEECH)), ["encodec_24khz@7"], api_name="/compare")


def test_sweep_endpoint(client):
    from gradio_client import handle_file

    _chart, table = client.predict(handle_file(str(SPEECH)), ["encodec_24khz@6"], "mel_distance", api_name="/sweep")
    assert [row[1] for row in table["data"]] == [1.5, 3.0, 6.0, 12.0, 24.0]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_researcher_compares_two_codecs_and_switches(app_url):
    with browser_page(extra_args=["--autoplay-policy=no-user-gesture-required"]) as page:
        page.goto(app_url)
        page.locator("input[type=file]").first.set_input_files(str(SPEECH))
        page.wait_for_timeout(1000)
        points = page.get_by_label("Codecs @ kbps (pick several; type to filter, or type e.g. opus@40)")
        while page.locator(".token-remove").count():  # drop the default selection
            page.locator(".token-remove").first.click()
        for point in ("mp3@64", "dac_16khz@3"):
            points.click()
            points.fill(point)
            page.get_by_role("option", name=point, exact=True).click()
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Compare", exact=True).click()
        player = page.locator(".ca-player").first
        player.wait_for(timeout=120_000)
        assert player.locator("[data-src]").count() == 3
        player.locator("[data-action=play]").click()
        page.wait_for_timeout(1200)
        before = float(player.get_attribute("data-position"))
        page.keyboard.press("2")  # dac_16khz@3
        page.wait_for_timeout(200)
        after = float(player.get_attribute("data-position"))
        assert player.get_attribute("data-active") == "2"
        assert 0.5 < before <= after < before + 0.6, (before, after)  # same moment, still running
        player.locator("[data-index='1']").click()
        assert player.get_attribute("data-active") == "1"
        assert float(player.get_attribute("data-position")) >= after
        page.screenshot(path=str(ARTIFACTS / "compare_synced_player.png"), full_page=True)

        player.locator(".ca-loop-a").fill("1.0")  # loop 1.0 s – 1.5 s: playback stays inside it
        player.locator(".ca-loop-b").fill("1.5")
        player.locator(".ca-loop").check()
        page.wait_for_timeout(1300)
        positions = []
        for _ in range(6):
            positions.append(float(player.get_attribute("data-position")))
            page.wait_for_timeout(150)
        assert all(0.95 <= p <= 1.55 for p in positions), positions
        assert len(set(positions)) > 1  # and it is still playing

        page.locator("#tab-compare .token-remove").first.click()  # compare again without mp3: new sources
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Compare", exact=True).click()
        page.wait_for_function("() => document.querySelectorAll('#ca-compare-player [data-src]').length === 2",
                               timeout=120_000)
        player.locator("[data-action=play]").click()
        page.wait_for_timeout(800)
        graphs = page.evaluate("() => [...window.__caPlayers.values()].map(st => [st.buffers.length, st.playing])")
        assert graphs == [[2, True]], graphs  # the old graph (3 sources, looping) was stopped and dropped

        page.locator("[role=tab]", has_text="Tokens").first.click()
        page.get_by_role("button", name="Show token usage").click()
        page.get_by_text("codes ×").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Progressive decoding").click()
        progressive = page.locator(".ca-player", has_text="Progressive decoding")
        progressive.wait_for(timeout=120_000)
        page.wait_for_timeout(1500)
        labels = progressive.locator("[data-src]").all_inner_texts()
        assert len(labels) == 7 and "first 6 of 6" in labels[-1]  # original + k = 1 … 6 (dac_16khz@3)
        page.screenshot(path=str(ARTIFACTS / "tokens_tab.png"), full_page=True)

"""The Compare and Tokens tabs: over the API with gradio_client, and in chromium as a researcher uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import CHROMIUM, browser_page, open_tab, pick_points, upload_clip
from conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.e2e
SPEECH = ROOT / "assets" / "speech_arctic_a0007.wav"


def open_app(page, url: str) -> None:
    """Load the app and wait until its tabs are drawn (tab helpers look for visible tabs)."""
    page.goto(url)
    page.locator("[role=tab]:visible", has_text="Compare").first.wait_for()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False, analytics_enabled=False)


def test_compare_endpoint(client):
    from gradio_client import handle_file

    player, table, _grid, notes, files = client.predict(
        handle_file(str(SPEECH)), ["opus@24", "encodec_24khz@3", "mp3@64"], api_name="/compare")
    assert player.count('data-action="select"') == 4  # original + three
    rows = table["data"]
    # the operating point, marked when its codec runs on random test weights
    assert [row[0] for row in rows] == ["opus@24", "encodec_24khz@3 ⚠\u00a0random", "mp3@64"]
    assert "PESQ WB ↑" in table["headers"] and "mel distance ↓" in table["headers"]
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

    chart, table, note = client.predict(handle_file(str(SPEECH)), ["encodec_24khz@6"], "mel_distance",
                                        api_name="/sweep")
    assert [row[1] for row in table["data"]] == [1.5, 3.0, 6.0, 12.0, 24.0]
    assert note.startswith("5 operating points: ")
    legend = [trace["name"] for trace in json.loads(chart["plot"])["data"]]
    assert legend == ["encodec_24khz ⚠\u00a0random weights"]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_researcher_compares_two_codecs_and_switches(app_url):
    with browser_page(extra_args=["--autoplay-policy=no-user-gesture-required"]) as page:
        open_app(page, app_url)
        upload_clip(page.locator("#tab-compare"), SPEECH)
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


DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def compare_in_browser(page, points: list[str]) -> None:
    """Upload the speech example, pick exactly these operating points, run, and wait for the player."""
    upload_clip(page.locator("#tab-compare"), SPEECH)
    pick_points(page, page.locator("#tab-compare"), points)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.locator("#ca-compare-player .ca-player").wait_for(timeout=120_000)
    page.wait_for_timeout(1500)  # the table, plot and file list draw after the player


def metrics_grid(page):
    return page.locator('#tab-compare [role=grid][aria-label^="Metrics"]')


@needs_chromium
def test_first_screen_before_a_comparison_holds_only_the_inputs(app_url):
    """Before any run, no empty metrics header, blank plot or blank downloads box fills the screen."""
    for size, name in ((DESKTOP, "1440"), (PHONE, "390")):
        with browser_page(**size) as page:
            open_app(page, app_url)
            compare = page.locator("#tab-compare")
            compare.get_by_role("button", name="Compare", exact=True).wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / f"compare_first_screen_{name}.png"))
            assert not metrics_grid(page).is_visible()
            assert not compare.get_by_text("Downloads: wavs, tokens").is_visible()
            assert not compare.get_by_text("and differences").is_visible()  # the spectrogram heading
            assert page.locator("#ca-compare-player").bounding_box()["height"] < 80  # a one-line placeholder


@needs_chromium
def test_metrics_table_reads_at_desktop_and_on_a_phone(app_url):
    """Operating points (with the random-weights mark) in a pinned first column, directions in the headers,
    every column on screen at 1440 px, and no operating point turned into a mailto: link."""
    with browser_page(**DESKTOP) as page:
        open_app(page, app_url)
        compare_in_browser(page, ["encodec_24khz@1.5", "dac_44khz@7.752", "opus@24"])
        grid = metrics_grid(page)
        assert grid.is_visible()
        assert page.locator('a[href^="mailto:"]').count() == 0  # dac_44khz@7.752 is not an e-mail address
        first = [" ".join(grid.locator(f"[data-testid=cell-{r}-0]").inner_text().split()) for r in range(3)]
        assert first == ["encodec_24khz@1.5 ⚠ random", "dac_44khz@7.752 ⚠ random", "opus@24"]
        headers = grid.locator("th[data-testid^=header-]").all_inner_texts()
        assert "PESQ WB ↑" in [h.strip() for h in headers] and "mel distance ↓" in [h.strip() for h in headers]
        for label in ("speaker sim.", "RTF", "memory"):
            box = grid.locator("th[data-testid^=header-]", has_text=label).first.bounding_box()
            assert box["x"] + box["width"] <= DESKTOP["width"], (label, box)
        page.screenshot(path=str(ARTIFACTS / "compare_metrics_1440.png"), full_page=True)

        # the sweep reuses the three points just compared and marks the random-weight codecs in its legend
        page.get_by_text("Rate–distortion sweep", exact=True).click()
        page.get_by_role("button", name="Sweep every bitrate of the chosen codecs").click()
        note = page.locator("#ca-sweep-notes")
        note.get_by_text("operating points").wait_for(timeout=300_000)
        assert "18 computed, 3 reused" in note.inner_text()  # 5 EnCodec + 9 DAC + 7 Opus bitrates
        page.wait_for_timeout(1500)
        legend = page.locator("#tab-compare .legendtext").evaluate_all("els => els.map(e => e.textContent)")
        assert sorted(" ".join(t.split()) for t in legend) == [
            "dac_44khz ⚠ random weights", "encodec_24khz ⚠ random weights", "opus"], legend
        page.locator("#ca-sweep-notes").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "compare_sweep_1440.png"), full_page=True)

        page.set_viewport_size(PHONE)
        page.wait_for_timeout(800)
        grid.scroll_into_view_if_needed()
        cell = grid.locator("[data-testid=cell-0-0]")
        before = cell.bounding_box()["x"]
        grid.locator(".virtual-table-viewport").evaluate("e => { e.scrollLeft = 400; }")
        page.wait_for_timeout(300)
        assert grid.locator(".virtual-table-viewport").evaluate("e => e.scrollLeft") > 100  # it scrolls inside
        assert abs(cell.bounding_box()["x"] - before) < 2  # the operating point column stays
        page.screenshot(path=str(ARTIFACTS / "compare_metrics_390.png"))


@needs_chromium
def test_tokens_tab_before_a_comparison_says_what_to_do(app_url):
    """An empty state is not an error: guidance, disabled buttons, no red badges or toasts; the buttons
    come alive once a comparison holds a neural codec."""
    with browser_page(**DESKTOP) as page:
        open_app(page, app_url)
        tokens = open_tab(page, "Tokens")
        usage = tokens.get_by_role("button", name="Show token usage")
        progressive = tokens.get_by_role("button", name="Progressive decoding")
        tokens.get_by_text("run a comparison with a neural codec").first.wait_for(timeout=10_000)
        assert usage.is_disabled() and progressive.is_disabled()
        usage.click(force=True)
        page.wait_for_timeout(1000)
        assert page.locator("#tab-tokens .error").count() == 0
        assert page.locator("[data-testid=toast-body].error").count() == 0
        page.screenshot(path=str(ARTIFACTS / "tokens_empty_1440.png"))

        open_tab(page, "Compare")
        compare_in_browser(page, ["opus@24"])  # classical only: still nothing to show
        open_tab(page, "Tokens")
        page.wait_for_timeout(500)
        assert usage.is_disabled()
        open_tab(page, "Compare")
        compare_in_browser(page, ["dac_16khz@3"])
        open_tab(page, "Tokens")
        page.wait_for_function("() => [...document.querySelectorAll('#tab-tokens button')]"
                               ".some(b => b.textContent.includes('Show token usage') && !b.disabled)", timeout=10_000)
        assert usage.is_enabled() and progressive.is_enabled()
        usage.click()
        tokens.get_by_text("codes ×").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        assert page.locator('#tab-tokens a[href^="mailto:"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "tokens_ready_1440.png"), full_page=True)

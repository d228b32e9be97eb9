"""The Leaderboard tab in Chromium: published Codec-SUPERB rows beside this machine's bench run, sorting
from a metric header, the split filter, the rate–distortion scatter, a row opening its codec in Compare,
an uploaded results file (and a bad one), and the layout at 1440 x 900 and 390 x 844."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import CHROMIUM, browser_page, open_tab
from conftest import ARTIFACTS

from codec_arena.bench.published import published

pytestmark = pytest.mark.e2e
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
RANDOM = "random weights — not a quality result"
TABLE = "#ca-leaderboard-table"


def summary(dataset: str, points: dict[str, tuple[str, str, float, float, bool]], mel: float) -> dict:
    """A bench summary.json; points: label -> (codec, family, kbps, tokens/s, random weights)."""
    return {
        "format": "codec-arena-bench", "version": 1, "dataset": dataset, "created": "2026-12-03T11:00:00Z",
        "metric_version": "1", "metrics": ["mel", "stoi"],
        "points": {label: {"codec": c, "family": f, "kbps": k, "token_rate": t, "random_weights": r, "weights_id": "x"}
                   for label, (c, f, k, t, r) in points.items()},
        "results": {label: {"overall": {"mel": {"mean": mel + i / 10, "ci95": 0.05, "n": 6},
                                        "stoi": {"mean": 0.7, "ci95": 0.02, "n": 6}},
                            "Speech": {"mel": {"mean": mel, "ci95": 0.05, "n": 3}}}
                    for i, label in enumerate(points)},
        "counts": {"done": 6 * len(points), "failed": 0, "skipped": 0},
    }


@pytest.fixture(scope="module")
def local_run(app_server, cache_env, tmp_path_factory) -> Path:
    """A bench run with random weights on the app's machine (in its runs index): listed, never ranked."""
    from codec_arena.bench.board import runs_index

    out = tmp_path_factory.mktemp("bench-run")
    points = {"dac_16khz@6": ("dac_16khz", "DAC", 6.0, 600.0, True)}
    (out / "summary.json").write_text(json.dumps(summary("tiny test set (folder, 6 clips)", points, 0.05)))
    index = runs_index()  # cache_env points CODEC_ARENA_DATA_DIR at the app's data folder
    index.parent.mkdir(parents=True, exist_ok=True)
    with open(index, "a") as handle:
        handle.write(f"{out}\n")
    return out


def open_board(page, url: str):
    page.goto(url)
    page.locator("[role=tab]:visible", has_text="Compare").first.wait_for()
    panel = open_tab(page, "Leaderboard")
    page.locator(f"{TABLE} [role=gridcell]").first.wait_for()
    page.wait_for_timeout(500)
    return panel


def shown_rows(page) -> list[list[str]]:
    """The table's rendered rows, top to bottom (the body is virtual: only rows near the view exist)."""
    return page.evaluate("""(table) => [...document.querySelectorAll(table + ' [role=row].virtual-row')]
        .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
        .map(row => [...row.querySelectorAll('[role=gridcell]')].map(cell => cell.innerText.trim()))""", TABLE)


def headers(page) -> list[str]:
    return [h.strip() for h in page.locator(f"{TABLE} thead th").all_inner_texts()]


def search(page, text: str) -> None:
    box = page.locator(f"{TABLE} input[type=text], {TABLE} input[placeholder*=earch]").first
    box.fill(text)
    page.wait_for_timeout(500)


def column(page, name: str) -> int:
    return next(i for i, h in enumerate(headers(page)) if h.startswith(name))


def test_leaderboard_endpoint_returns_the_table(app_url, local_run):
    from gradio_client import Client

    client = Client(app_url, verbose=False, analytics_enabled=False)
    rows = client.predict("overall", "stoi", "bitrate band", api_name="/leaderboard")
    dac = next(r for r in rows if r["Configuration"] == "dac_16k")
    commit, date = published()["commit"][:7], published()["date"][:10]
    assert dac["Source"] == f"published (Codec-SUPERB, {commit} {date})" and dac["Runs here as"] == "dac_16khz@6"
    assert dac["stoi ↑"] == round(published()["codecs"]["dac_16k"]["results"]["overall"]["stoi"], 3)
    assert rows[-1]["Configuration"] == "dac_16khz@6" and rows[-1]["Group"] == RANDOM and rows[-1]["#"] is None


@needs_chromium
def test_visitor_sorts_filters_and_opens_a_codec(app_url, local_run):
    with browser_page(width=1440, height=900) as page:
        panel = open_board(page, app_url)
        names = headers(page)
        assert names[:7] == ["Configuration", "#", "Group", "Source", "Family", "kbps", "tokens/s"]
        assert {"mel ↓", "stft ↓", "waveform ↓", "pesq ↑", "pesq-wb ↑", "stoi ↑", "f0corr ↑"} <= set(names)
        first = shown_rows(page)[0]
        assert first[1] == "1" and first[2] == "≤ 1.5 kbps" and first[3].startswith("published (Codec-SUPERB, ")

        # the random-weight run is listed, last, in its own group and without a rank
        search(page, "tiny test set")
        (mine,) = shown_rows(page)
        assert mine[0] == "dac_16khz@6" and mine[1] == "" and mine[2] == RANDOM and mine[3].startswith("run (tiny")
        search(page, "")

        # the scatter: one svg point per row with a bitrate, the random one among them
        points = panel.locator("#ca-leaderboard-plot .scatterlayer path.point")
        assert points.count() >= 30
        assert panel.locator("#ca-leaderboard-plot .legendtext", has_text=RANDOM).count() == 1
        page.screenshot(path=str(ARTIFACTS / "leaderboard_1440.png"))

        # sort by a metric from its header: stoi, best first
        stoi = column(page, "stoi")
        heading = page.locator(f'{TABLE} th[data-heading="{stoi}"]')
        heading.hover()
        heading.locator("button.cell-menu-button").click()
        page.get_by_role("menuitem", name="Sort descending").click()
        page.wait_for_timeout(500)
        values = [float(row[stoi]) for row in shown_rows(page)[:8] if row[stoi]]
        assert values == sorted(values, reverse=True) and values[0] == round(max(
            c["results"]["overall"]["stoi"] for c in published()["codecs"].values()), 3)

        # the split filter: Speech figures replace the overall ones
        mel = column(page, "mel")
        panel.locator("#ca-leaderboard-split").get_by_text("Speech", exact=True).click()
        speech_mel = round(published()["codecs"]["dac_16k"]["results"]["Speech"]["mel"], 3)
        search(page, "dac_16khz@6")
        page.wait_for_function(
            """([table, col, want]) => [...document.querySelectorAll(table + ' [role=row].virtual-row')]
               .some(r => r.querySelectorAll('[role=gridcell]')[col]?.innerText.trim() === want)""",
            arg=[TABLE, mel, f"{speech_mel:g}"], timeout=15_000)

        # a codec this app does not run says so
        search(page, "sqcodec_16k_3kbps")
        page.locator(f"{TABLE} [role=gridcell]", has_text="sqcodec_16k_3kbps").first.click()
        panel.locator("#ca-leaderboard-notes").get_by_text("does not run in this app").wait_for(timeout=15_000)

        # a published row opens our same model in Compare, first among the points, and runs it
        search(page, "dac_16k")
        page.locator(f"{TABLE} [role=gridcell]").filter(has_text=re.compile(r"^\s*dac_16k\s*$")).first.click()
        compare = page.locator("#tab-compare")
        compare.wait_for(state="visible", timeout=15_000)
        tokens = compare.locator(".token").all_inner_texts()
        assert tokens[0].strip() == "dac_16khz@6", tokens
        player = page.locator(".ca-player").first
        player.wait_for(timeout=120_000)
        sources = player.locator("[data-action=select]").all_inner_texts()
        assert sources[1].split(" ", 1)[1] == "dac_16khz@6"
        page.screenshot(path=str(ARTIFACTS / "leaderboard-opened.png"))


@needs_chromium
def test_visitor_uploads_a_results_file(app_url, local_run, tmp_path):
    good = tmp_path / "summary.json"
    points = {"encodec_24khz@1.5": ("encodec_24khz", "EnCodec", 1.5, 150.0, False),
              "encodec_24khz@3": ("encodec_24khz", "EnCodec", 3.0, 300.0, False)}
    good.write_text(json.dumps(summary("lab clips (folder, 6 clips)", points, 0.2)))
    bad = tmp_path / "broken.json"
    bad.write_text('{"results": ')
    with browser_page(width=1440, height=900) as page:
        panel = open_board(page, app_url)
        upload = panel.locator("#ca-leaderboard-upload input[type=file]")
        upload.set_input_files(str(good))
        notes = panel.locator("#ca-leaderboard-notes")
        notes.get_by_text("Added 4 rows (2 configurations) from summary.json").wait_for(timeout=15_000)
        search(page, "lab clips")
        rows = shown_rows(page)
        assert [r[0] for r in rows] == ["encodec_24khz@1.5", "encodec_24khz@3"]
        assert all(r[3].startswith("uploaded (lab clips") and r[1] == "1" for r in rows)  # best in their bands
        assert panel.locator("#ca-leaderboard-plot .scatterlayer path.point").count() >= 32
        page.screenshot(path=str(ARTIFACTS / "leaderboard-uploaded.png"))

        panel.locator("#ca-leaderboard-upload button[aria-label='Clear']").first.click()
        upload.set_input_files(str(bad))
        reason = notes.get_by_text("broken.json is not valid JSON")
        reason.wait_for(timeout=15_000)
        assert "Traceback" not in notes.inner_text() and "Not done" in notes.inner_text()


@needs_chromium
def test_board_reads_at_desktop_and_scrolls_inside_on_a_phone(app_url, local_run):
    """1440 x 900: every column without sideways scrolling. 390 x 844: the table scrolls inside its frame
    with the configuration kept in view, and the page itself does not scroll sideways."""
    with browser_page(width=1440, height=900) as page:
        open_board(page, app_url)
        frame = page.locator(f"{TABLE} .virtual-table-viewport").first  # scrolls both ways
        assert frame.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        last = page.locator(f"{TABLE} thead th").last.bounding_box()
        assert last["x"] + last["width"] <= 1440
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1441
    with browser_page(width=390, height=844, touch=True) as page:
        panel = open_board(page, app_url)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 391
        frame = page.locator(f"{TABLE} .virtual-table-viewport").first  # scrolls both ways
        assert frame.evaluate("e => e.scrollWidth > e.clientWidth")
        first = page.locator(f"{TABLE} [role=gridcell][data-col='0']").first
        left = first.bounding_box()["x"]
        frame.evaluate("e => { e.scrollLeft = 400; }")
        page.wait_for_timeout(300)
        assert frame.evaluate("e => e.scrollLeft") > 100
        assert abs(first.bounding_box()["x"] - left) < 2  # the configuration column is sticky
        panel.locator(f"{TABLE}").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "leaderboard_390.png"))
        panel.locator("#ca-leaderboard-plot").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        assert panel.locator("#ca-leaderboard-plot .scatterlayer path.point").count() >= 30
        page.screenshot(path=str(ARTIFACTS / "leaderboard-plot_390.png"))

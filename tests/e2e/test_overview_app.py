"""The Overview tab: the codec table from CodecInfo, and a row's button opening that codec in Compare."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import CHROMIUM, browser_page, open_tab
from conftest import ARTIFACTS

from codec_arena.codecs import list_codecs

pytestmark = pytest.mark.e2e


def open_app(page, url: str) -> None:
    """Load the app and wait until its tabs are drawn (tab helpers look for visible tabs)."""
    page.goto(url)
    page.locator("[role=tab]:visible", has_text="Compare").first.wait_for()


def test_overview_endpoint_lists_every_codec_with_its_facts(app_url):
    from gradio_client import Client

    rows = Client(app_url, verbose=False, analytics_enabled=False).predict(api_name="/overview")
    assert [row["Codec"] for row in rows] == [info.id for info in list_codecs()]
    dac = next(row for row in rows if row["Codec"] == "dac_44khz")
    assert dac["Frame rate"] == "86.1328 Hz" and dac["Weights"] == "random test weights"
    assert "arXiv:2306.06546" in dac["Paper"] and dac["Sources"]
    assert next(row for row in rows if row["Codec"] == "opus")["Weights"] == "none needed"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_visitor_opens_a_codec_from_the_overview(app_url):
    """No clip yet: the button picks an example, switches to Compare and runs the comparison."""
    with browser_page() as page:
        open_app(page, app_url)
        overview = open_tab(page, "Overview")
        table = overview.locator("#ca-overview table.ca-overview")
        table.wait_for()
        assert table.locator("tbody tr[data-codec]").count() == len(list_codecs())
        groups = table.locator("tr.ca-group").all_inner_texts()
        assert groups[0].startswith("The six open-source codecs the survey analyses") and len(groups) == 5
        assert groups[2].startswith("Continuous tokenizers") and groups[3].startswith("Tokenizers without a decoder")
        page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
        table.locator('button.ca-open[data-codec="dac_16khz"]').click()
        compare = page.locator("#tab-compare")
        compare.wait_for(state="visible")
        player = page.locator(".ca-player").first
        player.wait_for(timeout=120_000)
        # the opened codec first, then the two earlier choices (the defaults here), and the original
        sources = player.locator("[data-action=select]").all_inner_texts()
        assert [s.split(" ", 1)[1] for s in sources] == ["original", "dac_16khz@6", "encodec_24khz@6", "opus@24"]
        page.screenshot(path=str(ARTIFACTS / "overview-opened.png"), full_page=True)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
def test_an_encode_only_tokenizer_opens_in_compare_and_shows_its_tokens(app_url, width, height):
    """S3Tokenizer's row is marked encode only; opened, Compare plays the others and says why it is not in the
    player, and the Tokens tab shows its tokens (no progressive decoding: it has no decoder)."""
    with browser_page(width, height) as page:
        open_app(page, app_url)
        overview = open_tab(page, "Overview")
        row = overview.locator('tr[data-codec="s3tokenizer_v2_25hz"]')
        row.wait_for()
        assert row.locator(".ca-encode-only").inner_text() == "encode only"
        row.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"encode_only_overview_{width}.png"))
        row.locator("button.ca-open").click()
        compare = page.locator("#tab-compare")
        compare.wait_for(state="visible")
        player = page.locator(".ca-player").first
        player.wait_for(timeout=120_000)
        sources = [s.split(" ", 1)[1] for s in player.locator("[data-action=select]").all_inner_texts()]
        assert sources == ["original", "encodec_24khz@6", "dac_16khz@6"]
        notes = page.locator("#ca-compare-notes")
        notes.get_by_text("It only encodes").first.wait_for(timeout=30_000)
        assert "s3tokenizer_v2_25hz@0.317" in notes.inner_text() and "Tokens tab" in notes.inner_text()
        page.screenshot(path=str(ARTIFACTS / f"encode_only_compare_{width}.png"))
        tokens = open_tab(page, "Tokens")
        which = tokens.get_by_label("Reconstruction", exact=True)
        page.wait_for_function("() => [...document.querySelectorAll('#tab-tokens button')]"
                               ".some(b => b.textContent.includes('Show token usage') && !b.disabled)", timeout=10_000)
        which.click()
        which.fill("s3tokenizer")
        page.get_by_role("option", name="s3tokenizer_v2_25hz@0.317").first.click()
        tokens.get_by_role("button", name="Show token usage").click()
        summary = page.locator("#ca-tokens-notes")
        summary.get_by_text("encode only: no decoder").first.wait_for(timeout=60_000)
        assert "1 codebooks of 6561 codes" in summary.inner_text()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / f"encode_only_tokens_{width}.png"), full_page=True)
        tokens.get_by_role("button", name="Progressive decoding").click()
        summary.get_by_text("cannot decode progressively").first.wait_for(timeout=30_000)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_codec_table_reads_at_desktop_and_scrolls_inside_on_a_phone(app_url):
    """1440 x 900: every column, Licence and Weights included, without horizontal scrolling. 390 x 844: the
    table scrolls inside its frame with the codec column kept in view, and the page itself does not."""
    with browser_page(width=1440, height=900) as page:
        open_app(page, app_url)
        overview = open_tab(page, "Overview")
        table = overview.locator("#ca-overview table.ca-overview")
        table.wait_for()
        page.wait_for_timeout(500)
        for name in ("Licence", "Weights"):
            box = table.locator("th", has_text=name).first.bounding_box()
            assert box["x"] + box["width"] <= 1440, (name, box)
        wrap = overview.locator("#ca-overview .ca-overview-wrap")
        assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        page.screenshot(path=str(ARTIFACTS / "overview_1440.png"))

        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(800)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 391  # the page does not scroll
        assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")  # the table does, inside its frame
        codec = table.locator('tr[data-codec="dac_16khz"] td').first
        left = codec.bounding_box()["x"]
        wrap.evaluate("e => { e.scrollLeft = 300; }")
        page.wait_for_timeout(300)
        assert wrap.evaluate("e => e.scrollLeft") > 100
        assert abs(codec.bounding_box()["x"] - left) < 2  # the codec column is sticky
        assert "dac_16khz" in codec.inner_text()
        page.screenshot(path=str(ARTIFACTS / "overview_390.png"))

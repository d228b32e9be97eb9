"""Headless Debian chromium through Playwright, shared by the browser tests and by hand:

    python tests/e2e/browser.py http://127.0.0.1:7860 dac_44khz shot.png
"""

from __future__ import annotations

import re
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
ROOT = Path(__file__).resolve().parents[2]


DESKTOP = (1440, 900)
PHONE = (390, 844)


@contextmanager
def browser_page(width: int = 1400, height: int = 1100, extra_args: list[str] | None = None,
                 permissions: list[str] | None = None, touch: bool = False):
    """A fresh Chromium profile; `touch` makes it a phone (touch screen, mobile viewport, no hover)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS + (extra_args or []),
            viewport={"width": width, "height": height}, permissions=permissions or [],
            has_touch=touch, is_mobile=touch, device_scale_factor=2 if touch else 1)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def drag(page, start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> None:
    """A one-finger touch drag (Playwright's touchscreen only taps), through Chromium's DevTools protocol."""
    cdp = page.context.new_cdp_session(page)
    (x0, y0), (x1, y1) = start, end
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
    for i in range(1, steps + 1):
        x, y = x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def open_tab(page, name: str):
    """Click a tab (Gradio renders each label twice, so go by role) and return its panel."""
    page.locator("[role=tab]:visible").first.wait_for()  # the tab bar is laid out (overflow measured)
    page.wait_for_timeout(200)
    tab = page.locator("[role=tab]:visible", has_text=name).first
    if tab.count():
        tab.click()
    else:  # a narrow screen folds the tabs that do not fit into Gradio's "More tabs" menu
        page.locator("button[aria-label='More tabs']:visible").first.click()
        page.locator(".overflow-dropdown button:visible", has_text=name).first.click()
    panel = page.locator(f"#tab-{name.lower().replace(' ', '')}")
    panel.wait_for()
    return panel


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the Gradio dropdown labelled `label`."""
    box = page.get_by_label(label, exact=True)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option).first.click()


def pick_points(page, scope, points: list[str], label: str = "Codecs @ kbps") -> None:
    """Empty the operating-point picker in `scope` (labelled starting with `label`), then choose `points`."""
    box = scope.get_by_label(re.compile("^" + re.escape(label)))
    while scope.locator(".token-remove").count():
        scope.locator(".token-remove").first.click()
    for point in points:
        box.click()
        box.fill(point)
        page.get_by_role("option", name=point, exact=True).click()
    page.keyboard.press("Escape")


def upload_clip(scope, path: Path) -> None:
    """Drop `path` on the clip's upload box inside `scope` (a tab's panel) and wait until it is the clip."""
    box = ".ca-upload input[type=file], input[type=file][data-testid$='-upload-button']"  # drop zone or button
    scope.locator(box).first.set_input_files(str(path))
    scope.locator(".ca-clip-note").first.get_by_text(f"Loaded {Path(path).name}").wait_for(timeout=30_000)


def roundtrip_in_browser(page, url: str, clip: Path, codec_label: str, screenshot: Path | None = None) -> str:
    """Upload `clip`, pick the codec, run; returns the summary text shown."""
    page.goto(url)
    tab = open_tab(page, "Round trip")
    upload_clip(tab, clip)
    choose(page, "Codec", codec_label)
    page.wait_for_timeout(500)  # the bitrate list follows the codec
    tab.get_by_role("button", name="Encode → decode").click()
    summary = tab.get_by_text("measured bitrate").first
    summary.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)  # let the plot draw
    if screenshot:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    return summary.inner_text()


if __name__ == "__main__":
    target, codec, shot = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    with browser_page() as page:
        print(roundtrip_in_browser(page, target, ROOT / "assets" / "speech_arctic_a0007.wav", codec, shot))

"""The README's screenshots, taken from the running app in headless Chromium (random test weights,
which the pages flag; Opus, MP3 and AAC are real).

    python scripts/readme_screenshots.py [--out docs]

Starts `python app.py` on a free 127.0.0.1 port with a temporary data directory and random-weight
model caches, then: Compare at 1440×900 (speech example, three operating points), a MUSHRA trial on a
phone (390×844, touch), the owner's results, the Overview, the Codec LM tab, Tokens with progressive
decoding, and a rate–distortion sweep.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from browser import DESKTOP, PHONE, browser_page, drag, open_tab, pick_points, upload_clip  # noqa: E402

SPEECH = ROOT / "assets" / "speech_arctic_a0007.wav"
MUSIC = ROOT / "assets" / "music_morning_coffee.wav"


def start(work: Path) -> tuple[subprocess.Popen, str]:
    from benchmarks.listening_load import free_port

    env = {**os.environ, "TORCH_HOME": str(work / "torch"), "HOME": str(work / "home"), "HF_HOME": str(work / "hf"),
           "XDG_CACHE_HOME": str(work / "xdg"), "CODEC_ARENA_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "CODEC_ARENA_DATA_DIR": str(work / "data"), "GRADIO_ANALYTICS_ENABLED": "False"}
    (work / "home").mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "codec_arena.testing", "--small", "--all"], env=env, check=True,
                   capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env={**env, "GRADIO_SERVER_PORT": str(port)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/gradio_api/info", timeout=2)
            return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("the app did not start")


def compare(page, url: str, out: Path) -> None:
    page.goto(url)
    tab = open_tab(page, "Compare")
    upload_clip(tab, SPEECH)
    pick_points(page, tab, ["encodec_24khz@6", "dac_16khz@6", "opus@24"])
    tab.get_by_role("button", name="Compare", exact=True).click()
    tab.locator(".ca-player [data-src]").first.wait_for(timeout=300_000)
    page.locator("#ca-compare-metrics").wait_for(timeout=60_000)
    page.wait_for_timeout(2500)
    page.screenshot(path=str(out / "compare.png"), full_page=True)
    open_tab(page, "Tokens")
    page.get_by_role("button", name="Show token usage").click()
    page.get_by_text("codes ×").first.wait_for(timeout=120_000)
    page.get_by_role("button", name="Progressive decoding").click()
    page.locator(".ca-player", has_text="Progressive decoding").wait_for(timeout=300_000)
    page.wait_for_timeout(2500)
    page.screenshot(path=str(out / "tokens.png"), full_page=True)


def sweep(page, url: str, out: Path) -> None:
    page.goto(url)
    tab = open_tab(page, "Compare")
    upload_clip(tab, MUSIC)
    pick_points(page, tab, ["opus@24", "mp3@64", "aac@64"])
    tab.get_by_text("Rate–distortion sweep").click()
    tab.get_by_role("button", name="Sweep every bitrate of the chosen codecs").click()
    chart = page.locator("#ca-compare-sweep")
    chart.wait_for(timeout=600_000)
    page.wait_for_timeout(2500)
    page.locator(".js-plotly-plot").last.screenshot(path=str(out / "rate-distortion.png"))


QUALITY = {"reference": 97, "anchor_3.5khz": 22, "anchor_7khz": 45, "opus@12": 62, "mp3@32": 55, "aac@24": 50,
           "encodec_24khz@6": 8}  # typical ratings, so the results page shows the shape of a real test


def listening(url: str, out: Path, data: Path) -> None:
    import numpy as np
    from gradio_client import Client, handle_file

    from codec_arena.listening import service
    from codec_arena.listening.store import DB_NAME, Store

    client = Client(url, verbose=False, analytics_enabled=False)
    *_, details = client.predict("Week 3: codecs at low bitrates", "mushra", [handle_file(str(SPEECH))], [],
                                 ["opus@12", "mp3@32", "aac@24", "encodec_24khz@6"], 0, False, "",
                                 api_name="/listening_create")
    db, rng = Store(data / DB_NAME), np.random.default_rng(7)
    for _ in range(8):  # a small class, answering through the service on the app's database
        token, _ = service.join(details["test_id"], db=db)
        view = service.next_trial(details["test_id"], token, db=db)
        shown = [view.trial.conditions[i] for i in view.slot.order]
        ratings = {k: int(np.clip(QUALITY[c] + rng.normal(0, 8), 0, 100)) for k, c in zip(view.letters, shown,
                                                                                        strict=True)}
        service.submit(details["test_id"], token, view.slot.position, {"played": view.letters, "ratings": ratings},
                       db=db)
    with browser_page(*PHONE, touch=True, extra_args=["--autoplay-policy=no-user-gesture-required"]) as page:
        page.goto(details["participant_link"])
        page.get_by_role("button", name="Start", exact=True).tap()
        trial = page.locator(".ca-trial")
        trial.wait_for(timeout=60_000)
        trial.locator(".ca-play").tap()
        for i in range(3):
            trial.locator("[data-src]").nth(i).tap()
            page.wait_for_timeout(1200)
        slider = trial.locator(".ca-rate").first
        slider.scroll_into_view_if_needed()
        box = slider.bounding_box()
        y = box["y"] + box["height"] / 2
        drag(page, (box["x"] + 20, y), (box["x"] + box["width"] * 0.72, y))
        page.evaluate("() => window.scrollTo(0, document.querySelector('.ca-trial').getBoundingClientRect().top "
                      "+ window.scrollY - 8)")
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / "listening-phone.png"))
    with browser_page(*DESKTOP) as page:
        page.goto(details["owner_link"])
        page.locator("#ca-listening-headline").get_by_text("8 responses").wait_for(timeout=60_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(out / "listening-results.png"), full_page=True)


def overview_and_lm(page, url: str, out: Path) -> None:
    page.goto(url)
    open_tab(page, "Overview")
    page.wait_for_timeout(2500)
    page.screenshot(path=str(out / "overview.png"))
    tab = open_tab(page, "Codec LM")
    tab.get_by_role("button", name="Use the example voice").click()
    page.wait_for_timeout(1500)
    tab.get_by_role("button", name="Generate").click()
    tab.get_by_text("tokens/s").first.wait_for(timeout=300_000)
    page.wait_for_timeout(2500)
    page.screenshot(path=str(out / "codec-lm.png"))


def shrink(png: Path) -> None:
    """256 colours, optimised: a tenth of the bytes for the repository, still sharp for reading."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start(Path(tmp))
        try:
            with browser_page(*DESKTOP, extra_args=["--autoplay-policy=no-user-gesture-required"]) as page:
                compare(page, url, args.out)
                sweep(page, url, args.out)
                overview_and_lm(page, url, args.out)
            listening(url, args.out, Path(tmp) / "data")
        finally:
            server.terminate()
    for png in args.out.glob("*.png"):
        shrink(png)
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()

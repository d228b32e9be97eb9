"""What one MUSHRA trial screen costs a participant's browser, in bytes transferred, before and after the
stimuli became files (one run, the same test in both apps).

    python benchmarks/listening_page_weight.py [--before REV] [--seconds 15] [--rate 48000]

"Before" is the app at REV (default: the last commit whose trial screens carried their audio inside the
page as FLAC data URLs), checked out into a temporary git worktree; "after" is this checkout. Each
starts on 127.0.0.1 with a fresh data directory and gets the same MUSHRA test: one clip of 15 s of
48 kHz stereo (a harmonic tone with noise, generated here), six classical operating points (they need
no weights), so a trial has ten sources (reference, hidden reference, two anchors, six codecs). Headless
Chromium opens the participant link, starts, presses Play and waits until every source is decoded;
Chromium's DevTools network events count every byte received from the click until then. Then the page
is reloaded (a closed tab reopened) and the same trial continued, and counted again. Prints the bytes
per screen, the ratios, the audio files' sizes (after: equal within the trial) and how often each was
asked for.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from benchmarks.listening_load import free_port, start_app  # noqa: E402

BEFORE = "f11175e"  # the last commit with data-URL stimuli
POINTS = ["opus@12", "opus@32", "mp3@64", "mp3@128", "aac@48", "aac@96"]


def clip(path: Path, seconds: float, rate: int) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    left = sum(0.2 / k * np.sin(2 * np.pi * 196.0 * k * t + k) for k in range(1, 60) if 196.0 * k < rate / 2)
    right = sum(0.2 / k * np.sin(2 * np.pi * 294.0 * k * t + k) for k in range(1, 40) if 294.0 * k < rate / 2)
    noise = 0.02 * rng.standard_normal((2, t.size))
    sf.write(path, (np.stack([left, right]) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)) + noise).T.astype(np.float32),
             rate)
    return path


def create(url: str, path: Path) -> str:
    """A MUSHRA test over the app's API; returns the participant link."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, analytics_enabled=False)
    *_, details = client.predict("Page weight", "mushra", [handle_file(str(path))], [], POINTS, 0, False, "",
                                 api_name="/listening_create")
    return details["participant_link"]


def measured(page, press: str) -> dict:
    """Bytes received from pressing the button named `press` until every source of the trial is decoded."""
    received: dict[str, int] = defaultdict(int)
    finished: dict[str, int] = {}
    urls: dict[str, str] = {}
    button = page.get_by_role("button", name=press, exact=False).first
    button.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.dataReceived", lambda e: received.__setitem__(
        e["requestId"], received[e["requestId"]] + e["encodedDataLength"]))
    cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], e["encodedDataLength"]))
    button.click()
    trial = page.locator(".ca-trial")
    trial.wait_for(timeout=120_000)
    sources = trial.locator("[data-src]").count()
    trial.locator(".ca-play").click()
    page.wait_for_function("() => window.__caPlayers && [...window.__caPlayers.values()].some("
                           "st => st.buffers && st.buffers.length > 0)", timeout=120_000)
    page.wait_for_timeout(1500)
    html = trial.inner_html()
    cdp.detach()
    requests = set(received) | set(finished)
    total = sum(max(received[r], finished.get(r, 0)) for r in requests)
    media = [(urls.get(r, ""), max(received[r], finished.get(r, 0))) for r in requests
             if "/listening/media/" in urls.get(r, "")]
    return {"bytes": total, "sources": sources, "data_urls": html.count("data:audio"), "media": media}


def screen_bytes(link: str) -> tuple[dict, dict]:
    """The trial screen on a first visit, then again after the page is reloaded (a closed tab reopened:
    the participant continues the same trial)."""
    from browser import DESKTOP, browser_page

    with browser_page(*DESKTOP, extra_args=["--autoplay-policy=no-user-gesture-required"]) as page:
        page.goto(link)
        first = measured(page, "Start")
        page.goto(link)
        again = measured(page, "Continue")
    return first, again


def run(root: Path, label: str, args, work: Path) -> tuple[dict, dict]:
    data, port = work / f"data-{label}", free_port()
    server = start_app(data, port, work / f"{label}.log", root=root)
    try:
        link = create(f"http://127.0.0.1:{port}", clip(work / "clip.wav", args.seconds, args.rate))
        return screen_bytes(link)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help="git revision of the data-URL app (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=48_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old = work / "before"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), args.before], cwd=ROOT, check=True)
        try:
            before_after = [run(old, "before", args, work)]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
        before_after.append(run(ROOT, "after", args, work))
    (before, before_again), (after, after_again) = before_after
    print(f"MUSHRA trial screen, {args.seconds:g} s of {args.rate / 1000:g} kHz stereo, "
          f"{after['sources']} sources (reference, hidden reference, 2 anchors, {len(POINTS)} codecs):")
    print(f"  before ({args.before}, audio inside the page): {before['bytes'] / 1e6:.1f} MB received, "
          f"{before['data_urls']} data URLs in the trial's markup; the same screen after a reload: "
          f"{before_again['bytes'] / 1e6:.1f} MB")
    sizes = sorted({size for _, size in after["media"]})
    asked = defaultdict(int)
    for url, _ in after["media"]:
        asked[url] += 1
    print(f"  after (files): {after['bytes'] / 1e6:.1f} MB received, of which {len(after['media'])} audio files "
          f"= {sum(s for _, s in after['media']) / 1e6:.1f} MB; file sizes within the trial: "
          f"{', '.join(f'{s:,}' for s in sizes)} bytes; each asked for {max(asked.values(), default=0)} time(s); "
          f"{after['data_urls']} data URLs in the markup; the same screen after a reload: "
          f"{after_again['bytes'] / 1e6:.2f} MB (audio files that came over the network again: "
          f"{sum(1 for _, size in after_again['media'] if size > 0)} of {len(after_again['media'])})")
    print(f"  after / before: {after['bytes'] / before['bytes']:.2f} on a first visit, "
          f"{after_again['bytes'] / before_again['bytes']:.3f} after a reload")

if __name__ == "__main__":
    main()

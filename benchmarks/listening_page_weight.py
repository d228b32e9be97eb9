"""What one MUSHRA trial screen costs a participant's browser, in bytes transferred, before and after the
stimuli became files (one run, the same test in both apps).

    python benchmarks/listening_page_weight.py [--before REV] [--seconds 15] [--rate 48000]

"Before" is the app at REV (default: the last commit whose trial screens carried their audio inside the
page as FLAC data URLs), checked out into a temporary git worktree; "after" is this checkout. Each
starts on 127.0.0.1 with a fresh data directory and gets the same MUSHRA test: one clip of 15 s of
48 kHz stereo (a harmonic tone with noise, generated here), six classical operating points (they need
no weights), so a trial has ten sources (reference, hidden reference, two anchors, six codecs). Headless
Chromium opens the participant link, starts, presses Play and waits until every source is decoded;
Chromium's DevTools network events count every byte received from clicking Start until then. Prints
the bytes per screen, the ratio, the audio files' sizes (after: equal within the trial) and how often
each was asked for.
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


def screen_bytes(link: str) -> dict:
    """Bytes received from pressing Start until every source of the trial is decoded."""
    from browser import DESKTOP, browser_page

    received: dict[str, int] = defaultdict(int)
    finished: dict[str, int] = {}
    urls: dict[str, str] = {}
    with browser_page(*DESKTOP, extra_args=["--autoplay-policy=no-user-gesture-required"]) as page:
        page.goto(link)
        start = page.get_by_role("button", name="Start", exact=False).first
        start.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.dataReceived", lambda e: received.__setitem__(
            e["requestId"], received[e["requestId"]] + e["encodedDataLength"]))
        cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], e["encodedDataLength"]))
        start.click()
        trial = page.locator(".ca-trial")
        trial.wait_for(timeout=120_000)
        sources = trial.locator("[data-src]").count()
        trial.locator(".ca-play").click()
        page.wait_for_function("() => window.__caPlayers && [...window.__caPlayers.values()].some("
                               "st => st.buffers && st.buffers.length > 0)", timeout=120_000)
        page.wait_for_timeout(1500)
        html = trial.inner_html()
    total = sum(max(received[r], finished.get(r, 0)) for r in set(received) | set(finished))
    media = [(urls.get(r, ""), max(received[r], finished.get(r, 0))) for r in set(received) | set(finished)
             if "/listening/media/" in urls.get(r, "")]
    return {"bytes": total, "sources": sources, "data_urls": html.count("data:audio"), "media": media}


def run(root: Path, label: str, args, work: Path) -> dict:
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
            before = run(old, "before", args, work)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
        after = run(ROOT, "after", args, work)
    print(f"MUSHRA trial screen, {args.seconds:g} s of {args.rate / 1000:g} kHz stereo, "
          f"{after['sources']} sources (reference, hidden reference, 2 anchors, {len(POINTS)} codecs):")
    print(f"  before ({args.before}, audio inside the page): {before['bytes'] / 1e6:.1f} MB received, "
          f"{before['data_urls']} data URLs in the trial's markup")
    sizes = sorted({size for _, size in after["media"]})
    asked = defaultdict(int)
    for url, _ in after["media"]:
        asked[url] += 1
    print(f"  after (files): {after['bytes'] / 1e6:.1f} MB received, of which {len(after['media'])} audio files "
          f"= {sum(s for _, s in after['media']) / 1e6:.1f} MB; file sizes within the trial: "
          f"{', '.join(f'{s:,}' for s in sizes)} bytes; each asked for {max(asked.values(), default=0)} time(s); "
          f"{after['data_urls']} data URLs in the markup")
    print(f"  after / before: {after['bytes'] / before['bytes']:.2f}")


if __name__ == "__main__":
    main()

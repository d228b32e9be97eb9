"""Uploads as people make them, in Chromium: a browser microphone's `.webm`, a phone's `.mp4` video, a
file without an extension all reach the decoder from every upload box; a refused file keeps its
reason on the page (no bare "Error" badges once the toast is gone); and the clip chosen in one tab is
the clip of the others."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from browser import CHROMIUM, DESKTOP, PHONE, browser_page, open_tab, pick_points, upload_clip
from conftest import ARTIFACTS, ROOT

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]
SHOTS = ARTIFACTS / "uploads"


def encode(path: Path, container: str, codec: str, video: bool = False, rate: int = 48_000,
           seconds: float = 1.5) -> Path:
    """A tone in `container` through PyAV (FFmpeg), with a small video track when `video`."""
    out = av.open(str(path), "w", format=container)
    audio = out.add_stream(codec, rate=rate)
    audio.layout = "mono"
    picture = None
    if video:
        picture = out.add_stream("mpeg4", rate=25)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)
    step = audio.codec_context.frame_size or 1024
    for start in range(0, x.size, step):
        frame = av.AudioFrame.from_ndarray(x[None, start:start + step], format="flt", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        out.mux(audio.encode(frame))
    out.mux(audio.encode())
    if picture is not None:
        for k in range(int(seconds * 25)):
            out.mux(picture.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 5 * k, np.uint8), format="rgb24")))
        out.mux(picture.encode())
    out.close()
    return path


@pytest.fixture(scope="module")
def awkward_files(tmp_path_factory) -> list[Path]:
    """What the README promises to read, though a browser's audio box would refuse it."""
    folder = tmp_path_factory.mktemp("awkward")
    no_extension = folder / "recording"
    shutil.copy(ROOT / "assets" / "speech_arctic_a0007.wav", no_extension)
    return [encode(folder / "browser_mic.webm", "webm", "libopus"),
            encode(folder / "phone_video.mp4", "mp4", "aac", video=True), no_extension]


def no_toast_refusal(page) -> None:
    toasts = page.locator("[data-testid=toast-body]")
    assert not any("Invalid file type" in t for t in toasts.all_inner_texts()), toasts.all_inner_texts()


def no_error_badges(page) -> None:
    """Gradio marks a failed output with a red 'Error' badge in its status tracker: none may be left."""
    trackers = page.locator("[data-testid=status-tracker]:visible")
    assert not [t for t in trackers.all_inner_texts() if "Error" in t]


@pytest.mark.parametrize("tab_name", ["Compare", "Round trip", "Codec LM"])
def test_every_decodable_file_is_accepted_by_the_clip_box(app_url, awkward_files, tab_name) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with browser_page(*DESKTOP) as page:
        page.goto(app_url)
        tab = open_tab(page, tab_name)  # Codec LM: the voice prompt's upload button
        for path in awkward_files:
            upload_clip(tab, path)  # waits for the box's note "Loaded <name>"
            no_toast_refusal(page)
        if tab_name == "Round trip":  # the last file (no extension) is the clip: it runs
            tab.get_by_role("button", name="Encode → decode").click()
            tab.get_by_text("measured bitrate").first.wait_for(timeout=120_000)
        page.screenshot(path=str(SHOTS / f"{tab_name.lower().replace(' ', '-')}-accepted.png"), full_page=True)


def test_every_decodable_file_is_accepted_for_a_listening_test(app_url, awkward_files) -> None:
    with browser_page(*DESKTOP) as page:
        page.goto(app_url)
        open_tab(page, "Listening test")
        page.locator("[role=tab]", has_text="Build a test").first.click()
        build = page.locator("#listening-build")
        build.locator("input[type=file]").first.set_input_files([str(p) for p in awkward_files])
        for path in awkward_files:
            build.locator(f'td.filename[aria-label="{path.name}"]').wait_for(timeout=30_000)
        no_toast_refusal(page)
        build.get_by_label("ABX: can you hear the codec?").check()
        page.locator("#listening-build .token-remove").first.wait_for()
        pick_points(page, build, ["opus@12"])  # a classical codec only: quick to render
        build.get_by_role("button", name="Create the test").click()
        build.get_by_text("Test created").wait_for(timeout=240_000)
        assert "3 trials" in build.inner_text()  # one per clip: all three were read


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_refusal_keeps_its_reason_where_the_result_would_be(app_url, tmp_path, size) -> None:
    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"not audio at all\n" * 100)
    with browser_page(*size, touch=size == PHONE) as page:
        page.goto(app_url)
        tab = open_tab(page, "Round trip")
        tab.locator(".ca-upload input[type=file]").set_input_files(str(junk))
        note = tab.locator(".ca-clip-note").first
        note.get_by_text("notes.wav was not loaded").wait_for(timeout=30_000)
        assert "not audio we can read" in note.inner_text()
        tab.get_by_role("button", name="Encode → decode").click()  # nothing loaded: refused, with the reason
        tab.get_by_text("Upload or record a clip first").first.wait_for(timeout=30_000)
        page.wait_for_timeout(11_000)  # the toast has closed by now; the reasons stay
        assert note.get_by_text("not audio we can read").is_visible()
        assert tab.get_by_text("Upload or record a clip first").first.is_visible()
        no_error_badges(page)
        page.screenshot(path=str(SHOTS / f"refused-{'phone' if size == PHONE else 'desktop'}.png"))


def test_the_clip_chosen_in_one_tab_is_the_clip_of_the_others(app_url, awkward_files) -> None:
    with browser_page(*DESKTOP) as page:
        page.goto(app_url)
        compare = open_tab(page, "Compare")
        compare.get_by_text("speech", exact=True).click()  # an example, chosen in Compare
        page.wait_for_timeout(1500)
        roundtrip = open_tab(page, "Round trip")
        page.wait_for_timeout(1500)
        roundtrip.get_by_role("button", name="Encode → decode").click()  # no upload here: the same clip
        summary = roundtrip.get_by_text("measured bitrate").first
        summary.wait_for(timeout=120_000)
        assert "300 frames" in roundtrip.inner_text()  # 4 s of speech at EnCodec's 75 frames/s
        roundtrip.locator(".ca-upload input[type=file]").set_input_files(str(awkward_files[0]))  # 1.5 s webm
        roundtrip.locator(".ca-clip-note").first.get_by_text("Loaded browser_mic.webm").wait_for(timeout=30_000)
        page.wait_for_timeout(1000)
        compare = open_tab(page, "Compare")
        page.wait_for_timeout(1500)
        shown = compare.locator(".ca-clip").first.inner_text()
        assert "0:02" in shown and "0:04" not in shown, shown  # Compare now holds the 1.5 s clip, not the 4 s one

"""The Codec LM tab in the running app: the `generate` endpoint over gradio_client, bad requests, the LM
overview, and a visitor generating in the browser and opening a model from the Overview."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import soundfile as sf
from browser import CHROMIUM, browser_page, open_tab, upload_clip
from conftest import ARTIFACTS, ROOT, tone

from codec_arena.codecs.base import Codes
from codec_arena.lms import list_lms
from codec_arena.lms.cards import CARDS
from codec_arena.ui.live import available as live_available

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


def settings(seconds: float = 0.5, seed: int = 0) -> list:
    return [seconds, 1.0, 50, 1.0, seed]  # max seconds, temperature, top-k, top-p, seed


def test_generate_endpoint_returns_audio_token_grid_and_downloads(client):
    info = next(i for i in list_lms() if i.does("music"))
    audio, _grid, resynth, summary, files = client.predict(
        "music", info.id, "calm piano", None, "", "", *settings(), api_name="/generate")
    data, rate = sf.read(audio)
    assert rate == info.sample_rate and data.size > 0 and resynth is None
    assert "Random test weights" in summary and "tokens" in summary and "tokens/s" in summary
    npz = next(f for f in files if f.endswith(".npz"))
    codes = Codes.from_npz(Path(npz).read_bytes())
    assert codes.codec_id == info.codec_id and codes.codebooks == info.codebooks
    assert f"{codes.frames} frames" in summary


def test_voice_prompt_is_resynthesised_through_the_models_codec(client, tmp_path):
    from gradio_client import handle_file

    info = next(i for i in list_lms() if i.does("tts"))
    prompt = tmp_path / "voice.wav"
    sf.write(prompt, tone(3.0, 16_000).T, 16_000)
    audio, _grid, resynth, summary, _files = client.predict(
        "tts", info.id, "Hello there.", handle_file(str(prompt)), "a humming tone", "", *settings(),
        api_name="/generate")
    out, rate = sf.read(resynth)
    assert rate == info.sample_rate and out.shape[0] == pytest.approx(3.0 * rate, abs=rate * 0.01)
    assert info.codec_id in summary and sf.info(audio).samplerate == info.sample_rate


@pytest.mark.parametrize(("task", "text", "message"), [
    ("music", "   ", "enter some text"),
    ("tts", "Hello", "needs a voice prompt"),
])
def test_bad_requests_get_a_clear_message(client, task, text, message):
    from gradio_client.exceptions import AppError

    info = next(i for i in list_lms() if i.does(task))
    with pytest.raises(AppError, match=message):
        client.predict(task, info.id, text, None, "", "", *settings(), api_name="/generate")


def test_lm_overview_lists_runnable_models_and_cards(client):
    rows = client.predict(api_name="/lm_overview")
    assert {r["id"] for r in rows if r["runnable"]} == {i.id for i in list_lms()}
    assert {r["id"] for r in rows if not r["runnable"]} == {c.id for c in CARDS}


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_visitor_generates_speech_and_opens_a_model_from_the_overview(app_url):
    tts = next(i for i in list_lms() if i.does("tts"))
    with browser_page() as page:
        open_app(page, app_url)
        tab = open_tab(page, "Codec LM")
        tab.get_by_text(f"{tts.name} speaks").first.wait_for()
        upload_clip(tab, SPEECH)
        tab.get_by_label("Transcript of the voice prompt").fill("Will we ever forget it.")
        tab.get_by_role("button", name="Generate").click()
        tab.get_by_text("tokens/s").first.wait_for(timeout=180_000)
        page.wait_for_timeout(1500)  # let the token grid draw
        assert tab.get_by_text("Random test weights").count() >= 1
        assert tab.locator(".js-plotly-plot").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "codec-lm.png"), full_page=True)

        music = next(i for i in list_lms() if i.does("music"))
        overview = open_tab(page, "Overview")
        lm_table = overview.locator("#ca-lm-overview table")
        lm_table.wait_for()
        assert lm_table.locator("tbody tr").count() == len(list_lms()) + len(CARDS)
        page.screenshot(path=str(ARTIFACTS / "overview-lms.png"), full_page=True)
        lm_table.locator(f'tr[data-lm="{music.id}"] button.ca-open').click()
        page.locator("#tab-codeclm").wait_for(state="visible")
        page.locator("#tab-codeclm").get_by_text(f"{music.name} speaks").first.wait_for()
        assert page.get_by_label("Model", exact=True).input_value() == f"{music.name} · {music.codec_id}"
        page.screenshot(path=str(ARTIFACTS / "codec-lm-opened.png"), full_page=True)


DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
ARCTIC_A0007 = "And you always want to see it in the superlative degree."


def prompt_block(tab):
    """The voice prompt's audio input (not the transcript's box, whose label also says "voice prompt")."""
    label = tab.page.locator("[data-testid=block-label]", has_text=re.compile(r"^\s*Voice prompt\s*$"))
    return tab.locator(".block", has=label).last  # `has` is queried inside each block


def prompt_label_is_clear_of_the_icons(tab) -> bool:
    """The voice prompt's label ends left of the audio input's corner buttons (download, clear, ...)."""
    block = prompt_block(tab)
    label = block.locator("[data-testid=block-label]").first.bounding_box()
    icons = block.locator(".icon-button-wrapper").first.bounding_box()
    return label["x"] + label["width"] <= icons["x"] or label["y"] + label["height"] <= icons["y"]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_codec_lm_inputs_fit_the_first_screen_with_the_example_voice(app_url):
    """At 1440 x 900 the model card is a line, the inputs and Generate are above the fold, the example voice
    fills the prompt and its transcript, and the prompt's label is not hidden under the audio's icons."""
    with browser_page(**DESKTOP) as page:
        open_app(page, app_url)
        tab = open_tab(page, "Codec LM")
        tab.get_by_text("speaks").first.wait_for()
        page.wait_for_timeout(1000)
        generate = tab.get_by_role("button", name="Generate")
        box = generate.bounding_box()
        assert box["y"] + box["height"] <= DESKTOP["height"], box
        tab.get_by_role("button", name="Use the example voice").click()
        transcript = tab.get_by_label("Transcript of the voice prompt")
        page.wait_for_function("(t) => [...document.querySelectorAll('#tab-codeclm textarea, #tab-codeclm input')]"
                               ".some(e => e.value === t)", arg=ARCTIC_A0007, timeout=15_000)
        assert transcript.input_value() == ARCTIC_A0007
        prompt_block(tab).locator(".icon-button-wrapper").first.wait_for(timeout=15_000)  # the clip is loaded
        page.wait_for_timeout(1000)
        assert prompt_label_is_clear_of_the_icons(tab)
        box = generate.bounding_box()
        assert box["y"] + box["height"] <= DESKTOP["height"], box
        page.screenshot(path=str(ARTIFACTS / "codec-lm_1440.png"))
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(800)
        assert prompt_label_is_clear_of_the_icons(tab)
        page.screenshot(path=str(ARTIFACTS / "codec-lm_390.png"), full_page=True)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_text_to_music_shows_no_empty_prompt_player(app_url):
    with browser_page(**DESKTOP) as page:
        open_app(page, app_url)
        tab = open_tab(page, "Codec LM")
        tab.get_by_text("Text to music").first.click()
        tab.get_by_text("speaks").first.wait_for()
        page.wait_for_timeout(800)
        tab.get_by_role("button", name="Generate").click()
        tab.get_by_text("tokens/s").first.wait_for(timeout=180_000)
        page.wait_for_timeout(1000)
        assert not tab.get_by_text("Prompt through the same codec").is_visible()
        assert page.locator('#tab-codeclm a[href^="mailto:"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "codec-lm_music_1440.png"), full_page=True)


def live_audio(page) -> dict | None:
    """The live player's <audio> element: source, current time, paused (None before a stream arrives)."""
    return page.locator("#ca-lm-live").evaluate(
        "e => { const a = e.querySelector('audio'); return a && a.src ? {t: a.currentTime, paused: a.paused} : null }")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
@pytest.mark.skipif(not live_available(), reason="ffmpeg/ffprobe are not installed (scripts/env.sh installs them)")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440", "390"])
def test_music_plays_in_the_live_player_before_generation_ends(app_url, viewport):
    """A streaming model (MusicGen): the live player gets audio while the steps still count up, and plays it;
    a model that does not stream shows no live player."""
    music = next(i for i in list_lms() if i.does("music") and i.streams)
    with browser_page(**viewport, extra_args=["--autoplay-policy=no-user-gesture-required"],
                      touch=viewport is PHONE) as page:
        open_app(page, app_url)
        tab = open_tab(page, "Codec LM")
        assert not page.locator("#ca-lm-live").is_visible()  # the first task's model (TTS) does not stream
        tab.get_by_text("Text to music").first.click()
        tab.get_by_text(f"{music.name} speaks").first.wait_for()
        page.locator("#ca-lm-live").wait_for(state="visible")
        tab.get_by_text("Generation settings").first.click()
        seconds = tab.locator("input[type=number]").first
        seconds.fill("20")
        seconds.press("Enter")
        page.wait_for_timeout(500)
        tab.get_by_role("button", name="Generate").click()
        page.wait_for_function("() => { const a = document.querySelector('#ca-lm-live audio'); return a && a.src }",
                               timeout=180_000)
        assert tab.get_by_text("tokens/s").count() == 0, "the live audio came only after the generation"
        page.screenshot(path=str(ARTIFACTS / f"codec-lm-live_{viewport['width']}.png"))
        tab.get_by_text("tokens/s").first.wait_for(timeout=180_000)
        state = live_audio(page)
        assert state and state["t"] > 0, state  # it has been playing
        assert tab.get_by_text(f"{music.name} wrote").count() == 1


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440", "390"])
def test_a_spoken_reply_to_a_clip_takes_no_text(app_url, viewport):
    """Moshi's task: the text box is hidden, the clip is the input ("What you say to it"), and the reply
    comes back as audio with its Mimi token grid; the inner monologue goes to the notes."""
    moshi = next(i for i in list_lms() if i.does("dialogue"))
    with browser_page(**viewport, touch=viewport is PHONE) as page:
        open_app(page, app_url)
        tab = open_tab(page, "Codec LM")
        tab.get_by_text("Spoken reply to a clip").first.click()
        tab.get_by_text(f"{moshi.name} speaks").first.wait_for()
        page.wait_for_timeout(800)
        assert tab.get_by_label("Describe the music").count() == 0
        assert not page.locator("#tab-codeclm textarea:visible").count(), "the dialogue task shows a text box"
        assert tab.locator("[data-testid=block-label]", has_text="What you say to it").first.is_visible()
        upload_clip(tab, SPEECH)
        tab.get_by_role("button", name="Generate").click()
        tab.get_by_text("tokens/s").first.wait_for(timeout=180_000)
        page.wait_for_timeout(1500)
        assert tab.get_by_text("Random test weights").count() >= 1 and tab.get_by_text("mimi").count() >= 1
        page.screenshot(path=str(ARTIFACTS / f"codec-lm-dialogue_{viewport['width']}.png"), full_page=True)

"""The Codec LM tab in the running app: the `generate` endpoint over gradio_client, bad requests, the LM
overview, and a visitor generating in the browser and opening a model from the Overview."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from browser import CHROMIUM, browser_page, open_tab
from conftest import ARTIFACTS, ROOT, tone

from codec_arena.codecs.base import Codes
from codec_arena.lms import list_lms
from codec_arena.lms.cards import CARDS

pytestmark = pytest.mark.e2e
SPEECH = ROOT / "assets" / "speech_arctic_a0007.wav"


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


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
        page.goto(app_url)
        tab = open_tab(page, "Codec LM")
        tab.get_by_text(f"{tts.name} speaks").first.wait_for()
        tab.locator("input[type=file]").first.set_input_files(str(SPEECH))
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

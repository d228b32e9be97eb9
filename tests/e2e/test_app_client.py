"""The running app, driven over HTTP with gradio_client as a script would."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, tone

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False, analytics_enabled=False)


def test_roundtrip_endpoint_is_listed(client):
    assert "/roundtrip" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]


@pytest.mark.parametrize(("codec_id", "kbps", "rate", "channels"), [
    ("encodec_24khz", 6.0, 24_000, 1),
    ("dac_16khz", 3.0, 16_000, 1),
    ("opus", 24.0, 48_000, 1),
])
def test_upload_wav_get_reconstruction(client, tmp_path, codec_id, kbps, rate, channels):
    from gradio_client import handle_file

    clip = tmp_path / "clip.wav"
    sf.write(clip, tone(1.5, 22_050).T, 22_050)
    original, reconstruction, _plot, summary = client.predict(
        handle_file(str(clip)), codec_id, kbps, api_name="/roundtrip")
    out, out_rate = sf.read(reconstruction, always_2d=True)
    assert out_rate == rate and out.shape == (int(1.5 * rate), channels)
    assert sf.info(original).samplerate == 22_050
    assert codec_id in summary and "measured bitrate" in summary
    assert ("Random test weights" in summary) == (codec_id != "opus")
    if codec_id == "opus":  # a real encoder: the 440 Hz tone comes back
        spectrum = np.abs(np.fft.rfft(out[:, 0]))
        assert np.argmax(spectrum) * rate / out.shape[0] == pytest.approx(440, abs=2)


def test_bad_file_gets_a_readable_error(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"these are my lecture notes, not audio\n" * 20)
    with pytest.raises(AppError, match="not audio"):
        client.predict(handle_file(str(junk)), "opus", 24.0, api_name="/roundtrip")


def test_example_clip_through_the_api(client):
    from gradio_client import handle_file

    _, reconstruction, _, summary = client.predict(
        handle_file(str(ROOT / "assets" / "music_fluidsynth_44k.flac")), "mp3", 128.0, api_name="/roundtrip")
    assert sf.info(reconstruction).channels == 2 and "MP3" in summary


def test_a_refused_upload_is_one_line_on_the_server_console(client, app_server, tmp_path):
    """An ordinary user error is not a crash: one log line with the reason, no traceback."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    log = app_server[1]
    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"not audio at all\n" * 100)
    before = log.read_text().splitlines()
    with pytest.raises(AppError, match="not audio we can read"):
        client.predict(handle_file(str(junk)), "opus", 24.0, api_name="/roundtrip")
    time.sleep(0.5)  # the server writes its line as the call returns
    new = log.read_text().splitlines()[len(before):]
    assert len(new) == 1 and "refused" in new[0] and "not audio we can read" in new[0], new

"""`codec-arena` as a user runs it: a subprocess, real files, one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, tone

from codec_arena.codecs import Codes


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codec_arena.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_list_table_and_json():
    table = cli("list")
    assert table.returncode == 0
    assert "encodec_24khz" in table.stdout and "opus" in table.stdout and "6–256" in table.stdout
    rows = json.loads(cli("list", "--json").stdout)
    by_id = {row["id"]: row for row in rows}
    assert by_id["dac_16khz"]["sample_rate"] == 16_000 and by_id["dac_16khz"]["max_codebooks"] == 12
    assert by_id["dac_16khz"]["weights_path"].endswith("weights_16khz_8kbps_0.0.5.pth")
    assert by_id["mp3"]["weights_path"] is None


def test_roundtrip_neural_with_codes(cache_env, tmp_path):
    out, codes = tmp_path / "out.wav", tmp_path / "codes.npz"
    run = cli("roundtrip", str(ROOT / "assets" / "speech_arctic_a0007.wav"), "--codec", "encodec_24khz",
              "--bitrate", "3", "--out", str(out), "--codes", str(codes), "--json", env=cache_env)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["codebooks"] == 4 and summary["frames"] == 300 and summary["bitrate_kbps"] == 3.0
    assert summary["random_weights"] is True
    assert {"load_s", "encode_s", "decode_s", "peak_memory_mb"} <= summary.keys()
    samples, rate = sf.read(out)
    assert rate == 24_000 and samples.shape == (96_000,)
    assert Codes.from_npz(codes.read_bytes()).tokens.shape == (4, 300)


def test_roundtrip_classical_text_output(tmp_path):
    run = cli("roundtrip", str(ROOT / "assets" / "music_fluidsynth_44k.flac"), "--codec", "mp3", "--bitrate",
              "64", "--out", str(tmp_path / "o.wav"))
    assert run.returncode == 0, run.stderr
    assert "bitrate_kbps" in run.stdout and "codebooks" not in run.stdout
    assert sf.info(tmp_path / "o.wav").channels == 2


@pytest.mark.parametrize(("args", "message"), [
    (["roundtrip", "{missing}", "--codec", "opus", "--out", "{out}"], "No such audio file"),
    (["roundtrip", "{junk}", "--codec", "opus", "--out", "{out}"], "not audio"),
    (["roundtrip", "{wav}", "--codec", "nope", "--out", "{out}"], "Unknown codec 'nope'"),
    (["roundtrip", "{wav}", "--codec", "encodec_24khz", "--bitrate", "5", "--out", "{out}"], "offers 1.5, 3"),
    (["roundtrip", "{wav}", "--codec", "mp3", "--out", "{out}", "--codes", "{out}.npz"], "classical codec"),
    (["roundtrip", "{wav}", "--codec", "dac_44khz", "--out", "{out}"], "codec-arena download dac_44khz"),
])
def test_errors_are_one_line_exit_2(tmp_path, args, message):
    junk, wav = tmp_path / "junk.wav", tmp_path / "ok.wav"
    junk.write_bytes(b"definitely not a sound file" * 10)
    sf.write(wav, tone(0.3).T, 16_000)
    paths = {"missing": str(tmp_path / "missing.wav"), "junk": str(junk), "wav": str(wav),
             "out": str(tmp_path / "out.wav")}
    env = {"HOME": str(tmp_path), "TORCH_HOME": str(tmp_path / "t"), "CODEC_ARENA_OFFLINE": "1"}
    run = cli(*[a.format(**paths) for a in args], env=env)
    assert run.returncode == 2
    assert run.stderr.startswith("codec-arena: ") and run.stderr.count("\n") == 1, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr


def test_roundtrip_output_is_not_silently_wrong(tmp_path):
    """A G.722 round trip of a tone keeps the tone (real encoder, real numbers)."""
    src = tmp_path / "tone.wav"
    sf.write(src, tone(1.0, 16_000, freq=700).T, 16_000)
    assert cli("roundtrip", str(src), "--codec", "g722", "--out", str(tmp_path / "o.wav")).returncode == 0
    out, _ = sf.read(tmp_path / "o.wav")
    assert np.argmax(np.abs(np.fft.rfft(out))) == 700


def test_serve_starts_the_app(cache_env):
    """`codec-arena serve` serves the same app as `python app.py`."""
    import time
    import urllib.request

    from conftest import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "codec_arena.cli", "serve", "--port", str(port)], cwd=ROOT,
                              env={**os.environ, **cache_env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                info = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2))
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.5)
        assert "/roundtrip" in info["named_endpoints"]
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_readme_codec_table_is_the_generated_one():
    """The README's codec table is `codec-arena list --markdown`: facts live once, in CodecInfo."""
    from codec_arena.cli import markdown_table
    from codec_arena.codecs import list_codecs

    table = markdown_table(list_codecs())
    assert table in (ROOT / "README.md").read_text(), "run `codec-arena list --markdown` and paste it into README.md"
    assert table.count("\n") == len(list_codecs()) + 1


def test_listening_create_then_results_with_csv_exports(tmp_path):
    """A teacher prepares a test from the command line; the owner reads the results and the CSVs."""
    from codec_arena.listening import service
    from codec_arena.listening.store import DB_NAME, Store

    env = {"CODEC_ARENA_DATA_DIR": str(tmp_path / "data")}
    clip = tmp_path / "clip.wav"
    sf.write(clip, tone(2.0, 16_000).T, 16_000)
    run = cli("listening", "create", str(clip), "--method", "mos", "--codec", "opus@12", "mp3@32", "--title",
              "Class 1", "--url", "http://class.local:7860", "--json", env=env)
    assert run.returncode == 0, run.stderr
    created = json.loads(run.stdout)
    assert created["trials"] == 3 and created["participant_link"] == f"http://class.local:7860/?test={created['test_id']}"
    assert "own device" not in run.stderr
    local = cli("listening", "create", str(clip), "--method", "abx", "--codec", "opus@12", "--json", env=env)
    assert local.returncode == 0 and "127.0.0.1 in the links means each student's own device" in local.stderr
    db = Store(tmp_path / "data" / DB_NAME)
    token, participant = service.join(created["test_id"], db=db)
    for _ in participant.slots:
        view = service.next_trial(created["test_id"], token, db=db)
        service.submit(created["test_id"], token, view.slot.position, {"played": ["A"], "rating": 4}, db=db)
    out = tmp_path / "exports"
    run = cli("listening", "results", created["test_id"], "--token", created["owner_token"], "--out", str(out),
              env=env)
    assert run.returncode == 0, run.stderr
    assert "1 participants, 3 responses" in run.stdout and "mean=4" in run.stdout
    raw = (out / f"{created['test_id']}-raw_responses.csv").read_text().splitlines()
    assert len(raw) == 4 and raw[0].startswith("participant,excluded,position")
    wrong = cli("listening", "results", created["test_id"], "--token", "guess", env=env)
    assert wrong.returncode == 2 and "owner link" in wrong.stderr and "Traceback" not in wrong.stderr


def test_codec_superb_table_is_in_the_readme_and_names_real_operating_points():
    """Every Codec-SUPERB configuration once, each mapped to a registered codec at a bitrate it offers, or
    absent with its reason; the README shows exactly `codec-arena list --superb`."""
    from codec_arena.codecs import codec_info, superb

    names = [config.name for config in superb.CONFIGS]
    assert len(names) == len(set(names))
    for config in superb.CONFIGS:
        if not config.codec_id:
            assert config.note, f"{config.name} is absent without a reason"
            continue
        info = codec_info(config.codec_id)
        assert info.check_bitrate(config.kbps if config.kbps is not None else info.bitrates_kbps[-1])
    out = cli("list", "--superb").stdout.strip()
    assert out == superb.markdown()
    assert "| `encodec_24k_6bps` | `encodec_24khz` | 6 |" in out
    assert out in (ROOT / "README.md").read_text(), "run `codec-arena list --superb` and paste it into README.md"

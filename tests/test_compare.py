"""Comparisons and reports: `codec-arena compare` writes metrics.json, wavs and an offline report."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
from conftest import ROOT
from test_cli import cli

from codec_arena.codecs import OperatingPoint, codec_info
from codec_arena.compare import all_points, parse_point
from codec_arena.errors import RequestError


def test_parse_points():
    assert parse_point("dac_44khz@7.752") == OperatingPoint(codec_info("dac_44khz"), 7.752, 9)
    assert parse_point("opus@24kbps") == OperatingPoint(codec_info("opus"), 24.0, None)
    assert parse_point("encodec_24khz") == OperatingPoint.of(codec_info("encodec_24khz"), 6.0)
    assert parse_point("encodec_24khz").codebooks == 8 and str(parse_point("dac_16khz@3")) == "dac_16khz@3"
    with pytest.raises(RequestError, match="codec@kbps"):
        parse_point("opus@fast")
    with pytest.raises(RequestError, match="offers"):
        parse_point("encodec_24khz@5")
    assert len(all_points(["encodec_24khz", "dac_16khz"])) == 5 + 12


def test_cli_compare_writes_the_report(cache_env, tmp_path):
    out = tmp_path / "report"
    run = cli("compare", str(ROOT / "assets" / "speech_arctic_a0007.wav"), "--codec", "encodec_24khz@6",
              "opus@24", "--codec", "mp3@64", "--out", str(out), env=cache_env)
    assert run.returncode == 0, run.stderr
    rows = json.loads((out / "metrics.json").read_text())
    assert [(r["codec"], r["requested_kbps"]) for r in rows] == [("encodec_24khz", 6), ("opus", 24), ("mp3", 64)]
    for row in rows:
        assert list(row)[:2] == ["codec", "bitrate_kbps"]
        for key in ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "mel_distance", "stft_distance"):
            assert key in row
            assert row[key] is not None or key in row["notes"], (row["codec"], key)
    opus, mp3 = rows[1], rows[2]
    assert opus["pesq_wb"] > 3.0 and opus["stoi"] > 0.9  # a real encoder at 24 kbps on clean speech
    assert mp3["token_rate"] is None and "not tokens" in mp3["notes"]["token_rate"]
    assert rows[0]["random_weights"] and "random" in rows[0]["notes"]["random_weights"]
    assert rows[0]["token_rate"] == pytest.approx(600, rel=0.01)  # 8 codebooks x 75 Hz
    names = sorted(p.name for p in out.iterdir())
    assert "00_original.wav" in names and "01_encodec_24khz_6kbps.wav" in names
    assert "01_encodec_24khz_6kbps_tokens.npz" in names and "metrics.csv" in names
    assert sf.info(out / "02_opus_24kbps.wav").samplerate == 48_000
    page = (out / "report.html").read_text()
    assert "ca-player" in page and "data:audio/flac;base64," in page and "data:image/png;base64," in page
    assert "random test weights" in page
    assert "<script src=" not in page and "<link" not in page  # everything inline: opens offline
    assert "Plotly.newPlot" in page


def test_cli_compare_rejects_bad_points(tmp_path):
    run = cli("compare", str(ROOT / "assets" / "speech_arctic_a0007.wav"), "--codec", "mp3@9999",
              "--out", str(tmp_path))
    assert run.returncode == 2 and "mp3 takes 32–320 kbps" in run.stderr


def test_missing_weights_skip_one_codec_not_the_comparison(tmp_path):
    env = {"HOME": str(tmp_path / "home"), "TORCH_HOME": str(tmp_path / "torch"), "CODEC_ARENA_OFFLINE": "1"}
    run = cli("compare", str(ROOT / "assets" / "speech_arctic_a0007.wav"), "--codec", "dac_16khz@6", "opus@24",
              "--out", str(tmp_path / "out"), env=env)
    assert run.returncode == 0, run.stderr
    assert "skipped dac_16khz@6: Weights for dac_16khz are not available" in run.stderr
    rows = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert [row["codec"] for row in rows] == ["opus"]
    alone = cli("compare", str(ROOT / "assets" / "speech_arctic_a0007.wav"), "--codec", "dac_16khz@6",
                "--out", str(tmp_path / "out2"), env=env)
    assert alone.returncode == 2 and "codec-arena download dac_16khz" in alone.stderr

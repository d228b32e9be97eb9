"""Missing weights: one clear message naming the model, where we looked, and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import weight_spec
from codec_arena.errors import WeightsUnavailable
from codec_arena.roundtrip import roundtrip


@pytest.mark.parametrize(("codec_id", "where"), [
    ("encodec_24khz", "torch/hub/checkpoints/encodec_24khz-d7cc33bc.th"),
    ("dac_44khz", "home/.cache/descript/dac/weights_44khz_8kbps_0.0.1.pth"),
])
def test_missing_weights_offline_message(empty_cache_env, codec_id, where):
    with pytest.raises(WeightsUnavailable) as caught:
        roundtrip(Audio(tone(0.2), 16_000), codec_id)
    message = str(caught.value)
    assert codec_id in message
    assert str(empty_cache_env / where) in message
    assert f"codec-arena download {codec_id}" in message and "copy the official checkpoint" in message


def test_classical_codecs_work_without_any_weights(empty_cache_env):
    assert roundtrip(Audio(tone(0.2), 16_000), "opus", 24).output.frames > 0


def test_download_refuses_when_offline(empty_cache_env):
    with pytest.raises(WeightsUnavailable, match="CODEC_ARENA_OFFLINE or HF_HUB_OFFLINE is set"):
        weights.download(weight_spec("dac_16khz"))


def test_network_failure_becomes_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv("CODEC_ARENA_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable():
        raise ConnectionError("Name or service not known")

    spec = weights.WeightSpec("some_model", "its release page", lambda: tmp_path / "w.pth", unreachable)
    with pytest.raises(WeightsUnavailable, match=r"download from its release page failed: ConnectionError"):
        weights.download(spec)


def test_existing_file_needs_no_network(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEC_ARENA_OFFLINE", "1")
    (tmp_path / "w.pth").write_bytes(b"x")
    spec = weights.WeightSpec("m", "nowhere", lambda: tmp_path / "w.pth", lambda: 1 / 0)
    assert weights.download(spec) == tmp_path / "w.pth"


def test_hf_hub_offline_counts_as_offline(monkeypatch):
    monkeypatch.delenv("CODEC_ARENA_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert weights.offline()


def test_torch_hub_path_matches_torch(monkeypatch, tmp_path):
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert weights.torch_hub_checkpoint("x.th") == Path(torch.hub.get_dir()) / "checkpoints" / "x.th"


def test_cli_download_offline_is_one_line(empty_cache_env):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(empty_cache_env / "home"), "CODEC_ARENA_OFFLINE": "1",
           "TORCH_HOME": str(empty_cache_env / "torch")}
    out = subprocess.run([sys.executable, "-m", "codec_arena.cli", "download", "encodec_24khz"], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Weights for encodec_24khz are not available" in out.stderr


def test_random_marker(tmp_path):
    path = tmp_path / "ckpt.pth"
    path.write_bytes(np.zeros(3).tobytes())
    assert not weights.is_random(path)
    weights.mark_random(path)
    assert weights.is_random(path)


def test_weights_error_survives_pickling():
    """ZeroGPU returns exceptions from a worker process by pickling them: the message must survive."""
    import pickle

    error = WeightsUnavailable("dac_44khz", "/x/y.pth", "offline")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.model_id == "dac_44khz"


def test_cached_hub_models_load_without_asking_the_hub(cache_env):
    """With the weights cached, loading must not ask the hub for anything: with only CODEC_ARENA_OFFLINE
    set, nothing at all; online, no model file or revision check (huggingface_hub would otherwise look
    for a newer revision, and might download it, at run time)."""
    import http.server
    import os
    import threading

    requests: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            requests.append(self.path)
            self.send_response(500)
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    code = ("from codec_arena.codecs import get_codec\n"
            "for c in ('mimi', 'xcodec2', 'snac_24khz', 'speechtokenizer', 'hifi_codec_16k_320d', 'bigcodec',"
            " 'funcodec_en_16k_nq32ds320'):\n    get_codec(c, 'cpu')\nprint('loaded')")
    env = {**os.environ, **cache_env, "HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}"}
    del env["HF_HUB_OFFLINE"]
    try:
        offline = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                 timeout=300)
        assert offline.returncode == 0 and "loaded" in offline.stdout, offline.stderr[-2000:]
        assert requests == []
        del env["CODEC_ARENA_OFFLINE"]
        online = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=300)
    finally:
        server.shutdown()
    assert online.returncode == 0 and "loaded" in online.stdout, online.stderr[-2000:]
    # huggingface_hub's own once-a-day registry fetch is not a model request
    assert [r for r in requests if not r.startswith("/api/agent-harnesses")] == []

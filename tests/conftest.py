"""Shared fixtures: offline random-weight caches at the real loaders' paths, clips, a running app."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
# huggingface_hub reads HF_HOME and HF_HUB_OFFLINE once, when it is first imported (gradio and transformers
# import it), and transformers' from_pretrained looks where it read. Whichever test imports it first, it must
# read the session's test cache, never the user's: so both are set here, before any test module is imported.
CACHES = Path(tempfile.mkdtemp(prefix="codec-arena-test-caches-"))
os.environ["HF_HOME"] = str(CACHES / "hf")
os.environ["HF_HUB_OFFLINE"] = "1"


def pytest_unconfigure(config) -> None:
    shutil.rmtree(CACHES, ignore_errors=True)


@pytest.fixture(scope="session")
def cache_env() -> dict[str, str]:
    """Environment for an offline machine whose caches hold random-weight checkpoints.

    TORCH_HOME is torch hub's cache (EnCodec); HOME holds ~/.cache/descript/dac (DAC). DAC uses tiny
    configs (its checkpoint stores its config); EnCodec's loader always builds the full-size model.
    """
    root = CACHES
    env = {"TORCH_HOME": str(root / "torch"), "HOME": str(root / "home"), "CODEC_ARENA_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1", "HF_HOME": str(root / "hf"), "XDG_CACHE_HOME": str(root / "xdg"),
           "CODEC_ARENA_DATA_DIR": str(root / "data")}
    (root / "home").mkdir(exist_ok=True)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    if "huggingface_hub" in sys.modules:  # it reads HF_HOME once, when first imported
        from huggingface_hub import constants

        if not constants.HF_HUB_CACHE.startswith(env["HF_HOME"]):
            pytest.fail(f"huggingface_hub reads {constants.HF_HUB_CACHE}, not the test cache: something set HF_HOME "
                        "before it was imported; the test caches are set at the top of tests/conftest.py.")
    from codec_arena.testing import lm_ids, neural_codec_ids, write_random_weights

    for model_id in neural_codec_ids() + lm_ids():
        write_random_weights(model_id, small=True)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def empty_cache_env(tmp_path, monkeypatch) -> Path:
    """An offline machine with nothing downloaded; the model cache starts cold."""
    from codec_arena.runtime import cache

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CODEC_ARENA_OFFLINE", "1")
    cache.clear()
    yield tmp_path
    cache.clear()


def tone(seconds: float = 1.0, rate: int = 16_000, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    """A quiet sine with a little noise: (channels, frames) float32."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    return np.repeat(mono[None], channels, axis=0).astype(np.float32)


def seams_are_measured(codec, samples: np.ndarray, point, window_units: tuple[int, ...], frames: int) -> None:
    """For an inexact codec (`exact = False`) with a short context: the engine's figures are computed at
    each window length (3+ windows), and chunked codes and audio have the one-pass shapes."""
    from codec_arena.audio import Audio
    from codec_arena.codecs import stream

    for units in window_units:
        figures = stream.exactness(codec, samples, point, window_units=units)
        assert figures.windows == len(stream.plan(frames, units, codec.context_units)) >= 3
        assert 0 <= figures.equal_codes <= 1
        assert np.isfinite([figures.max_latent_delta, figures.max_audio_delta]).all()
    codec.window_units = window_units[0]
    codes = codec.encode(Audio(samples, codec.info.sample_rate), point)
    assert codes.frames == frames and codec.decode(codes).samples.shape == samples.shape


def batch_equals_one_at_a_time(codec, clips: list, point) -> list:
    """`encode_batch` gives each clip's own codes and `decode_batch` its own audio (within 1e-4, the
    clip's length); returns the batch's codes for shape checks."""
    batch, alone = codec.encode_batch(clips, point), [codec.encode(clip, point) for clip in clips]
    for a, b in zip(batch, alone, strict=True):
        np.testing.assert_array_equal(a.tokens, b.tokens)
    for a, b, clip in zip(codec.decode_batch(alone), [codec.decode(c) for c in alone], clips, strict=True):
        assert a.frames == clip.frames
        np.testing.assert_allclose(a.samples, b.samples, atol=1e-4)
    return batch


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server[0]


@pytest.fixture(scope="session")
def app_server(cache_env, tmp_path_factory):
    """`python app.py` on a free port of 127.0.0.1, offline, on the random-weight caches: (url, its console log)."""
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    env = {**os.environ, **cache_env, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/gradio_api/info", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"app did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    yield url, log
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()


def spy_on(monkeypatch, owner, name: str) -> list:
    """Record what goes into and comes out of `owner.name(**kwargs)` (a model's `generate`, say)."""
    seen = []
    real = getattr(owner, name)

    def spy(**kwargs):
        out = real(**kwargs)
        seen.append((kwargs, out))
        return out

    monkeypatch.setattr(owner, name, spy)
    return seen

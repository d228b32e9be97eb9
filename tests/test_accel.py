"""The fast CPU path (OpenVINO) gives the torch path's codes and audio, is cached next to the weights,
and falls back to torch, with the same numbers, when OpenVINO is missing, turned off or fails."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from codec_arena.audio import Audio
from codec_arena.codecs import accel, codec_info, get_codec, weight_spec
from codec_arena.roundtrip import roundtrip
from codec_arena.runtime import cache
from codec_arena.signals import seeded_audio

ACCELERATED = ["dac_16khz", "dac_24khz", "dac_44khz", "bigcodec"]
pytestmark = pytest.mark.skipif(accel.backend_version() is None, reason="OpenVINO is not installed")


def clip(codec_id: str, seconds: float = 1.5) -> Audio:
    rate = codec_info(codec_id).sample_rate
    return Audio(seeded_audio(rate, seconds)[None].astype(np.float32), rate)


def run(codec_id: str, monkeypatch, mode: str, audio: Audio | None = None):
    monkeypatch.setenv(accel.ENV, mode)
    cache.clear()
    return roundtrip(audio or clip(codec_id), codec_id, codec_info(codec_id).default_bitrate_kbps)


def converted_files(codec_id: str) -> list:
    return sorted(accel.cache_dir(weight_spec(codec_id).path).glob(f"{weight_spec(codec_id).path.stem}-*"))


@pytest.mark.parametrize("codec_id", ACCELERATED)
def test_fast_path_equals_torch(cache_env, monkeypatch, codec_id):
    reference = run(codec_id, monkeypatch, "off")
    fast = run(codec_id, monkeypatch, "on")
    assert get_codec(codec_id).fast.active() == ["decoder", "encoder"]  # it really ran OpenVINO
    assert np.array_equal(fast.codes.tokens, reference.codes.tokens)
    assert fast.output.samples.shape == reference.output.samples.shape
    difference = np.abs(fast.output.samples - reference.output.samples).max()
    assert 0 < difference < 1e-4  # rounding differs (a different library ran), the numbers agree


@pytest.fixture
def silent_snac(cache_env):
    """`silence(codec_id)` writes small random SNAC weights without the decoder's noise
    (`write_random_weights(noise=False)`), so torch and the conversion (keyed by the file's content, so
    made anew) can be compared sample by sample; the session's file is put back afterwards."""
    from codec_arena.codecs import snac

    saved: dict = {}

    def silence(codec_id: str) -> None:
        path = weight_spec(codec_id).path
        saved[path] = path.read_bytes()
        snac.write_random_weights(codec_id, small=True, noise=False)

    yield silence
    for path, content in saved.items():
        path.write_bytes(content)
    cache.clear()


@pytest.mark.parametrize("codec_id", ["snac_24khz", "snac_44khz"])  # 44 kHz: with local attention
def test_snac_fast_path_equals_torch_with_the_noise_off(silent_snac, monkeypatch, codec_id):
    silent_snac(codec_id)
    audio = clip(codec_id, 2.0)  # several attention blocks
    reference = run(codec_id, monkeypatch, "off", audio)
    fast = run(codec_id, monkeypatch, "on", audio)
    assert get_codec(codec_id).fast.active() == ["decoder", "encoder"]
    assert np.array_equal(fast.codes.tokens, reference.codes.tokens)
    assert 0 < np.abs(fast.output.samples - reference.output.samples).max() < 1e-4
    codec = get_codec(codec_id)  # fewer levels (progressive decoding) go through the same decoder
    partial = codec.decode(fast.codes.first(2))
    monkeypatch.setenv(accel.ENV, "off")
    assert np.abs(partial.samples - codec.decode(fast.codes.first(2)).samples).max() < 1e-4


def test_fast_path_equals_torch_over_windows_and_batches(cache_env, monkeypatch):
    """Long input in several windows with context, and a batch of clips: the dynamic axes hold."""
    codec_id = "dac_16khz"
    results = {}
    for mode in ("off", "on"):
        monkeypatch.setenv(accel.ENV, mode)
        cache.clear()
        codec = get_codec(codec_id)
        codec.window_units = 40
        point = codec.point(None)
        windowed = codec.decode(codec.encode(clip(codec_id, 2.0), point))
        batch = codec.encode_batch([clip(codec_id, 0.5), clip(codec_id, 0.5)], point)
        results[mode] = (windowed.samples, [c.tokens for c in batch], [a.samples for a in codec.decode_batch(batch)])
    (w0, t0, a0), (w1, t1, a1) = results["off"], results["on"]
    assert np.abs(w0 - w1).max() < 1e-4
    assert all(np.array_equal(x, y) for x, y in zip(t0, t1, strict=True))
    assert all(np.abs(x - y).max() < 1e-4 for x, y in zip(a0, a1, strict=True))


def test_conversion_is_cached_next_to_the_weights(cache_env, monkeypatch):
    codec_id = "dac_24khz"
    run(codec_id, monkeypatch, "on")
    files = converted_files(codec_id)
    assert {f.suffix for f in files} == {".xml", ".bin"} and len(files) == 4  # encoder and decoder
    stamps = [f.stat().st_mtime_ns for f in files]
    run(codec_id, monkeypatch, "on")  # a new load reads the conversion back
    assert [f.stat().st_mtime_ns for f in converted_files(codec_id)] == stamps


def test_other_weights_get_their_own_conversion(cache_env, monkeypatch, tmp_path):
    """The cache key holds the weights' fingerprint: new weights at the same path are converted anew."""
    monkeypatch.setenv("HOME", str(tmp_path))
    from codec_arena.codecs import dac

    codec_id = "dac_16khz"
    dac.write_random_weights(codec_id, small=True)
    run(codec_id, monkeypatch, "on")
    first = {f.name for f in converted_files(codec_id)}
    dac.write_random_weights(codec_id, small=True)  # different random weights
    run(codec_id, monkeypatch, "on")
    assert len({f.name for f in converted_files(codec_id)} - first) == 4
    cache.clear()


def test_without_openvino_the_torch_path_runs(cache_env, monkeypatch):
    codec_id = "dac_16khz"
    reference = run(codec_id, monkeypatch, "off")
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if it were not installed: import fails
    assert accel.backend_version() is None
    fallback = run(codec_id, monkeypatch, "on")
    assert get_codec(codec_id).fast.active() == []
    assert np.array_equal(fallback.codes.tokens, reference.codes.tokens)
    assert np.array_equal(fallback.output.samples, reference.output.samples)  # the same torch path: bit-exact


def test_a_failed_conversion_falls_back_with_a_warning(cache_env, monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("HOME", str(tmp_path))
    from codec_arena.codecs import dac

    codec_id = "dac_16khz"
    dac.write_random_weights(codec_id, small=True)
    reference = run(codec_id, monkeypatch, "off")

    def refuse(*args, **kwargs):
        raise RuntimeError("unsupported operation")

    monkeypatch.setattr(accel, "_convert", refuse)
    with caplog.at_level(logging.WARNING, logger=accel.__name__):
        fallback = run(codec_id, monkeypatch, "on")
    assert "fast CPU path" in caplog.text and "unsupported operation" in caplog.text
    assert np.array_equal(fallback.output.samples, reference.output.samples)
    assert converted_files(codec_id) == []
    cache.clear()


def test_openvino_telemetry_is_never_loaded(cache_env):
    """The converter's usage reports go to OpenVINO's no-op stub, checked in a fresh interpreter."""
    import subprocess

    code = ("import sys, torch; from codec_arena.codecs import accel; accel.backend_version(); "
            "from openvino.tools.ovc import telemetry_utils; "
            "print(telemetry_utils.tm.__name__, sys.modules.get('openvino_telemetry'))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.split() == ["openvino.tools.ovc.telemetry_stub", "None"]

"""The model cache: one load per (model, device), concurrent first requests, LRU under a budget."""

from __future__ import annotations

import sys
import threading
import time
import types

import pytest

from codec_arena.runtime import ModelCache, gpu, model_size_mb, pick_device


def test_concurrent_first_requests_load_once():
    cache = ModelCache(max_mb=100)
    calls = []

    def slow_load():
        calls.append(threading.get_ident())
        time.sleep(0.2)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("m", "cpu", slow_load))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and cache.loads == 1 and cache.hits == 7
    assert all(result is results[0] for result in results)


def test_different_devices_load_separately():
    cache = ModelCache(max_mb=100)
    a = cache.get("m", "cpu", object)
    b = cache.get("m", "cuda:0", object, size_of=lambda _: 0)
    assert a is not b and cache.loads == 2


def test_lru_eviction_under_budget():
    cache = ModelCache(max_mb=250)
    size = lambda _: 100.0  # noqa: E731
    cache.get("a", "cpu", object, size_of=size)
    cache.get("b", "cpu", object, size_of=size)
    cache.get("a", "cpu", object, size_of=size)  # a is now the most recent
    cache.get("c", "cpu", object, size_of=size)  # 300 MB > 250: drop the least recent, b
    assert [key for key, _ in cache.loaded()] == ["a", "c"]
    cache.get("huge", "cpu", object, size_of=lambda _: 1000.0)  # over budget alone: kept, others dropped
    assert [key for key, _ in cache.loaded()] == ["huge"]


def test_budget_from_environment(monkeypatch):
    monkeypatch.setenv("CODEC_ARENA_MAX_MODEL_MB", "123")
    assert ModelCache().max_mb == 123


def test_model_size_counts_parameters_and_buffers():
    import torch

    layer = torch.nn.BatchNorm1d(256)  # 2 x 256 params, 3 buffers (2 x 256 float + 1 int64)
    assert model_size_mb(layer) == pytest.approx((4 * 256 * 4 + 8) / 2**20)
    assert model_size_mb(object()) == 0


def test_device_choice(monkeypatch):
    monkeypatch.setenv("CODEC_ARENA_DEVICE", "cpu")
    assert pick_device() == "cpu"
    monkeypatch.delenv("CODEC_ARENA_DEVICE")
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device() in {expected, "mps"}


def test_gpu_decorator_is_a_no_op_without_spaces(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    fn = lambda x: x + 1  # noqa: E731
    assert gpu(fn) is fn and gpu(duration=30)(fn) is fn


def test_gpu_decorator_uses_spaces_when_present(monkeypatch):
    applied = []

    def GPU(duration):  # the signature of spaces.GPU on Hugging Face ZeroGPU  # noqa: N802
        def wrap(fn):
            applied.append(duration)
            return lambda *a: ("on-gpu", fn(*a))
        return wrap

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=GPU))
    wrapped = gpu(duration=120)(lambda x: x * 2)
    assert wrapped(3) == ("on-gpu", 6) and applied == [120]


def test_codec_cache_shares_one_model(cache_env):
    from codec_arena.codecs import get_codec
    from codec_arena.runtime import cache

    cache.clear()
    before = cache.loads
    first = get_codec("dac_16khz", "cpu")
    assert get_codec("dac_16khz", "cpu") is first
    assert cache.loads == before + 1

"""One load per (model, device): a thread-safe, memory-bounded LRU cache, device choice, ZeroGPU.

Models are big and slow to load, and the app serves many requests at once, so:
- two simultaneous first requests for a model load it once (a lock per key);
- loaded models are kept until their total size passes `CODEC_ARENA_MAX_MODEL_MB`, then the least
  recently used are dropped (the one just requested always stays);
- the device is cuda > mps > cpu unless `CODEC_ARENA_DEVICE` says otherwise.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
DEFAULT_MAX_MODEL_MB = 4096.0


def pick_device() -> str:
    """`CODEC_ARENA_DEVICE` if set, else the best available of cuda, mps, cpu."""
    forced = os.environ.get("CODEC_ARENA_DEVICE", "").strip()
    if forced:
        return forced
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def model_size_mb(model: Any) -> float:
    """Parameter and buffer bytes of a torch module, or what a model states as its `size_mb` (an ONNX
    Runtime session: its graph file); 0 for anything else, e.g. a classical codec."""
    if isinstance(getattr(model, "size_mb", None), float):
        return model.size_mb
    sizes = 0
    for getter in ("parameters", "buffers"):
        for tensor in getattr(model, getter, lambda: [])():
            sizes += tensor.numel() * tensor.element_size()
    return sizes / 2**20


@dataclass
class _Entry:
    value: Any
    size_mb: float


class ModelCache:
    """LRU of loaded models keyed by (model id, device), bounded by total megabytes."""

    def __init__(self, max_mb: float | None = None) -> None:
        if max_mb is None:
            max_mb = float(os.environ.get("CODEC_ARENA_MAX_MODEL_MB", DEFAULT_MAX_MODEL_MB))
        self.max_mb = max_mb
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self.loads = 0  # how many times a loader actually ran (benchmarks and tests read it)
        self.hits = 0

    def get(self, model_id: str, device: str, load: Callable[[], T], size_of=model_size_mb) -> T:
        key = (model_id, device)
        with self._lock:
            if (hit := self._hit(key)) is not None:
                return hit.value
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # another thread may have finished loading while we waited
                if (hit := self._hit(key)) is not None:
                    return hit.value
            value = load()
            with self._lock:
                self.loads += 1
                self._entries[key] = _Entry(value, size_of(value))
                self._evict(keep=key)
            return value

    def _hit(self, key: tuple[str, str]) -> _Entry | None:
        """The cached entry, marked most recently used (call with the lock held)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return entry

    def _evict(self, keep: tuple[str, str]) -> None:
        evicted = False
        while self.total_mb > self.max_mb and len(self._entries) > 1:
            del self._entries[next(k for k in self._entries if k != keep)]
            evicted = True
        if evicted and keep[1].startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    @property
    def total_mb(self) -> float:
        return sum(entry.size_mb for entry in self._entries.values())

    def loaded(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._key_locks.clear()


cache = ModelCache()


def gpu(fn: Callable[..., T] | None = None, *, duration: int = 60) -> Any:
    """Run `fn` on a ZeroGPU slice when the `spaces` package is there (a Hugging Face Space);
    elsewhere return `fn` unchanged."""
    if fn is None:
        return functools.partial(gpu, duration=duration)
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    return spaces.GPU(duration=duration)(fn)


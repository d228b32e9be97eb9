"""One registry of model families, shared by the codecs (`codecs.registry`) and the codec LMs
(`lms.registry`).

A registry is a package plus the names of its family modules. Each family module exposes `INFOS`
(static facts with an `id`, importable without torch), `load(info, device)`, and, for models with
weights, `weight_spec(id)` and `write_random_weights(id, small)`. The modules are imported on first
use; loaded models come from the shared cache (`runtime.cache`): one load per (id, device).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, Generic, Protocol, TypeVar

from .errors import RequestError
from .runtime import cache as model_cache
from .runtime import model_size_mb, pick_device
from .weights import WeightSpec


class _Info(Protocol):
    @property
    def id(self) -> str: ...


InfoT = TypeVar("InfoT", bound=_Info)


def _any_device(info: Any) -> str:
    return pick_device()


def _model_size(loaded: Any) -> float:
    """Megabytes of a loaded model's `model` (the torch module it wraps; 0 without one)."""
    return model_size_mb(getattr(loaded, "model", None))


class Registry(Generic[InfoT]):
    """The families of one package: `infos()`, lookups by id (an unknown id is a `RequestError` that
    lists the known ones), weights, and the loaded model from the shared cache."""

    def __init__(self, package: str, families: tuple[str, ...], noun: str, cache_prefix: str = "",
                 device_for: Callable[[InfoT], str] = _any_device) -> None:
        self.package = package
        self.families = families
        self.noun = noun  # in messages: "Unknown codec 'x'. Known codecs: ..."
        self.cache_prefix = cache_prefix  # keeps ids of different registries apart in the shared cache
        self.device_for = device_for  # the device when the caller names none
        self._index: dict[str, tuple[InfoT, ModuleType]] | None = None
        self._lock = threading.Lock()

    def modules(self) -> dict[str, ModuleType]:
        return {name: importlib.import_module(f"{self.package}.{name}") for name in self.families}

    def index(self) -> dict[str, tuple[InfoT, ModuleType]]:
        """id -> (info, family module), in `families` order; built once."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = {info.id: (info, module) for module in self.modules().values()
                                   for info in module.INFOS}
        return self._index

    def lookup(self, model_id: str) -> tuple[InfoT, ModuleType]:
        try:
            return self.index()[model_id]
        except KeyError:
            known = ", ".join(self.index())
            raise RequestError(f"Unknown {self.noun} '{model_id}'. Known {self.noun}s: {known}.") from None

    def infos(self) -> list[InfoT]:
        return [info for info, _ in self.index().values()]

    def info(self, model_id: str) -> InfoT:
        return self.lookup(model_id)[0]

    def module(self, model_id: str) -> ModuleType:
        return self.lookup(model_id)[1]

    def weight_spec(self, model_id: str) -> WeightSpec | None:
        """How to find and fetch the weights; None for models without any (classical codecs)."""
        module = self.module(model_id)
        return module.weight_spec(model_id) if hasattr(module, "weight_spec") else None

    def weights_identity(self, model_id: str) -> str:
        """Which weights file a result came from (path, size, modification time; empty without weights),
        so a cached result is not reused once other weights (the real ones, say) arrive. Stat calls only."""
        spec = self.weight_spec(model_id)
        if spec is None or not spec.path.exists():
            return ""
        stat = spec.path.stat()
        return f"{spec.path}:{stat.st_size}:{stat.st_mtime_ns}"

    def load(self, model_id: str, device: str | None = None,
             size_of: Callable[[Any], float] = _model_size) -> Any:
        """The loaded model, from the shared cache: one load per (model, device)."""
        info, module = self.lookup(model_id)
        device = device or self.device_for(info)
        return model_cache.get(f"{self.cache_prefix}{model_id}", device, lambda: module.load(info, device),
                               size_of=size_of)

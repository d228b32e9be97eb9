"""A faster CPU path for convolutional codec networks: the same torch module, converted once per
machine to OpenVINO and run by its CPU plugin (oneDNN kernels, fused activations, no Python per layer).

Why OpenVINO: measured here on DAC-44k (10 s, 2 threads) it matches ONNX Runtime's speed, and it
converts straight from the torch module, while exporting for ONNX Runtime needs the `onnx` package,
whose protobuf does not resolve beside descript-audiotools' pin. Outputs differ from torch by float
rounding only (about 1e-7 on DAC's audio; codes equal); `tests/test_accel.py` checks every accelerated
codec against its torch path.

The converted network is cached next to the weights (`<weights dir>/codec-arena-openvino/`), keyed by
the weights' fingerprint and the torch and OpenVINO versions, so the conversion (seconds) happens once
per machine. When OpenVINO is missing, the device is not the CPU, `CODEC_ARENA_ACCEL=off`, or the
conversion fails, callers get None and run torch: the same computation, slower.

OpenVINO's converter reports usage to Google Analytics unless the user has opted out; we import it
with its telemetry module blocked, so it falls back to its own no-op stub (`tests/test_accel.py`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ENV = "CODEC_ARENA_ACCEL"  # "off" turns the fast path off (the torch path gives the same numbers)
FORMAT = 1  # bump when what we convert changes, so old cached conversions are not reused
log = logging.getLogger(__name__)
_CONVERT_LOCK = threading.Lock()

Runner = Callable[[np.ndarray], np.ndarray]


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() not in {"off", "0", "false", "torch"}


def backend_version() -> str | None:
    """OpenVINO's version, or None when it is not installed (the torch path runs)."""
    try:
        return _openvino().__version__
    except ImportError:
        return None


def _openvino():
    """`import openvino` with its telemetry module blocked: `import openvino` loads the converter, whose
    usage reports then go to its built-in no-op stub (the only place in the app that imports it)."""
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)
    import openvino

    return openvino


def cache_dir(weights_path: Path) -> Path:
    return Path(weights_path).parent / "codec-arena-openvino"


def converted(module, name: str, example, dims: Sequence[int | None], weights_path: Path | None,
              device: str) -> Runner | None:
    """`module` as an OpenVINO CPU network taking numpy arrays shaped like `example` (`dims`: None for a
    dynamic axis), or None when the fast path does not apply. The first call on a machine converts and
    saves the network; later calls read it back (about a second)."""
    version = backend_version()
    if not enabled() or version is None or device != "cpu" or weights_path is None or not Path(weights_path).is_file():
        return None
    path = _cached_path(name, weights_path, version)
    try:
        with _CONVERT_LOCK:
            if not path.exists():
                _convert(module, example, dims, path)
        return _compile(path)
    except Exception as exc:  # a conversion the library cannot do: the torch path still works
        log.warning("The fast CPU path for %s is unavailable (%s); using torch.", name, exc)
        return None


def _cached_path(name: str, weights_path: Path, version: str) -> Path:
    import torch

    from ..weights import fingerprint

    key = hashlib.sha256(f"{FORMAT}|{fingerprint(Path(weights_path))}|{torch.__version__}|{version}".encode())
    return cache_dir(weights_path) / f"{Path(weights_path).stem}-{name}-{key.hexdigest()[:12]}.xml"


def _convert(module, example, dims: Sequence[int | None], path: Path) -> None:
    import torch

    ov = _openvino()

    shape = ov.PartialShape([-1 if d is None else d for d in dims])
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python branches fixed at trace time
        example = example.clone()  # a normal tensor, even when the caller runs in inference mode
        network = ov.convert_model(module, example_input=example, input=[(shape, ov.Type.f32)])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.xml")
    ov.save_model(network, str(partial), compress_to_fp16=False)
    partial.with_suffix(".bin").replace(path.with_suffix(".bin"))  # the weights first, then the graph
    partial.replace(path)


def _compile(path: Path) -> Runner:
    import torch

    core = _openvino().Core()
    compiled = core.compile_model(str(path), "CPU", {
        "INFERENCE_NUM_THREADS": max(1, torch.get_num_threads()),
        "INFERENCE_PRECISION_HINT": "f32",  # never bf16: outputs must match the torch path
        "PERFORMANCE_HINT": "LATENCY",
    })

    def run(x: np.ndarray) -> np.ndarray:
        request = compiled.create_infer_request()  # one per call: callers may be on several threads
        request.infer([np.ascontiguousarray(x)])
        return np.array(request.get_output_tensor(0).data, copy=True)

    return run


class FastParts:
    """A codec's networks on the fast path, converted on first use and kept with the codec object:
    `get(name, ...)` gives a runner, or None for torch (also when turned off after loading)."""

    def __init__(self, weights_path: Path | None, device: str) -> None:
        self.weights_path, self.device = weights_path, device
        self._runners: dict[str, Runner | None] = {}

    def get(self, name: str, module: Callable[[], Any], example: Callable[[], Any],
            dims: Sequence[int | None]) -> Runner | None:
        """`module()` and `example()` are only called when a conversion is needed."""
        if not enabled():
            return None
        if name not in self._runners:
            self._runners[name] = converted(module(), name, example(), dims, self.weights_path, self.device)
        return self._runners[name]

    def active(self) -> list[str]:
        """The networks running on the fast path (shown in tests and benchmarks)."""
        return sorted(name for name, runner in self._runners.items() if runner is not None)

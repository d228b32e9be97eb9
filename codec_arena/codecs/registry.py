"""The codec registry: which modules provide which codecs.

Adding a codec family is one module here plus one entry in `FAMILIES`. A family module exposes
`INFOS` (static facts, importable without torch), `load(info, device)`, and, for models with
weights, `weight_spec(codec_id)` and `write_random_weights(codec_id, small)`: the test helper that
saves the real architecture with random weights exactly where and how the real loader reads it.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from ..errors import RequestError
from ..models import cache as model_cache
from ..models import model_size_mb, pick_device
from ..weights import WeightSpec
from .base import Codec, CodecInfo

FAMILIES = (
    # the six open-source codecs the survey analyses
    "encodec",
    "encodec_hf",
    "dac",
    "speechtokenizer",
    "hifi_codec",
    "audiodec",
    "funcodec",
    # the codecs people compare them with today
    "mimi",
    "xcodec",
    "xcodec2",
    "wavtokenizer",
    "neucodec",
    "higgs_audio_tokenizer",
    "snac",
    "bigcodec",
    # classical references
    "classical",
)


@cache
def _modules() -> dict[str, ModuleType]:
    return {name: importlib.import_module(f"{__package__}.{name}") for name in FAMILIES}


@cache
def _index() -> dict[str, tuple[CodecInfo, ModuleType]]:
    return {info.id: (info, module) for module in _modules().values() for info in module.INFOS}


def list_codecs() -> list[CodecInfo]:
    return [info for info, _ in _index().values()]


def codec_info(codec_id: str) -> CodecInfo:
    return _lookup(codec_id)[0]


def weight_spec(codec_id: str) -> WeightSpec | None:
    """How to find and fetch the weights; None for codecs without any (classical)."""
    module = _lookup(codec_id)[1]
    return module.weight_spec(codec_id) if hasattr(module, "weight_spec") else None


def weights_identity(codec_id: str) -> str:
    """Which weights file a result came from (path, size, modification time; empty for classical codecs),
    so a cached result is not reused once other weights (the real ones, say) arrive. Stat calls only."""
    spec = weight_spec(codec_id)
    if spec is None or not spec.path.exists():
        return ""
    stat = spec.path.stat()
    return f"{spec.path}:{stat.st_size}:{stat.st_mtime_ns}"


def family_module(codec_id: str) -> ModuleType:
    return _lookup(codec_id)[1]


def get_codec(codec_id: str, device: str | None = None) -> Codec:
    """The loaded codec, from the shared cache: one load per (codec, device)."""
    info, module = _lookup(codec_id)
    device = device or (pick_device() if info.neural else "cpu")
    return model_cache.get(codec_id, device, lambda: module.load(info, device),
                           size_of=lambda codec: model_size_mb(getattr(codec, "model", None)))


def _lookup(codec_id: str) -> tuple[CodecInfo, ModuleType]:
    try:
        return _index()[codec_id]
    except KeyError:
        known = ", ".join(_index())
        raise RequestError(f"Unknown codec '{codec_id}'. Known codecs: {known}.") from None

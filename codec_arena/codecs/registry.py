"""The codec registry: which modules provide which codecs.

Adding a codec family is one module here plus one entry in `FAMILIES`. A family module exposes
`INFOS` (static facts, importable without torch), `load(info, device)`, and, for models with
weights, `weight_spec(codec_id)` and `write_random_weights(codec_id, small)`: the test helper that
saves the real architecture with random weights exactly where and how the real loader reads it.
The lookups and the cached loading are the generic `codec_arena.registry.Registry`.
"""

from __future__ import annotations

from types import ModuleType

from ..registry import Registry
from ..runtime import pick_device
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
    "auv",
    "dualcodec",
    "bicodec",
    "llm_codec",
    "sqcodec",
    "unicodec",
    # tokenizers without a decoder
    "s3tokenizer",
    # continuous tokenizers (float latents, no codebooks)
    "vibevoice_tokenizer",
    "pocket_tts_tokenizer",
    # classical references
    "classical",
)

REGISTRY: Registry[CodecInfo] = Registry(
    __package__, FAMILIES, "codec",
    device_for=lambda info: pick_device() if info.neural else "cpu")  # classical codecs run on the CPU


def list_codecs() -> list[CodecInfo]:
    return REGISTRY.infos()


def codec_info(codec_id: str) -> CodecInfo:
    return REGISTRY.info(codec_id)


def weight_spec(codec_id: str) -> WeightSpec | None:
    """How to find and fetch the weights; None for codecs without any (classical)."""
    return REGISTRY.weight_spec(codec_id)


def weights_identity(codec_id: str) -> str:
    """Which weights file a result came from (path, size, modification time; empty for classical codecs),
    so a cached result is not reused once other weights (the real ones, say) arrive. Stat calls only."""
    return REGISTRY.weights_identity(codec_id)


def family_module(codec_id: str) -> ModuleType:
    return REGISTRY.module(codec_id)


def get_codec(codec_id: str, device: str | None = None) -> Codec:
    """The loaded codec, from the shared cache: one load per (codec, device)."""
    return REGISTRY.load(codec_id, device)

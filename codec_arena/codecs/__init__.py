"""Codec adapters (one module per family) behind one interface. See `registry.FAMILIES`.

This package is `codec_arena.codecs`, not a top-level `codecs`: Python's standard library owns
that name and loads it before any user code, so a top-level `codecs` package can never be imported.
"""

from .base import Codec, CodecInfo, Codes, Encoded, Latents, OperatingPoint, Payload
from .registry import codec_info, get_codec, list_codecs, weight_spec, weights_identity

__all__ = ["Codec", "CodecInfo", "Codes", "Encoded", "Latents", "OperatingPoint", "Payload", "codec_info", "get_codec",
           "list_codecs", "weight_spec", "weights_identity"]

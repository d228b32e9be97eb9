"""Codec Arena: compare neural audio codecs and the language models that speak their tokens."""

import os
import warnings

__version__ = "0.1.0"

# CODEC_ARENA_OFFLINE=1 promises no network at all; the hub libraries read their own switch once, at
# import, so set it before anything imports them.
if os.environ.get("CODEC_ARENA_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def quiet_library_warnings() -> None:
    """Deprecation chatter from torch and the codec packages (weight_norm, TypedStorage) is not
    for our users; the CLI and the app call this at start."""
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)
    # transformers logs its deprecations itself (read at its import, which comes later and lazily)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

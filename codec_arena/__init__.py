"""Codec Arena: compare neural audio codecs and the language models that speak their tokens."""

import warnings

__version__ = "0.1.0"


def quiet_library_warnings() -> None:
    """Deprecation chatter from torch and the codec packages (weight_norm, TypedStorage) is not
    for our users; the CLI and the app call this at start."""
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)

"""Long clips through codecs that see the whole input at once (SpeechTokenizer, SNAC, BigCodec).

Their encoders and decoders are convolutions with LSTMs or local attention and no streaming state,
and activations grow with the input, so a 5-minute clip in one pass would need gigabytes. We cut
the token timeline into equal windows of at most `max_frames` and run each window with `context`
extra frames on both sides, which are computed and dropped: every kept frame sees at least
`context` frames of real signal around it, as in one pass (only LSTM memory older than the
context is lost), so seams carry no padding edge effects; no token is emitted twice, so the
bitrate stays the nominal one. Decoding runs the same windows over the tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    start: int  # first token frame kept
    stop: int  # one past the last frame kept
    lo: int  # first frame the model sees (left context)
    hi: int  # one past the last frame it sees (right context)


def plan(frames: int, max_frames: int, context: int, unit: int = 1) -> list[Window]:
    """Equal windows (multiples of `unit` frames, e.g. SNAC's attention block) covering `frames`;
    one window without context when the clip fits."""
    if frames <= max_frames:
        return [Window(0, frames, 0, frames)]
    count = math.ceil(frames / max_frames)
    size = math.ceil(frames / count / unit) * unit
    return [Window(s, min(s + size, frames), max(0, s - context), min(frames, s + size + context))
            for s in range(0, frames, size)]


def encode(encode_chunk: Callable[[np.ndarray], np.ndarray], samples: np.ndarray, hop: int,
           windows: list[Window]) -> np.ndarray:
    """Tokens (codebooks, frames): `encode_chunk` maps samples (channels, n) to tokens of
    ceil(n / hop) frames (the codec pads the last chunk as it pads a whole clip)."""
    pieces = [encode_chunk(samples[:, w.lo * hop: w.hi * hop])[:, w.start - w.lo: w.stop - w.lo] for w in windows]
    for piece, w in zip(pieces, windows, strict=True):  # a short piece would silently drop tokens
        if piece.shape[1] != w.stop - w.start:
            raise RuntimeError(f"the encoder gave {piece.shape[1]} frames for a window of {w.stop - w.start}")
    return np.concatenate(pieces, axis=1)


def decode(decode_chunk: Callable[[np.ndarray], np.ndarray], tokens: np.ndarray, hop: int,
           windows: list[Window]) -> np.ndarray:
    """Samples (channels, frames x hop): `decode_chunk` maps tokens of k frames to k x hop samples."""
    pieces = [decode_chunk(tokens[:, w.lo: w.hi])[:, (w.start - w.lo) * hop: (w.stop - w.lo) * hop]
              for w in windows]
    return np.concatenate(pieces, axis=1)

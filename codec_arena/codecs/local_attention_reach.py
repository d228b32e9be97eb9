"""How far a convolutional codec with windowed local attention sees, for the streaming engine's context.

SNAC and LLM-Codec (UniAudio 1.5) interleave convolutions with `LocalMHA` blocks that attend within
fixed windows. An output's reach is the convolutions' reach up to the last attention, rounded out to the
whole windows it falls in, plus the reach in front of the first attention.
"""

from __future__ import annotations

import math


def reach(module, step: float, attention: type) -> list[float]:
    """How far (one side, in latent frames) outputs of `module` see into their input, split at each
    `attention` block: [before the first attention, ..., after the last]. `step` is one input step in
    frames (1 / hop for an encoder, 1 for a decoder); convolutions add their kernel's one-sided extent
    times the step, strides scale it."""
    from torch import nn

    parts, total = [], 0.0
    for m in module.modules():
        if isinstance(m, attention):
            parts, total = [*parts, total], 0.0
        elif isinstance(m, nn.ConvTranspose1d):
            (k,), (s,), (p,), (d,) = m.kernel_size, m.stride, m.padding, m.dilation
            total += math.ceil(max(p, (k - 1) * d - p) / s) * step
            step /= s
        elif isinstance(m, nn.Conv1d):
            (k,), (s,), (p,), (d,) = m.kernel_size, m.stride, m.padding, m.dilation
            total += max(p, (k - 1) * d - p) * step
            step *= s
    return [*parts, total]


def context_frames(parts: list[float], window: int | None) -> float:
    """Frames of real signal a unit needs beyond each edge: an output sees `parts[-1]` frames of the
    attention's output, i.e. the whole windows (aligned on unit edges) those frames fall in, and each
    window sees `parts[0]` frames past its own edges (one attention layer at most on each side)."""
    if window is None or len(parts) == 1:
        return sum(parts)
    return math.ceil(parts[-1] / window) * window + parts[0]

"""Weight norm as the official checkpoints store it, for the ports written here.

The official code of HiFi-Codec, AudioDec, LLM-Codec, UniCodec and BiCodec wraps convolutions in
`weight_norm`, so their checkpoints hold `weight_g` (the norm over every dim but 0) and `weight_v`. Our
ports build plain convolutions (no hooks, and the same numbers: `fold` calls the `torch._weight_norm`
that the hook and `remove_weight_norm` compute), marked with `marked` where the official code wraps
them, and `unfold` writes a test checkpoint back in the official layout.
"""

from __future__ import annotations

import torch
from torch import nn


def marked(conv: nn.Module) -> nn.Module:
    """A convolution the official code wraps in `weight_norm`: its checkpoint keys are weight_g/weight_v."""
    conv.weight_normed = True
    return conv


def fold(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`x.weight_g` + `x.weight_v` -> `x.weight`; every other key as it is."""
    out = {}
    for key, value in state.items():
        if key.endswith(".weight_v"):
            continue
        if key.endswith(".weight_g"):
            stem = key.removesuffix("_g")
            out[stem] = torch._weight_norm(state[stem + "_v"], value, 0)
        else:
            out[key] = value
    return out


def unfold(module: nn.Module, wrapped=lambda m: getattr(m, "weight_normed", False)) -> dict[str, torch.Tensor]:
    """`module`'s state dict with each wrapped convolution's weight split into weight_g and weight_v."""
    state = module.state_dict()
    for name, sub in module.named_modules():
        if wrapped(sub):
            weight = state.pop(f"{name}.weight")
            state[f"{name}.weight_g"] = torch.norm_except_dim(weight, 2, 0).clone()
            state[f"{name}.weight_v"] = weight.clone()
    return state

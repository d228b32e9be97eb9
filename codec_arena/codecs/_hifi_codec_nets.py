"""HiFi-Codec's networks (Yang et al., 2023), written from the official `academicodec/models/hificodec/models.py`.

Our own port, so the official checkpoint files load unchanged: module names follow the official
classes, so the state-dict keys are theirs. The official convolutions are weight-normed
(`weight_g`, `weight_v` in the checkpoint); we build plain convolutions and fold the two into one
weight when loading, with the same `torch._weight_norm` the official `remove_weight_norm()` calls
(its test script removes weight norm before inference), and split them again when saving. Every
operation, down to the order of additions in the quantizer, follows the official code, so codes and
audio match it (see `benchmarks/parity/hifi_codec.py`). Imports torch: load lazily.

For long inputs the encoder also runs with given GroupNorm statistics (`Encoder.forward(x, norms)`,
statistics over the whole input, gathered stage by stage from `Encoder.branches`), and it and the
generator say how far their convolutions reach (`reach`), which sets the streaming engine's context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import weight_norm
from .weight_norm import marked

LRELU_SLOPE = 0.1


@dataclass(frozen=True)
class Config:
    """The architecture keys of an official `config_*.json` (the rest there is training settings)."""

    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    n_code_groups: int = 2
    n_codes: int = 1024
    residual_layers: int = 2  # `Quantizer.residul_layer`, fixed in the official code
    channels: int = 32  # the encoder's first width, fixed in the official code (narrower: tests only)

    @property
    def latent(self) -> int:
        """The latent width: the encoder doubles its width at every stride (the official 512)."""
        return self.channels * 2 ** len(self.upsample_rates)

    @property
    def hop(self) -> int:
        hop = 1
        for rate in self.upsample_rates:
            hop *= rate
        return hop

    @property
    def codebooks(self) -> int:
        return self.n_code_groups * self.residual_layers


def _padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class ResBlock1(nn.Module):
    """HiFi-GAN's ResBlock1: three (dilated conv, conv) pairs with residual connections."""

    def __init__(self, channels: int, kernel_size: int, dilation: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            marked(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=_padding(kernel_size, d)))
            for d in dilation)
        self.convs2 = nn.ModuleList(
            marked(nn.Conv1d(channels, channels, kernel_size, 1, padding=_padding(kernel_size)))
            for _ in dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            x = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE)) + x
        return x

    def span(self) -> int:
        """Input steps one output step depends on, less one (its six convolutions in series)."""
        return sum((c.kernel_size[0] - 1) * c.dilation[0] for c in [*self.convs1, *self.convs2])


Norms = dict[int, tuple[torch.Tensor, torch.Tensor]]  # GroupNorm index -> (mean, var) per group


class Encoder(nn.Module):
    """The generator mirrored: strided convs downsample by the reversed upsample rates, each followed by
    resblocks whose running sum is group-normalised after every addition (as the official code does).
    Those GroupNorms take their statistics over channels and the whole input's time: `norms` gives
    them from outside (a long input's whole-input statistics, gathered window by window)."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.num_kernels = len(h.resblock_kernel_sizes)
        c = h.channels
        self.conv_pre = marked(nn.Conv1d(1, c, 7, 1, padding=3))
        self.normalize = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        pairs = list(reversed(list(zip(h.upsample_rates, h.upsample_kernel_sizes, strict=True))))
        for i, (u, k) in enumerate(pairs):
            self.ups.append(marked(nn.Conv1d(c * 2**i, c * 2 ** (i + 1), k, u, padding=(k - u) // 2)))
        for i in range(len(self.ups)):
            ch = c * 2 ** (i + 1)
            for k, d in zip(reversed(h.resblock_kernel_sizes), reversed(h.resblock_dilation_sizes), strict=True):
                self.resblocks.append(ResBlock1(ch, k, d))
                self.normalize.append(nn.GroupNorm(ch // 16, ch, eps=1e-6, affine=True))
        self.conv_post = nn.Conv1d(h.latent, h.latent, 3, 1, padding=1)  # the one conv without weight norm

    def forward(self, x: torch.Tensor, norms: Norms | None = None) -> torch.Tensor:
        """(batch, 1, samples) -> latent (batch, 512, frames). Without `norms` every GroupNorm takes its
        statistics over x itself (the official one pass); with them, those of norms[j] (all 12)."""
        x = self.conv_pre(x)
        for i in range(len(self.ups)):
            x = self.stage(x, i, norms)
        return self.conv_post(F.leaky_relu(x))  # default slope 0.01 here, as in the official code

    def blocks(self, stage: int) -> range:
        """The indices of a stage's resblocks (and of the GroupNorms after them)."""
        return range(stage * self.num_kernels, (stage + 1) * self.num_kernels)

    def stage(self, x: torch.Tensor, i: int, norms: Norms | None = None) -> torch.Tensor:
        x = self.ups[i](F.leaky_relu(x, LRELU_SLOPE))
        xs = None
        for j in self.blocks(i):
            xs = self.resblocks[j](x) if xs is None else xs + self.resblocks[j](x)
            xs = self.normalize[j](xs) if norms is None else group_norm(self.normalize[j], xs, *norms[j])
        return xs / self.num_kernels

    def branches(self, x: torch.Tensor, stage: int, norms: Norms) -> torch.Tensor:
        """The resblock outputs of `stage` before its GroupNorms, (blocks, batch, channels, steps), the
        earlier stages run with `norms`. Each GroupNorm of the stage normalises a per-channel affine
        mix of these, so their per-channel sums and products give its statistics."""
        x = self.conv_pre(x)
        for i in range(stage):
            x = self.stage(x, i, norms)
        x = self.ups[stage](F.leaky_relu(x, LRELU_SLOPE))
        return torch.stack([self.resblocks[j](x) for j in self.blocks(stage)])

    def reach(self) -> float:
        """Input samples one latent frame's receptive field reaches on each side of it: half the span
        of the convolutions in series (a stage's parallel resblocks count once, the widest)."""
        span, step = self.conv_pre.kernel_size[0] - 1, 1
        for i, up in enumerate(self.ups):
            span += (up.kernel_size[0] - 1) * step
            step *= up.stride[0]
            span += max(self.resblocks[j].span() for j in self.blocks(i)) * step
        return (span + (self.conv_post.kernel_size[0] - 1) * step) / 2


def group_norm(norm: nn.GroupNorm, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """`norm` applied with given per-group statistics (the biased variance, as GroupNorm's own)."""
    b, c, t = x.shape
    groups = norm.num_groups
    y = (x.reshape(b, groups, c // groups, t) - mean[:, None, None]) * torch.rsqrt(var + norm.eps)[:, None, None]
    return y.reshape(b, c, t) * norm.weight[:, None] + norm.bias[:, None]


class Generator(nn.Module):
    """HiFi-GAN V1's generator, fed the 512-channel quantized latent instead of a mel spectrogram."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.num_kernels = len(h.resblock_kernel_sizes)
        ch0 = h.upsample_initial_channel
        self.conv_pre = marked(nn.Conv1d(h.latent, ch0, 7, 1, padding=3))
        self.ups = nn.ModuleList(
            marked(nn.ConvTranspose1d(ch0 // 2**i, ch0 // 2 ** (i + 1), k, u, padding=(k - u) // 2))
            for i, (u, k) in enumerate(zip(h.upsample_rates, h.upsample_kernel_sizes, strict=True)))
        self.resblocks = nn.ModuleList(
            ResBlock1(ch0 // 2 ** (i + 1), k, d)
            for i in range(len(self.ups))
            for k, d in zip(h.resblock_kernel_sizes, h.resblock_dilation_sizes, strict=True))
        self.conv_post = marked(nn.Conv1d(ch0 // 2 ** len(self.ups), 1, 7, 1, padding=3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            xs = None
            for j in range(i * self.num_kernels, (i + 1) * self.num_kernels):
                xs = self.resblocks[j](x) if xs is None else xs + self.resblocks[j](x)
            x = xs / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x, LRELU_SLOPE)))

    def reach(self) -> float:
        """Frames of codes one output sample's receptive field reaches on each side: half the span of
        the convolutions in series (a transposed one reaches ceil(kernel / stride) input steps)."""
        span, step = float(self.conv_pre.kernel_size[0] - 1), 1.0
        for i, up in enumerate(self.ups):
            span += math.ceil(up.kernel_size[0] / up.stride[0]) * step
            step /= up.stride[0]
            span += max(block.span() for block in self.resblocks[i * self.num_kernels: (i + 1) * self.num_kernels]) \
                * step
        return (span + (self.conv_post.kernel_size[0] - 1) * step) / 2


class QuantizerModule(nn.Module):
    """One codebook (the official `Quantizer_module`)."""

    def __init__(self, n_e: int, e_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_e, e_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weight = self.embedding.weight
        d = torch.sum(x**2, 1, keepdim=True) + torch.sum(weight**2, 1) - 2 * torch.matmul(x, weight.T)
        indices = torch.argmin(d, 1)
        return self.embedding(indices), indices


class Quantizer(nn.Module):
    """Group-residual VQ: the 512-d latent is split into `n_code_groups` groups, each quantized by its own
    codebook; the residual goes through a second set of codebooks. Codes come out in the official
    order: layer 1 group 1, layer 1 group 2, ..., layer 2 group 1, ..."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        assert h.residual_layers == 2, "the official Quantizer has exactly two residual layers"
        self.n_code_groups = h.n_code_groups
        self.latent = h.latent
        dim = h.latent // h.n_code_groups
        self.quantizer_modules = nn.ModuleList(QuantizerModule(h.n_codes, dim) for _ in range(h.n_code_groups))
        self.quantizer_modules2 = nn.ModuleList(QuantizerModule(h.n_codes, dim) for _ in range(h.n_code_groups))

    def layers(self) -> tuple[nn.ModuleList, nn.ModuleList]:
        return self.quantizer_modules, self.quantizer_modules2

    def encode(self, latent: torch.Tensor) -> torch.Tensor:
        """(batch, 512, frames) -> codes (batch, codebooks, frames)."""
        batch = latent.shape[0]
        residual, codes = latent, []
        for modules in self.layers():
            x = residual.transpose(1, 2)
            parts = torch.split(x.reshape(-1, self.latent), self.latent // self.n_code_groups, dim=-1)
            z_q = []
            for part, module in zip(parts, modules, strict=True):
                q, indices = module(part)
                z_q.append(q)
                codes.append(indices.reshape(batch, -1))
            z_q = torch.cat(z_q, -1).reshape(x.shape)
            quantized = (x + (z_q - x)).transpose(1, 2)  # the straight-through sum, rounding included
            residual = residual - quantized
        return torch.stack(codes, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (batch, k, frames) -> latent (batch, 512, frames); codebooks past k count as zero
        (the first k of a progressive decode)."""
        batch, count, frames = codes.shape
        total = None
        for layer, modules in enumerate(self.layers()):
            first = layer * self.n_code_groups
            if first >= count:
                break
            weight = modules[0].embedding.weight
            parts = [module.embedding(codes[:, first + g]) if first + g < count
                     else weight.new_zeros((batch, frames, weight.shape[1])) for g, module in enumerate(modules)]
            emb = torch.cat(parts, -1)
            total = emb if total is None else total + emb
        return total.transpose(1, 2)


class HiFiCodec(nn.Module):
    """Encoder, quantizer and generator: the three state dicts of an official checkpoint."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.config = h
        self.encoder = Encoder(h)
        self.quantizer = Quantizer(h)
        self.generator = Generator(h)

    def encode(self, wav: torch.Tensor, norms: Norms | None = None) -> torch.Tensor:
        """(batch, samples), samples a multiple of the hop -> codes (batch, codebooks, samples / hop)."""
        return self.quantizer.encode(self.encoder(wav[:, None], norms))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (batch, k, frames) -> (batch, frames * hop)."""
        return self.generator(self.quantizer.decode(codes))[:, 0]


PARTS = ("encoder", "quantizer", "generator")


def load_official(h: Config, checkpoint: dict) -> HiFiCodec:
    """Our model from an official checkpoint dict; weight norm folded, strict key checking."""
    with torch.device("meta"):
        model = HiFiCodec(h)
    for part in PARTS:
        state = weight_norm.fold(checkpoint[part])  # what remove_weight_norm computes
        getattr(model, part).load_state_dict(state, strict=True, assign=True)
    return model.eval()


def official_state(model: HiFiCodec) -> dict[str, dict[str, torch.Tensor]]:
    """The official checkpoint dict: per part, weight-normed convs as weight_g (norm over all but dim 0,
    as `weight_norm(dim=0)` keeps it) and weight_v."""
    return {part: weight_norm.unfold(getattr(model, part)) for part in PARTS}

"""LLM-Codec's networks (UniAudio 1.5, Yang et al., 2024), written from the official `codec/MSCodec.py`,
`codec/layers.py`, `codec/attention.py` and `codec/vq.py` of yangdongchao/LLM-Codec.

Our own port, so the official checkpoint loads unchanged and strictly: module names follow the official
classes (`MSCodecLM.encoder.block`, `.quantizer.quantizers`, `.decoder.model`), so the state-dict keys
are theirs. The official convolutions are weight-normed (`weight_g`, `weight_v` in the checkpoint); we
build plain convolutions and fold the pair into one weight when loading, with the `torch._weight_norm`
the official forward pre-hook computes on every call, and split them again when saving.

The quantizer's codebooks are frozen LLaMA-2 token embeddings (32000 x 4096 for levels 2 and 3, a
3248-word subset for level 1), stored in the checkpoint itself as `codebook.weight`: inference needs no
LLaMA file. Each level compares the L2-normalised latent with the L2-normalised `cb_proj(codebook)`
(4096 -> 512) and emits the nearest entry. The official code projects the whole codebook on every call
(32000 x 4096 x 512 multiply-adds, over a second on a CPU); we project once at load and keep only the
projection (32000 x 512), which gives the same numbers and drops about 1 GB of raw embeddings from memory.

Every operation, down to the order of additions in the quantizer, follows the official inference path
(`MSCodecLM.encode`, `MSCodecLM.decode`), so codes and audio match it (`benchmarks/parity/llm_codec.py`).
The decoder's `NoiseBlock`s add fresh Gaussian noise from torch's global generator on every call, as the
official ones do. Imports torch: load lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import weight_norm
from .weight_norm import marked


@dataclass(frozen=True)
class Config:
    """`MSCodecLM`'s constructor arguments (config.yaml `generator.config`), with the codebook shapes the
    official constructor reads from its embedding files (`embed_llama2.pt`, `layer1.pth`)."""

    sample_rate: int = 16_000
    encoder_dim: int = 32
    encoder_rates: tuple[int, ...] = (3, 4, 5, 8)
    latent_dim: int = 512
    decoder_dim: int = 1536
    decoder_rates: tuple[int, ...] = (8, 5, 4, 3)
    vq_strides: tuple[int, ...] = (4, 2, 1)
    attn_window_size: int = 8
    noise: bool = True
    depthwise: bool = True
    codebook_sizes: tuple[int, ...] = (3248, 32_000, 32_000)  # layer1.npy's words; LLaMA-2's vocabulary
    codebook_dim: int = 4096  # LLaMA-2 7B's embedding width

    @property
    def hop(self) -> int:
        """Samples per latent frame."""
        return math.prod(self.encoder_rates)

    @property
    def unit_frames(self) -> int:
        """Frames `MSCodecLM.preprocess` pads the input to a multiple of: lcm(coarsest stride, window)."""
        return math.lcm(self.vq_strides[0], self.attn_window_size or 1)


# --- layers (codec/layers.py, codec/attention.py) ----------------------------------------------------

def _conv(*args, **kwargs) -> nn.Conv1d:
    return marked(nn.Conv1d(*args, **kwargs))


class Snake1d(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(shape[0], shape[1], -1)
        x = x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)
        return x.reshape(shape)


class ResidualUnit(nn.Module):
    def __init__(self, dim: int, dilation: int = 1, kernel: int = 7, groups: int = 1) -> None:
        super().__init__()
        pad = ((kernel - 1) * dilation) // 2
        self.block = nn.Sequential(
            Snake1d(dim), _conv(dim, dim, kernel, dilation=dilation, padding=pad, groups=groups),
            Snake1d(dim), _conv(dim, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        pad = (x.shape[-1] - y.shape[-1]) // 2
        if pad > 0:
            x = x[..., pad:-pad]
        return x + y


class EncoderBlock(nn.Module):
    def __init__(self, output_dim: int, stride: int, groups: int = 1) -> None:
        super().__init__()
        input_dim = output_dim // 2
        self.block = nn.Sequential(
            *(ResidualUnit(input_dim, dilation=d, groups=groups) for d in (1, 3, 9)),
            Snake1d(input_dim),
            _conv(input_dim, output_dim, 2 * stride, stride=stride, padding=math.ceil(stride / 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class NoiseBlock(nn.Module):
    """Adds `randn(B, 1, T) * linear(x)`: fresh noise from torch's global generator on every call."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = _conv(dim, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t = x.shape
        noise = torch.randn((b, 1, t), device=x.device, dtype=x.dtype)
        return x + noise * self.linear(x)


class DecoderBlock(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, stride: int, noise: bool, groups: int = 1) -> None:
        super().__init__()
        layers = [Snake1d(input_dim),
                  marked(nn.ConvTranspose1d(input_dim, output_dim, 2 * stride, stride=stride,
                                         padding=math.ceil(stride / 2), output_padding=stride % 2))]
        if noise:
            layers.append(NoiseBlock(output_dim))
        layers += [ResidualUnit(output_dim, dilation=d, groups=groups) for d in (1, 3, 9)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class SinusoidalEmbeddings(nn.Module):
    """Rotary frequencies over one attention window (the official `use_xpos=False`: no scaling)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)))

    def forward(self, seq_len: int) -> torch.Tensor:
        t = torch.arange(seq_len, device=self.inv_freq.device).type_as(self.inv_freq)
        freqs = torch.einsum("i , j -> i j", t, self.inv_freq)
        return torch.cat((freqs, freqs), dim=-1)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.reshape(*x.shape[:-1], 2, x.shape[-1] // 2).unbind(dim=-2)
    return torch.cat((-x2, x1), dim=-1)


class LocalMHA(nn.Module):
    """Pre-norm self-attention within non-overlapping windows of `window_size` frames, aligned on the
    input's start (the input is a whole number of windows), rotary positions inside each window."""

    def __init__(self, dim: int, window_size: int, dim_head: int = 64) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.heads = dim // dim_head
        self.window_size = window_size
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.rel_pos = SinusoidalEmbeddings(dim_head)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T] -> [B, C, T], T a multiple of the window."""
        b, c, t = x.shape
        residual = x
        x = self.norm(x.transpose(1, 2))
        windows, n = t // self.window_size, self.window_size
        q, k, v = (part.reshape(b, windows, n, self.heads, c // self.heads).permute(0, 3, 1, 2, 4)
                   for part in self.to_qkv(x).chunk(3, dim=-1))  # [B, heads, windows, n, d]
        freqs = self.rel_pos(k.shape[-2])
        q = q * freqs[-q.shape[-2]:].cos() + _rotate_half(q) * freqs[-q.shape[-2]:].sin()
        k = k * freqs.cos() + _rotate_half(k) * freqs.sin()
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        out = F.softmax(att, dim=-1) @ v
        out = self.to_out(out.permute(0, 2, 3, 1, 4).reshape(b, t, c))
        return out.transpose(1, 2) + residual


class Encoder(nn.Module):
    def __init__(self, d_model: int, strides: tuple[int, ...], depthwise: bool, attn_window_size: int | None) -> None:
        super().__init__()
        layers = [_conv(1, d_model, 7, padding=3)]
        for stride in strides:
            d_model *= 2
            layers.append(EncoderBlock(d_model, stride, groups=d_model // 2 if depthwise else 1))
        if attn_window_size is not None:
            layers.append(LocalMHA(d_model, attn_window_size))
        layers.append(_conv(d_model, d_model, 7, padding=3, groups=d_model if depthwise else 1))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 1, n] -> [B, D, n / hop]."""
        return self.block(x)


class Decoder(nn.Module):
    def __init__(self, input_channel: int, channels: int, rates: tuple[int, ...], noise: bool, depthwise: bool,
                 attn_window_size: int | None) -> None:
        super().__init__()
        if depthwise:
            layers = [_conv(input_channel, input_channel, 7, padding=3, groups=input_channel),
                      _conv(input_channel, channels, 1)]
        else:
            layers = [_conv(input_channel, channels, 7, padding=3)]
        if attn_window_size is not None:
            layers.append(LocalMHA(channels, attn_window_size))
        for i, stride in enumerate(rates):
            output_dim = channels // 2 ** (i + 1)
            layers.append(DecoderBlock(channels // 2**i, output_dim, stride, noise,
                                       groups=output_dim if depthwise else 1))
        layers += [Snake1d(output_dim), _conv(output_dim, 1, 7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, D, T] -> [B, 1, T x hop]."""
        return self.model(x)


# --- the quantizer (codec/vq.py) ------------------------------------------------------------------------

class VectorQuantizeLLM(nn.Module):
    """One level: average-pool the residual by `stride`, pick the entry of `cb_proj(codebook)` nearest in
    cosine, and repeat it back over the stride. Holds `cb_proj` and the projected codebook (`table`,
    [N, D], set by `load_official`), not the raw 4096-wide embeddings."""

    def __init__(self, input_dim: int, stride: int, codebook_size: int, codebook_dim: int) -> None:
        super().__init__()
        self.stride = stride
        self.codebook_size, self.codebook_dim = codebook_size, codebook_dim
        self.cb_proj = nn.Linear(codebook_dim, input_dim)
        self.register_buffer("table", torch.zeros(codebook_size, input_dim), persistent=False)
        self.register_buffer("unit_table", torch.zeros(codebook_size, input_dim), persistent=False)
        self.register_buffer("unit_norms", torch.zeros(1, codebook_size), persistent=False)

    @torch.no_grad()
    def set_codebook(self, codebook: torch.Tensor) -> None:
        """Project the raw codebook [N, 4096] once, as the official `cb_proj(self.codebook.weight)` does
        on every call, and keep what the nearest-neighbour search needs."""
        table = self.cb_proj(codebook.float().to(self.cb_proj.weight.device))
        unit = F.normalize(table)
        self.table, self.unit_table = table, unit
        self.unit_norms = unit.pow(2).sum(1, keepdim=True).t()

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """[B, D, T] -> indices [B, T] (the official `decode_latents`' squared-distance argmax)."""
        encodings = F.normalize(z.transpose(1, 2).reshape(-1, z.shape[1]))
        dist = encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ self.unit_table.t() + self.unit_norms
        return (-dist).max(1)[1].reshape(z.shape[0], -1)

    def decode_code(self, indices: torch.Tensor) -> torch.Tensor:
        """[B, T] -> [B, D, T], not yet repeated over the stride."""
        return F.embedding(indices, self.table).transpose(1, 2)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, D, T] -> (this level's contribution [B, D, T], indices [B, T / stride])."""
        if self.stride > 1:
            z = F.avg_pool1d(z, self.stride, self.stride)
        indices = self.nearest(z)
        z_q = z + (self.decode_code(indices) - z)  # the official straight-through line, rounding and all
        if self.stride > 1:
            z_q = z_q.repeat_interleave(self.stride, dim=-1)
        return z_q, indices


class ResidualVectorQuantizeLLM(nn.Module):
    def __init__(self, input_dim: int, vq_strides: tuple[int, ...], codebook_sizes: tuple[int, ...],
                 codebook_dim: int) -> None:
        super().__init__()
        self.quantizers = nn.ModuleList(VectorQuantizeLLM(input_dim, s, n, codebook_dim)
                                        for s, n in zip(vq_strides, codebook_sizes, strict=True))

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        """[B, D, T] -> codes, one [B, T / stride_k] per level."""
        residual, codes = z, []
        for quantizer in self.quantizers:
            z_q, indices = quantizer(residual)
            residual = residual - z_q
            codes.append(indices)
        return codes

    def from_codes(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """Codes per level (the first k levels, k <= levels) -> the summed latent [B, D, T]."""
        z_q = 0.0
        for quantizer, level in zip(self.quantizers, codes, strict=False):
            z_q = z_q + quantizer.decode_code(level).repeat_interleave(quantizer.stride, dim=-1)
        return z_q


# --- the model (codec/MSCodec.py) -----------------------------------------------------------------------

class MSCodecLM(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.encoder_dim, config.encoder_rates, config.depthwise, config.attn_window_size)
        self.quantizer = ResidualVectorQuantizeLLM(config.latent_dim, config.vq_strides, config.codebook_sizes,
                                                   config.codebook_dim)
        self.decoder = Decoder(config.latent_dim, config.decoder_dim, config.decoder_rates, config.noise,
                               config.depthwise, config.attn_window_size)

    def preprocess(self, audio: torch.Tensor) -> torch.Tensor:
        """Zero-pad [B, 1, n] on the right to whole units (hop x unit_frames samples)."""
        pad_to = self.config.hop * self.config.unit_frames
        return F.pad(audio, (0, math.ceil(audio.shape[-1] / pad_to) * pad_to - audio.shape[-1]))

    def encode(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """[B, 1, n] -> codes [B, frames / stride_k] per level, frames = the padded length / hop."""
        return self.quantizer(self.encoder(self.preprocess(audio)))

    def decode(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """Codes per level -> [B, 1, frames x hop] (the padded length)."""
        return self.decoder(self.quantizer.from_codes(codes))


# --- the official checkpoint -----------------------------------------------------------------------------

def codebook_key(level: int) -> str:
    return f"quantizer.quantizers.{level}.codebook.weight"


def config_from_state(state: dict[str, torch.Tensor], base: Config) -> Config:
    """The widths a checkpoint was built with, read from its tensors (the rates, strides and window are
    the recipe's, `base`): the first convolution's outputs, the decoder's input projection, the codebooks."""
    from dataclasses import replace

    levels = len(base.vq_strides)
    books = [state[codebook_key(k)] for k in range(levels)]
    decoder_in = "decoder.model.1.weight_v" if base.depthwise else "decoder.model.0.weight_v"
    return replace(base, encoder_dim=int(state["encoder.block.0.weight_v"].shape[0]),
                   latent_dim=int(state["quantizer.quantizers.0.cb_proj.weight"].shape[0]),
                   decoder_dim=int(state[decoder_in].shape[0]),
                   codebook_sizes=tuple(int(b.shape[0]) for b in books), codebook_dim=int(books[0].shape[1]))


def load_official(config: Config, state: dict[str, torch.Tensor]) -> MSCodecLM:
    """Our model from the official `codec_model` state dict: weight norm folded, every key used and none
    missing (strict), codebooks projected once."""
    state = dict(state)
    books = [state.pop(codebook_key(k)) for k in range(len(config.vq_strides))]
    state = weight_norm.fold(state)
    with torch.device("meta"):
        model = MSCodecLM(config)
    model.load_state_dict(state, strict=True, assign=True)
    for module in model.modules():  # buffers outside the state dict, still on meta
        for name, buffer in list(module.named_buffers(recurse=False)):
            if buffer.is_meta:
                module.register_buffer(name, torch.zeros(buffer.shape), persistent=False)
    for quantizer, book in zip(model.quantizer.quantizers, books, strict=True):
        quantizer.set_codebook(book)
    return model.eval()


def official_state(model: MSCodecLM, codebooks: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official `codec_model` state dict: weight-normed convolutions as weight_g (the norm over all but
    dim 0, as `weight_norm(dim=0)` keeps it) and weight_v, and each level's raw codebook [N, 4096]."""
    state = weight_norm.unfold(model)
    for k, book in enumerate(codebooks):
        state[codebook_key(k)] = book.float()
    return state

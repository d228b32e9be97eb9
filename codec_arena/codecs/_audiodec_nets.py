"""The networks of our AudioDec port (facebookresearch/AudioDec), written for non-streaming inference.

Module and tensor names follow the official `models/` tree, so a released `['model']['generator']`
state dict loads here with strict key checking and our random checkpoints load in the official code.
Two kinds of stored tensors are not used by this port and are only kept for that key layout:
`pad_buffer` (the official streaming state of every causal convolution, zeros in a trained model)
and the RVQ's `cluster_size` / `embed_avg` (its EMA training statistics). Weight-normalised layers
are stored as `weight_g` / `weight_v`; `weight_norm.fold` turns them into plain weights with the same
function torch's weight-norm hook calls, so the weights are bit-identical to the official ones.

Imported lazily (torch at top level): only `codec_arena.codecs.audiodec` imports it, inside functions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import weight_norm

RESIDUAL_DILATIONS = (1, 3, 9)  # the official Encoder/DecoderBlock default, not stored in config.yml
RESIDUAL_KERNEL = 7


def activation(name: str, params: dict | None = None) -> nn.Module:
    """`nn.<name>(**params)`, as the official `get_activation` does."""
    return getattr(nn, name)(**(params or {}))


class CausalConv1d(nn.Module):
    """Conv1d with all padding on the left (zeros), so output t sees inputs up to t only."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.pad = (kernel_size - 1) * dilation  # the left context, in input samples
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation, groups=groups,
                              bias=bias)
        self.register_buffer("pad_buffer", torch.zeros(1, in_channels, self.pad))  # official streaming state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (self.pad, 0)))


class CausalConvTranspose1d(nn.Module):
    """Transposed conv (kernel 2 x stride) fed the previous frame too: the first frame is replicated
    on the left, as the official non-streaming `forward` does, and one stride is cut from each end."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, bias: bool = True) -> None:
        super().__init__()
        self.stride = stride
        self.pad = math.ceil(kernel_size / stride) - 1  # the left context, in input frames
        self.deconv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride, bias=bias)
        self.register_buffer("pad_buffer", torch.zeros(1, in_channels, self.pad))  # official streaming state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv(F.pad(x, (self.pad, 0), mode="replicate"))[..., self.stride:-self.stride]


# --- the symmetric autoencoder (symAD): encoder, projector, RVQ; its decoder only to write checkpoints ---

class ResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int, act: str, act_params: dict | None) -> None:
        super().__init__()
        self.activation = activation(act, act_params)
        self.conv1 = CausalConv1d(channels, channels, RESIDUAL_KERNEL, dilation=dilation, bias=False)
        self.conv2 = nn.Conv1d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.activation(self.conv1(self.activation(x))))


class EncoderBlock(nn.Module):
    """Three dilated residual units, then a strided causal conv (kernel 2 x stride)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, bias: bool, act: str,
                 act_params: dict | None) -> None:
        super().__init__()
        self.res_units = nn.ModuleList(ResidualUnit(in_channels, d, act, act_params) for d in RESIDUAL_DILATIONS)
        self.conv = CausalConv1d(in_channels, out_channels, 2 * stride, stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for unit in self.res_units:
            x = unit(x)
        return self.conv(x)


class Encoder(nn.Module):
    def __init__(self, input_channels: int, encode_channels: int, ratios, strides, bias: bool, act: str,
                 act_params: dict | None) -> None:
        super().__init__()
        self.conv = CausalConv1d(input_channels, encode_channels, 7, bias=False)
        channels = [encode_channels] + [encode_channels * r for r in ratios]
        self.conv_blocks = nn.ModuleList(
            EncoderBlock(channels[i], channels[i + 1], s, bias, act, act_params) for i, s in enumerate(strides))
        self.out_channels = channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        for block in self.conv_blocks:
            x = block(x)
        return x


class DecoderBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int, bias: bool, act: str,
                 act_params: dict | None) -> None:
        super().__init__()
        self.conv = CausalConvTranspose1d(in_channels, out_channels, 2 * stride, stride, bias=bias)
        self.res_units = nn.ModuleList(ResidualUnit(out_channels, d, act, act_params) for d in RESIDUAL_DILATIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        for unit in self.res_units:
            x = unit(x)
        return x


class Decoder(nn.Module):
    """The symAD decoder. Our codecs decode with the paired vocoder instead; this exists so the
    random-weight autoencoder checkpoints we write are complete (the official loader is strict)."""

    def __init__(self, code_dim: int, output_channels: int, decode_channels: int, ratios, strides, bias: bool,
                 act: str, act_params: dict | None) -> None:
        super().__init__()
        channels = [decode_channels * r for r in ratios] + [decode_channels]
        self.conv1 = CausalConv1d(code_dim, channels[0], 7, bias=False)
        self.conv_blocks = nn.ModuleList(
            DecoderBlock(channels[i], channels[i + 1], s, bias, act, act_params) for i, s in enumerate(strides))
        self.conv2 = CausalConv1d(channels[-1], output_channels, 7, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.conv1(z)
        for block in self.conv_blocks:
            x = block(x)
        return self.conv2(x)


class Projector(nn.Module):
    def __init__(self, in_channels: int, code_dim: int) -> None:
        super().__init__()
        self.project = CausalConv1d(in_channels, code_dim, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(x)


class VectorQuantize(nn.Module):
    """One RVQ stage. The codebook is stored transposed, `embed` shaped (dim, size), as officially."""

    def __init__(self, dim: int, codebook_size: int) -> None:
        super().__init__()
        embed = torch.randn(dim, codebook_size)
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.zeros(codebook_size))  # EMA training statistics
        self.register_buffer("embed_avg", embed.clone())

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of x (..., dim); the official distance, term for term."""
        flat = x.reshape(-1, self.embed.shape[0])
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embed + self.embed.pow(2).sum(0, keepdim=True)
        return (-dist).max(1).indices.view(*x.shape[:-1])

    def lookup(self, index: torch.Tensor) -> torch.Tensor:
        return F.embedding(index, self.embed.t())


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, num_quantizers: int, codebook_size: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(VectorQuantize(dim, codebook_size) for _ in range(num_quantizers))


class Quantizer(nn.Module):
    def __init__(self, code_dim: int, codebook_num: int, codebook_size: int) -> None:
        super().__init__()
        self.codebook = ResidualVQ(code_dim, codebook_num, codebook_size)

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """z (batch, dim, frames) -> codes (batch, codebooks, frames)."""
        residual = z.transpose(1, 2)
        codes = []
        for layer in self.codebook.layers:
            index = layer.nearest(residual)
            quantized = layer.lookup(index)
            # The official straight-through form `x + (q - x)`, kept so each residual matches to the bit.
            residual = residual - (residual + (quantized - residual))
            codes.append(index)
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (batch, k, frames), k <= codebooks -> the sum of the first k codewords, (batch, dim, frames)."""
        total = sum(layer.lookup(codes[:, i]) for i, layer in enumerate(self.codebook.layers[: codes.shape[1]]))
        return total.transpose(1, 2)


class AutoEncoder(nn.Module):
    """The symAD generator (`models/autoencoder/AudioDec.py::Generator`); takes config.yml's
    `generator_params` unchanged. `with_decoder=False` leaves out the decoder our codecs do not use."""

    def __init__(self, input_channels: int = 1, output_channels: int = 1, encode_channels: int = 32,
                 decode_channels: int = 32, code_dim: int = 64, codebook_num: int = 8, codebook_size: int = 1024,
                 bias: bool = True, enc_ratios=(2, 4, 8, 16), dec_ratios=(16, 8, 4, 2), enc_strides=(3, 4, 5, 5),
                 dec_strides=(5, 5, 4, 3), mode: str = "causal", codec: str = "audiodec", projector: str = "conv1d",
                 quantier: str = "residual_vq", nonlinear_activation: str = "ELU",
                 nonlinear_activation_params: dict | None = None, use_weight_norm: bool = False,
                 with_decoder: bool = True) -> None:
        super().__init__()
        unsupported = {"mode": (mode, "causal"), "codec": (codec, "audiodec"), "projector": (projector, "conv1d"),
                       "quantier": (quantier, "residual_vq")}
        for key, (value, supported) in unsupported.items():
            if value != supported:
                raise NotImplementedError(f"AudioDec port: {key}={value!r} is not supported (only {supported!r})")
        act, act_params = nonlinear_activation, nonlinear_activation_params
        self.input_channels = input_channels
        self.hop_length = math.prod(enc_strides)
        self.use_weight_norm = use_weight_norm
        self.encoder = Encoder(input_channels, encode_channels, enc_ratios, enc_strides, bias, act, act_params)
        if with_decoder:
            self.decoder = Decoder(code_dim, output_channels, decode_channels, dec_ratios, dec_strides, bias, act,
                                   act_params)
        self.projector = Projector(self.encoder.out_channels, code_dim)
        self.quantizer = Quantizer(code_dim, codebook_num, codebook_size)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Waveform (batch, channels, samples) -> codes (batch, codebooks, ceil(samples / hop))."""
        return self.quantizer.encode(self.projector(self.encoder(x)))

    def left_context(self) -> int:
        """Samples of past input one frame's codes depend on (the causal receptive field)."""
        total, rate = self.encoder.conv.pad, 1
        for block in self.encoder.conv_blocks:
            total += rate * (sum(unit.conv1.pad for unit in block.res_units) + block.conv.pad)
            rate *= block.conv.conv.stride[0]
        return total + rate * self.projector.project.pad


# --- the causal HiFi-GAN vocoder (models/vocoder/HiFiGAN.py::Generator) ---

class HiFiGANResidualBlock(nn.Module):
    def __init__(self, kernel_size: int, channels: int, dilations, groups: int, bias: bool,
                 use_additional_convs: bool, act: str, act_params: dict | None) -> None:
        super().__init__()
        self.use_additional_convs = use_additional_convs
        self.activation = activation(act, act_params)
        self.convs1 = nn.ModuleList(CausalConv1d(channels, channels, kernel_size, dilation=d, groups=groups,
                                                 bias=bias) for d in dilations)
        if use_additional_convs:
            self.convs2 = nn.ModuleList(CausalConv1d(channels, channels, kernel_size, groups=groups, bias=bias)
                                        for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(self.convs1):
            xt = conv(self.activation(x))
            if self.use_additional_convs:
                xt = self.convs2[i](self.activation(xt))
            x = xt + x
        return x

    def left_span(self) -> int:
        convs = list(self.convs1) + (list(self.convs2) if self.use_additional_convs else [])
        return sum(conv.pad for conv in convs)


class MultiReceptiveField(nn.Module):
    """HiFi-GAN's MRF: the mean of residual blocks with different kernels."""

    def __init__(self, channels: int, resblock_kernel_sizes, resblock_dilations, groups: int, bias: bool,
                 use_additional_convs: bool, act: str, act_params: dict | None) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            HiFiGANResidualBlock(k, channels, d, groups, bias, use_additional_convs, act, act_params)
            for k, d in zip(resblock_kernel_sizes, resblock_dilations, strict=True))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for block in self.blocks:
            total += block(c)
        return total / len(self.blocks)

    def left_span(self) -> int:
        return max(block.left_span() for block in self.blocks)


class MultiGroupConv1d(HiFiGANResidualBlock):
    """AudioDec's replacement for the MRF: one residual block on `groups` copies of the input with
    grouped convolutions, mixed back by a 1x1 conv."""

    def __init__(self, channels: int, resblock_kernel_sizes, resblock_dilations, groups: int, bias: bool,
                 use_additional_convs: bool, act: str, act_params: dict | None) -> None:
        super().__init__(resblock_kernel_sizes[0], channels * groups, resblock_dilations[0], groups, bias,
                         use_additional_convs, act, act_params)
        self.groups = groups
        self.conv_out = nn.Conv1d(channels * groups, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(super().forward(x.repeat(1, self.groups, 1)))


class HiFiGANGenerator(nn.Module):
    """Takes config.yml's `generator_params` unchanged. With `stats` the input codes are normalised
    by `mean` / `scale`; their values come from the checkpoint (the official constructor reads the
    .npy first, then the checkpoint overwrites it), so the .npy file itself is not needed here."""

    def __init__(self, in_channels: int = 80, out_channels: int = 1, channels: int = 512, kernel_size: int = 7,
                 upsample_scales=(8, 8, 2, 2), upsample_kernel_sizes=(16, 16, 4, 4),
                 resblock_kernel_sizes=(3, 7, 11), resblock_dilations=((1, 3, 5), (1, 3, 5), (1, 3, 5)),
                 groups: int = 1, bias: bool = True, use_additional_convs: bool = True,
                 nonlinear_activation: str = "LeakyReLU", nonlinear_activation_params: dict | None = None,
                 use_weight_norm: bool = True, stats: str | None = None) -> None:
        super().__init__()
        act = nonlinear_activation
        act_params = {"negative_slope": 0.1} if nonlinear_activation_params is None else nonlinear_activation_params
        single = len(resblock_kernel_sizes) == len(resblock_dilations) == 1
        fusion = MultiGroupConv1d if single and groups > 1 else MultiReceptiveField
        self.hop_length = math.prod(upsample_scales)
        self.use_weight_norm = use_weight_norm
        self.input_conv = CausalConv1d(in_channels, channels, kernel_size)
        self.activation_upsamples = activation(act, act_params)
        self.upsamples, self.blocks = nn.ModuleList(), nn.ModuleList()
        for i, (scale, kernel) in enumerate(zip(upsample_scales, upsample_kernel_sizes, strict=True)):
            self.upsamples.append(CausalConvTranspose1d(channels // 2**i, channels // 2 ** (i + 1), kernel, scale))
            self.blocks.append(fusion(channels // 2 ** (i + 1), resblock_kernel_sizes, resblock_dilations, groups,
                                      bias, use_additional_convs, act, act_params))
        self.activation_output1 = nn.LeakyReLU()
        self.activation_output2 = nn.Tanh()
        self.output_conv = CausalConv1d(channels // 2 ** len(upsample_scales), out_channels, kernel_size)
        self.norm = stats is not None
        if self.norm:
            self.register_buffer("mean", torch.zeros(in_channels))
            self.register_buffer("scale", torch.ones(in_channels))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        """Codes' embeddings (batch, dim, frames) -> waveform (batch, channels, frames x hop)."""
        if self.norm:
            c = ((c.transpose(2, 1) - self.mean) / self.scale).transpose(2, 1)
        c = self.input_conv(c)
        for upsample, block in zip(self.upsamples, self.blocks, strict=True):
            c = block(upsample(self.activation_upsamples(c)))
        return self.activation_output2(self.output_conv(self.activation_output1(c)))

    def left_context(self) -> float:
        """Frames of past codes one output sample depends on (the causal receptive field)."""
        total, rate = float(self.input_conv.pad), 1
        for upsample, block in zip(self.upsamples, self.blocks, strict=True):
            total += upsample.pad / rate
            rate *= upsample.stride
            total += block.left_span() / rate
        return total + self.output_conv.pad / rate


# --- checkpoints: weight norm folded on load, unfolded on save ---

def checkpoint_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as the official model stores it: with `use_weight_norm`, every convolution's weight
    split into `weight_g` and `weight_v`."""
    if not model.use_weight_norm:
        return model.state_dict()
    return weight_norm.unfold(model, wrapped=lambda m: isinstance(m, nn.Conv1d | nn.ConvTranspose1d))

"""BiCodec's networks (Wang et al., 2025, Spark-TTS), written from the official `sparktts/models/bicodec.py`
and `sparktts/modules/` (SparkAudio/Spark-TTS).

Our own port, so the official `BiCodec/model.safetensors` loads unchanged: module names follow the
official classes (`encoder.encoder.convnext.0.dwconv`, `speaker_encoder.perceiver_sampler.layers.0.0.to_q`,
`decoder.model.1.block.2.block.1`, ...), so the state-dict keys are theirs. The official convolutions
in the wave generator and the semantic quantizer's projections are weight-normed (`weight_g`,
`weight_v` in the checkpoint); we build plain convolutions and fold the two into one weight when
loading, with the same `torch._weight_norm` the official `remove_weight_norm()` calls after loading.
Inference needs neither the postnet (it predicts the SSL features, a training loss) nor the
x-vector head of the speaker encoder; we keep the head's parameters (they are in the checkpoint and
load strictly) but do not run it, and leave the postnet's keys out (`TRAINING_ONLY`). Every
operation, down to `z + (round(z) - z)` in the scalar quantizer, follows the official code, so codes
and audio match it (see `benchmarks/parity/bicodec.py`). Imports torch and torchaudio: load lazily.

Shapes: semantic features [B, T, D] (wav2vec 2.0, 50 frames a second) -> semantic tokens [B, T]; the
reference clip [B, n] -> mel [B, 128, frames] -> global tokens [B, q, 32] (q = 1 FSQ stage);
tokens -> audio [B, 1, T x 320].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import weight_norm
from .weight_norm import marked

TRAINING_ONLY = ("postnet.",)  # checkpoint parts inference never runs (the SSL-feature predictor)
DERIVED = ("mel_transformer.",)  # deterministic buffers (STFT window, mel filters), rebuilt from the config


# --- the wave generator (DAC's decoder), `modules/encoder_decoder/wave_generator.py`, `blocks/layers.py` ---

def snake(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    shape = x.shape
    x = x.reshape(shape[0], shape[1], -1)
    x = x + (alpha + 1e-9).reciprocal() * torch.sin(alpha * x).pow(2)
    return x.reshape(shape)


class Snake1d(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return snake(x, self.alpha)


class ResidualUnit(nn.Module):
    def __init__(self, dim: int, dilation: int = 1) -> None:
        super().__init__()
        pad = ((7 - 1) * dilation) // 2
        self.block = nn.Sequential(
            Snake1d(dim), marked(nn.Conv1d(dim, dim, kernel_size=7, dilation=dilation, padding=pad)),
            Snake1d(dim), marked(nn.Conv1d(dim, dim, kernel_size=1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        pad = (x.shape[-1] - y.shape[-1]) // 2
        if pad > 0:
            x = x[..., pad:-pad]
        return x + y


class DecoderBlock(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Snake1d(input_dim),
            marked(nn.ConvTranspose1d(input_dim, output_dim, kernel_size=kernel_size, stride=stride,
                                   padding=(kernel_size - stride) // 2)),
            ResidualUnit(output_dim, 1), ResidualUnit(output_dim, 3), ResidualUnit(output_dim, 9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class WaveGenerator(nn.Module):
    """[B, input_channel, T] -> [B, 1, T x prod(rates)]."""

    def __init__(self, input_channel: int, channels: int, rates: list[int], kernel_sizes: list[int],
                 d_out: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = [marked(nn.Conv1d(input_channel, channels, kernel_size=7, padding=3))]
        output_dim = channels
        for i, (kernel_size, stride) in enumerate(zip(kernel_sizes, rates, strict=True)):
            output_dim = channels // 2 ** (i + 1)
            layers.append(DecoderBlock(channels // 2**i, output_dim, kernel_size, stride))
        layers += [Snake1d(output_dim), marked(nn.Conv1d(output_dim, d_out, kernel_size=7, padding=3)), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# --- ConvNeXt (Vocos) backbones, `modules/blocks/vocos.py`, `samper.py`, `encoder_decoder/feat_*.py` ---

class AdaLayerNorm(nn.Module):
    """LayerNorm whose scale and shift come from the speaker embedding."""

    def __init__(self, condition_dim: int, embedding_dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps, self.dim = eps, embedding_dim
        self.scale = nn.Linear(condition_dim, embedding_dim)
        self.shift = nn.Linear(condition_dim, embedding_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale(cond), self.shift(cond)
        x = F.layer_norm(x, (self.dim,), eps=self.eps)
        return x * scale.unsqueeze(1) + shift.unsqueeze(1)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, intermediate_dim: int, layer_scale_init_value: float,
                 condition_dim: int | None = None) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.adanorm = condition_dim is not None
        self.norm = AdaLayerNorm(condition_dim, dim) if condition_dim else nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim)) if layer_scale_init_value > 0 else None

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        residual = x
        x = self.dwconv(x).transpose(1, 2)
        x = self.norm(x, cond) if self.adanorm else self.norm(x)
        x = self.pwconv2(self.act(self.pwconv1(x)))
        if self.gamma is not None:
            x = self.gamma * x
        return residual + x.transpose(1, 2)


class VocosBackbone(nn.Module):
    """[B, input_channels, T] -> [B, T, dim] (time-major out, as the official)."""

    def __init__(self, input_channels: int, dim: int, intermediate_dim: int, num_layers: int,
                 layer_scale_init_value: float | None = None, condition_dim: int | None = None) -> None:
        super().__init__()
        self.embed = nn.Conv1d(input_channels, dim, kernel_size=7, padding=3)
        self.adanorm = condition_dim is not None
        self.norm = AdaLayerNorm(condition_dim, dim) if condition_dim else nn.LayerNorm(dim, eps=1e-6)
        layer_scale_init_value = layer_scale_init_value or 1 / num_layers
        self.convnext = nn.ModuleList([ConvNeXtBlock(dim, intermediate_dim, layer_scale_init_value, condition_dim)
                                       for _ in range(num_layers)])
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embed(x)
        x = self.norm(x.transpose(1, 2), condition) if self.adanorm else self.norm(x.transpose(1, 2))
        x = x.transpose(1, 2)
        for block in self.convnext:
            x = block(x, condition)
        return self.final_layer_norm(x.transpose(1, 2))


class SamplingBlock(nn.Module):
    """[B, T, dim] -> [B, dim, T x up / down]. With both scales 1 (the released configs) it returns 3x its
    input: the official sums the (identity) resampled path and both (identity) skips."""

    def __init__(self, dim: int, groups: int = 1, upsample_scale: int = 1, downsample_scale: int = 1) -> None:
        super().__init__()
        self.upsample_scale, self.downsample_scale = upsample_scale, downsample_scale
        if upsample_scale > 1:
            self.de_conv_upsampler = nn.Sequential(nn.LeakyReLU(0.2), nn.ConvTranspose1d(
                dim, dim, kernel_size=upsample_scale * 2, stride=upsample_scale,
                padding=upsample_scale // 2 + upsample_scale % 2, output_padding=upsample_scale % 2, groups=groups))
        if downsample_scale > 1:
            self.conv_downsampler = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv1d(
                dim, dim, kernel_size=2 * downsample_scale, stride=downsample_scale,
                padding=downsample_scale // 2 + downsample_scale % 2, groups=groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        if self.upsample_scale > 1:
            repeat_res = x.repeat_interleave(self.upsample_scale, dim=2)
            upmerge_res = repeat_res + self.de_conv_upsampler(x)
        else:
            upmerge_res = repeat_res = x
        if self.downsample_scale > 1:
            conv_res = self.conv_downsampler(upmerge_res)
            skip2_res = F.avg_pool1d(upmerge_res, kernel_size=self.downsample_scale, stride=self.downsample_scale)
            skip1_res = F.avg_pool1d(repeat_res, kernel_size=self.downsample_scale, stride=self.downsample_scale)
        else:
            conv_res = skip2_res = upmerge_res
            skip1_res = repeat_res
        return conv_res + skip1_res + skip2_res


def _stages(vocos_dim: int, vocos_intermediate_dim: int, sample_ratios: list[int], down: bool) -> nn.Sequential:
    """The resampling stages (each a SamplingBlock and a 2-layer backbone): the official names this
    `downsample` in the encoder and in the (upsampling) decoders alike."""
    key = "downsample_scale" if down else "upsample_scale"
    return nn.Sequential(*[nn.Sequential(SamplingBlock(vocos_dim, groups=vocos_dim, **{key: ratio}),
                                         VocosBackbone(vocos_dim, vocos_dim, vocos_intermediate_dim, 2))
                           for ratio in sample_ratios])


class Encoder(nn.Module):
    """The semantic encoder: SSL features [B, input_channels, T] -> latent [B, out_channels, T / prod(ratios)]."""

    def __init__(self, input_channels: int, vocos_dim: int, vocos_intermediate_dim: int, vocos_num_layers: int,
                 out_channels: int, sample_ratios: list[int] = (1, 1)) -> None:
        super().__init__()
        self.encoder = VocosBackbone(input_channels, vocos_dim, vocos_intermediate_dim, vocos_num_layers)
        self.downsample = _stages(vocos_dim, vocos_intermediate_dim, list(sample_ratios), down=True)
        self.project = nn.Linear(vocos_dim, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.downsample(self.encoder(x))).transpose(1, 2)


class Decoder(nn.Module):
    """The prenet (and the training-only postnet): latent [B, input_channels, T] (+ speaker embedding
    [B, condition_dim]) -> [B, out_channels, T x prod(ratios)]."""

    def __init__(self, input_channels: int, vocos_dim: int, vocos_intermediate_dim: int, vocos_num_layers: int,
                 out_channels: int, condition_dim: int | None = None, sample_ratios: list[int] = (1, 1),
                 use_tanh_at_final: bool = False) -> None:
        super().__init__()
        self.linear_pre = nn.Linear(input_channels, vocos_dim)
        self.downsample = _stages(vocos_dim, vocos_intermediate_dim, list(sample_ratios), down=False)
        self.vocos_backbone = VocosBackbone(vocos_dim, vocos_dim, vocos_intermediate_dim, vocos_num_layers,
                                            condition_dim=condition_dim)
        self.linear = nn.Linear(vocos_dim, out_channels)
        self.use_tanh_at_final = use_tanh_at_final

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.downsample(self.linear_pre(x.transpose(1, 2))).transpose(1, 2)
        x = self.linear(self.vocos_backbone(x, condition=c)).transpose(1, 2)
        return torch.tanh(x) if self.use_tanh_at_final else x


# --- the semantic quantizer, `modules/vq/factorized_vector_quantize.py` ----------------------------------

class FactorizedVectorQuantize(nn.Module):
    """One codebook, searched by cosine similarity in a low-dimensional (codebook_dim) projection."""

    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int, **training: object) -> None:
        super().__init__()
        self.codebook_size, self.codebook_dim = codebook_size, codebook_dim
        if input_dim != codebook_dim:
            self.in_project = marked(nn.Conv1d(input_dim, codebook_dim, kernel_size=1))
            self.out_project = marked(nn.Conv1d(codebook_dim, input_dim, kernel_size=1))
        else:
            self.in_project = self.out_project = nn.Identity()
        self.codebook = nn.Embedding(codebook_size, codebook_dim)
        self.register_buffer("cluster_size", torch.zeros(codebook_size))  # training statistics, in the checkpoint

    def tokenize(self, z: torch.Tensor) -> torch.Tensor:
        """[B, input_dim, T] -> indices [B, T]."""
        latents = self.in_project(z)
        encodings = F.normalize(latents.transpose(1, 2).reshape(-1, latents.shape[1]))
        codebook = F.normalize(self.codebook.weight)
        dist = (encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ codebook.t()
                + codebook.pow(2).sum(1, keepdim=True).t())
        return (-dist).max(1)[1].reshape(latents.shape[0], -1)

    def detokenize(self, indices: torch.Tensor) -> torch.Tensor:
        """[B, T] -> [B, input_dim, T] (the raw codebook vectors, projected back)."""
        return self.out_project(F.embedding(indices, self.codebook.weight).transpose(1, 2))


# --- the global (speaker) tokenizer, `modules/speaker/*.py`, `modules/fsq/*.py` ------------------------------

class Conv1dReluBn(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 padding: int = 0, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation)
        self.bn = nn.BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


class Res2Conv1dReluBn(nn.Module):
    def __init__(self, channels: int, kernel_size: int, stride: int, padding: int, dilation: int,
                 scale: int) -> None:
        super().__init__()
        self.scale, self.width = scale, channels // scale
        self.nums = scale if scale == 1 else scale - 1
        self.convs = nn.ModuleList([nn.Conv1d(self.width, self.width, kernel_size, stride, padding, dilation)
                                    for _ in range(self.nums)])
        self.bns = nn.ModuleList([nn.BatchNorm1d(self.width) for _ in range(self.nums)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        spx = torch.split(x, self.width, 1)
        sp = spx[0]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            if i >= 1:
                sp = sp + spx[i]
            sp = bn(F.relu(conv(sp)))
            out.append(sp)
        if self.scale != 1:
            out.append(spx[self.nums])
        return torch.cat(out, dim=1)


class SE_Connect(nn.Module):  # noqa: N801  (the official class name)
    def __init__(self, channels: int, se_bottleneck_dim: int = 128) -> None:
        super().__init__()
        self.linear1 = nn.Linear(channels, se_bottleneck_dim)
        self.linear2 = nn.Linear(se_bottleneck_dim, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.sigmoid(self.linear2(F.relu(self.linear1(x.mean(dim=2)))))
        return x * out.unsqueeze(2)


class SE_Res2Block(nn.Module):  # noqa: N801
    def __init__(self, channels: int, kernel_size: int, stride: int, padding: int, dilation: int,
                 scale: int) -> None:
        super().__init__()
        self.se_res2block = nn.Sequential(
            Conv1dReluBn(channels, channels), Res2Conv1dReluBn(channels, kernel_size, stride, padding, dilation, scale),
            Conv1dReluBn(channels, channels), SE_Connect(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.se_res2block(x)


class ASTP(nn.Module):
    """Attentive statistics pooling with global context: the x-vector head (training only; loaded, not run)."""

    def __init__(self, in_dim: int, bottleneck_dim: int = 128) -> None:
        super().__init__()
        self.linear1 = nn.Conv1d(in_dim * 3, bottleneck_dim, kernel_size=1)
        self.linear2 = nn.Conv1d(bottleneck_dim, in_dim, kernel_size=1)


class ECAPA_TDNN(nn.Module):  # noqa: N801
    """ECAPA-TDNN as `ECAPA_TDNN_GLOB_c512` builds it (512 channels, ASTP with global context, the
    concatenated features projected to 1536): mel [B, T, feat_dim] -> frame features [B, 1536, T]."""

    def __init__(self, feat_dim: int, embed_dim: int, channels: int = 512) -> None:
        super().__init__()
        self.layer1 = Conv1dReluBn(feat_dim, channels, kernel_size=5, padding=2)
        self.layer2 = SE_Res2Block(channels, kernel_size=3, stride=1, padding=2, dilation=2, scale=8)
        self.layer3 = SE_Res2Block(channels, kernel_size=3, stride=1, padding=3, dilation=3, scale=8)
        self.layer4 = SE_Res2Block(channels, kernel_size=3, stride=1, padding=4, dilation=4, scale=8)
        out_channels = 512 * 3  # fixed in the official code, whatever `channels`
        self.conv = nn.Conv1d(channels * 3, out_channels, kernel_size=1)
        self.pool = ASTP(out_channels)
        self.bn = nn.BatchNorm1d(out_channels * 2)
        self.linear = nn.Linear(out_channels * 2, embed_dim)

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 1)
        out2 = self.layer2(self.layer1(x))
        out3 = self.layer3(out2)
        out4 = self.layer4(out3)
        return F.relu(self.conv(torch.cat([out2, out3, out4], dim=1)))


class Attention(nn.Module):
    """The perceiver's cross-attention (`cross_attn_include_queries`: the latents attend to themselves too)."""

    def __init__(self, dim: int, dim_head: int = 64, heads: int = 8) -> None:
        super().__init__()
        self.heads = heads
        dim_inner = dim_head * heads
        self.to_q = nn.Linear(dim, dim_inner, bias=False)
        self.to_kv = nn.Linear(dim, dim_inner * 2, bias=False)
        self.to_out = nn.Linear(dim_inner, dim, bias=False)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        context = torch.cat((x, context), dim=-2)
        q, k, v = (self.to_q(x), *self.to_kv(context).chunk(2, dim=-1))
        b, h = x.shape[0], self.heads
        q, k, v = (t.reshape(b, t.shape[1], h, -1).transpose(1, 2) for t in (q, k, v))  # b h n d
        sim = torch.einsum("b h i d, b h j d -> b h i j", q, k) * q.shape[-1] ** -0.5
        out = torch.einsum("b h i j, b h j d -> b h i d", sim.softmax(dim=-1), v)
        return self.to_out(out.transpose(1, 2).reshape(b, out.shape[2], -1))


class GEGLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * x


def feed_forward(dim: int, mult: int = 4) -> nn.Sequential:
    dim_inner = int(dim * mult * 2 / 3)
    return nn.Sequential(nn.Linear(dim, dim_inner * 2), GEGLU(), nn.Linear(dim_inner, dim))


class RMSNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class PerceiverResampler(nn.Module):
    """Frame features [B, T, dim_context] -> num_latents learned queries [B, num_latents, dim]."""

    def __init__(self, dim: int, dim_context: int, num_latents: int, depth: int = 2, dim_head: int = 64,
                 heads: int = 8, ff_mult: int = 4) -> None:
        super().__init__()
        self.proj_context = nn.Linear(dim_context, dim) if dim_context != dim else nn.Identity()
        self.latents = nn.Parameter(torch.randn(num_latents, dim))
        nn.init.normal_(self.latents, std=0.02)
        self.layers = nn.ModuleList([nn.ModuleList([Attention(dim, dim_head, heads), feed_forward(dim, ff_mult)])
                                     for _ in range(depth)])
        self.norm = RMSNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj_context(x)
        latents = self.latents.expand(x.shape[0], *self.latents.shape)
        for attn, ff in self.layers:
            latents = attn(latents, x) + latents
            latents = ff(latents) + latents
        return self.norm(latents)


class FSQ(nn.Module):
    """Finite scalar quantization (the official copy of lucidrains' FSQ, no projections): [B, n, d] ->
    (codes [B, n, d] in [-1, 1], indices [B, n], int32)."""

    def __init__(self, levels: list[int]) -> None:
        super().__init__()
        self.register_buffer("_levels", torch.tensor(levels, dtype=torch.int32), persistent=False)
        self.register_buffer("_basis", torch.cumprod(torch.tensor([1] + levels[:-1]), dim=0, dtype=torch.int32),
                             persistent=False)
        self.codebook_size = math.prod(levels)
        levels_of = (torch.arange(self.codebook_size)[..., None] // self._basis) % self._levels
        self.register_buffer("implicit_codebook", (levels_of - self._levels // 2) / (self._levels // 2),
                             persistent=False)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        eps = 1e-3
        half_l = (self._levels - 1) * (1 + eps) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0)
        bounded = (z.float() + (offset / half_l).atanh()).tanh() * half_l - offset
        quantized = bounded + (bounded.round() - bounded)  # round_ste's forward value, as computed there
        half_width = self._levels // 2
        codes = quantized / half_width
        indices = ((codes * half_width + half_width) * self._basis).sum(dim=-1).to(torch.int32)
        return codes.type(z.dtype), indices


class ResidualFSQ(nn.Module):
    """Residual FSQ over channel-first latents [B, dim, n] -> indices [B, q, n]; and back."""

    def __init__(self, levels: list[int], num_quantizers: int, dim: int) -> None:
        super().__init__()
        codebook_dim = len(levels)
        self.project_in = nn.Linear(dim, codebook_dim) if codebook_dim != dim else nn.Identity()
        self.project_out = nn.Linear(codebook_dim, dim) if codebook_dim != dim else nn.Identity()
        self.layers = nn.ModuleList([FSQ(list(levels)) for _ in range(num_quantizers)])
        levels_tensor = torch.Tensor(levels)
        self.register_buffer("scales", torch.stack([(levels_tensor - 1) ** -i for i in range(num_quantizers)]),
                             persistent=False)

    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.project_in(x.transpose(1, 2))
        all_indices = []
        for layer, scale in zip(self.layers, self.scales, strict=True):
            quantized, indices = layer(residual / scale)
            residual = residual - quantized * scale
            all_indices.append(indices)
        return torch.stack(all_indices, dim=-1).transpose(1, 2)

    def detokenize(self, indices: torch.Tensor) -> torch.Tensor:
        """[B, q, n] -> [B, dim, n]."""
        codes = torch.stack([layer.implicit_codebook[indices[:, q]] for q, layer in enumerate(self.layers)])
        codes = codes * self.scales[: len(self.layers), None, None, :]
        return self.project_out(codes.sum(dim=0)).transpose(1, 2)


class SpeakerEncoder(nn.Module):
    """Reference mel [B, T, input_dim] -> global tokens [B, q, token_num]; tokens -> d-vector [B, out_dim]."""

    def __init__(self, input_dim: int = 100, out_dim: int = 512, latent_dim: int = 128, token_num: int = 32,
                 fsq_levels: list[int] = (4, 4, 4, 4, 4, 4), fsq_num_quantizers: int = 1) -> None:
        super().__init__()
        self.speaker_encoder = ECAPA_TDNN(feat_dim=input_dim, embed_dim=out_dim)
        self.perceiver_sampler = PerceiverResampler(dim=latent_dim, dim_context=512 * 3, num_latents=token_num)
        self.quantizer = ResidualFSQ(list(fsq_levels), fsq_num_quantizers, latent_dim)
        self.project = nn.Linear(latent_dim * token_num, out_dim)

    def tokenize(self, mels: torch.Tensor) -> torch.Tensor:
        features = self.speaker_encoder.latent(mels)
        return self.quantizer.tokenize(self.perceiver_sampler(features.transpose(1, 2)).transpose(1, 2))

    def detokenize(self, indices: torch.Tensor) -> torch.Tensor:
        zq = self.quantizer.detokenize(indices)
        return self.project(zq.reshape(zq.shape[0], -1))


# --- the codec ---------------------------------------------------------------------------------------------

class BiCodec(nn.Module):
    """What `BiCodec.load_from_checkpoint` builds from `config.yaml`'s `audio_tokenizer` section, minus the
    postnet. `mel_transformer` is the official torchaudio MelSpectrogram (its buffers are derived)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        import torchaudio.transforms as T

        self.encoder = Encoder(**config["encoder"])
        self.quantizer = FactorizedVectorQuantize(**config["quantizer"])
        self.prenet = Decoder(**config["prenet"])
        self.decoder = WaveGenerator(**config["decoder"])
        self.speaker_encoder = SpeakerEncoder(**config["speaker_encoder"])
        mel = config["mel_params"]
        self.mel_transformer = T.MelSpectrogram(
            mel["sample_rate"], mel["n_fft"], mel["win_length"], mel["hop_length"], mel["mel_fmin"], mel["mel_fmax"],
            n_mels=mel["num_mels"], power=1, norm="slaney", mel_scale="slaney")

    def semantic_latent(self, feat: torch.Tensor) -> torch.Tensor:
        """SSL features [B, T, D] -> the encoder's latent [B, latent, T] (before the quantizer)."""
        return self.encoder(feat.transpose(1, 2))

    def global_tokens(self, ref_wav: torch.Tensor) -> torch.Tensor:
        """Reference clip [B, n] -> [B, q, token_num]."""
        mel = self.mel_transformer(ref_wav).squeeze(1)
        return self.speaker_encoder.tokenize(mel.transpose(1, 2))

    def detokenize(self, semantic_tokens: torch.Tensor, global_tokens: torch.Tensor) -> torch.Tensor:
        """[B, T] and [B, q, token_num] -> audio [B, 1, T x hop]."""
        z_q = self.quantizer.detokenize(semantic_tokens)
        d_vector = self.speaker_encoder.detokenize(global_tokens)
        x = self.prenet(z_q, d_vector)
        return self.decoder(x + d_vector.unsqueeze(-1))


def load_official(config: dict, state: dict[str, torch.Tensor]) -> BiCodec:
    """Our model from the official state dict: weight norm folded, the postnet and the mel buffers left out,
    every other key loaded strictly (none missing, none unexpected)."""
    state = {k: v for k, v in state.items() if not k.startswith(TRAINING_ONLY + DERIVED)}
    state = weight_norm.fold(state)
    model = BiCodec(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(DERIVED)]
    if missing or unexpected:
        raise RuntimeError(f"BiCodec checkpoint does not match its config.yaml: missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]}")
    return model.eval()


def official_state(model: BiCodec, postnet: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """The official checkpoint's tensors: weight-normed convolutions as weight_g (the norm over all but
    dim 0, as `weight_norm(dim=0)` keeps it) and weight_v; `postnet` (a `Decoder`) added under its name;
    no mel buffers."""
    state = {k: v for k, v in weight_norm.unfold(model).items() if not k.startswith(DERIVED)}
    if postnet is not None:
        state.update({f"postnet.{k}": v for k, v in postnet.state_dict().items()})
    return {k: v.contiguous() for k, v in state.items()}


def receptive_frames(module: nn.Module) -> float:
    """Frames one output frame of a (frame-rate) stack of centred convolutions sees on each side."""
    from .chunked import receptive_field

    return (receptive_field(module)[0] - 1) / 2

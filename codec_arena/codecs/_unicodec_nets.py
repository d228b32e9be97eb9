"""UniCodec's inference networks (Jiang et al., 2025), written from the official code that Codec-SUPERB
runs (github.com/mesolitica/UniCodec-fix, the authors' Jiang-Yidi/UniCodec with its imports fixed):
`unicodec/decoder/{pretrained,feature_extractors,models,heads}.py`, `unicodec/encoder/modules/{seanet,
conv,mimi_transformer,rope}.py`, `unicodec/encoder/quantization/simvq_moe.py`, and vocos' `modules.py` /
`spectral_ops.py`, which the official decoder imports.

Our own port, so the official checkpoint (`unicode.ckpt`, a PyTorch Lightning file whose
`state_dict` holds `feature_extractor.*`, `backbone.*`, `head.*` and the discriminators) loads
unchanged: module names follow the official classes, so the state-dict keys are theirs. The path:

    wav [B, n] -> SEANet encoder (weight-normed convs, strides 2-4-5-8 = hop 320, ELU, reflect padding)
              -> 8-layer Transformer (RoPE, full attention, each feed-forward a mixture of 3 routed
                 experts (top-1) plus a shared one) -> latent [B, 512, T], T = ceil(n / 320)
              -> SimVQ: nearest entry of embedding_proj(embedding) [16384, 512], searched only in the
                 domain's partition (speech 0-4095, music 4096-8191, sound 8192-16383) -> codes [B, T]
    codes -> those entries -> Vocos backbone (conv, 4 ResNet blocks around one attention block,
             12 ConvNeXt blocks with AdaLayerNorm row `bandwidth_id` = 0) -> ISTFT head -> [B, T x 320]

The checkpoint also holds what only training uses: EnCodec's SEANet decoder (`encodec.decoder`, an
LSTM and transposed convolutions the inference path never calls), the masking embedding `mask_emb`,
and each Transformer layer's plain feed-forward (`linear1`, `linear2`, `layer_scale_2`), replaced by
the mixture of experts. We build them too, so loading is strict (every key in, none missing), then
drop them (`UniCodec.drop_training_only`), about 25M of the 211M parameters. Weight norm is folded into
plain weights when loading, with the same `torch._weight_norm` the official forward computes, and
split again when saving. Every operation, down to `x * sigmoid(x)` against `silu` and the order of the
distance terms, follows the official code, so codes and audio match it (benchmarks/parity/unicodec.py).

The architecture is read off the checkpoint's tensor shapes (`Config.of_state`): the official config
(`configs/unicodec_frame75_10s_nq1_code16384_dim512_finetune.yaml` plus the values the official
classes fix in code) gives the defaults; tests write narrower checkpoints. Only the attention head
count (8) and the ISTFT hop (the encoder's hop) are not in the file. Imports torch: load lazily.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import weight_norm
from .weight_norm import marked

DOMAINS = {"speech": "0", "music": "1", "sound": "2"}  # the official domain ids (simvq_moe.py compares strings)


@dataclass(frozen=True)
class Config:
    """Architecture sizes. Defaults: the official release (finetune config + the official classes' constants)."""

    ratios: tuple[int, ...] = (8, 5, 4, 2)  # `dowmsamples`, decoder order; the encoder runs them reversed
    n_filters: int = 32  # SEANet's first width (fixed in EncodecFeatures)
    dimension: int = 512  # latent width = Transformer width = codebook vector size (fixed)
    layers: int = 8  # Transformer layers (seanet.py `_transformer_kwargs`)
    heads: int = 8
    dim_feedforward: int = 2048  # the unused plain feed-forward's width
    experts: int = 3  # routed experts (mimi_transformer.py `ModelArgs`), top-1
    expert_dim: int = 2048  # `moe_inter_dim`; the shared expert has the same width
    codebook_size: int = 16_384  # `vq_bins`
    backbone_dim: int = 768
    backbone_intermediate: int = 2304
    backbone_layers: int = 12
    adanorm_embeddings: int = 4  # len(bandwidths): one AdaLayerNorm row per training bandwidth id
    n_fft: int = 1280  # ISTFT head; hop = the encoder's hop

    @property
    def hop(self) -> int:
        return math.prod(self.ratios)

    @classmethod
    def of_state(cls, state: dict[str, torch.Tensor]) -> Config:
        """The sizes of the model an official-layout state dict holds (keys with their official prefixes)."""
        enc = "feature_extractor.encodec.encoder."
        layer = enc + "transformer_enocoder.transformer.layers.0."
        pattern = re.escape(enc) + r"model\.(\d+)\.shortcut"
        resblocks = sorted({int(m.group(1)) for k in state if (m := re.match(pattern, k))})
        downs = [state[f"{enc}model.{i + 2}.conv.conv.weight_v"].shape[-1] // 2 for i in resblocks]
        return cls(
            ratios=tuple(reversed(downs)),
            n_filters=state[f"{enc}model.0.conv.conv.weight_v"].shape[0],
            dimension=state["feature_extractor.encodec.quantizer.vq.embedding.weight"].shape[1],
            layers=_count(state, enc + r"transformer_enocoder\.transformer\.layers\.(\d+)\."),
            dim_feedforward=state[layer + "linear1.weight"].shape[0],
            experts=state[layer + "FFNMOE.gate.weight"].shape[0],
            expert_dim=state[layer + "FFNMOE.experts.0.w1.weight"].shape[0],
            codebook_size=state["feature_extractor.encodec.quantizer.vq.embedding.weight"].shape[0],
            backbone_dim=state["backbone.embed.weight"].shape[0],
            backbone_intermediate=state["backbone.convnext.0.pwconv1.weight"].shape[0],
            backbone_layers=_count(state, r"backbone\.convnext\.(\d+)\."),
            adanorm_embeddings=state["backbone.norm.scale.weight"].shape[0],
            n_fft=state["head.istft.window"].shape[0],
        )


def _count(state: dict[str, torch.Tensor], pattern: str) -> int:
    return 1 + max(int(m.group(1)) for k in state if (m := re.match(pattern, k)))


# --- SEANet (EnCodec's convolutional encoder; its decoder only for the checkpoint's keys) ------------

def pad1d(x: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Reflect padding that also works on inputs no longer than the padding (EnCodec's `pad1d`): zeros
    are appended first, reflected, then cut off again."""
    extra = max(0, max(left, right) - x.shape[-1] + 1)
    if extra:
        x = F.pad(x, (0, extra))
    padded = F.pad(x, (left, right), "reflect")
    return padded[..., : padded.shape[-1] - extra]


class NormConv1d(nn.Module):
    """Holds the weight-normed convolution as `.conv` (the official NormConv1d; its norm is an Identity)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()
        self.conv = marked(nn.Conv1d(*args, **kwargs))


class SConv1d(nn.Module):
    """Non-causal convolution padded (reflect) so that it emits ceil(n / stride) steps: the padding
    is split evenly, plus what completes the last window on the right."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = NormConv1d(cin, cout, kernel_size, stride, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv.conv
        stride = conv.stride[0]
        total = (conv.kernel_size[0] - 1) * conv.dilation[0] + 1 - stride
        extra = -(-x.shape[-1] // stride) * stride - x.shape[-1]  # the official float formula, in integers
        right = total // 2
        return conv(pad1d(x, total - right, right + extra))


class ResnetBlock(nn.Module):
    """SEANet residual block: ELU, conv k3 to half width, ELU, conv k1 back; a 1x1 conv as the shortcut."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), SConv1d(dim, dim // 2, 3), nn.ELU(), SConv1d(dim // 2, dim, 1))
        self.shortcut = SConv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class SEANetEncoder(nn.Module):
    """[B, 1, n] -> [B, dimension, ceil(n / hop)]: the convolutions, then the Transformer."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.mask_emb = nn.Parameter(torch.zeros(h.dimension))  # training-only (masked prediction)
        width = h.n_filters
        layers: list[nn.Module] = [SConv1d(1, width, 7)]
        for ratio in reversed(h.ratios):
            layers += [ResnetBlock(width), nn.ELU(), SConv1d(width, width * 2, ratio * 2, stride=ratio)]
            width *= 2
        layers += [nn.ELU(), SConv1d(width, h.dimension, 7)]
        self.model = nn.Sequential(*layers)
        self.transformer_enocoder = ProjectedTransformer(h)  # sic: the official attribute name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transformer_enocoder(self.model(x))


class SConvTranspose1d(nn.Module):
    """Keys only (`convtr.convtr`): part of the training-only SEANet decoder."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.convtr = nn.Module()
        self.convtr.convtr = marked(nn.ConvTranspose1d(cin, cout, kernel_size, stride))


class SLSTM(nn.Module):
    """Keys only (`lstm`): part of the training-only SEANet decoder."""

    def __init__(self, dim: int, layers: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, layers)


class SEANetDecoder(nn.Module):
    """EnCodec's decoder as the official feature extractor builds it. UniCodec never runs it (it decodes
    with the Vocos backbone); it is here so the checkpoint loads strictly and saves whole."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        width = h.n_filters * 2 ** len(h.ratios)
        layers: list[nn.Module] = [SConv1d(h.dimension, width, 7), SLSTM(width)]
        for ratio in h.ratios:
            layers += [nn.ELU(), SConvTranspose1d(width, width // 2, ratio * 2, ratio), ResnetBlock(width // 2)]
            width //= 2
        layers += [nn.ELU(), SConv1d(h.n_filters, 1, 7)]
        self.model = nn.Sequential(*layers)


# --- the encoder's Transformer (Kyutai's streaming Transformer, used whole-clip, with MoE feed-forwards) --

def apply_rope(q: torch.Tensor, k: torch.Tensor, max_period: float = 10_000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary embedding of [B, H, T, D] queries and keys, positions 0..T-1, pairs (2i, 2i+1) rotated."""
    *dims, t, d = q.shape
    freqs = torch.exp(torch.arange(d // 2, device=q.device, dtype=torch.float32) * (-math.log(max_period) * 2 / d))
    ts = torch.arange(t, device=q.device, dtype=torch.float32).view(1, -1, 1)
    rotr, roti = torch.cos(freqs * ts), torch.sin(freqs * ts)
    out = []
    for x in (q, k):
        x = x.view(*dims, t, d // 2, 2)
        xr, xi = x[..., 0].float(), x[..., 1].float()
        out.append(torch.stack([(xr * rotr - xi * roti).to(q.dtype), (xr * roti + xi * rotr).to(q.dtype)], dim=-1)
                   .view(*dims, t, d))
    return out[0], out[1]


class StreamingMultiheadAttention(nn.Module):
    """Non-causal self-attention over the whole input (the official `context` only limits causal use)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        nn.init.kaiming_uniform_(self.in_proj_weight, a=math.sqrt(5))  # nn.Linear's init, as the official
        self.out_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = F.linear(x, self.in_proj_weight).view(b, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, k)
        x = F.scaled_dot_product_attention(q, k, v, None, dropout_p=0.0)
        return self.out_proj(x.transpose(1, 2).reshape(b, t, -1))


class LayerScale(nn.Module):
    def __init__(self, dim: int, init: float = 0.01) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((dim,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x


class Expert(nn.Module):
    """SwiGLU feed-forward: w2(silu(w1 x) * w3 x), no biases."""

    def __init__(self, dim: int, inter: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, inter, bias=False)
        self.w2 = nn.Linear(inter, dim, bias=False)
        self.w3 = nn.Linear(dim, inter, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Gate(nn.Module):
    def __init__(self, dim: int, experts: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(experts, dim))
        nn.init.normal_(self.weight, std=dim ** -0.5)


class MoE(nn.Module):
    """Each token goes to its top-1 of the routed experts, weighted by that expert's softmax score, plus
    the shared expert (DeepSeek-V3's MoE as the official code has it; no load balancing at inference)."""

    def __init__(self, dim: int, experts: int, inter: int) -> None:
        super().__init__()
        self.gate = Gate(dim, experts)
        self.experts = nn.ModuleList(Expert(dim, inter) for _ in range(experts))
        self.shared_experts = Expert(dim, inter)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        scores = F.linear(x, self.gate.weight).softmax(dim=-1, dtype=torch.float32)
        indices = torch.topk(scores, 1, dim=-1)[1]
        weights = scores.gather(1, indices).type_as(x)
        y = torch.zeros_like(x)
        for i, expert in enumerate(self.experts):  # only the tokens routed to each expert, as the official loop
            rows, top = torch.where(indices == i)
            if rows.numel():
                y[rows] += expert(x[rows]) * weights[rows, top, None]
        return (y + self.shared_experts(x)).view(shape)


class StreamingTransformerLayer(nn.Module):
    """Pre-norm layer: x + scale * attention(norm1 x), then x + MoE(norm2 x) (no layer scale there: the
    official MoE branch skips it, and the plain feed-forward `linear1`/`linear2` is unused)."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.self_attn = StreamingMultiheadAttention(h.dimension, h.heads)
        self.norm1 = nn.LayerNorm(h.dimension, eps=1e-5)
        self.norm2 = nn.LayerNorm(h.dimension, eps=1e-5)
        self.linear1 = nn.Linear(h.dimension, h.dim_feedforward, bias=False)  # training-only leftovers
        self.linear2 = nn.Linear(h.dim_feedforward, h.dimension, bias=False)
        self.layer_scale_1 = LayerScale(h.dimension)
        self.layer_scale_2 = LayerScale(h.dimension)
        self.FFNMOE = MoE(h.dimension, h.experts, h.expert_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.layer_scale_1(self.self_attn(self.norm1(x)))
        return x + self.FFNMOE(self.norm2(x))


class Transformer(nn.Module):
    def __init__(self, h: Config) -> None:
        super().__init__()
        self.layers = nn.ModuleList(StreamingTransformerLayer(h) for _ in range(h.layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class ProjectedTransformer(nn.Module):
    """[B, C, T] in and out (the official `conv_layout`); input and output widths equal the model's, so
    there are no projections."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.transformer = Transformer(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transformer(x.transpose(1, 2)).transpose(1, 2)


# --- SimVQ with domain partitions -------------------------------------------------------------------

class SimVQ(nn.Module):
    """One codebook: `embedding_proj(embedding.weight)` [K, D] (a learnt linear map of a frozen random
    codebook). Its four quarters are the domains' partitions: speech the first, music the second, sound
    the last two (`simvq_moe.py`: speech/music/audio/audio)."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.embedding = nn.Embedding(h.codebook_size, h.dimension)
        nn.init.normal_(self.embedding.weight, std=h.dimension ** -0.5)
        self.embedding_proj = nn.Linear(h.dimension, h.dimension)
        self._cache: tuple[tuple, torch.Tensor] | None = None

    def codebook(self) -> torch.Tensor:
        """[K, D], projected once per weights version and device (4 GFLOP at full size)."""
        weights = (self.embedding.weight, self.embedding_proj.weight, self.embedding_proj.bias)
        key = tuple((w.data_ptr(), w._version, str(w.device)) for w in weights)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.embedding_proj(self.embedding.weight))
        return self._cache[1]

    def partition(self, domain: str) -> tuple[int, int]:
        """[lo, hi) of the codes a domain may use."""
        size = self.embedding.weight.shape[0]
        quarter = int(size / 4)
        return {"0": (0, quarter), "1": (quarter, 2 * quarter), "2": (2 * quarter, size)}[domain]

    def encode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        """Latent [B, D, T] -> codes [B, T]: squared distances to every entry, computed as the official
        code does (|z|^2 + |e|^2 - 2 z.e over the whole codebook), the other domains' entries excluded."""
        codebook = self.codebook()
        z = z.transpose(1, 2).contiguous()
        flat = z.view(-1, z.shape[-1])
        d = torch.sum(flat**2, dim=1, keepdim=True) + torch.sum(codebook**2, dim=1) - \
            2 * torch.einsum("bd,dn->bn", flat, codebook.t())
        d = d.view(z.shape[0], z.shape[1], -1)
        lo, hi = self.partition(domain)
        d[..., :lo] = float("inf")
        d[..., hi:] = float("inf")
        return torch.argmin(d, dim=2)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, T] -> the entries [B, D, T] (the quantizer's own z_q)."""
        return F.embedding(codes, self.codebook()).transpose(1, 2)


class Quantizer(nn.Module):
    def __init__(self, h: Config) -> None:
        super().__init__()
        self.vq = SimVQ(h)


# --- the Vocos decoder -------------------------------------------------------------------------------

def _swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)  # as written in the official models.py (not F.silu: keeps parity exact)


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


class PosResnetBlock(nn.Module):
    """GroupNorm, swish, conv k3, twice, with a residual (the backbone's `pos_net` blocks; dropout off)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = _group_norm(dim)
        self.conv1 = nn.Conv1d(dim, dim, 3, padding=1)
        self.norm2 = _group_norm(dim)
        self.conv2 = nn.Conv1d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(_swish(self.norm1(x)))
        return x + self.conv2(_swish(self.norm2(h)))


class AttnBlock(nn.Module):
    """Single-head attention over all frames with 1x1 convolutions, residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = _group_norm(dim)
        self.q, self.k, self.v, self.proj_out = (nn.Conv1d(dim, dim, 1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        w = torch.bmm(q.permute(0, 2, 1), k) * (int(q.shape[1]) ** (-0.5))
        w = torch.softmax(w, dim=2).permute(0, 2, 1)
        return x + self.proj_out(torch.bmm(v, w))


class AdaLayerNorm(nn.Module):
    """LayerNorm without affine, then a per-condition scale and shift (condition: the bandwidth id)."""

    def __init__(self, conditions: int, dim: int) -> None:
        super().__init__()
        self.scale = nn.Embedding(conditions, dim)
        self.shift = nn.Embedding(conditions, dim)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x, (x.shape[-1],), eps=1e-6)
        return x * self.scale(cond) + self.shift(cond)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, inter: int, conditions: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = AdaLayerNorm(conditions, dim)
        self.pwconv1 = nn.Linear(dim, inter)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(inter, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.dwconv(x).transpose(1, 2), cond)
        h = self.gamma * self.pwconv2(self.act(self.pwconv1(h)))
        return x + h.transpose(1, 2)


class VocosBackbone(nn.Module):
    """[B, D, T] -> [B, T, backbone_dim]."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        dim = h.backbone_dim
        self.embed = nn.Conv1d(h.dimension, dim, 7, padding=3)
        self.norm = AdaLayerNorm(h.adanorm_embeddings, dim)
        self.convnext = nn.ModuleList(ConvNeXtBlock(dim, h.backbone_intermediate, h.adanorm_embeddings,
                                                    1 / h.backbone_layers) for _ in range(h.backbone_layers))
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.pos_net = nn.Sequential(PosResnetBlock(dim), PosResnetBlock(dim), AttnBlock(dim),
                                     PosResnetBlock(dim), PosResnetBlock(dim), _group_norm(dim))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = self.pos_net(self.embed(x))
        x = self.norm(x.transpose(1, 2), cond).transpose(1, 2)
        for block in self.convnext:
            x = block(x, cond)
        return self.final_layer_norm(x.transpose(1, 2))


class ISTFTHead(nn.Module):
    """[B, T, dim] -> log-magnitude and phase per bin -> ISTFT -> [B, T x hop]."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.out = nn.Linear(h.backbone_dim, h.n_fft + 2)
        from vocos.spectral_ops import ISTFT  # the official head's own ISTFT ("same" padding: T x hop samples)

        self.istft = ISTFT(h.n_fft, h.hop, h.n_fft, padding="same")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mag, p = self.out(x).transpose(1, 2).chunk(2, dim=1)
        mag = torch.clip(torch.exp(mag), max=1e2)
        return self.istft(mag * (torch.cos(p) + 1j * torch.sin(p)))


# --- the whole model ---------------------------------------------------------------------------------

class FeatureExtractor(nn.Module):
    """The official `EncodecFeatures` container: `encodec.{encoder, quantizer, decoder}`."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.encodec = nn.Module()
        self.encodec.encoder = SEANetEncoder(h)
        self.encodec.quantizer = Quantizer(h)
        self.encodec.decoder = SEANetDecoder(h)


class UniCodec(nn.Module):
    """The official `Unicodec` (feature_extractor, backbone, head) for inference."""

    def __init__(self, h: Config) -> None:
        super().__init__()
        self.config = h
        self.feature_extractor = FeatureExtractor(h)
        self.backbone = VocosBackbone(h)
        self.head = ISTFTHead(h)

    @property
    def vq(self) -> SimVQ:
        return self.feature_extractor.encodec.quantizer.vq

    def latent(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, n] -> the encoder output [B, D, ceil(n / hop)]."""
        return self.feature_extractor.encodec.encoder(wav[:, None])

    def encode(self, wav: torch.Tensor, domain: str) -> torch.Tensor:
        """[B, n] -> codes [B, ceil(n / hop)] in `domain`'s partition ("0" speech, "1" music, "2" sound)."""
        return self.vq.encode(self.latent(wav), domain)

    def decode(self, codes: torch.Tensor, bandwidth_id: int = 0) -> torch.Tensor:
        """Codes [B, T] -> [B, T x hop]; AdaLayerNorm row `bandwidth_id` (0, as the official inference uses)."""
        cond = torch.tensor([bandwidth_id], device=codes.device)
        return self.head(self.backbone(self.vq.decode(codes), cond))

    def drop_training_only(self) -> UniCodec:
        """Free what inference never runs (see the module docstring); the model then cannot be saved whole."""
        del self.feature_extractor.encodec.decoder
        del self.feature_extractor.encodec.encoder.mask_emb
        for layer in self.feature_extractor.encodec.encoder.transformer_enocoder.transformer.layers:
            del layer.linear1, layer.linear2, layer.layer_scale_2
        return self


PREFIXES = ("feature_extractor.", "backbone.", "head.")  # what the official from_pretrained0802 keeps


def load_official(state: dict[str, torch.Tensor]) -> UniCodec:
    """Our model from an official Lightning `state_dict` (discriminators and the rest are skipped, as
    the official loader skips them): sizes read off the tensors, weight norm folded, every key of the
    model's parts strictly loaded, then the training-only parts dropped."""
    state = {k: v for k, v in state.items() if k.startswith(PREFIXES)}
    with torch.device("meta"):
        model = UniCodec(Config.of_state(state))
    state = weight_norm.fold(state)
    model.load_state_dict(state, strict=True, assign=True)
    return model.drop_training_only().eval()


def official_state(model: UniCodec) -> dict[str, torch.Tensor]:
    """The official `state_dict` (a whole model, before `drop_training_only`): weight-normed convolutions
    as weight_g (the norm over all dims but 0, as `weight_norm(dim=0)` keeps it) and weight_v."""
    return weight_norm.unfold(model)

"""S3Tokenizer's networks (CosyVoice's supervised speech tokenizers), written out in torch to build the
ONNX graphs our tests load: the official weights ship only as ONNX files, and the `s3tokenizer`
package that converts them to torch imports `onnx` (which our protobuf pin excludes).

Ported from xingchensong/S3Tokenizer 0.3.0 (`model.py`, `model_v2.py`, `model_v3.py`; Apache-2.0),
which mirrors the graphs of CosyVoice's `speech_tokenizer_v{1,2,3}.onnx`. Both versions are a Whisper
encoder on a 128-band log-mel (two convolutions, the second with stride 2; version 1 at 50 Hz has a
stride-1 first convolution, the 25 Hz models a stride-2 one) and one quantizer per frame:
- v1: sinusoidal positions, plain attention, a 4,096-entry codebook searched by cosine (inputs
  L2-normalised, codebook not);
- v2 / v3: rotary positions (64 dims per head), each attention adding an FSMN memory (a depthwise
  convolution of kernel 31 over the values), and an FSQ of 8 dimensions at 3 levels (3^8 = 6,561
  codes); v3 has 12 blocks where v2 has 6.
`forward(feats [B, 128, T], feats_length [B]) -> tokens [B, T']`, as the ONNX graphs take and give;
masks are built from the lengths with tensor ops only, so the export traces them.
`benchmarks/parity/s3tokenizer.py` checks these networks, and our ONNX path, against the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Config:
    version: int  # 1, 2 or 3
    first_stride: int  # 1: 50 Hz (v1); 2: 25 Hz
    n_state: int = 1280
    n_head: int = 20
    n_layer: int = 6
    n_mels: int = 128
    n_ctx: int = 1500  # v1's sinusoid table: 30 s at 50 Hz
    codebook_size: int = 4096  # v1; FSQ versions have 3^8

    @property
    def rotary(self) -> bool:
        return self.version >= 2


def _lengths_mask(lengths: Tensor, steps: int) -> Tensor:
    """[B, 1, steps] float: 1 where a step is inside its item's length."""
    return (torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]).unsqueeze(1).float()


def _sinusoids(length: int, channels: int, max_timescale: float = 10000) -> Tensor:
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-increment * torch.arange(channels // 2))
    scaled = torch.arange(length)[:, None] * inv[None, :]
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=1)


def _rotary_tables(steps: int, dim: int = 64, theta: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos and sin [steps, dim]: the package's `precompute_freqs_cis(64, 2048)`, halves repeated."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    angles = torch.outer(torch.arange(steps).float(), freqs)
    return torch.cat([angles.cos()] * 2, dim=-1), torch.cat([angles.sin()] * 2, dim=-1)


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x [B, T, H, D]: x cos + rotate_half(x) sin, the package's `apply_rotary_emb`."""
    half = x.shape[-1] // 2
    turned = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos[None, :, None, :] + turned * sin[None, :, None, :]


class Attention(nn.Module):
    """Whisper's attention (key without bias); with `fsmn`, the values' depthwise-convolution memory."""

    def __init__(self, n_state: int, n_head: int, fsmn: bool, kernel: int = 31) -> None:
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)
        if fsmn:
            self.fsmn_block = nn.Conv1d(n_state, n_state, kernel, groups=n_state, bias=False)
            self.pads = ((kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2)

    def forward(self, x: Tensor, bias: Tensor, pad_mask: Tensor, rotary: tuple[Tensor, Tensor] | None) -> Tensor:
        b, t, d = x.shape
        scale = (d // self.n_head) ** -0.25
        q = self.query(x).view(b, t, self.n_head, -1)
        k = self.key(x).view(b, t, self.n_head, -1)
        v = self.value(x).view(b, t, self.n_head, -1)
        if rotary is not None:
            q, k = _rotate(q, *rotary), _rotate(k, *rotary)
        memory = None
        if hasattr(self, "fsmn_block"):  # pad_mask [B, T, 1]
            flat = v.reshape(b, t, d) * pad_mask
            memory = (self.fsmn_block(F.pad(flat.transpose(1, 2), self.pads)).transpose(1, 2) + flat) * pad_mask
        qk = (q.permute(0, 2, 1, 3) * scale) @ (k.permute(0, 2, 3, 1) * scale) + bias
        w = torch.softmax(qk.float(), dim=-1)
        out = self.out((w @ v.permute(0, 2, 1, 3)).permute(0, 2, 1, 3).reshape(b, t, d))
        return out if memory is None else out + memory


class Block(nn.Module):
    def __init__(self, n_state: int, n_head: int, fsmn: bool) -> None:
        super().__init__()
        self.attn = Attention(n_state, n_head, fsmn)
        self.attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: Tensor, bias: Tensor, pad_mask: Tensor, rotary: tuple[Tensor, Tensor] | None) -> Tensor:
        x = x + self.attn(self.attn_ln(x), bias, pad_mask, rotary)
        return x + self.mlp(self.mlp_ln(x))


class Encoder(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.conv1 = nn.Conv1d(config.n_mels, config.n_state, 3, stride=config.first_stride, padding=1)
        self.conv2 = nn.Conv1d(config.n_state, config.n_state, 3, stride=2, padding=1)
        if not config.rotary:
            self.register_buffer("positional_embedding", _sinusoids(config.n_ctx, config.n_state))
        self.blocks = nn.ModuleList(Block(config.n_state, config.n_head, config.rotary) for _ in range(config.n_layer))

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """[B, n_mels, T], [B] -> hidden [B, T', n_state], lengths [B]."""
        lengths = lengths.long()
        x = F.gelu(self.conv1(x * _lengths_mask(lengths, x.shape[-1])))
        lengths = (lengths - 1) // self.config.first_stride + 1
        x = F.gelu(self.conv2(x * _lengths_mask(lengths, x.shape[-1])))
        lengths = (lengths - 1) // 2 + 1
        mask = _lengths_mask(lengths, x.shape[-1])  # [B, 1, T']
        x = x.permute(0, 2, 1)
        bias = ((1.0 - mask) * -1.0e10).unsqueeze(1)  # [B, 1, 1, T']
        rotary = None
        if self.config.rotary:
            cos, sin = _rotary_tables(x.shape[1])
            rotary = (cos.to(x), sin.to(x))
        else:
            x = x + self.positional_embedding[: x.shape[1]]
        for block in self.blocks:
            x = block(x, bias, mask.transpose(1, 2), rotary)
        return x, lengths


class CosineCodebook(nn.Module):
    """v1: the nearest of `embed` to the L2-normalised frame (the package's `VectorQuantization`)."""

    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        # random entries of unit length (a trained codebook is learned): with the length spread of raw Gaussian
        # entries the shortest entry would win most searches, and random weights would give one code
        self.register_buffer("embed", F.normalize(torch.randn(size, dim), dim=-1))

    def forward(self, x: Tensor) -> Tensor:
        x = F.normalize(x.float(), p=2, dim=-1)
        dist = -(x.pow(2).sum(-1, keepdim=True) - 2 * x @ self.embed.t() + self.embed.pow(2).sum(-1)[None, None])
        return dist.argmax(dim=-1)


class FSQ(nn.Module):
    """v2 / v3: 8 dims through tanh, rounded to {-1, 0, 1}, read as base-3 digits (the package's `FSQCodebook`)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.project_down = nn.Linear(dim, 8)

    def forward(self, x: Tensor) -> Tensor:
        h = (self.project_down(x).float().tanh() * 0.9990000128746033).round() + 1
        powers = torch.pow(3.0, torch.arange(8, device=x.device, dtype=h.dtype))
        return (h * powers).sum(-1).long()


class S3Tokenizer(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.quantizer = FSQ(config.n_state) if config.rotary else CosineCodebook(config.n_state, config.codebook_size)

    def forward(self, feats: Tensor, feats_length: Tensor) -> Tensor:
        """feats [B, 128, T] log-mel, feats_length [B] -> tokens [B, T'] (padded items: trailing rows to drop)."""
        hidden, _ = self.encoder(feats, feats_length)
        return self.quantizer(hidden)


def export_onnx(model: S3Tokenizer, path, frames: int = 400) -> None:
    """The graph as CosyVoice ships it: inputs `feats` [B, 128, T] float32 and `feats_length` [B] int32,
    output `indices` [B, T'] int64, dynamic in B and T. torch's TorchScript exporter writes the model
    in C++; its one Python `onnx` step only inserts onnx-script functions, which this graph has none of,
    so it is passed over (the `onnx` package cannot install beside our protobuf pin)."""
    import warnings

    from torch.onnx._internal.torchscript_exporter import onnx_proto_utils

    feats = torch.randn(1, model.config.n_mels, frames)
    lengths = torch.tensor([frames], dtype=torch.int32)
    original = onnx_proto_utils._add_onnxscript_fn
    onnx_proto_utils._add_onnxscript_fn = lambda proto, custom_opsets: proto
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation and shape-inference notes
            torch.onnx.export(model.eval(), (feats, lengths), str(path), dynamo=False, opset_version=17,
                              input_names=["feats", "feats_length"], output_names=["indices"],
                              dynamic_axes={"feats": {0: "batch", 2: "frames"}, "feats_length": {0: "batch"},
                                            "indices": {0: "batch", 1: "tokens"}})
    finally:
        onnx_proto_utils._add_onnxscript_fn = original

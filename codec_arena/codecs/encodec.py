"""EnCodec (Défossez et al., 2022) through the official `encodec` package.

Both models run through our streaming engine, the package's own calls on each window.
The 24 kHz model is mono and causal, with an LSTM in the encoder and the decoder and no segments
(`model.segment` is None): a window is one pass of the package's encoder + quantizer (decoder), with
about 1 s of real signal each side computed and dropped. The LSTM carries state over the whole input,
so window seams only approximate one pass (`exact = False`); clips up to a window (10 s) are one pass.
The 48 kHz model is stereo and works on 1 s segments with 1 % overlap, each normalised on its own
(a scale per segment, kept in `Codes.extras["scales"]`) and encoded independently; decoding
overlap-adds the decoded segments. The engine's unit is one segment (hop = the segment stride), so
windows of whole segments give exactly the package's codes, and decoding with two segments of
context each side gives exactly its overlap-add (see `SegmentedEncodecCodec`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import weights
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec, receptive_field

_COMMON = dict(
    family="EnCodec", codebook_size=1024, quantizer="RVQ",
    paper="Défossez et al., High Fidelity Neural Audio Compression, 2022 (arXiv:2210.13438)",
    code_url="https://github.com/facebookresearch/encodec",
    licence="code MIT; weights CC-BY-NC 4.0",
    discriminators="multi-scale STFT (MS-STFT)",
    sources=("paper §3.4 (discriminator), §4.1 (data), Table 1", "https://github.com/facebookresearch/encodec"),
)
INFOS = [
    CodecInfo(id="encodec_24khz", sample_rate=24_000, channels=1, frame_rate=75.0, max_codebooks=32,
              bitrates_kbps=(1.5, 3.0, 6.0, 12.0, 24.0), default_bitrate_kbps=6.0, domain="general",
              weights="encodec package release (torch hub cache): encodec_24khz-d7cc33bc.th",
              training_data="DNS Challenge 4, Common Voice (speech); AudioSet, FSD50K (general); Jamendo (music)",
              hub_id="dl.fbaipublicfiles.com/encodec/v0 (transformers copy: facebook/encodec_24khz)", **_COMMON),
    CodecInfo(id="encodec_48khz", sample_rate=48_000, channels=2, frame_rate=150.0, max_codebooks=16,
              bitrates_kbps=(3.0, 6.0, 12.0, 24.0), default_bitrate_kbps=6.0, domain="music",
              weights="encodec package release (torch hub cache): encodec_48khz-7e698e3e.th",
              training_data="music only (the paper's 48 kHz model)",
              hub_id="dl.fbaipublicfiles.com/encodec/v0 (transformers copy: facebook/encodec_48khz)", **_COMMON),
]
CONTEXT_SECONDS = 1.0  # context each side of a 24 kHz window: its LSTMs carry state, so be generous
CHECKPOINTS = {"encodec_24khz": "encodec_24khz-d7cc33bc.th", "encodec_48khz": "encodec_48khz-7e698e3e.th"}


def build(codec_id: str, pretrained: bool = True):
    """The official constructor; with `pretrained` it reads (or downloads to) the torch hub cache."""
    from encodec import EncodecModel

    factory = {"encodec_24khz": EncodecModel.encodec_model_24khz,
               "encodec_48khz": EncodecModel.encodec_model_48khz}[codec_id]
    return factory(pretrained=pretrained)


def weight_spec(codec_id: str) -> weights.WeightSpec:
    return weights.WeightSpec(
        model_id=codec_id, source="the encodec package's release URL",
        location=lambda: weights.torch_hub_checkpoint(CHECKPOINTS[codec_id]),
        fetch=lambda: build(codec_id),
    )


def load(info: CodecInfo, device: str) -> EncodecCodec:
    weights.download(weight_spec(info.id))
    model = build(info.id).eval().to(device)
    return (SegmentedEncodecCodec if model.segment else EncodecCodec)(info, model, device)


class EncodecCodec(ChunkedCodec):
    """EnCodec through the engine: the package's `encode` (encoder + quantizer at the bandwidth) and
    `decode` (quantizer decode + decoder) per window. Used as is for the 24 kHz model: one token frame
    per unit, about 1 s of context each side (its LSTMs make the seams approximate; the convolutions
    alone reach 9 frames), and the model's own reflect/extra padding of a partial last frame, so only
    clips of equal length batch."""

    exact = False  # LSTMs in the encoder and the decoder carry state across the whole input
    batchable = True
    pads_to_frames = False  # SConv1d pads a partial frame itself (reflect), not with zeros

    def __init__(self, info: CodecInfo, model, device: str) -> None:
        self.info, self.model, self.device = info, model, device
        self.checkpoint = weights.torch_hub_checkpoint(CHECKPOINTS[info.id])
        self.hop = int(model.encoder.hop_length)  # 320 samples per frame at 24 kHz
        frames = math.ceil(CONTEXT_SECONDS * info.sample_rate / self.hop)
        self.context_units = max(frames, math.ceil(receptive_field(model.encoder)[0] / self.hop) + 2)
        self.decode_context_units = max(frames, math.ceil(receptive_field(model.decoder)[0]) + 2)

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, K, ceil(n / 320)]: the package's `encode` (one pass, no segment)."""
        frames = self._encode(x, point)
        return frames[0][0].cpu().numpy().astype(np.int64)

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] -> [B, 1, T x 320]: the package's `decode` (quantizer decode + decoder)."""
        import torch

        return self.model.decode([(torch.from_numpy(tokens).to(self.device), None)]).float().cpu().numpy()

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, C, n] -> the encoder output [B, 128, frames]."""
        import torch

        return self.model.encoder(torch.from_numpy(x).to(self.device)).cpu().numpy()

    def _encode(self, x: np.ndarray, point: OperatingPoint) -> list:
        import torch

        self.model.set_target_bandwidth(point.bitrate_kbps)  # state on the shared model: under the lock
        return self.model.encode(torch.from_numpy(x).to(self.device))


class SegmentedEncodecCodec(EncodecCodec):
    """EnCodec 48 kHz: one unit is one segment (`segment_stride` samples, 150 frames), read with the
    1 % overlap past it. Segments are normalised and encoded independently, so windows of whole
    segments without context give exactly the package's codes. `model.encode` on a window read with
    the overlap also encodes those last 480 samples as one more (2-frame) segment, which the engine
    drops. The overlap-add in decoding reaches one segment back and takes its fade from the first
    segment decoded (in the package: the clip's first, full unless the clip is under 1 s); two
    segments of decoder context keep a full segment first in every window that does not start the
    clip, so chunked decoding equals the package's whole-clip `decode`.

    A clip's last segment is partial (fewer than 150 frames). When it is under 480 samples the one
    before it is partial too (its 1 % overlap runs past the end), and under 160 samples that one has
    149 frames: its codes are padded to 150 with its last frame repeated, so every unit but the last
    is 150 frames, and `segment_frames` (side data, like `scales`) says how many are real."""

    exact = True
    side_keys = ("scales", "segment_frames")

    def __init__(self, info: CodecInfo, model, device: str) -> None:
        super().__init__(info, model, device)
        self.hop = int(model.segment_stride)  # 47,520 samples: 1 s less the 1 % overlap
        self.unit_frames = int(model.segment_length) // int(model.encoder.hop_length)  # 150
        self.read_ahead = int(model.segment_length) - self.hop  # 480: a segment reaches into the next
        self.context_units, self.decode_context_units = 0, 2

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint):
        """[B, 2, n] -> codes [B, K, frames] with {"scales": [B, segments], "segment_frames": [B, segments]}."""
        import torch

        frames = self._encode(x, point)
        counts = [codes.shape[-1] for codes, _ in frames]
        tokens = torch.cat(self._padded([codes for codes, _ in frames]), dim=-1).cpu().numpy().astype(np.int64)
        scales = torch.cat([scale.reshape(-1, 1) for _, scale in frames], dim=1).float().cpu().numpy()
        return tokens, {"scales": scales, "segment_frames": np.tile(np.array(counts, np.int64), (x.shape[0], 1))}

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] with side["scales"] [B, segments] -> [B, 2, about segments x hop]: each segment
        decoded and rescaled, then the package's linear overlap-add, from the first segment's start."""
        import torch

        codes = torch.from_numpy(tokens).to(self.device)
        scales = torch.from_numpy(np.asarray(side["scales"], np.float32)).to(self.device)
        counts = side.get("segment_frames")  # absent in codes written before it existed: all full
        frames = []
        for i in range(math.ceil(tokens.shape[-1] / self.unit_frames)):
            start = i * self.unit_frames
            stop = start + (self.unit_frames if counts is None else int(counts[0, i]))
            frames.append((codes[:, :, start:stop], scales[:, i].view(-1, 1)))
        return self.model.decode(frames).float().cpu().numpy()

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 2, n] -> each segment's encoder output (normalised as `_encode_frame` does), [B, 128, frames]."""
        import torch

        x = torch.from_numpy(x).to(self.device)
        pieces = []
        for offset in range(0, x.shape[-1], self.hop):
            segment = x[:, :, offset: offset + int(self.model.segment_length)]
            scale = 1e-8 + segment.mean(dim=1, keepdim=True).pow(2).mean(dim=2, keepdim=True).sqrt()
            pieces.append(self.model.encoder(segment / scale))
        return torch.cat(self._padded(pieces), dim=-1).cpu().numpy()

    def _padded(self, pieces: list) -> list:
        """Every segment but the last to `unit_frames` frames, its last frame repeated."""
        import torch

        return [piece if i == len(pieces) - 1 or piece.shape[-1] >= self.unit_frames else
                torch.cat([piece, piece[..., -1:].expand(*piece.shape[:-1], self.unit_frames - piece.shape[-1])], -1)
                for i, piece in enumerate(pieces)]


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """The loader always builds the full-size model, so the checkpoint is full size whatever `small`."""
    import torch

    model = build(codec_id, pretrained=False)
    # A fresh model's codebooks are zeros until k-means init; random codes make usage plots real.
    for layer in model.quantizer.vq.layers:
        layer._codebook.embed.normal_()
        layer._codebook.inited.fill_(1)
    path = weight_spec(codec_id).path
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path

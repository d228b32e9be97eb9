"""BigCodec (Xin et al., 2024): the authors' checkpoint, read the way their `inference.py` reads it.

The authors publish code (github.com/Aria-K-Alethia/BigCodec, not a package) and one checkpoint,
`bigcodec.pt` on the Hugging Face hub (`Alethia/BigCodec`): a dict whose "CodecEnc" and
"generator" entries are the state dicts of `CodecEncoder()` and `CodecDecoder()`. The PyPI package
`bigcodec` is a third party's repackaging: its `CodecEncoder`/`CodecDecoder` are line-for-line the
official classes (only the newer `parametrizations.weight_norm`, which loads the official
`weight_g`/`weight_v` keys), but its `BigCodec.from_pretrained` loads a re-upload on another hub
account. We use its classes with the authors' file. The widths are read from the checkpoint's
tensor shapes (for the official file they are the defaults inference.py builds), so tiny
random-weight checkpoints load through the same path.

One 8192-entry code per 200 samples (80 Hz at 16 kHz): 1.04 kbps. Input is zero-padded to whole
frames (inference.py pads 1-200 samples, a whole extra frame when none is needed). The encoder and
decoder are convolutions with LSTMs, not streaming: clips over 10 s run in equal windows of at most
10 s, each with 1 s of context either side (see `windowing`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import weights
from ..audio import Audio
from . import windowing
from .base import CodecInfo, Codes

HUB_ID, CHECKPOINT = "Alethia/BigCodec", "bigcodec.pt"
HOP = 200  # up_ratios 2, 2, 2, 5, 5
WINDOW_FRAMES, CONTEXT_FRAMES = 800, 80  # 10 s windows, 1 s context

INFOS = [
    CodecInfo(
        id="bigcodec", family="BigCodec", sample_rate=16_000, channels=1, frame_rate=80.0, codebook_size=8192,
        max_codebooks=1, bitrates_kbps=(1.04,), default_bitrate_kbps=1.04,
        quantizer="single VQ (factorised to 8 dims, L2-normalised codes)", domain="speech",
        paper="Xin et al., BigCodec: Pushing the Limits of Low-Bitrate Neural Speech Codec, 2024 (arXiv:2409.05377)",
        code_url="https://github.com/Aria-K-Alethia/BigCodec",
        weights=f"Hugging Face {HUB_ID}: {CHECKPOINT} (the authors' checkpoint; read as their inference.py does)",
        licence="code MIT; weights: see the Alethia/BigCodec model card",
        discriminators="multi-period (MPD, periods 2–11) + multi-scale STFT",
        training_data="LibriSpeech (the paper's setup; the repository's training recipe uses it too)",
        hub_id=HUB_ID,
        sources=("https://github.com/Aria-K-Alethia/BigCodec (README, inference.py, config/model/default.yaml)",
                 "paper abstract (1.04 kbps, 159M parameters)"),
        notes="One code per 12.5 ms frame from a single 8192-entry codebook; 159M parameters, so CPU runs are slow.",
    ),
]


def weight_spec(codec_id: str) -> weights.WeightSpec:
    return weights.hub_spec(codec_id, HUB_ID, CHECKPOINT, allow_patterns=[CHECKPOINT])


def _weight(state: dict, prefix: str):
    """A weight-normed layer's direction tensor, in the official (`weight_v`) or newer layout."""
    return state.get(f"{prefix}.weight_v", state.get(f"{prefix}.parametrizations.weight.original1"))


def build(checkpoint: dict):
    """`CodecEncoder` and `CodecDecoder` with the widths the checkpoint's tensors have, weights loaded."""
    from bigcodec import CodecDecoder, CodecEncoder

    enc, gen = checkpoint["CodecEnc"], checkpoint["generator"]
    codebooks = sorted(k for k in gen if k.startswith("quantizer.layers.") and k.endswith("_codebook.weight"))
    size, dim = gen[codebooks[0]].shape
    width = _weight(gen, "model.0").shape[1]  # the latent the decoder reads = the encoder's output
    encoder = CodecEncoder(ngf=_weight(enc, "block.0").shape[0], out_channels=width)
    decoder = CodecDecoder(in_channels=width, vq_dim=width, upsample_initial_channel=_weight(gen, "model.0").shape[0],
                           vq_num_quantizers=len(codebooks), codebook_size=size, codebook_dim=dim)
    encoder.load_state_dict(enc)
    decoder.load_state_dict(gen)
    return encoder.eval(), decoder.eval()


def load(info: CodecInfo, device: str) -> BigCodecCodec:
    import torch

    checkpoint = weights.download(weight_spec(info.id))
    encoder, decoder = build(torch.load(checkpoint, map_location="cpu", weights_only=True))
    return BigCodecCodec(info, torch.nn.ModuleDict({"encoder": encoder, "decoder": decoder}).to(device),
                         device, checkpoint)


class BigCodecCodec:
    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path,
                 window_frames: int = WINDOW_FRAMES, context_frames: int = CONTEXT_FRAMES) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.window_frames, self.context_frames = window_frames, context_frames

    def encode(self, audio: Audio, bitrate_kbps: float) -> Codes:
        import torch
        import torch.nn.functional as F

        self.info.check_bitrate(bitrate_kbps)
        encoder, decoder = self.model["encoder"], self.model["decoder"]

        def chunk(samples: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(samples)[None].to(self.device)
            x = F.pad(x, (0, -x.shape[-1] % HOP))
            with torch.inference_mode():
                _, codes, _ = decoder(encoder(x), vq=True)  # (quantizers, 1, T)
            return codes[:, 0].cpu().numpy().astype(np.int64)

        frames = -(-audio.frames // HOP)
        tokens = windowing.encode(chunk, audio.samples, HOP, self.plan(frames))
        return Codes(tokens=tokens, frame_rate=self.info.frame_rate, codebook_size=8192,
                     sample_rate=audio.sample_rate, num_samples=audio.frames, codec_id=self.info.id)

    def decode(self, codes: Codes) -> Audio:
        import torch

        decoder = self.model["decoder"]

        def chunk(tokens: np.ndarray) -> np.ndarray:
            vq = torch.from_numpy(np.ascontiguousarray(tokens.T))[None].to(self.device)  # (1, T, quantizers)
            with torch.inference_mode():
                wav = decoder(decoder.vq2emb(vq).transpose(1, 2), vq=False)  # (1, 1, T x hop)
            return wav[0].float().cpu().numpy()

        samples = windowing.decode(chunk, codes.tokens, HOP, self.plan(codes.frames))
        return Audio(np.ascontiguousarray(samples[:, : codes.num_samples]), self.info.sample_rate)

    def plan(self, frames: int) -> list[windowing.Window]:
        return windowing.plan(frames, self.window_frames, self.context_frames)


SMALL = dict(ngf=2, out_channels=16, upsample_initial_channel=64)


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """`bigcodec.pt` as the authors ship it: {"CodecEnc": ..., "generator": ...} with the official
    `weight_g`/`weight_v` key names, in the hub-cache layout."""
    import torch
    from bigcodec import CodecDecoder, CodecEncoder

    from ..testing import hub_snapshot

    widths = SMALL if small else {}
    encoder = CodecEncoder(**{k: widths[k] for k in ("ngf", "out_channels") if k in widths})
    decoder = CodecDecoder(**({"in_channels": widths["out_channels"], "vq_dim": widths["out_channels"],
                               "upsample_initial_channel": widths["upsample_initial_channel"]} if small else {}))

    # A random encoder's latent barely moves between frames, so the projection's bias alone would
    # pick one code for every frame: centre the projected latent (measured on noise) instead.
    with torch.no_grad():
        projection = decoder.quantizer.layers[0].in_proj
        projection.bias -= projection(encoder(torch.randn(1, 1, 8_000) * 0.1).transpose(1, 2)).mean(dim=(0, 1))

    def official(state: dict) -> dict:
        return {k.replace("parametrizations.weight.original0", "weight_g")
                 .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}

    snapshot = hub_snapshot(HUB_ID)
    torch.save({"CodecEnc": official(encoder.state_dict()), "generator": official(decoder.state_dict())},
               snapshot / CHECKPOINT)
    return weight_spec(codec_id).path

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
decoder are convolutions (with anti-aliased SnakeBeta activations) around a two-layer forward LSTM
each, so they are not streaming and no finite context reproduces one pass exactly: long clips go
through the streaming engine (`stream`) in equal windows (10 s unless set), each with 1 s of real
signal either side computed and dropped, which covers the convolutions (about 35 frames each side,
its anti-aliasing filters included) and gives the LSTMs a warm start; seams are close to one pass,
not equal to it (`exact = False`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import weights
from . import accel
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

HUB_ID, CHECKPOINT = "Alethia/BigCodec", "bigcodec.pt"
HOP = 200  # up_ratios 2, 2, 2, 5, 5
CONTEXT_FRAMES = 80  # 1 s each side: the LSTMs have no finite receptive field; the convolutions reach ~35 frames

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


class BigCodecCodec(ChunkedCodec):
    """inference.py's calls per window of the engine: `decoder(encoder(x), vq=True)` for the codes,
    `decoder(decoder.vq2emb(codes), vq=False)` for the audio; the input zero-padded to whole frames."""

    exact = False  # a forward LSTM in the encoder and in the decoder carries state from the start
    batchable = True  # convolutions, LSTMs (batch_first) and the VQ all take (B, C, T)
    pads_to_frames = True

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.hop = int(model["encoder"].hop_length)
        self.context_units = self.decode_context_units = CONTEXT_FRAMES
        self.fast = accel.FastParts(checkpoint, device)

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, K, ceil(n / hop)] (K = 1; the decoder's VQ returns (K, B, T))."""
        _, codes, _ = self.model["decoder"](self._latent(x), vq=True)
        return codes.transpose(0, 1).cpu().numpy().astype(np.int64)

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 1, n] -> the encoder's output before the VQ, [B, D, ceil(n / hop)]."""
        return self._latent(x).float().cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] -> [B, 1, T x hop]."""
        import torch

        decoder = self.model["decoder"]
        vq = torch.from_numpy(np.ascontiguousarray(tokens.transpose(0, 2, 1))).to(self.device)  # (B, T, K)
        z = decoder.vq2emb(vq).transpose(1, 2)
        width = int(z.shape[1])
        fast = self.fast.get("decoder", lambda: synthesis_module(decoder), lambda: torch.zeros(1, width, 8),
                             (None, width, None))
        return fast(z.numpy()) if fast is not None else decoder(z, vq=False).float().cpu().numpy()

    def _latent(self, x: np.ndarray):
        import torch
        import torch.nn.functional as F

        audio = F.pad(torch.from_numpy(x).to(self.device), (0, -x.shape[-1] % self.hop))
        fast = self.fast.get("encoder", lambda: self.model["encoder"], lambda: torch.zeros(1, 1, self.hop * 8),
                             (None, 1, None))
        return torch.from_numpy(fast(audio.numpy())) if fast is not None else self.model["encoder"](audio)


def synthesis_module(decoder):
    """The decoder's audio branch alone (`decoder(z, vq=False)`) as a module the converter can trace."""
    import torch

    class Synthesis(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.decoder = decoder

        def forward(self, z):
            return self.decoder(z, vq=False)

    return Synthesis()


SMALL = dict(ngf=2, out_channels=16, upsample_initial_channel=64)


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """`bigcodec.pt` as the authors ship it: {"CodecEnc": ..., "generator": ...} with the official
    `weight_g`/`weight_v` key names, in the hub-cache layout."""
    import torch
    from bigcodec import CodecDecoder, CodecEncoder

    from ..weights import hub_snapshot

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

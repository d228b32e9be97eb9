"""SNAC, the Multi-Scale Neural Audio Codec (Siuzdak et al., 2024), through the official `snac` package.

`SNAC.from_pretrained(hub_id)` reads `config.json` and `pytorch_model.bin` from the Hugging Face
hub cache. Its residual quantisers run at different rates: level k has one 4096-entry code per
`vq_strides[k]` latent frames (24 kHz: 12, 23, 47 Hz; 32 and 44 kHz: four levels, the finest at
83 and 115 Hz). `Codes` keeps every level on the finest grid, each coarse code repeated over the
frames it covers, with `extras["strides"]`; bitrates count each code once. All levels are always
used, so each model has one operating point.

`SNAC.preprocess` pads the input to a multiple of hop x lcm(coarsest stride, attention window)
samples (24 kHz: 4 frames, 85 ms; 32 and 44 kHz: 32 frames, 0.38 s and 0.28 s), and those padded
frames' codes are needed to decode the last real ones (a coarse code covers the whole unit, and
the local attention mixes a whole 32-frame block), so short clips cost more than the nominal rate
and the measured bitrate says so.

Memory grows with the input (the 44 kHz decoder keeps ~100 channels at the audio rate), so clips
over 10 s (rounded up to a padding unit) run in equal windows of whole padding units, each with
about 1 s of context either side (see `windowing`); window edges fall on attention-block edges, as
in one pass.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import weights
from ..audio import Audio
from . import windowing
from .base import CodecInfo, Codes

WINDOW_SECONDS, CONTEXT_SECONDS = 10.0, 1.0
# The hub config.json files (SNAC's constructor arguments), for random weights; the real load reads the
# hub's. 24 kHz as ports of it quote it; 32/44 kHz: hop 384 gives the model cards' token rates (83, 115 Hz),
# and these widths give their 19.8 M / 54.5 M parameters.
CONFIGS = {
    "snac_24khz": dict(sampling_rate=24_000, encoder_dim=48, encoder_rates=[2, 4, 8, 8], decoder_dim=1024,
                       decoder_rates=[8, 8, 4, 2], attn_window_size=None, codebook_size=4096, codebook_dim=8,
                       vq_strides=[4, 2, 1], noise=True, depthwise=True),
    "snac_32khz": dict(sampling_rate=32_000, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
                       decoder_rates=[8, 8, 3, 2], attn_window_size=32, codebook_size=4096, codebook_dim=8,
                       vq_strides=[8, 4, 2, 1], noise=True, depthwise=True),
    "snac_44khz": dict(sampling_rate=44_100, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
                       decoder_rates=[8, 8, 3, 2], attn_window_size=32, codebook_size=4096, codebook_dim=8,
                       vq_strides=[8, 4, 2, 1], noise=True, depthwise=True),
}
# Tiny widths, same rates, strides and attention window (LocalMHA needs a multiple of 64 channels).
SMALL = dict(encoder_dim=4, decoder_dim=64)

_COMMON = dict(
    family="SNAC", channels=1, codebook_size=4096, quantizer="multi-scale RVQ (factorised, L2-normalised codes)",
    paper="Siuzdak et al., SNAC: Multi-Scale Neural Audio Codec, 2024 (arXiv:2410.14411)",
    code_url="https://github.com/hubertsiuzdak/snac", licence="MIT (code and weights)",
    discriminators="GAN-trained on DAC's RVQGAN recipe (the paper gives the critics)",
)


def hop(codec_id: str) -> int:
    return math.prod(CONFIGS[codec_id]["encoder_rates"])


def unit_frames(config: dict) -> int:
    """Frames the input is padded to a multiple of (`SNAC.preprocess`)."""
    return math.lcm(config["vq_strides"][0], config["attn_window_size"] or 1)


def _info(codec_id: str, domain: str, trained_on: str, rates: str) -> CodecInfo:
    config = CONFIGS[codec_id]
    frame_rate = config["sampling_rate"] / hop(codec_id)
    strides = tuple(config["vq_strides"])
    kbps = round(sum(1 / s for s in strides) * 12 * frame_rate / 1000, 3)
    unit = unit_frames(config)
    hub_id = f"hubertsiuzdak/{codec_id}"
    return CodecInfo(
        id=codec_id, sample_rate=config["sampling_rate"], frame_rate=frame_rate, max_codebooks=len(strides),
        codebook_strides=strides, frame_multiple=unit, bitrates_kbps=(kbps,), default_bitrate_kbps=kbps, domain=domain,
        weights=f"Hugging Face {hub_id}: config.json + pytorch_model.bin", hub_id=hub_id,
        training_data=f"{trained_on} (model card; corpora in the paper)",
        sources=(f"https://huggingface.co/{hub_id} (model card: bitrate, token rates, params, data)",
                 "https://github.com/hubertsiuzdak/snac (snac.py: preprocess padding, vq.py)"),
        notes=f"Levels at {rates} Hz; clips are padded to {unit} frames ({unit / frame_rate * 1000:.0f} ms), "
              "so very short clips cost more than the nominal rate.",
        **_COMMON,
    )


INFOS = [
    _info("snac_24khz", "speech", "mostly speech", "12, 23, 47"),
    _info("snac_32khz", "music", "mostly music (and sound effects)", "10, 21, 42, 83"),
    _info("snac_44khz", "music", "mostly music (and sound effects)", "14, 29, 57, 115"),
]


def weight_spec(codec_id: str) -> weights.WeightSpec:
    return weights.hub_spec(codec_id, f"hubertsiuzdak/{codec_id}", "pytorch_model.bin",
                            allow_patterns=["config.json", "pytorch_model.bin"])


def load(info: CodecInfo, device: str) -> SnacCodec:
    from snac import SNAC

    checkpoint = weights.download(weight_spec(info.id))
    model = SNAC.from_pretrained(info.hub_id, local_files_only=True)  # exactly what download() checked
    return SnacCodec(info, model.eval().to(device), device, checkpoint)


class SnacCodec:
    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path,
                 window_seconds: float = WINDOW_SECONDS, context_seconds: float = CONTEXT_SECONDS) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.hop = int(model.hop_length)
        self.strides = [int(s) for s in model.vq_strides]
        self.unit = math.lcm(self.strides[0], model.attn_window_size or 1)
        # windows and context in whole padding units, so window edges are attention-block edges; a
        # padded 10 s clip still fits one window
        self.window_frames = math.ceil(window_seconds * info.frame_rate / self.unit) * self.unit
        self.context_frames = math.ceil(context_seconds * info.frame_rate / self.unit) * self.unit

    def encode(self, audio: Audio, bitrate_kbps: float) -> Codes:
        import torch

        self.info.check_bitrate(bitrate_kbps)

        def chunk(samples: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                levels = self.model.encode(torch.from_numpy(samples)[None].to(self.device))  # [(1, T / stride)]
            return np.stack([np.repeat(c[0].cpu().numpy(), s) for c, s in zip(levels, self.strides, strict=True)])

        frames = -(-audio.frames // (self.hop * self.unit)) * self.unit  # what preprocess pads to
        tokens = windowing.encode(chunk, audio.samples, self.hop, self.plan(frames))
        return Codes(tokens=tokens.astype(np.int64), frame_rate=self.info.frame_rate, codebook_size=4096,
                     sample_rate=audio.sample_rate, num_samples=audio.frames, codec_id=self.info.id,
                     extras={"strides": np.array(self.strides, dtype=np.int64)})

    def decode(self, codes: Codes) -> Audio:
        """All levels go through `SNAC.decode`; fewer (progressive decoding) add up only the levels
        given, as `from_codes` does for all of them."""
        import torch

        model = self.model

        def chunk(tokens: np.ndarray) -> np.ndarray:
            levels = [torch.from_numpy(np.ascontiguousarray(row[::s]))[None].to(self.device)
                      for row, s in zip(tokens, self.strides, strict=False)]
            with torch.inference_mode():
                if len(levels) == len(self.strides):
                    wav = model.decode(levels)
                else:
                    z = sum(q.out_proj(q.decode_code(c)).repeat_interleave(q.stride, dim=-1)
                            for q, c in zip(model.quantizer.quantizers, levels, strict=False))
                    wav = model.decoder(z)
            return wav[0].float().cpu().numpy()

        samples = windowing.decode(chunk, codes.tokens, self.hop, self.plan(codes.frames))
        return Audio(np.ascontiguousarray(samples[:, : codes.num_samples]), self.info.sample_rate)

    def plan(self, frames: int) -> list[windowing.Window]:
        return windowing.plan(frames, self.window_frames, self.context_frames, self.unit)


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """config.json + pytorch_model.bin in the hub-cache layout `SNAC.from_pretrained` reads."""
    import json

    import torch
    from snac import SNAC

    from ..testing import hub_snapshot

    config = {**CONFIGS[codec_id], **(SMALL if small else {})}
    snapshot = hub_snapshot(f"hubertsiuzdak/{codec_id}", files={"config.json": json.dumps(config).encode()})
    torch.save(SNAC(**config).state_dict(), snapshot / "pytorch_model.bin")
    return weight_spec(codec_id).path

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

Memory grows with the input (the 44 kHz decoder keeps ~100 channels at the audio rate), so long
clips go through the streaming engine (`stream`): its unit is one padding unit (`hop` = hop_length x
that many frames, `unit_frames` = that many), so windows (10 s unless set) and their context are
whole padding units and every window edge is an attention-block and coarse-code edge, as in one
pass; the last window is padded as `preprocess` pads the whole clip, so the codes keep its padded
frames. The context is the encoder's and decoder's receptive field, read from their convolutions
(kernels, dilations, strides, paddings) and attention blocks (`reach`), plus two frames, in whole
units: chunked codes and latents equal one pass. The decoder adds fresh Gaussian noise
(`NoiseBlock`) on every call, so decoded audio differs between any two calls, chunked or not; with
the noise gains at zero chunked audio equals one pass.

On a CPU the encoder and decoder run through OpenVINO (`accel`; the quantizers stay in torch): codes
are equal and, with the noise gains at zero, the audio is within 1e-6 of torch's. The converted decoder
draws its own fresh noise on every call, with the same statistics as torch's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import weights
from . import accel
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

MARGIN_FRAMES = 2  # added to the receptive field before rounding up to whole padding units
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


class SnacCodec(ChunkedCodec):
    """The package's own `encode` / `decode` (or `from_codes` on fewer levels) per window of the
    engine, one unit being one padding unit: `preprocess`'s multiple of hop x lcm(coarsest stride,
    attention window) samples. Codes keep every level on the finest grid (coarse codes repeated)
    with `extras["strides"]`."""

    batchable = True  # preprocess, the encoder (LocalMHA included), the quantizers and the decoder take B
    pads_to_frames = True  # preprocess zero-pads to whole units, as a batch is padded

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.strides = [int(s) for s in model.vq_strides]
        self.unit_frames = math.lcm(self.strides[0], model.attn_window_size or 1)
        self.hop = int(model.hop_length) * self.unit_frames  # samples per unit
        margin, window = MARGIN_FRAMES, model.attn_window_size
        from snac.attention import LocalMHA

        from .local_attention_reach import context_frames, reach

        encoder = context_frames(reach(model.encoder, 1 / int(model.hop_length), LocalMHA), window)
        decoder = context_frames(reach(model.decoder, 1.0, LocalMHA), window)
        self.context_units = math.ceil((encoder + margin) / self.unit_frames)
        self.decode_context_units = math.ceil((decoder + margin) / self.unit_frames)
        self.fast = accel.FastParts(checkpoint, device)

    def static_extras(self, point: OperatingPoint) -> dict[str, np.ndarray]:
        """Every level's stride, so a codes file knows each code's time span."""
        return {**super().static_extras(point), "strides": np.asarray(self.strides, np.int64)}

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, K, ceil(n / hop) x unit_frames], level k repeated strides[k] times."""
        _, levels = self.model.quantizer(self._latent(x))  # `SNAC.encode`: [(B, frames / stride)]
        return np.stack([np.repeat(c.cpu().numpy(), s, axis=-1) for c, s in zip(levels, self.strides, strict=True)],
                        axis=1).astype(np.int64)

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 1, n] -> the encoder's output before the quantizers, [B, D, ceil(n / hop) x unit_frames]."""
        return self._latent(x).float().cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] -> [B, 1, T x hop_length]. All levels go through `SNAC.decode`; fewer (progressive
        decoding) add up only the levels given, as `from_codes` does for all of them."""
        import torch

        model = self.model
        levels = [torch.from_numpy(np.ascontiguousarray(tokens[:, k, ::s])).to(self.device)
                  for k, s in zip(range(tokens.shape[1]), self.strides, strict=False)]
        if len(levels) == len(self.strides):
            z = model.quantizer.from_codes(levels)  # `SNAC.decode`: from_codes, then the decoder
        else:
            z = sum(q.out_proj(q.decode_code(c)).repeat_interleave(q.stride, dim=-1)
                    for q, c in zip(model.quantizer.quantizers, levels, strict=False))
        decoder = self._fast("decoder", int(z.shape[1]))
        return decoder(z.numpy()) if decoder is not None else model.decoder(z).float().cpu().numpy()

    def _latent(self, x: np.ndarray):
        """[B, 1, n] -> the encoder's output [B, D, frames] after `preprocess`'s padding."""
        import torch

        audio = self.model.preprocess(torch.from_numpy(x).to(self.device))
        encoder = self._fast("encoder", 1)
        return torch.from_numpy(encoder(audio.numpy())) if encoder is not None else self.model.encoder(audio)

    def _fast(self, part: str, channels: int):
        """`model.encoder` or `model.decoder` on the OpenVINO CPU path, or None (torch); traced on two
        padding units, so the attention blocks see whole windows."""
        import torch

        length = 2 * (self.hop if part == "encoder" else self.unit_frames)
        return self.fast.get(part, lambda: getattr(self.model, part), lambda: torch.zeros(1, channels, length),
                             (None, channels, None))


def write_random_weights(codec_id: str, small: bool = False, noise: bool = True) -> Path:
    """config.json + pytorch_model.bin in the hub-cache layout `SNAC.from_pretrained` reads. `noise=False`
    writes the decoder's `NoiseBlock` gains as zeros, so decoding adds no fresh noise and two decoders
    (torch and the fast path, say) can be compared sample by sample."""
    import json

    import torch
    from snac import SNAC
    from snac.layers import NoiseBlock

    from ..weights import hub_snapshot

    config = {**CONFIGS[codec_id], **(SMALL if small else {})}
    snapshot = hub_snapshot(f"hubertsiuzdak/{codec_id}", files={"config.json": json.dumps(config).encode()})
    model = SNAC(**config)
    if not noise:
        with torch.no_grad():
            for block in (m for m in model.modules() if isinstance(m, NoiseBlock)):
                block.linear.parametrizations.weight.original0.zero_()  # weight norm's g: the weight is 0
    torch.save(model.state_dict(), snapshot / "pytorch_model.bin")
    return weight_spec(codec_id).path

"""HiFi-Codec (Yang et al., 2023) from AcademiCodec: our port of the official inference path, reading the
official checkpoint files unchanged.

There is no package: the official repository runs `academicodec/models/hificodec/vqvae_copy_syn.py`
on a checkpoint from the hub (`Dongchao/AcademiCodec`, one file without extension holding the
`generator`, `encoder` and `quantizer` state dicts) and a `config_*.json` from the repository's
`egs/` folder (the hub has no configs; Codec-SUPERB fetches them from GitHub too). The configs are
architecture hyper-parameters, so we write them out per model below; the networks are in
`_hifi_codec_nets.py`. `benchmarks/parity/hifi_codec.py` checks codes and audio against the
official code on the same checkpoint.

GRVQ: the 512-d latent is split into 2 groups, each quantized by a 1024-entry codebook, and the
residual by two more: 4 codebooks, one code each per frame (sample_rate / hop frames a second), in the
official order (layer 1 group 1, layer 1 group 2, layer 2 group 1, layer 2 group 2). The models were
always trained with all four, so 4 codebooks is the one operating point we offer. Decoding fewer
(the progressive view) leaves the missing codebooks' share of the latent at zero: the first two are
the first residual layer, a coarse version; one alone leaves half the latent channels empty.

Like the official test script (and unlike its notebook and Codec-SUPERB, which peak-normalise to
0.95 first) we feed the audio as is, at its level; training did not normalise either. The official
encoder drops a trailing partial frame; we zero-pad to whole frames and trim the decoded audio back,
so inputs as short as one sample work. The encoder group-normalises over the whole input, so up
to `WINDOW_SECONDS` the whole input is one pass, as in the official script; longer inputs go in
equal windows of at most that (`windowing.plan`), each encoded with `ENCODE_CONTEXT_FRAMES` frames of
audio on both sides (the encoder's convolutions reach about 72 frames) whose codes are dropped: one
code per frame and codebook, no overlap cost in the bitrate, and memory stays flat. Decoding runs
the same windows with `DECODE_CONTEXT_FRAMES` on both sides: the generator has no normalisation and
reaches 14 frames, so the output matches one pass.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import weights
from ..audio import Audio
from .base import CodecInfo, Codes
from .windowing import plan

HUB_REPO = "Dongchao/AcademiCodec"
CODEBOOK_SIZE = 1024  # n_codes in every released config
CODEBOOKS = 4  # n_code_groups (2) x the quantizer's two residual layers
WINDOW_SECONDS = 10.0
ENCODE_CONTEXT_FRAMES = 80
DECODE_CONTEXT_FRAMES = 16

# The architecture keys of the official configs, yangdongchao/AcademiCodec egs/<folder>/<config>.json;
# everything else there (learning rate, mel settings for the loss, ...) is training-only.
_CONFIGS = {
    "320d": dict(upsample_rates=(8, 5, 4, 2), upsample_kernel_sizes=(16, 11, 8, 4)),
    "240d": dict(upsample_rates=(8, 5, 3, 2), upsample_kernel_sizes=(16, 11, 7, 4)),
}
# codec id -> (hub file, sample rate, architecture, config file it is used with)
MODELS = {
    "hifi_codec_16k_320d": ("HiFi-Codec-16k-320d", 16_000, "320d", "egs/HiFi-Codec-16k-320d/config_16k_320d.json"),
    "hifi_codec_24k_320d": ("HiFi-Codec-24k-320d", 24_000, "320d", "egs/HiFi-Codec-24k-320d/config_24k_320d.json"),
    "hifi_codec_24k_240d": ("HiFi-Codec-24k-240d", 24_000, "240d", "egs/HiFi-Codec-24k-240d/config_24k_240d.json"),
    # not in the repository's egs; Codec-SUPERB and other users load it with the 16k 320d config
    "hifi_codec_16k_320d_universal": ("HiFi-Codec-16k-320d-large-universal", 16_000, "320d",
                                      "egs/HiFi-Codec-16k-320d/config_16k_320d.json"),
}

_COMMON = dict(
    family="HiFi-Codec (AcademiCodec)", channels=1, codebook_size=CODEBOOK_SIZE, max_codebooks=CODEBOOKS,
    quantizer="GRVQ (2 groups x 2 residual layers)",
    paper="Yang et al., HiFi-Codec: Group-residual Vector Quantization for High Fidelity Audio Codec, 2023 "
          "(arXiv:2305.02765)",
    code_url="https://github.com/yangdongchao/AcademiCodec",
    licence="code MIT (repository readme); the code repository names no separate licence for the weights",
    discriminators="multi-period (MPD), multi-scale (MSD) and multi-scale STFT (MS-STFTD)",
    hub_id=HUB_REPO,
)
_SOURCES = ("paper abstract (GRVQ, 4 codebooks, training data)",
            "academicodec/models/hificodec/models.py (Encoder, Quantizer, Generator)",
            "academicodec/models/hificodec/train.py (discriminators: mpd, msd, mstftd)")

_NOTES = {
    "recipe": "Always all 4 codebooks (trained without dropping any); codes 1-2 are the first residual layer.",
    "universal": "Released beside the others without a recipe; loaded with the 16 kHz 320d config, as Codec-SUPERB "
                 "does.",
}


def _info(codec_id: str) -> CodecInfo:
    filename, sample_rate, arch, config_file = MODELS[codec_id]
    hop = math.prod(_CONFIGS[arch]["upsample_rates"])
    frame_rate = sample_rate / hop
    kbps = round(CODEBOOKS * math.log2(CODEBOOK_SIZE) * frame_rate / 1000, 3)
    universal = codec_id.endswith("_universal")
    return CodecInfo(
        id=codec_id, sample_rate=sample_rate, frame_rate=frame_rate, bitrates_kbps=(kbps,),
        default_bitrate_kbps=kbps, domain="general" if universal else "speech",
        weights=f"hub {HUB_REPO}: {filename} (architecture from {config_file})",
        training_data=("not documented in the official repository (the checkpoint's name says large, universal)"
                       if universal else "public TTS speech: LibriTTS, VCTK, AISHELL and more, over 1000 hours"),
        sources=(*_SOURCES, config_file, f"https://huggingface.co/{HUB_REPO}"),
        notes=_NOTES["universal" if universal else "recipe"],
        **_COMMON,
    )


INFOS = [_info(codec_id) for codec_id in MODELS]


def config(codec_id: str):
    from ._hifi_codec_nets import Config

    return Config(**_CONFIGS[MODELS[codec_id][2]])


def weight_spec(codec_id: str) -> weights.WeightSpec:
    filename = MODELS[codec_id][0]
    return weights.hub_spec(codec_id, HUB_REPO, filename, allow_patterns=[filename])


def load(info: CodecInfo, device: str) -> HiFiCodecCodec:
    import torch

    from ._hifi_codec_nets import load_official

    path = weights.download(weight_spec(info.id))
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = load_official(config(info.id), checkpoint).to(device)
    return HiFiCodecCodec(info, model, device, path)


class HiFiCodecCodec:
    """Stateless between calls (no bandwidth setting), so no lock."""

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.hop = model.config.hop
        self.window = int(WINDOW_SECONDS * info.frame_rate)

    def encode(self, audio: Audio, bitrate_kbps: float) -> Codes:
        import torch

        self.info.check_bitrate(bitrate_kbps)
        frames = max(1, math.ceil(audio.frames / self.hop))
        wav = torch.zeros(1, frames * self.hop)
        wav[0, : audio.frames] = torch.from_numpy(audio.samples[0])
        wav = wav.to(self.device)
        pieces = []
        with torch.inference_mode():
            for w in plan(frames, self.window, ENCODE_CONTEXT_FRAMES):
                codes = self.model.encode(wav[:, w.lo * self.hop: w.hi * self.hop])
                pieces.append(codes[0, :, w.start - w.lo: w.stop - w.lo])
        tokens = torch.cat(pieces, dim=-1).cpu().numpy().astype(np.int64)
        return Codes(tokens=tokens, frame_rate=self.info.frame_rate, codebook_size=CODEBOOK_SIZE,
                     sample_rate=audio.sample_rate, num_samples=audio.frames, codec_id=self.info.id)

    def decode(self, codes: Codes) -> Audio:
        import torch

        tokens = torch.from_numpy(codes.tokens).to(self.device)[None]
        pieces = []
        with torch.inference_mode():
            for w in plan(codes.frames, self.window, DECODE_CONTEXT_FRAMES):
                wav = self.model.decode(tokens[..., w.lo: w.hi])
                pieces.append(wav[0, (w.start - w.lo) * self.hop: (w.stop - w.lo) * self.hop])
        samples = torch.cat(pieces).float().cpu().numpy()[None, : codes.num_samples]
        samples = np.pad(samples, ((0, 0), (0, codes.num_samples - samples.shape[1])))
        return Audio(np.ascontiguousarray(samples, dtype=np.float32), self.info.sample_rate)


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """Our port with random weights, saved as an official checkpoint (weight_g/weight_v and all) at the hub
    cache path. The loader reads the architecture from our per-model config, not the file, so the
    checkpoint is full size whatever `small` (about 250 MB, written in about a second)."""
    import torch

    from .. import testing
    from ._hifi_codec_nets import HiFiCodec, official_state

    model = HiFiCodec(config(codec_id))
    for modules in model.quantizer.layers():
        for module in modules:  # about the latent's scale under the default init, so codes vary
            module.embedding.weight.data.normal_(0, 0.1)
    path = testing.hub_snapshot(HUB_REPO) / MODELS[codec_id][0]
    torch.save(official_state(model), path)
    return path

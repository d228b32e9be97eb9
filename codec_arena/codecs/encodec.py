"""EnCodec (Défossez et al., 2022) through the official `encodec` package.

The 24 kHz model is mono and causal; the 48 kHz model is stereo, works on 1 s segments with 1%
overlap and normalises each segment (a scale per segment, kept in `Codes.extras`). The 24 kHz model
would take a whole file in one pass (about 50 MB of activations per second of audio on CPU), so we
give it the package's own segmenting too, with 10 s segments: clips up to 10 s are encoded exactly as
before, longer ones in overlapping segments joined by EnCodec's linear overlap-add, and memory stays
flat.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .. import weights
from ..audio import Audio
from .base import CodecInfo, Codes

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
SEGMENT_SECONDS_24KHZ = 10.11  # with 1% overlap the stride is just over 10 s: clips up to 10 s are one pass
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
    if model.segment is None:
        model.segment, model.overlap = SEGMENT_SECONDS_24KHZ, 0.01
    return EncodecCodec(info, model, device)


class EncodecCodec:
    def __init__(self, info: CodecInfo, model, device: str) -> None:
        self.info, self.model, self.device = info, model, device
        self.checkpoint = weights.torch_hub_checkpoint(CHECKPOINTS[info.id])
        self._lock = threading.Lock()  # the bandwidth is state on the shared model

    def encode(self, audio: Audio, bitrate_kbps: float) -> Codes:
        import torch

        bandwidth = self.info.check_bitrate(bitrate_kbps)
        x = torch.from_numpy(audio.samples).to(self.device)[None]
        with self._lock, torch.inference_mode():
            self.model.set_target_bandwidth(bandwidth)
            frames = self.model.encode(x)
        tokens = torch.cat([codes[0] for codes, _ in frames], dim=-1).cpu().numpy().astype(np.int64)
        extras = {"segment_frames": np.array([codes.shape[-1] for codes, _ in frames], dtype=np.int64)}
        if frames[0][1] is not None:
            extras["scales"] = torch.cat([scale.reshape(1) for _, scale in frames]).cpu().numpy()
        return Codes(tokens=tokens, frame_rate=self.info.frame_rate, codebook_size=1024,
                     sample_rate=audio.sample_rate, num_samples=audio.frames, codec_id=self.info.id,
                     extras=extras)

    def decode(self, codes: Codes) -> Audio:
        import torch

        tokens = torch.from_numpy(codes.tokens).to(self.device)
        bounds = np.cumsum(np.concatenate([[0], codes.extras["segment_frames"]]))
        scales = codes.extras.get("scales")
        frames = [(tokens[None, :, start:end],
                   None if scales is None else torch.tensor(scales[i], device=self.device).view(1, 1))
                  for i, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]
        with self._lock, torch.inference_mode():
            wav = self.model.decode(frames)[0, :, : codes.num_samples]
        return Audio(wav.float().cpu().numpy(), self.info.sample_rate)


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

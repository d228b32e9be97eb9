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
so inputs as short as one sample work.

Long inputs go through our streaming engine (`stream`): equal windows of at most 10 s, each with
the convolutions' reach as context on both sides (computed from the kernels: about 72 frames for the
encoder, 14 for the generator, plus two), whose outputs are dropped: one code per frame and codebook,
no overlap cost in the bitrate, flat memory. The generator is convolutions only, so decoded windows
equal one pass. The encoder is not: after every resblock it group-normalises over channels and the
whole input's time, 12 GroupNorms in all, so a window would normalise over itself. Those statistics
come from a first pass instead (`HiFiCodecCodec.first_pass`), one streaming pass per encoder stage:
each GroupNorm of a stage normalises a per-channel affine mix of the stage's three resblock outputs,
so their per-channel sums and products over the whole input (the windows' kept frames only) give all
three GroupNorms' statistics, and the next stage runs with them. Windows encoded with those
statistics give the one-pass codes and latent (up to float rounding). Clips up to one window are
one pass as the official script runs them. The engine runs `first_pass` before encoding (clips,
files and the exactness figures alike) and gives its result to every chunk as `prepared`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import weights
from . import stream
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

HUB_REPO = "Dongchao/AcademiCodec"
CODEBOOK_SIZE = 1024  # n_codes in every released config
CODEBOOKS = 4  # n_code_groups (2) x the quantizer's two residual layers

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


class HiFiCodecCodec(ChunkedCodec):
    """HiFi-Codec through the engine: our port's encoder + GRVQ and generator per window, with the
    convolutions' reach as context. Long inputs are encoded with whole-input GroupNorm statistics
    from a first pass (`first_pass`), so chunked codes equal one pass."""

    batchable = True  # GroupNorm statistics are per batch row; rows are zero-padded to whole frames
    whole_input_pass = True

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.hop = model.config.hop
        self.context_units = math.ceil(model.encoder.reach() / self.hop) + 2  # 74 frames (full size)
        self.decode_context_units = math.ceil(model.generator.reach()) + 2  # 16 frames

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint,
                     prepared: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """[B, 1, n] -> codes [B, 4, ceil(n / hop)] (a partial last frame zero-padded), normalised
        with `prepared` (`first_pass`'s statistics), else over x."""
        return self.model.quantizer.encode(self._latent(x, prepared))[:, : point.codebooks].cpu().numpy()

    def latent_chunk(self, x: np.ndarray, prepared: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """[B, 1, n] -> the encoder output [B, 512, ceil(n / hop)]."""
        return self._latent(x, prepared).cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] -> [B, 1, T x hop]; codebooks past K count as zero."""
        import torch

        return self.model.decode(torch.from_numpy(tokens).to(self.device))[:, None].float().cpu().numpy()

    # --- the first pass: whole-input GroupNorm statistics -------------------------------------------

    def first_pass(self, reader: stream.Reader, window_units: int | None = None) -> dict[str, np.ndarray]:
        """The statistics of the encoder's 12 GroupNorms over the whole input, {"mean{j}", "var{j}":
        [groups]} (float64), gathered over the engine's windows (`window_units`, else the codec's), one
        pass per encoder stage; {} when the input is one window (it normalises over itself). Run it
        as the engine runs chunk functions: under the codec's lock and `torch.inference_mode`."""
        import torch

        windows = stream.plan(stream.units_for(self, reader.frames), window_units or self.window_units,
                              self.context_units)
        if len(windows) == 1:
            return {}
        encoder, found = self.model.encoder, {}
        stride = 1
        for stage, up in enumerate(encoder.ups):
            stride *= up.stride[0]
            steps = self.hop // stride  # the stage's time steps per frame
            sums = products = None
            count = 0
            for w in windows:
                x = reader.read(w.lo * self.hop, min(w.hi * self.hop, reader.frames))
                branches = encoder.branches(self._wav(np.ascontiguousarray(x, np.float32)[None])[:, None], stage,
                                            self._as_norms(found))[:, 0]  # (blocks, channels, steps)
                kept = branches[..., (w.start - w.lo) * steps: (w.stop - w.lo) * steps].double()
                window_sums = kept.sum(-1)
                window_products = torch.einsum("ict,jct->ijc", kept, kept)
                sums = window_sums if sums is None else sums + window_sums
                products = window_products if products is None else products + window_products
                count += kept.shape[-1]
            found.update(_stage_statistics(encoder, stage, sums.cpu().numpy(), products.cpu().numpy(), count))
        return found

    def _as_norms(self, statistics: dict[str, np.ndarray]):
        import torch

        return {int(key[4:]): (torch.as_tensor(statistics[key], dtype=torch.float32, device=self.device),
                               torch.as_tensor(statistics["var" + key[4:]], dtype=torch.float32, device=self.device))
                for key in statistics if key.startswith("mean")}

    def _wav(self, x: np.ndarray):
        """[B, 1, n] -> [B, frames x hop] on the device, zero-padded to whole frames (at least one)."""
        import torch

        frames = max(1, math.ceil(x.shape[-1] / self.hop))
        wav = torch.zeros(x.shape[0], frames * self.hop, device=self.device)
        wav[:, : x.shape[-1]] = torch.from_numpy(x[:, 0]).to(self.device)
        return wav

    def _latent(self, x: np.ndarray, prepared: dict[str, np.ndarray] | None):
        return self.model.encoder(self._wav(x)[:, None], self._as_norms(prepared) if prepared else None)


def _stage_statistics(encoder, stage: int, sums: np.ndarray, products: np.ndarray,
                      count: int) -> dict[str, np.ndarray]:
    """A stage's GroupNorm statistics from its resblock outputs r_k over the whole input: sums[k, c]
    = sum_t r_k[c, t], products[k, l, c] = sum_t r_k[c, t] r_l[c, t], count = time steps. Each
    GroupNorm's input is a per-channel affine mix sum_k w[k, c] r_k + b[c] (its predecessor's output,
    an affine map of its input, plus the next resblock), so its mean and E[x^2] follow from those."""
    blocks = list(encoder.blocks(stage))
    weight = np.zeros_like(sums)  # w[k, c]
    bias = np.zeros(sums.shape[1])
    found = {}
    for k, j in enumerate(blocks):
        weight[k] += 1.0
        norm = encoder.normalize[j]
        total = (weight * sums).sum(0) + bias * count  # per channel
        squares = np.einsum("kc,lc,klc->c", weight, weight, products) + 2 * bias * (weight * sums).sum(0) \
            + bias**2 * count
        groups = norm.num_groups
        mean = total.reshape(groups, -1).sum(1) / (count * sums.shape[1] // groups)
        var = np.maximum(squares.reshape(groups, -1).sum(1) / (count * sums.shape[1] // groups) - mean**2, 0.0)
        found[f"mean{j}"], found[f"var{j}"] = mean, var
        gamma = norm.weight.detach().double().cpu().numpy()
        beta = norm.bias.detach().double().cpu().numpy()
        scale = gamma / np.repeat(np.sqrt(var + norm.eps), sums.shape[1] // groups)
        weight, bias = weight * scale, bias * scale + beta - np.repeat(mean, sums.shape[1] // groups) * scale
    return found


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """Our port with random weights, saved as an official checkpoint (weight_g/weight_v and all) at the hub
    cache path. The loader reads the architecture from our per-model config, not the file, so the
    checkpoint is full size whatever `small` (about 250 MB, written in about a second)."""
    import torch

    from ._hifi_codec_nets import HiFiCodec, official_state

    model = HiFiCodec(config(codec_id))
    for modules in model.quantizer.layers():
        for module in modules:  # about the latent's scale under the default init, so codes vary
            module.embedding.weight.data.normal_(0, 0.1)
    path = weights.hub_snapshot(HUB_REPO) / MODELS[codec_id][0]
    torch.save(official_state(model), path)
    return path

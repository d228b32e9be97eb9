"""AudioDec (Wu et al., 2023): our port of facebookresearch/AudioDec's inference, on its released files.

AudioDec has no package, so `_audiodec_nets` re-implements the networks with the official module
names and this module loads the authors' files unchanged: `exp/autoencoder/<name>/` and
`exp/vocoder/<name>/`, each a `config.yml` (its `generator_params` build the network) and a
`checkpoint-<N>steps.pkl` whose `['model']['generator']` holds the weights. Each codec is the pair the
README recommends ("AutoEncoder + Vocoder") and `utils/audiodec.py::assign_model` names:
the symAD autoencoder's encoder, projector and 8 x 1024 residual VQ make the codes, and the AD v1
HiFi-GAN vocoder trained on that encoder's codes makes the waveform (`libritts_v1` at 24 kHz,
`vctk_v1` at 48 kHz).

Which official path this reproduces: the non-streaming one of `codecTest.py` (`bin/test.py`):
`encoder -> projector -> quantizer` and the vocoder's `forward`, with zero left padding in the causal
convolutions and the first frame replicated in the transposed ones. `benchmarks/parity/audiodec.py`
checks that our codes equal the official ones and the audio agrees within 1e-5. `demoFile.py` runs
the streaming `StreamGenerator` instead, whose buffers are first warmed up on 8192 zeros, so its first
frames differ from this path (the rest agrees).

The model is fully causal and stateless at inference (no normalisation over time, no recurrence),
so long inputs go through our streaming engine (`stream`) in equal windows of at most 10 s, each with
its receptive field of past input as context (7,208 samples for the released encoder, 25 frames, and
37.7 frames of codes for the vocoder; computed from the config, plus two frames) whose outputs are
dropped: long files keep memory flat, every frame is coded once (no bitrate overhead) and the result
equals a one-pass run up to float rounding. (The engine gives the same context after a window too,
which a causal model does not need.)

Operating points: the RVQ is trained with all 8 codebooks every step (no quantizer dropout), so each
model offers only its full rate, 8 x 10 bits x (rate / 300) frames/s. Decoding the first k < 8
codebooks (the Tokens tab) sums their codewords; that is not a trained operating point.

Weights: `fetch` downloads the release's `exp.zip` once, keeps the folders of both codecs in
`$XDG_CACHE_HOME/codec-arena/audiodec/exp/` (default `~/.cache/...`), and deletes the zip. The
vocoder's normalisation statistics (`stats/*.npy` in the repository) are stored in its checkpoint as
`mean` / `scale`, which is what the official code ends up using too, so inference needs no .npy.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .. import weights
from ..errors import RequestError, WeightsMismatch
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

RELEASE_URL = "https://github.com/facebookresearch/AudioDec/releases/download/pretrain_models_v02/exp.zip"
RAW_URL = "https://raw.githubusercontent.com/facebookresearch/AudioDec/e451e62580a66fe74426db51d92a6d0d468b70b3"
HOP = 300  # product of enc_strides (3, 4, 5, 5) in both released autoencoders


@dataclass(frozen=True)
class Release:
    """One `assign_model` entry: which checkpoints of the release a codec reads."""

    autoencoder: str
    autoencoder_steps: int
    vocoder: str
    vocoder_steps: int
    stats: str  # `stats/<name>.npy` in the repository, named by the vocoder's config
    demo_name: str  # the `--model` name in demoFile.py


RELEASES = {
    "audiodec_24khz": Release("symAD_libritts_24000_hop300", 500_000,
                              "AudioDec_v1_symAD_libritts_24000_hop300_clean", 500_000,
                              "symAD_libritts_24000_hop300_clean", "libritts_v1"),
    "audiodec_48khz": Release("symAD_vctk_48000_hop300", 200_000,
                              "AudioDec_v1_symAD_vctk_48000_hop300_clean", 500_000,
                              "symAD_vctk_48000_hop300_clean", "vctk_v1"),
}

_COMMON = dict(
    family="AudioDec", channels=1, codebook_size=1024, max_codebooks=8, quantizer="RVQ", domain="speech",
    paper="Wu, Gebru, Marković, Richard, AudioDec: An Open-source Streaming High-fidelity Neural Audio Codec, "
          "ICASSP 2023 (arXiv:2305.16608)",
    code_url="https://github.com/facebookresearch/AudioDec",
    licence="CC-BY-NC 4.0 (code and released models; parts of the code MIT)",
    discriminators="HiFi-GAN multi-scale (3 scales) + multi-period (periods 2, 3, 5, 7, 11)",
    hub_id="facebookresearch/AudioDec@pretrain_models_v02",
)


def _info(codec_id: str, sample_rate: int, training_data: str) -> CodecInfo:
    release = RELEASES[codec_id]
    frame_rate = sample_rate / HOP
    kbps = round(8 * 10 * frame_rate / 1000, 3)
    return CodecInfo(
        id=codec_id, sample_rate=sample_rate, frame_rate=frame_rate, bitrates_kbps=(kbps,),
        default_bitrate_kbps=kbps, training_data=training_data,
        weights=f"GitHub release pretrain_models_v02/exp.zip: exp/autoencoder/{release.autoencoder} "
                f"({release.autoencoder_steps} steps) + exp/vocoder/{release.vocoder} ({release.vocoder_steps} steps)",
        sources=("https://github.com/facebookresearch/AudioDec (README: pre-trained models, licence)",
                 f"config/autoencoder/{release.autoencoder}.yaml, config/vocoder/{release.vocoder}.yaml "
                 "(architecture, data, discriminators)",
                 f"utils/audiodec.py::assign_model('{release.demo_name}') (which checkpoints pair)"),
        notes="Causal and streamable; speech only; the waveform comes from a HiFi-GAN vocoder trained on "
              "the frozen encoder's codes (AD v1).",
        **_COMMON,
    )


INFOS = [
    _info("audiodec_24khz", 24_000, "LibriTTS (train-clean-450 subset in the release config), 24 kHz"),
    _info("audiodec_48khz", 48_000, "VCTK, 84 training speakers (clean_trainset_84spk_wav in the release config), "
                                    "48 kHz"),
]


# --- where the release lives on disk ---

def cache_dir() -> Path:
    """The working folder the official scripts expect (`exp/...`, `stats/...` relative to it)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "codec-arena" / "audiodec"


def model_dir(kind: str, name: str) -> Path:
    return cache_dir() / "exp" / kind / name


def autoencoder_checkpoint(codec_id: str) -> Path:
    release = RELEASES[codec_id]
    return model_dir("autoencoder", release.autoencoder) / f"checkpoint-{release.autoencoder_steps}steps.pkl"


def vocoder_checkpoint(codec_id: str) -> Path:
    release = RELEASES[codec_id]
    return model_dir("vocoder", release.vocoder) / f"checkpoint-{release.vocoder_steps}steps.pkl"


def fetch_release() -> None:
    """Download exp.zip once and keep the model folders of every codec here (both come from it).
    Everything is unpacked into a staging folder and each model folder moved into place whole, with
    its config.yml, so an interrupted download never leaves a checkpoint that looks present."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    wanted = {("autoencoder", r.autoencoder) for r in RELEASES.values()} | {("vocoder", r.vocoder)
                                                                             for r in RELEASES.values()}
    staging = Path(tempfile.mkdtemp(prefix="exp-", dir=root))
    try:
        archive = staging / "exp.zip"
        urllib.request.urlretrieve(RELEASE_URL, archive)
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                parts = PurePosixPath(member.filename).parts
                parts = parts[parts.index("exp") + 1:] if "exp" in parts else parts  # tolerate a top folder
                if member.is_dir() or len(parts) != 3 or tuple(parts[:2]) not in wanted or parts[2] in {".", ".."}:
                    continue
                target = staging / parts[0] / parts[1] / parts[2]
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
        for kind, name in wanted:  # the repository keeps each config.yml in the same place
            config = staging / kind / name / "config.yml"
            if not config.exists() and config.parent.exists():
                urllib.request.urlretrieve(f"{RAW_URL}/exp/{kind}/{name}/config.yml", config)
        for kind, name in wanted:
            if (staging / kind / name).exists():
                final = model_dir(kind, name)
                final.parent.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(final, ignore_errors=True)
                os.replace(staging / kind / name, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _spec(codec_id: str, location) -> weights.WeightSpec:
    return weights.WeightSpec(model_id=codec_id, source=f"the AudioDec GitHub release ({RELEASE_URL})",
                              location=location, fetch=fetch_release)


def weight_spec(codec_id: str) -> weights.WeightSpec:
    """Present when the autoencoder checkpoint is; `load` checks the vocoder's too."""
    return _spec(codec_id, lambda: autoencoder_checkpoint(codec_id))


# --- loading ---

def read_config(checkpoint: Path) -> dict:
    """The config.yml beside a checkpoint, as the official `_load_config` finds it."""
    import yaml

    with open(checkpoint.parent / "config.yml") as f:
        return yaml.safe_load(f)


def read_generator(checkpoint: Path) -> dict:
    """Tensors only (`weights_only`): a downloaded pickle never runs code here."""
    import pickle

    import torch

    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsMismatch(checkpoint.parent.name, checkpoint, "it holds more than tensors, and Codec Arena "
                              "does not unpickle arbitrary objects from downloaded files") from exc
    return state["model"]["generator"]


def build_autoencoder(checkpoint: Path):
    """The symAD generator without its decoder, weights loaded strictly (decoder keys aside)."""
    from . import _audiodec_nets as nets
    from . import weight_norm

    config = read_config(checkpoint)
    if config.get("model_type", "symAudioDec") not in ("symAudioDec", "symAudioDecUniv"):
        raise WeightsMismatch(checkpoint.parent.name, checkpoint.parent / "config.yml",
                              f"model_type {config['model_type']} is not an AudioDec autoencoder")
    model = nets.AutoEncoder(**config["generator_params"], with_decoder=False)
    state = weight_norm.fold(read_generator(checkpoint))
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("decoder.")})
    return model, config


def build_vocoder(checkpoint: Path):
    from . import _audiodec_nets as nets
    from . import weight_norm

    config = read_config(checkpoint)
    if config.get("model_type") not in ("HiFiGAN", "UnivNet"):  # both use the HiFi-GAN generator officially
        raise WeightsMismatch(checkpoint.parent.name, checkpoint.parent / "config.yml",
                              f"model_type {config.get('model_type')} is not an AudioDec vocoder")
    model = nets.HiFiGANGenerator(**config["generator_params"])
    model.load_state_dict(weight_norm.fold(read_generator(checkpoint)))
    return model, config


def load(info: CodecInfo, device: str) -> AudioDecCodec:
    from torch import nn

    checkpoint = weights.download(weight_spec(info.id))
    vocoder_path = weights.download(_spec(info.id, lambda: vocoder_checkpoint(info.id)))
    autoencoder, ae_config = build_autoencoder(checkpoint)
    vocoder, _ = build_vocoder(vocoder_path)
    if ae_config.get("sampling_rate", info.sample_rate) != info.sample_rate or autoencoder.hop_length != HOP \
            or vocoder.hop_length != HOP:
        raise WeightsMismatch(info.id, checkpoint.parent / "config.yml",
                              f"it does not describe {info.id} ({info.sample_rate} Hz, hop {HOP})")
    model = nn.ModuleDict({"autoencoder": autoencoder, "vocoder": vocoder}).eval().to(device)
    return AudioDecCodec(info, model, device, checkpoint)


class AudioDecCodec(ChunkedCodec):
    """AudioDec through the engine: the autoencoder's encoder, projector and RVQ, and the vocoder on
    the summed codewords, per window, with the causal receptive fields as context, so chunked codes
    and audio equal one pass. Stateless at inference (no streaming buffers are used)."""

    batchable = True  # causal: zeros after a clip change none of its frames

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.autoencoder, self.vocoder = model["autoencoder"], model["vocoder"]
        self.hop = HOP
        # receptive fields in frames, plus two frames of margin
        self.context_units = math.ceil(self.autoencoder.left_context() / HOP) + 2
        self.decode_context_units = math.ceil(self.vocoder.left_context()) + 2

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, K, ceil(n / 300)] (frame t sees samples up to t x 300: no padding)."""
        return self.autoencoder.encode(self._tensor(x))[:, : point.codebooks].cpu().numpy()

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 1, n] -> the projector's output [B, code_dim, ceil(n / 300)], before the RVQ."""
        return self.autoencoder.projector(self.autoencoder.encoder(self._tensor(x))).cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T], 1 <= K <= 8 -> [B, 1, T x 300]: the vocoder on the sum of the first K codewords."""
        import torch

        if not 1 <= tokens.shape[1] <= self.info.max_codebooks:
            raise RequestError(f"{self.info.id} decodes 1 to {self.info.max_codebooks} codebooks; "
                               f"got {tokens.shape[1]}.")
        codes = torch.from_numpy(np.asarray(tokens, dtype=np.int64)).to(self.device)
        return self.vocoder(self.autoencoder.quantizer.decode(codes)).float().cpu().numpy()

    def _tensor(self, x: np.ndarray):
        import torch

        return torch.from_numpy(x).to(self.device)


# --- random weights in the official layout (tests, demos) ---

FULL_AUTOENCODER = dict(
    input_channels=1, output_channels=1, encode_channels=32, decode_channels=32, code_dim=64, codebook_num=8,
    codebook_size=1024, bias=True, enc_ratios=[2, 4, 8, 16], dec_ratios=[16, 8, 4, 2], enc_strides=[3, 4, 5, 5],
    dec_strides=[5, 5, 4, 3], mode="causal", codec="audiodec", projector="conv1d", quantier="residual_vq",
)
FULL_VOCODER = dict(
    in_channels=64, out_channels=1, channels=512, kernel_size=7, upsample_scales=[5, 5, 4, 3],
    upsample_kernel_sizes=[10, 10, 8, 6], resblock_kernel_sizes=[11], resblock_dilations=[[1, 3, 5]], groups=3,
    bias=True, use_additional_convs=True, nonlinear_activation="LeakyReLU",
    nonlinear_activation_params={"negative_slope": 0.1}, use_weight_norm=True,
)  # the AD v1 vocoders' generator_params (both rates)
SMALL_AUTOENCODER = dict(encode_channels=2, decode_channels=2, code_dim=8)
SMALL_VOCODER = dict(in_channels=8, channels=32)


def _spread_codebooks(autoencoder, sample_rate: int) -> None:
    """Random codebooks at the scale of what a random encoder emits. Unit-variance codewords sit far
    from its small outputs, so every frame would pick the one shortest codeword; scaled to each
    stage's residual (measured on 1 s of noise), the codes vary as they do in a trained model."""
    import torch

    with torch.no_grad():
        residual = autoencoder.projector(autoencoder.encoder(0.1 * torch.randn(1, 1, sample_rate))).transpose(1, 2)
        for layer in autoencoder.quantizer.codebook.layers:
            layer.embed.copy_(torch.randn_like(layer.embed) * residual.std())
            layer.embed_avg.copy_(layer.embed)
            residual = residual - layer.lookup(layer.nearest(residual))


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """Our port with random weights (codebooks spread to the encoder's scale), saved in the release
    layout: config.yml + checkpoint-<N>steps.pkl per model and the vocoder's stats .npy. The official
    loaders read these files too (checked in benchmarks/parity/audiodec.py)."""
    import torch
    import yaml

    from . import _audiodec_nets as nets

    release, info = RELEASES[codec_id], next(i for i in INFOS if i.id == codec_id)
    ae_params = {**FULL_AUTOENCODER, **(SMALL_AUTOENCODER if small else {})}
    stats = f"stats/{release.stats}.npy"
    voc_params = {**FULL_VOCODER, **(SMALL_VOCODER if small else {}), "stats": stats}
    autoencoder, vocoder = nets.AutoEncoder(**ae_params), nets.HiFiGANGenerator(**voc_params)
    _spread_codebooks(autoencoder, info.sample_rate)
    dim = voc_params["in_channels"]
    vocoder.mean.copy_(0.1 * torch.randn(dim))
    vocoder.scale.copy_(0.5 + torch.rand(dim))
    ae_path, voc_path = autoencoder_checkpoint(codec_id), vocoder_checkpoint(codec_id)
    configs = [
        (ae_path, autoencoder, {"model_type": "symAudioDec", "sampling_rate": info.sample_rate,
                                "generator_params": ae_params}),
        (voc_path, vocoder, {"model_type": "HiFiGAN", "sampling_rate": info.sample_rate,
                             "analyzer": str(ae_path.relative_to(cache_dir())), "generator_params": voc_params}),
    ]
    for path, model, config in configs:
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        torch.save({"model": {"generator": nets.checkpoint_state(model)}}, path)
    stats_path = cache_dir() / stats
    stats_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(stats_path, torch.stack([vocoder.mean, vocoder.scale]).numpy())
    return ae_path

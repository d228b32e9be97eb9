"""UniCodec (Jiang et al., ACL 2025): one 16384-entry codebook for speech, music and sound, our port of
the official inference path (`_unicodec_nets.py`) reading the official checkpoint file unchanged.

Which UniCodec: several papers share the name. This is "UniCodec: Unified Audio Codec with Single
Domain-Adaptive Codebook" (arXiv:2502.20067; github.com/Jiang-Yidi/UniCodec), the model Codec-SUPERB
runs as `unicodec_24k`: its loader (SoundCodec/base_codec/unicodec.py) installs the authors' code with
its imports fixed (github.com/mesolitica/UniCodec-fix), downloads `unicode.ckpt` from the hub
repository `Yidiii/UniCodec_ckpt` (the authors' release, linked from their README) and a mirror of the
finetune config, and calls `encode_infer(wav, domain='0', bandwidth_id=0)` then `decode(features,
bandwidth_id=0)` on the audio as it comes (no normalisation). There is no package on PyPI (the
`unicodec` there is an unrelated text decoder), so this is a port. The architecture is fixed by the
official classes and the finetune config; we read its sizes off the checkpoint, so only the one file
is needed.

Domains: the codebook is split by domain: speech codes 0-4095, music 4096-8191, sound 8192-16383, and
the encoder searches only the partition of the domain it is told (`simvq_moe.py`; the id is '0', '1'
or '2'). Codec-SUPERB passes '0' for every clip, music and sound included; that is `unicodec_24k`
here. `unicodec_24k_music` and `unicodec_24k_sound` are the same model told the other domains. The
decoder does not need the domain (the code says where it lives). The three share one loaded network.
The bitrate counts the whole alphabet (14 bits x 75 frames/s = 1.05 kbps); a domain's partition
holds 12 bits (speech, music) or 13 bits (sound).

Long inputs go through our streaming engine: windows of 10 s with 1 s of real signal each side,
computed and dropped. Not exact: the encoder's Transformer and the decoder's attention block see the
whole input, and the decoder group-normalises over all frames. Clips up to 10 s are one pass, as the
official call. The encoder reflect-pads a partial last frame (EnCodec's SEANet), so only clips of
equal length batch.
"""

from __future__ import annotations

import math
import threading
import weakref
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import WeightsMismatch
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

HUB_REPO = "Yidiii/UniCodec_ckpt"
FILENAME = "unicode.ckpt"
SAMPLE_RATE = 24_000
HOP = 320  # dowmsamples 8-5-4-2 (the finetune config: "hop_length: 320  # 8*5*4*2")
CODEBOOK_SIZE = 16_384  # vq_bins
CONTEXT_SECONDS = 1.0  # each side of a window: attention over the whole input, so be generous
OFFICIAL_CONFIG = "configs/unicodec_frame75_10s_nq1_code16384_dim512_finetune.yaml"

# codec id -> (official domain id, CodecInfo.domain, partition, notes)
MODELS = {
    "unicodec_24k": ("0", "speech", "codes 0-4095",
                     "Codec-SUPERB's unicodec_24k: the speech partition, whatever the input (its loader passes "
                     "domain '0' for every clip)."),
    "unicodec_24k_music": ("1", "music", "codes 4096-8191",
                           "The same model told the input is music: codes from the music partition."),
    "unicodec_24k_sound": ("2", "general", "codes 8192-16383",
                           "The same model told the input is sound (the official code says 'audio'): codes from "
                           "the sound partition, half the codebook."),
}

KBPS = round(math.log2(CODEBOOK_SIZE) * SAMPLE_RATE / HOP / 1000, 3)  # 1.05

_COMMON = dict(
    family="UniCodec", sample_rate=SAMPLE_RATE, channels=1, frame_rate=SAMPLE_RATE / HOP,
    codebook_size=CODEBOOK_SIZE, max_codebooks=1, bitrates_kbps=(KBPS,), default_bitrate_kbps=KBPS,
    quantizer="single VQ (SimVQ: a learnt linear map of a frozen codebook; partitioned by domain)",
    paper="Jiang et al., UniCodec: Unified Audio Codec with Single Domain-Adaptive Codebook, ACL 2025 "
          "(arXiv:2502.20067)",
    code_url="https://github.com/Jiang-Yidi/UniCodec",
    weights=f"hub {HUB_REPO}: {FILENAME} (a PyTorch Lightning checkpoint; architecture of {OFFICIAL_CONFIG})",
    licence="none stated: the code repository has no licence file and its README names none; the hub "
            "repository's model card was not readable here",
    discriminators="multi-period (MPD), multi-resolution (MRD) and DAC's multi-band complex STFT discriminator",
    training_data="speech, music and sound in one model (the README's three domains); the repository ships no "
                  "data lists, and the paper's list of corpora could not be read here",
    hub_id=HUB_REPO,
    sources=(
        "github.com/Jiang-Yidi/UniCodec README.md (paper, domains, checkpoint on the hub)",
        f"{OFFICIAL_CONFIG} (24 kHz, dowmsamples 8-5-4-2 = hop 320, vq_bins 16384, num_quantizers 1, "
        "Vocos backbone 768 x 12, ISTFT n_fft 1280)",
        "encoder/quantization/simvq_moe.py SimVQ1D.forward (partitions: speech, music, audio, audio quarters)",
        "decoder/experiment.py VocosEncodecExp (MultiPeriodDiscriminator, MultiResolutionDiscriminator, "
        "DACDiscriminator)",
        "voidful/Codec-SUPERB SoundCodec/base_codec/unicodec.py and codec/unicodec_24k.py (hub files, domain '0', "
        "bandwidth_id 0, the mesolitica/UniCodec-fix code)",
    ),
)


def _info(codec_id: str) -> CodecInfo:
    _, domain, partition, notes = MODELS[codec_id]
    return CodecInfo(id=codec_id, domain=domain, notes=f"{notes} ({partition}.)", **_COMMON)


INFOS = [_info(codec_id) for codec_id in MODELS]


def weight_spec(codec_id: str) -> weights.WeightSpec:
    return weights.hub_spec(codec_id, HUB_REPO, FILENAME, allow_patterns=[FILENAME])


# --- loading -------------------------------------------------------------------------------------

_NETS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # (file, size, mtime, device) -> net
_NETS_LOCK = threading.Lock()


def read_state(path: Path, model_id: str) -> dict:
    """The model's tensors from the checkpoint's `state_dict` (`feature_extractor.*`, `backbone.*`,
    `head.*`), copied into memory. Tensors only (`weights_only`: a downloaded pickle never runs code
    here); memory-mapped while reading, so the optimiser and discriminator states the file also holds
    are never read, and copied so that nothing stays tied to a file that may be rewritten."""
    import pickle

    import torch

    from ._unicodec_nets import PREFIXES

    def read(mmap: bool):
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except pickle.UnpicklingError as exc:
            raise WeightsMismatch(model_id, path, "it holds more than tensors, and Codec Arena does not "
                                  "unpickle arbitrary objects from downloaded files") from exc
        except (EOFError, KeyError, ValueError) as exc:  # truncated or not a torch file
            raise WeightsMismatch(model_id, path, f"torch cannot read it ({type(exc).__name__}: {exc})") from exc

    try:
        checkpoint = read(mmap=True)
    except RuntimeError as exc:  # torch's legacy (non-zip) format cannot be memory-mapped
        if "mmap" not in str(exc):
            raise WeightsMismatch(model_id, path, f"torch cannot read it ({str(exc)[:200]})") from exc
        checkpoint = read(mmap=False)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise WeightsMismatch(model_id, path, "it is not a PyTorch Lightning checkpoint with a state_dict")
    return {k: v.clone() for k, v in checkpoint["state_dict"].items() if k.startswith(PREFIXES)}


def build(path: Path, model_id: str):
    """Our network from the official file, checked against the facts `INFOS` states."""
    from ._unicodec_nets import load_official

    try:
        model = load_official(read_state(path, model_id))
    except (KeyError, RuntimeError) as exc:  # a key or shape the official model does not have
        detail = " ".join(str(exc).split())  # load_state_dict lists the keys over several lines
        raise WeightsMismatch(model_id, path, f"it is not the UniCodec model ({type(exc).__name__}: "
                              f"{detail[:300]})") from exc
    h = model.config
    if (h.hop, h.codebook_size) != (HOP, CODEBOOK_SIZE):
        raise WeightsMismatch(model_id, path, f"hop {h.hop} and {h.codebook_size} codes, expected hop {HOP} "
                              f"(75 frames/s) and {CODEBOOK_SIZE} codes")
    return model


def shared_net(path: Path, model_id: str, device: str):
    """One network per checkpoint file and device for all three domain ids (held while any uses it)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, device)
    with _NETS_LOCK:
        net = _NETS.get(key)
        if net is None:
            net = build(path, model_id).to(device)
            net.calls = threading.Lock()  # one forward at a time on the network, whichever domain's adapter
            _NETS[key] = net
        return net


def load(info: CodecInfo, device: str) -> UniCodecCodec:
    path = weights.download(weight_spec(info.id))
    return UniCodecCodec(info, shared_net(path, info.id, device), device, path)


class UniCodecCodec(ChunkedCodec):
    """UniCodec through the engine: encoder + SimVQ in the id's domain partition, and backbone + ISTFT,
    per window, with 1 s of context each side."""

    exact = False  # the encoder's Transformer and the decoder's attention and GroupNorms see all frames
    batchable = True
    pads_to_frames = False  # reflect padding of a partial last frame: only clips of equal length batch

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self._lock = model.calls  # shared by the three domain ids: they drive one network
        self.domain = MODELS[info.id][0]
        self.hop = model.config.hop
        self.context_units = self.decode_context_units = math.ceil(CONTEXT_SECONDS * info.frame_rate)

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, 1, ceil(n / hop)], all in the domain's partition."""
        return self.model.encode(self._wav(x), self.domain)[:, None].cpu().numpy()

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 1, n] -> the encoder output [B, 512, ceil(n / hop)]."""
        return self.model.latent(self._wav(x)).float().cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, 1, T] -> [B, 1, T x hop] (AdaLayerNorm row 0, as the official inference)."""
        import torch

        codes = torch.from_numpy(np.ascontiguousarray(tokens[:, 0], dtype=np.int64)).to(self.device)
        return self.model.decode(codes)[:, None].float().cpu().numpy()

    def _wav(self, x: np.ndarray):
        import torch

        return torch.from_numpy(np.ascontiguousarray(x[:, 0], dtype=np.float32)).to(self.device)


# --- random weights (tests, demos) -------------------------------------------------------------------

# Tiny widths; hop, codebook size and n_fft stay the official ones. 64 backbone channels: 2 per GroupNorm
# group, so even a one-frame clip normalises (the official 768 have 24).
SMALL = dict(n_filters=2, dimension=16, layers=1, dim_feedforward=16, expert_dim=16, backbone_dim=64,
             backbone_intermediate=32, backbone_layers=1)


def random_model(small: bool = False, seed: int = 0):
    """Our full network (training-only parts included) with random weights whose codes vary: the projected
    codebook drawn around encoder outputs on a sweep and noise (as k-means-style initialisation does from
    data; a random encoder's outputs vary little around its biases), so every domain's partition has
    entries among the latents. The projection is random too, and the frozen codebook solved to match."""
    import torch

    from ._unicodec_nets import Config, UniCodec

    torch.manual_seed(seed)
    model = UniCodec(Config(**SMALL) if small else Config()).eval()
    with torch.inference_mode():
        latents = model.latent(fitting_signal())[0].T  # (frames, dim)
    vq = model.vq
    with torch.no_grad():
        picks = latents[torch.randint(0, latents.shape[0], (vq.embedding.weight.shape[0],))]
        target = picks + torch.randn_like(picks) * latents.std(0)  # the projected codebook we want
        dim = vq.embedding_proj.weight.shape[0]
        vq.embedding_proj.weight.copy_(torch.eye(dim) + torch.randn(dim, dim) * 0.1 / dim**0.5)
        vq.embedding_proj.bias.normal_(0, 0.01)
        # embedding such that embedding_proj(embedding) = target: W P^T + b = target
        vq.embedding.weight.copy_(torch.linalg.solve(vq.embedding_proj.weight, (target - vq.embedding_proj.bias).T).T)
    return model


def fitting_signal(seconds: float = 1.0):
    """What the random codebook is drawn around: a sweep from 50 Hz to 8 kHz, then noise at three levels,
    so tones, speech-like and noisy inputs each land among several entries. [1, n]."""
    import torch

    n = int(seconds * SAMPLE_RATE) // 2
    t = torch.arange(n) / SAMPLE_RATE
    sweep = 0.3 * torch.sin(2 * math.pi * 50 * (seconds / 2) / math.log(160) * (160 ** (t / (seconds / 2)) - 1))
    noise = torch.randn(n) * torch.tensor([0.3, 0.05, 0.005]).repeat_interleave(math.ceil(n / 3))[:n]
    return torch.cat([sweep, noise])[None]


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """Our network with random weights saved as the official Lightning checkpoint (`{'state_dict':
    ...}` with weight_g/weight_v and the training-only parts) at the hub cache path. The three ids share
    the file. Full size is about 840 MB."""
    import torch

    from ._unicodec_nets import official_state

    model = random_model(small)
    path = weights.hub_snapshot(HUB_REPO) / FILENAME
    torch.save({"state_dict": official_state(model), "epoch": 0, "global_step": 0}, path)
    return path

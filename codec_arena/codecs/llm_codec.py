"""LLM-Codec, the codec of UniAudio 1.5 (Yang et al., 2024): audio as LLaMA-2 tokens. Our port of the
official inference path (yangdongchao/LLM-Codec), reading the official checkpoint unchanged.

There is no package. The official readme downloads `semantic_acoustic.pth` from the hub repository
`Dongchao/2024`, builds `MSCodecLM(**config.yaml["generator"]["config"])` and loads the checkpoint's
`codec_model` state dict strictly; `infer.py` encodes with the model's forward and decodes with
`model.decode(codes)`. We read the same file from the Hugging Face hub cache; the networks are our
own, in `_llm_codec_nets.py`. `benchmarks/parity/llm_codec.py` checks codes and audio against the
official code on the same checkpoint.

The architecture is SNAC's (Snake convolutions, local attention, multi-scale RVQ, a noisy decoder) at
16 kHz with a 480-sample hop (33.3 latent frames a second). Its three quantizer levels run at strides
4, 2 and 1 (8.3, 16.7 and 33.3 codes a second), and their codebooks are frozen LLaMA-2 7B token
embeddings projected to the latent: level 1 picks among 3248 whole English words (the repository's
`layer1.npy` lists them), levels 2 and 3 among LLaMA-2's 32000 tokens, so every code is a token id a
frozen LLaMA-2 reads as text. The embeddings are inside the checkpoint: inference needs no LLaMA
weights. `Codes` keeps every level on the 33.3 Hz grid (coarse codes repeated, `extras["strides"]`),
with LLaMA's vocabulary (32000) as the codebook size; all levels are always used (one operating point).

`MSCodecLM.preprocess` pads the input to a multiple of 8 frames (lcm of the coarsest stride and the
8-frame attention window): 3840 samples, 0.24 s; the padded frames' codes are needed to decode the
last real ones, so short clips cost more than the nominal rate and the measured bitrate says so. The
decoder adds fresh Gaussian noise (`NoiseBlock`) on every call, as the official one does, so two
decodes of the same codes differ slightly.

Long inputs go through our streaming engine (`stream`): a unit is one padding block (3840 samples,
8 frames), so window edges are attention-window and coarse-code edges as in one pass, and the
context is the encoder's and decoder's receptive field (read from their convolutions and attention
windows) plus two frames, in whole units: chunked codes equal one pass (and, with the noise gains at
zero, chunked audio too).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import WeightsMismatch
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

HUB_REPO = "Dongchao/2024"
FILENAME = "semantic_acoustic.pth"  # the official readme's step 1
CODEC_ID = "llm_codec"
MARGIN_FRAMES = 2  # added to the receptive field before rounding up to whole units
VOCABULARY = 32_000  # LLaMA-2's, the codebook of levels 2 and 3 (level 1: 3248 of its words)


def recipe():
    """config.yaml `generator.config` of yangdongchao/LLM-Codec (the `Config` defaults): 16 kHz,
    encoder_dim 32, rates 3/4/5/8, latent 512, decoder_dim 1536, strides 4/2/1, window 8, noise and
    depthwise on, `use_cblinear`; codebooks 3248 and 32000 x 4096."""
    from ._llm_codec_nets import Config

    return Config()


# Tiny widths for tests: the recipe's rates, strides, window and codebook sizes (LocalMHA needs a
# multiple of 64 channels), 8-wide embeddings instead of LLaMA's 4096.
SMALL = dict(encoder_dim=4, latent_dim=64, decoder_dim=64, codebook_dim=8)

_HOP, _STRIDES, _UNIT = 480, (4, 2, 1), 8  # recipe(): prod(encoder_rates), vq_strides, lcm(4, window 8)
_FRAME_RATE = 16_000 / _HOP
_SIZES = (3248, VOCABULARY, VOCABULARY)  # level 1 picks among words, levels 2-3 among LLaMA-2's tokens
_KBPS = round(sum(math.log2(n) / s for n, s in zip(_SIZES, _STRIDES, strict=True)) * _FRAME_RATE / 1000, 3)  # 0.846

INFOS = [CodecInfo(
    id=CODEC_ID, family="LLM-Codec (UniAudio 1.5)", sample_rate=16_000, channels=1, frame_rate=_FRAME_RATE,
    codebook_size=VOCABULARY, codebook_sizes=_SIZES, max_codebooks=len(_STRIDES), codebook_strides=_STRIDES,
    frame_multiple=_UNIT,
    bitrates_kbps=(_KBPS,), default_bitrate_kbps=_KBPS,
    quantizer="multi-scale RVQ over frozen LLaMA-2 token embeddings (cosine nearest neighbour)",
    domain="general",
    paper="Yang et al., UniAudio 1.5: Large Language Model-driven Audio Codec is A Few-shot Audio Task "
          "Learner, NeurIPS 2024 (arXiv:2406.10056)",
    code_url="https://github.com/yangdongchao/LLM-Codec",
    weights=f"hub {HUB_REPO}: {FILENAME} (the official readme; architecture from the repository's config.yaml)",
    hub_id=HUB_REPO,
    licence="no licence file in yangdongchao/LLM-Codec or named for the checkpoint; its codebooks are "
            "LLaMA-2 token embeddings (Llama 2 Community License)",
    discriminators="multi-frequency discriminator (MFD, mel-scaled, 6 hop lengths); config.yaml's d_list "
                   "uses only it, though MPD and MSD are configured",
    training_data="not stated in the official repository; the paper's tasks span speech and general sound "
                  "(emotion and sound classification, TTS, enhancement)",
    sources=("https://github.com/yangdongchao/LLM-Codec readme (checkpoint Dongchao/2024 semantic_acoustic.pth, "
             "infer.py usage)",
             "config.yaml (16 kHz, encoder_rates 3/4/5/8, vq_strides 4/2/1, attn_window_size 8, d_list [mfd])",
             "codec/MSCodec.py (preprocess padding, encode/decode), codec/vq.py (LLM codebooks, cb_proj, "
             "L2-normalised search)",
             "layer1.npy (3248 words: level 1's codebook)",
             "arXiv:2406.10056 (three RVQ levels: semantic, coarse and residual acoustic; LLaMA-2 vocabulary)"),
    notes="Levels at 8.3, 16.7 and 33.3 codes a second; level 1 picks among 3248 words (11.7 bits), levels "
          "2-3 among LLaMA-2's 32000 tokens (15 bits each). Clips are padded to 8 frames (0.24 s). Decoding "
          "adds fresh noise on every call.",
)]


def weight_spec(codec_id: str) -> weights.WeightSpec:
    return weights.hub_spec(codec_id, HUB_REPO, FILENAME, allow_patterns=[FILENAME])


def read_state(path: Path) -> dict:
    """The checkpoint's `codec_model` state dict, tensors only (`weights_only`: a downloaded pickle never
    runs code here), memory-mapped (the file holds about 1 GB of LLaMA embeddings)."""
    import pickle

    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as exc:
        raise WeightsMismatch(CODEC_ID, path, "it holds more than tensors, and Codec Arena does not unpickle "
                              "arbitrary objects from downloaded files") from exc
    if not isinstance(checkpoint, dict) or "codec_model" not in checkpoint:
        raise WeightsMismatch(CODEC_ID, path, "it has no `codec_model` state dict, which the official "
                              "infer.py loads")
    return checkpoint["codec_model"]


def load(info: CodecInfo, device: str) -> LLMCodec:
    from . import _llm_codec_nets as nets

    path = weights.download(weight_spec(info.id))
    state = read_state(path)
    try:
        model = nets.load_official(nets.config_from_state(state, recipe()), state)
    except (KeyError, RuntimeError) as exc:
        raise WeightsMismatch(info.id, path, f"its tensors are not MSCodecLM's ({exc})") from exc
    return LLMCodec(info, model.to(device), device, path)


class LLMCodec(ChunkedCodec):
    """Our port per window of the engine, one unit being one padding block (hop x 8 frames). Codes keep
    every level on the finest grid (coarse codes repeated) with `extras["strides"]`."""

    batchable = True  # preprocess, the encoder, the quantizer and the decoder take B
    pads_to_frames = True  # preprocess zero-pads to whole units, as a batch is padded

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path | None) -> None:
        from . import _llm_codec_nets as nets
        from .local_attention_reach import context_frames, reach

        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        config = model.config
        self.strides = list(config.vq_strides)
        self.unit_frames = config.unit_frames
        self.hop = config.hop * self.unit_frames  # samples per unit
        window = config.attn_window_size
        encoder = context_frames(reach(model.encoder, 1 / config.hop, nets.LocalMHA), window)
        decoder = context_frames(reach(model.decoder, 1.0, nets.LocalMHA), window)
        self.context_units = math.ceil((encoder + MARGIN_FRAMES) / self.unit_frames)
        self.decode_context_units = math.ceil((decoder + MARGIN_FRAMES) / self.unit_frames)

    def static_extras(self, point: OperatingPoint) -> dict[str, np.ndarray]:
        """Every level's stride, so a codes file knows each code's time span."""
        return {**super().static_extras(point), "strides": np.asarray(self.strides, np.int64)}

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, 3, ceil(n / hop) x 8], level k repeated strides[k] times."""
        levels = self.model.quantizer(self._latent(x))
        return np.stack([np.repeat(c.cpu().numpy(), s, axis=-1) for c, s in zip(levels, self.strides, strict=True)],
                        axis=1).astype(np.int64)

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 1, n] -> the encoder's output before the quantizer, [B, 512, ceil(n / hop) x 8]."""
        return self._latent(x).float().cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] -> [B, 1, T' x 480], T' = T rounded up to whole units (the attention windows need
        them; the engine crops). Fewer than 3 levels (progressive decoding) add up only those given."""
        import torch

        frames = math.ceil(tokens.shape[-1] / self.unit_frames) * self.unit_frames
        tokens = np.pad(tokens, ((0, 0), (0, 0), (0, frames - tokens.shape[-1])), mode="edge")
        levels = [torch.from_numpy(np.ascontiguousarray(tokens[:, k, ::s])).to(self.device)
                  for k, s in zip(range(tokens.shape[1]), self.strides, strict=False)]
        return self.model.decode(levels).float().cpu().numpy()

    def _latent(self, x: np.ndarray):
        """[B, 1, n] -> the encoder's output [B, D, frames] after `preprocess`'s padding."""
        import torch

        return self.model.encoder(self.model.preprocess(torch.from_numpy(x).to(self.device)))


def write_random_weights(codec_id: str, small: bool = False, noise: bool = True) -> Path:
    """Our port with random weights and random codebooks, saved as the official checkpoint
    (`{"codec_model": state}`, weight_g/weight_v and raw [N, dim] codebooks) at the hub cache path.
    Full size holds the real codebook shapes (3248 and 2 x 32000 by 4096: about 1.1 GB); `small` keeps
    the rates, strides and codebook sizes with tiny widths. `noise=False` writes the decoder's
    `NoiseBlock` gains as zeros, so two decodes (and chunked against one pass) are comparable."""
    from dataclasses import replace

    import torch

    from . import _llm_codec_nets as nets

    config = replace(recipe(), **SMALL) if small else recipe()
    model = nets.MSCodecLM(config)
    codebooks = [torch.randn(n, config.codebook_dim) for n in config.codebook_sizes]
    state = nets.official_state(model, codebooks)
    if not noise:
        for name, module in model.named_modules():
            if isinstance(module, nets.NoiseBlock):
                state[f"{name}.linear.weight_g"].zero_()  # weight norm's gain: the weight is 0
    path = weights.hub_snapshot(HUB_REPO) / FILENAME
    torch.save({"codec_model": state}, path)
    return path

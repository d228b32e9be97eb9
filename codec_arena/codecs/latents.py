"""Continuous tokenizers (VibeVoice's acoustic tokenizer, the Pocket TTS audio tokenizer): transformers
models whose encoder ends in a VAE bottleneck, so they emit float latents (`base.Latents`, [D, T]) instead
of integer codes. Rounding them to integers would invent a quantizer the models never had.

What that means across the app (`CodecInfo.continuous`): they round-trip like any codec (Compare, the
Round trip tab, listening tests, the benchmark), with one operating point whose "bitrate" is the latents'
float32 storage per second (a storage figure, marked as such, not a codec bitrate); they have no tokens,
so the Tokens tab, token rates and codes files leave them out with that reason, as for classical codecs.

They run on the streaming engine (`ChunkedCodec`): windows with context each side, latents instead of
tokens through the same `stream.encode` / `stream.decode`. Both models are causal (VibeVoice: causal
convolutions only; Pocket TTS: causal convolutions and two causal attention layers over 1.25 s each)
and nothing in them normalises over time, so a window whose left context covers the network's reach
gives the one-pass latents and audio (`exact`): the family's `context_seconds`, which a test checks
against the reach of the full-size networks. A whole-clip gain (VibeVoice's loudness normalisation)
comes from the engine's first pass (`input_gain`), as for the integer codecs that normalise.

`LatentFamily` names a transformers tokenizer's classes and calls (the continuous twin of
`hf_codec.HFFamily`); `declare` gives a family module its `load`, `weight_spec` and
`write_random_weights`, as `hf_codec.declare` does.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .. import weights
from ..audio import Audio
from ..errors import RequestError, WeightsMismatch
from . import hf_codec, stream
from .base import CodecInfo, Latents, OperatingPoint
from .chunked import ChunkedCodec, inference


@dataclass(frozen=True, kw_only=True)
class LatentFamily:
    """One transformers continuous tokenizer. Tensors are batches: latents [B, T, D] (frames first,
    as both models' encode and decode take them), audio [B, 1, n]."""

    model_class: str  # the transformers class, e.g. "VibeVoiceAcousticTokenizerModel"
    encode: Callable[[Any, Any], Any]  # (model, audio [B, 1, whole frames]) -> latents [B, >= T, D]
    decode: Callable[[Any, Any], Any]  # (model, latents [B, T, D]) -> audio [B, 1, >= T x hop]
    config: Callable[[CodecInfo, bool], Any]  # (info, small) -> the transformers config (random weights)
    feature_extractor: Callable[[Any], Any]  # config -> the preprocessor saved beside random weights
    facts: Callable[[Any], dict[str, float]]  # config -> sample_rate, frame_rate, latent_dim
    context_seconds: float  # left context covering the encoder's and decoder's reach (taken on both sides),
    # so windows give the one-pass latents and audio (both models are causal, nothing normalises over time)
    gain: Callable[[Any, stream.SignalStats], float] | None = None  # (feature extractor, whole-clip stats) ->
    # the gain its preprocessing applies to the clip (VibeVoice's loudness normalisation); None: 1
    uses_feature_extractor: bool = False  # load the hub's preprocessor (VibeVoice: its normalisation settings)
    spread_random_weights: Callable[[Any], None] | None = None  # random weights: make activations O(1)


class LatentCodec(ChunkedCodec):
    """A transformers continuous tokenizer loaded as a user does (`from_pretrained(hub_id)`), on the engine."""

    family: ClassVar[LatentFamily]
    pads_to_frames = True  # each window is zero-padded to whole frames, as the feature extractors pad

    def __init__(self, info: CodecInfo, model, device: str, feature_extractor=None) -> None:
        self.info, self.model, self.device, self.feature_extractor = info, model, device, feature_extractor
        self.checkpoint = hf_codec.weight_spec(info).path
        self.hop = hf_codec.hop_samples(info)
        self.context_units = self.decode_context_units = math.ceil(self.family.context_seconds * info.frame_rate)
        self.whole_file_gain = self.family.gain is not None

    # --- the Codec interface: latents through the engine --------------------------------------------

    def encode(self, audio: Audio, point: OperatingPoint | float | None = None) -> Latents:
        """Mono audio [1, n] at info.sample_rate -> Latents [D, ceil(n / hop)] (the encoder's mean: no
        VAE sampling), with the whole-clip gain its preprocessing applies in `extras["input_gain"]`."""
        info = self.info
        if audio.sample_rate != info.sample_rate or audio.channels != info.channels:
            raise RequestError(f"{info.id} encodes {info.channels}-channel audio at {info.sample_rate} Hz; got "
                               f"{audio.channels} at {audio.sample_rate} Hz: conform it first (`Audio.to`).")
        point = self.point(point)
        values = stream.TokenList()
        with self.lock, inference():
            extras = self.encode_into(stream.ArrayReader(audio.samples), point, values)
        return Latents(np.ascontiguousarray(values.tokens(), np.float32), float(info.frame_rate), info.sample_rate,
                       audio.frames, info.id, extras)

    def decode(self, latents: Latents) -> Audio:
        """Latents [D, T] -> Audio [1, num_samples] at the input's level (the input gain undone)."""
        if not isinstance(latents, Latents) or latents.dim != self.info.latent_dim:
            got = f"{latents.dim}-d latents" if isinstance(latents, Latents) else type(latents).__name__
            raise RequestError(f"{self.info.id} decodes {self.info.latent_dim}-d latents; got {got} "
                               f"(from {latents.codec_id or 'another codec'}).")
        pieces: list[np.ndarray] = []
        with self.lock, inference():
            stream.decode(self, latents.values, {}, latents.num_samples, pieces.append)
        gain = np.float32(latents.extras.get("input_gain", 1.0))
        return Audio(np.ascontiguousarray(np.concatenate(pieces, axis=1) / gain, np.float32), latents.sample_rate)

    def input_gain(self, stats: stream.SignalStats) -> tuple[float, dict[str, np.ndarray]]:
        if self.family.gain is None:
            return 1.0, {}
        gain = self.family.gain(self.feature_extractor, stats)
        return gain, {"input_gain": np.float32(gain)}

    # --- chunk functions -----------------------------------------------------------------------------

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> latents [B, D, ceil(n / hop)]: zero-padded to whole frames, encoded."""
        import torch

        frames = math.ceil(x.shape[-1] / self.hop)
        padded = np.zeros((*x.shape[:-1], frames * self.hop), np.float32)
        padded[..., : x.shape[-1]] = x
        wave = torch.from_numpy(padded).to(self.device, self.model.dtype)
        latents = self.family.encode(self.model, wave)[:, :frames]
        return latents.transpose(1, 2).float().cpu().numpy()

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """The latents are the encoder's output (there is no quantizer after it)."""
        return self.encode_chunk(x, None)

    def decode_chunk(self, values: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, D, T] -> [B, 1, >= T x hop] (the engine crops)."""
        import torch

        z = torch.from_numpy(np.ascontiguousarray(values.transpose(0, 2, 1))).to(self.device, self.model.dtype)
        return self.family.decode(self.model, z).float().cpu().numpy()

    # --- loading and checking ------------------------------------------------------------------------

    @classmethod
    def load(cls, info: CodecInfo, device: str) -> LatentCodec:
        family = cls.family
        codec = cls(info, *hf_codec.from_pretrained(info, family.model_class, device, family.uses_feature_extractor))
        codec.check_config()
        return codec

    def config_facts(self) -> dict[str, float]:
        return self.family.facts(self.model.config)

    def check_config(self) -> None:
        """The loaded config must give the sample rate, frame rate and latent size `info` advertises."""
        facts, info = self.config_facts(), self.info
        expected = dict(sample_rate=info.sample_rate, frame_rate=info.frame_rate, latent_dim=info.latent_dim)
        if self.feature_extractor is not None:  # VibeVoice's model config has no rate: its preprocessor has
            facts["preprocessor sampling_rate"] = self.feature_extractor.sampling_rate
            expected["preprocessor sampling_rate"] = info.sample_rate
        wrong = {k: (facts[k], v) for k, v in expected.items() if not math.isclose(facts[k], v, rel_tol=1e-6)}
        if wrong:
            detail = "; ".join(f"{k}: checkpoint {got}, expected {want}" for k, (got, want) in wrong.items())
            raise WeightsMismatch(info.id, self.checkpoint.parent, f"{info.hub_id} does not match what codec_arena "
                                  f"says about {info.id}: {detail}")


def declare(infos: list[CodecInfo], family: LatentFamily) -> hf_codec.Declared:
    """A family module's `load(info, device)`, `weight_spec(codec_id)` and `write_random_weights(codec_id,
    small)`, through a `LatentCodec` subclass that carries the family."""
    name = family.model_class.removesuffix("Model")
    codec_class: type[LatentCodec] = type(name, (LatentCodec,), dict(
        family=family, __doc__=f"{family.model_class} as a continuous tokenizer ({LatentCodec.__name__})."))

    def spec(codec_id: str) -> weights.WeightSpec:
        return hf_codec.weight_spec(hf_codec.find(infos, codec_id))

    def load(info: CodecInfo, device: str) -> LatentCodec:
        return codec_class.load(info, device)

    def write(codec_id: str, small: bool = False) -> Path:
        return write_random_weights(family, hf_codec.find(infos, codec_id), small)

    return hf_codec.Declared(load, spec, write)


# --- random weights ------------------------------------------------------------------------------

def write_random_weights(family: LatentFamily, info: CodecInfo, small: bool) -> Path:
    """`Model(config)` saved with its feature extractor where `from_pretrained(hub_id)` looks (the hub
    cache's snapshot layout). Returns the weight-spec path (the weights file)."""
    import transformers

    config = family.config(info, small)
    model = getattr(transformers, family.model_class)(config).eval()
    if family.spread_random_weights is not None:
        family.spread_random_weights(model)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        family.feature_extractor(config).save_pretrained(tmp)
        weights.hub_snapshot(info.hub_id, source=Path(tmp))
    return hf_codec.weight_spec(info).path


def fan_in_weights(model, layer_scale: float = 0.5) -> None:
    """Random-weight helper: every convolution and linear layer N(0, 1 / fan_in) and every layer scale
    `layer_scale`, so activations keep unit scale through the stack (a training-start init can shrink
    them to nothing)."""
    import torch
    from torch import nn

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.ConvTranspose1d):
                fan_in = module.in_channels // module.groups * module.kernel_size[0] / module.stride[0]
            elif isinstance(module, nn.Conv1d):
                fan_in = module.in_channels // module.groups * module.kernel_size[0]
            elif isinstance(module, nn.Linear):
                fan_in = module.in_features
            else:
                continue
            module.weight.normal_(0.0, fan_in**-0.5)
        for name, parameter in model.named_parameters():
            if name.rsplit(".", 1)[-1] in ("gamma", "ffn_gamma"):
                parameter.fill_(layer_scale)

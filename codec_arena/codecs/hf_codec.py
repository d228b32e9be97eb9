"""What the codecs that transformers ships have in common (EnCodec 32 kHz, Mimi, X-Codec, X-Codec2,
WavTokenizer, NeuCodec, the Higgs Audio v2 tokenizer): one engine adapter, `HFCodec`, and one
declaration per family, `HFFamily`: its transformers classes, the calls that differ (encode, and where
the model departs from the common form, decode, latent, config facts) and what the engine needs to
know (exact or not, batchable or not). A family module is its `INFOS` plus one line:

    load, weight_spec, write_random_weights = hf_codec.declare(INFOS, FAMILY)

Loading is what a user writes: `<Model>.from_pretrained(hub_id)`, which reads the Hugging Face hub
cache, plus `AutoFeatureExtractor.from_pretrained(hub_id)` where encoding needs features (X-Codec2 and
NeuCodec compute mel filterbanks for their w2v-BERT encoder). The other families' feature extractors
only pad and batch, so we pad each chunk to whole frames ourselves.

Long input goes through the streaming engine (`stream`): transformers' encode/decode of these models
take the whole clip at once and their activations grow with it, so the engine cuts the frame timeline
into equal windows (10 s by default), runs each with the family's `context_seconds` (1 s) of real
signal on both sides that is computed and dropped, and keeps each window's own frames: no token is
emitted twice and memory stays flat with length. Every family here has a part that sees further than
any practical context (HuBERT or w2v-BERT attention over the whole input, the decoders' attention,
EnCodec's and WavTokenizer's LSTMs, Mimi's 8 stacked 10 s attention windows), so none is `exact`:
seams see the same surroundings as one pass up to that context, and `stream.exactness` measures how
close they come. Clips of equal frame counts batch through the model (B > 1): every family here is
`batchable`.

Random weights (tests, demos): `Model(Config(...))` with the codebooks made non-degenerate, saved
with `save_pretrained` (and the feature extractor beside it) into the hub-cache layout, so the real
`from_pretrained(hub_id)` loads it offline. After loading, the config is checked against the facts in
`CodecInfo`, so a checkpoint that disagrees with what the UI shows fails loudly instead of mislabelling.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .. import weights
from ..errors import WeightsMismatch
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

ALLOW_PATTERNS = ["*.json", "*.safetensors"]  # config, preprocessor config, weights (sharded or not)


def weight_spec(info: CodecInfo) -> weights.WeightSpec:
    """Present when the weights are (the index of a sharded checkpoint, or the one file): config.json
    arrives first in a download, so an interrupted one must not count."""
    spec = weights.hub_spec(info.id, info.hub_id, "model.safetensors", allow_patterns=ALLOW_PATTERNS)

    def location() -> Path:
        index = weights.hub_file(info.hub_id, "model.safetensors.index.json")
        return index if index.exists() else weights.hub_file(info.hub_id, "model.safetensors")

    return replace(spec, location=location)


# --- the declaration -----------------------------------------------------------------------------

def xcodec_facts(config) -> dict[str, float]:
    """sample_rate, frame_rate, codebook_size and codebooks under the X-Codec config names."""
    return dict(sample_rate=config.sample_rate, frame_rate=config.frame_rate, codebook_size=config.codebook_size,
                codebooks=config.num_quantizers)


def waveform(codec: HFCodec, x) -> dict[str, Any]:
    """The model's encode inputs for most families: the padded waveform [B, C, n] itself."""
    return {"input_values": x}


def decode_values(model, codes):
    """codes [B, K, T] -> audio [B, C, >= T x hop] through `model.decode(codes).audio_values`."""
    return model.decode(codes).audio_values


@dataclass(frozen=True, kw_only=True)
class HFFamily:
    """One transformers codec family. Tensors are batches: waveforms [B, C, n] (at the encoder's rate,
    zero-padded to whole frames), codes [B, K, T], latents [B, D, T]."""

    model_class: str  # the transformers class, e.g. "MimiModel"
    encode: Callable[[Any, dict[str, Any], OperatingPoint], Any]  # (model, inputs, point) -> codes, >= T frames
    latent: Callable[[Any, dict[str, Any]], Any]  # (model, inputs) -> the encoder output the quantizer takes
    config: Callable[[CodecInfo, bool], Any]  # (info, small) -> the transformers config (random weights)
    feature_extractor: Callable[[Any], Any]  # config -> the preprocessor saved beside random weights
    exact: bool  # False: attention over the whole input or recurrent state, so seams are approximate
    batchable: bool  # the model's encode and decode take B > 1 (checked in tests/test_codec_transformers.py)
    decode: Callable[[Any, Any], Any] = decode_values  # (model, codes) -> audio [B, C, >= T x hop]
    inputs: Callable[[HFCodec, Any], dict[str, Any]] = waveform  # (codec, waveform) -> encode's keyword inputs
    facts: Callable[[Any], dict[str, float]] = xcodec_facts  # config -> rates, codebook size and count
    make_codes_vary: Callable[[HFCodec], None] | None = None  # random weights; None: `randomize_codebooks`
    uses_feature_extractor: bool = False  # load the hub's preprocessor (mel features) for `inputs`
    encoder_rate: int | None = None  # the encoder's input rate when it differs from info.sample_rate
    min_frames: int = 1  # shortest chunk the model accepts, in frames (padded with silence)
    context_seconds: float = 1.0  # real signal each side of a window (encode and decode), computed and dropped:
    # generous, as for every inexact codec; an exact family would give its receptive field here instead

    @property
    def codec_name(self) -> str:
        return self.model_class.removesuffix("Model") + "Codec"


class Declared(NamedTuple):
    """What the registry looks up on a family module."""

    load: Callable[[CodecInfo, str], HFCodec]
    weight_spec: Callable[[str], weights.WeightSpec]
    write_random_weights: Callable[..., Path]


def declare(infos: list[CodecInfo], family: HFFamily) -> Declared:
    """A family module's `load(info, device)`, `weight_spec(codec_id)` and `write_random_weights(codec_id,
    small)`, for the codecs in `infos`, through an `HFCodec` subclass that carries the family."""
    codec_class: type[HFCodec] = type(family.codec_name, (HFCodec,), dict(
        family=family, exact=family.exact, batchable=family.batchable,
        __doc__=f"{family.model_class} through the engine ({HFCodec.__name__} with its family's calls)."))

    def spec(codec_id: str) -> weights.WeightSpec:
        return weight_spec(find(infos, codec_id))

    def load(info: CodecInfo, device: str) -> HFCodec:
        return codec_class.load(info, device)

    def write(codec_id: str, small: bool = False) -> Path:
        return write_random_weights(codec_class, find(infos, codec_id), small)

    return Declared(load, spec, write)


# --- the adapter ---------------------------------------------------------------------------------

class HFCodec(ChunkedCodec):
    """A transformers codec: `from_pretrained(info.hub_id)`, its family's calls as chunk functions.
    Each chunk is zero-padded to whole frames (as the hub feature extractors pad), so clips of equal
    frame counts batch exactly."""

    family: ClassVar[HFFamily]
    pads_to_frames = True

    def __init__(self, info: CodecInfo, model, device: str, feature_extractor=None) -> None:
        self.info, self.model, self.device, self.feature_extractor = info, model, device, feature_extractor
        self.checkpoint = weight_spec(info).path
        self.hop = hop_samples(info)
        self.context_units = self.decode_context_units = math.ceil(self.family.context_seconds * info.frame_rate)

    # --- chunk functions -------------------------------------------------------------------------

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, C, n] -> codes [B, K, ceil(n / hop)] (frames past the clip's, from padding, dropped)."""
        frames = math.ceil(x.shape[-1] / self.hop)
        codes = self.family.encode(self.model, self._inputs(x), point)
        return codes[:, :, :frames].cpu().numpy()

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, C, n] -> the encoder output the quantizer takes, [B, D, ceil(n / hop)]."""
        frames = math.ceil(x.shape[-1] / self.hop)
        return self.family.latent(self.model, self._inputs(x))[:, :, :frames].float().cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] -> [B, C, >= T x hop] (the engine crops; a few missing samples are padded)."""
        import torch

        codes = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.int64)).to(self.device)
        return self.family.decode(self.model, codes).float().cpu().numpy()

    def _inputs(self, x: np.ndarray) -> dict[str, Any]:
        """Samples [B, C, n] -> the model's encode inputs: zero-padded to whole frames (at least
        `min_frames`), resampled to the encoder's rate where it differs, then the family's `inputs`."""
        import torch

        frames = max(math.ceil(x.shape[-1] / self.hop), self.family.min_frames)
        padded = np.zeros((*x.shape[:-1], frames * self.hop), np.float32)
        padded[..., : x.shape[-1]] = x
        wave = torch.from_numpy(padded).to(self.device)
        rate = self.family.encoder_rate
        if rate and rate != self.info.sample_rate:
            import torchaudio

            wave = torchaudio.functional.resample(wave, self.info.sample_rate, rate)
        return self.family.inputs(self, wave)

    # --- loading and checking --------------------------------------------------------------------

    @classmethod
    def load(cls, info: CodecInfo, device: str) -> HFCodec:
        codec = cls(info, *from_pretrained(info, cls.family.model_class, device, cls.family.uses_feature_extractor))
        codec.check_config()
        return codec

    def config_facts(self) -> dict[str, float]:
        """sample_rate, frame_rate, codebook_size and codebooks (and encoder_rate where the family
        encodes at another rate), read from the loaded model's config."""
        return self.family.facts(self.model.config)

    def check_config(self) -> None:
        """The loaded config must give the rates, codebook size and codebook count `info` advertises."""
        facts, info = self.config_facts(), self.info
        expected = dict(sample_rate=info.sample_rate, frame_rate=info.frame_rate, codebook_size=info.codebook_size)
        if self.family.encoder_rate:
            expected["encoder_rate"] = self.family.encoder_rate
        wrong = {k: (facts[k], v) for k, v in expected.items() if not math.isclose(facts[k], v, rel_tol=1e-6)}
        if facts["codebooks"] < (info.max_codebooks or 1):
            wrong["codebooks"] = (facts["codebooks"], info.max_codebooks)
        offered = getattr(self.model.config, "target_bandwidths", None)
        if offered is not None and not set(info.bitrates_kbps) <= {float(b) for b in offered}:
            wrong["target_bandwidths"] = (list(offered), list(info.bitrates_kbps))
        if wrong:
            detail = "; ".join(f"{k}: checkpoint {got}, expected {want}" for k, (got, want) in wrong.items())
            raise WeightsMismatch(info.id, self.checkpoint.parent, f"{info.hub_id} does not match what codec_arena "
                                  f"says about {info.id}: {detail}")

    def make_codes_vary(self) -> None:
        """Random-weight helper: a fresh model's codebooks are zeros, so every frame would get code 0."""
        if self.family.make_codes_vary is None:
            randomize_codebooks(self.model)
        else:
            self.family.make_codes_vary(self)


def from_pretrained(info: CodecInfo, model_class: str, device: str, feature_extractor: bool) -> tuple[Any, str, Any]:
    """`transformers.<model_class>.from_pretrained(info.hub_id)` on `device`, in eval mode, and the hub's
    feature extractor when the family uses one: (model, device, extractor or None), a codec's arguments."""
    import transformers

    weights.download(weight_spec(info))
    # local_files_only: what download() checked is what loads; never a silent new revision at run time
    model = getattr(transformers, model_class).from_pretrained(info.hub_id, local_files_only=True)
    extractor = None
    if feature_extractor:
        extractor = transformers.AutoFeatureExtractor.from_pretrained(info.hub_id, local_files_only=True)
    return model.eval().to(device), device, extractor


def find(infos: list[CodecInfo], codec_id: str) -> CodecInfo:
    return next(info for info in infos if info.id == codec_id)


def hop_samples(info: CodecInfo) -> int:
    """Samples (at info.sample_rate) per token frame; every codec here has a whole number."""
    hop = info.sample_rate / info.frame_rate
    if hop != int(hop):
        raise ValueError(f"{info.id}: {info.sample_rate} Hz / {info.frame_rate} frames/s is not whole")
    return int(hop)


def make(name: str, **kwargs):
    """`transformers.<name>(**kwargs)`: a config or feature extractor named in a declaration."""
    import transformers

    return getattr(transformers, name)(**kwargs)


def output_of(module, run: Callable[[], Any]):
    """The output tensor of `module` (a Linear, [B, T, D]) the first time `run()` calls it, as [B, D, T]:
    a latent read where a family's encoder hands over to its quantizer."""
    return captured(module, run).transpose(1, 2)


# --- random weights ------------------------------------------------------------------------------

def write_random_weights(codec_cls: type[HFCodec], info: CodecInfo, small: bool) -> Path:
    """`Model(config)` with varied codes, saved with its feature extractor where `from_pretrained(hub_id)`
    looks (the hub cache's snapshot layout). Returns the weight-spec path (the weights file)."""
    import transformers

    from ..weights import hub_snapshot

    family = codec_cls.family
    config = family.config(info, small)
    extractor = family.feature_extractor(config)
    model = getattr(transformers, family.model_class)(config).eval()
    codec_cls(info, model, "cpu", extractor).make_codes_vary()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        extractor.save_pretrained(tmp)
        hub_snapshot(info.hub_id, source=Path(tmp))
    return weight_spec(info).path


def randomize_codebooks(model, std: float = 1.0) -> None:
    """Fill every Euclidean VQ codebook (embed / embed_sum / embed_avg buffers) with N(0, std)."""
    import torch

    with torch.no_grad():
        for module in model.modules():
            if type(module).__name__.endswith("EuclideanCodebook"):
                for name, buffer in module.named_buffers(recurse=False):
                    if name in ("embed", "embed_sum", "embed_avg"):
                        buffer.normal_(0.0, std)
                if hasattr(module, "_embed"):
                    module._embed = None  # Mimi caches embed_sum / usage


def captured(module, run: Callable[[], Any], what: str = "output"):
    """The first input or output tensor `module` sees while `run()` runs (to fit random weights to data)."""
    seen: list = []

    def hook(mod, inputs, output):
        if not seen:
            seen.append((inputs[0] if what == "input" else output).detach())

    handle = module.register_forward_hook(hook)
    try:
        run()
    finally:
        handle.remove()
    return seen[0]


def encode_noise(codec: HFCodec, seconds: float = 0.4) -> None:
    """Encode a moment of quiet noise (what `captured` watches while random weights are fitted)."""
    import torch

    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal((1, 1, int(seconds * codec.info.sample_rate)))).astype(np.float32)
    with torch.no_grad():
        codec.encode_chunk(noise, OperatingPoint.of(codec.info))

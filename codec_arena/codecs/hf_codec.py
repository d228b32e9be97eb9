"""What the codecs that transformers ships have in common (Mimi, X-Codec, X-Codec2, WavTokenizer,
NeuCodec, the Higgs Audio v2 tokenizer): one base class, `HFCodec`; each family module holds its facts
and the calls that differ (`encode_frames`, and where the model departs from the common form,
`decode_frames` and `config_facts`).

Loading is what a user writes: `<Model>.from_pretrained(hub_id)`, which reads the Hugging Face hub
cache, plus `AutoFeatureExtractor.from_pretrained(hub_id)` where encoding needs features (X-Codec2 and
NeuCodec compute mel filterbanks for their w2v-BERT encoder). The other families' feature extractors
only pad and batch, so we pad each chunk to whole frames ourselves.

Long input: transformers' encode/decode of these models take the whole clip at once and their
activations grow with it, so clips over `WINDOW_SECONDS` go through `windowing` (shared with the
SpeechTokenizer/SNAC adapters): equal windows of token frames, each run with `CONTEXT_SECONDS` of
real signal on both sides that is computed and dropped, so seams see the same surroundings as one
pass would (up to that context) and no token is emitted twice. Memory then stays flat with length.

Random weights (tests, demos): `Model(Config(...))` with the codebooks made non-degenerate, saved
with `save_pretrained` (and the feature extractor beside it) into the hub-cache layout, so the real
`from_pretrained(hub_id)` loads it offline. After loading, the config is checked against the facts in
`CodecInfo`, so a checkpoint that disagrees with what the UI shows fails loudly instead of mislabelling.
"""

from __future__ import annotations

import math
import tempfile
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .. import weights
from ..audio import Audio
from ..errors import WeightsMismatch
from . import windowing
from .base import CodecInfo, Codes

WINDOW_SECONDS = 10.0
CONTEXT_SECONDS = 1.0
ALLOW_PATTERNS = ["*.json", "*.safetensors"]  # config, preprocessor config, weights (sharded or not)


def weight_spec(info: CodecInfo) -> weights.WeightSpec:
    """Present when the weights are (the index of a sharded checkpoint, or the one file): config.json
    arrives first in a download, so an interrupted one must not count."""
    spec = weights.hub_spec(info.id, info.hub_id, "model.safetensors", allow_patterns=ALLOW_PATTERNS)

    def location() -> Path:
        index = weights.hub_file(info.hub_id, "model.safetensors.index.json")
        return index if index.exists() else weights.hub_file(info.hub_id, "model.safetensors")

    return replace(spec, location=location)


class HFCodec:
    """A transformers codec: `from_pretrained(info.hub_id)`, windowed encode/decode, one lock per model."""

    model_class: ClassVar[str]  # the transformers class, e.g. "MimiModel"
    uses_feature_extractor: ClassVar[bool] = False
    encoder_rate: ClassVar[int | None] = None  # the encoder's input rate when it differs from info.sample_rate
    min_frames: ClassVar[int] = 1  # shortest chunk the model accepts, in frames (padded with silence)

    def __init__(self, info: CodecInfo, model, device: str, feature_extractor=None) -> None:
        self.info, self.model, self.device, self.feature_extractor = info, model, device, feature_extractor
        self.checkpoint = weight_spec(info).path
        self.hop = hop_samples(info)
        self._lock = threading.Lock()  # one model shared by the app's threads; calls run one at a time

    # --- what a family module provides -----------------------------------------------------------

    def encode_frames(self, x, bitrate_kbps: float, codebooks: int):
        """(1, 1, n) float tensor at the encoder's rate, n a multiple of the hop -> (codebooks, frames) codes."""
        raise NotImplementedError

    def decode_frames(self, tokens):
        """(codebooks, frames) long tensor -> 1-D float tensor of at least frames x hop samples."""
        return self.model.decode(tokens[None]).audio_values[0, 0]

    def config_facts(self) -> dict[str, float]:
        """sample_rate, frame_rate, codebook_size and codebooks, read from the loaded model's config
        (the X-Codec config names; families that name them otherwise override this)."""
        c = self.model.config
        return dict(sample_rate=c.sample_rate, frame_rate=c.frame_rate, codebook_size=c.codebook_size,
                    codebooks=c.num_quantizers)

    def make_codes_vary(self) -> None:
        """Random-weight helper: a fresh model's codebooks are zeros, so every frame would get code 0."""
        randomize_codebooks(self.model)

    # --- loading and checking --------------------------------------------------------------------

    @classmethod
    def load(cls, info: CodecInfo, device: str) -> HFCodec:
        import transformers

        weights.download(weight_spec(info))
        # local_files_only: what download() checked is what loads; never a silent new revision at run time
        model = getattr(transformers, cls.model_class).from_pretrained(info.hub_id, local_files_only=True)
        model = model.eval().to(device)
        extractor = None
        if cls.uses_feature_extractor:
            extractor = transformers.AutoFeatureExtractor.from_pretrained(info.hub_id, local_files_only=True)
        codec = cls(info, model, device, extractor)
        codec.check_config()
        return codec

    def check_config(self) -> None:
        """The loaded config must give the rates, codebook size and codebook count `info` advertises."""
        facts, info = self.config_facts(), self.info
        expected = dict(sample_rate=info.sample_rate, frame_rate=info.frame_rate, codebook_size=info.codebook_size)
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

    # --- the Codec protocol ----------------------------------------------------------------------

    def encode(self, audio: Audio, bitrate_kbps: float) -> Codes:
        import torch

        kbps = self.info.check_bitrate(bitrate_kbps)
        codebooks = self.info.codebooks_for(kbps)
        windows = self.windows(math.ceil(audio.frames / self.hop))
        with self._lock, torch.inference_mode():
            tokens = windowing.encode(lambda chunk: self._encode_chunk(chunk, kbps, codebooks),
                                      audio.samples, self.hop, windows)
        return Codes(tokens=tokens.astype(np.int64), frame_rate=self.info.frame_rate,
                     codebook_size=self.info.codebook_size, sample_rate=audio.sample_rate,
                     num_samples=audio.frames, codec_id=self.info.id)

    def decode(self, codes: Codes) -> Audio:
        import torch

        with self._lock, torch.inference_mode():
            samples = windowing.decode(self._decode_chunk, codes.tokens, self.hop, self.windows(codes.frames))
        samples = samples[:, : codes.num_samples]
        samples = np.pad(samples, ((0, 0), (0, codes.num_samples - samples.shape[1])))
        return Audio(np.ascontiguousarray(samples, dtype=np.float32), self.info.sample_rate)

    def windows(self, frames: int) -> list[windowing.Window]:
        rate = self.info.frame_rate
        return windowing.plan(frames, max_frames=int(WINDOW_SECONDS * rate), context=math.ceil(CONTEXT_SECONDS * rate))

    def _encode_chunk(self, samples: np.ndarray, kbps: float, codebooks: int) -> np.ndarray:
        """Samples (1, n) at info.sample_rate -> codes (codebooks, ceil(n / hop)): the chunk is padded with
        silence to whole frames (as the hub feature extractors pad), extra frames are dropped."""
        import torch

        frames = math.ceil(samples.shape[1] / self.hop)
        padded = np.zeros((1, max(frames, self.min_frames) * self.hop), np.float32)
        padded[:, : samples.shape[1]] = samples
        x = torch.from_numpy(padded)[None].to(self.device)
        if self.encoder_rate and self.encoder_rate != self.info.sample_rate:
            import torchaudio

            x = torchaudio.functional.resample(x, self.info.sample_rate, self.encoder_rate)
        codes = self.encode_frames(x, kbps, codebooks)
        return codes[:, :frames].cpu().numpy()

    def _decode_chunk(self, tokens: np.ndarray) -> np.ndarray:
        import torch

        wav = self.decode_frames(torch.from_numpy(np.ascontiguousarray(tokens)).to(self.device))
        wav = wav.float().cpu().numpy()[: tokens.shape[1] * self.hop]
        return np.pad(wav, (0, tokens.shape[1] * self.hop - wav.size))[None]


def find(infos: list[CodecInfo], codec_id: str) -> CodecInfo:
    return next(info for info in infos if info.id == codec_id)


def hop_samples(info: CodecInfo) -> int:
    """Samples (at info.sample_rate) per token frame; every codec here has a whole number."""
    hop = info.sample_rate / info.frame_rate
    if hop != int(hop):
        raise ValueError(f"{info.id}: {info.sample_rate} Hz / {info.frame_rate} frames/s is not whole")
    return int(hop)


# --- random weights ------------------------------------------------------------------------------

def write_random_weights(codec_cls: type[HFCodec], info: CodecInfo, config, feature_extractor) -> Path:
    """`Model(config)` with varied codes, saved with its feature extractor where `from_pretrained(hub_id)`
    looks (the hub cache's snapshot layout). Returns the weight-spec path (the weights file)."""
    import transformers

    from ..testing import hub_snapshot

    model = getattr(transformers, codec_cls.model_class)(config).eval()
    codec_cls(info, model, "cpu", feature_extractor).make_codes_vary()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        feature_extractor.save_pretrained(tmp)
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
    noise = (0.1 * rng.standard_normal((1, int(seconds * codec.info.sample_rate)))).astype(np.float32)
    kbps = codec.info.default_bitrate
    with torch.no_grad():
        codec._encode_chunk(noise, kbps, codec.info.codebooks_for(kbps))

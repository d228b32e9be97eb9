"""The codec interface: static facts (`CodecInfo`), what an encoder emits (`Codes` or `Payload`),
and the `Codec` protocol every adapter implements.

Neural codecs emit integer tokens; classical codecs (Opus, MP3, ...) emit a byte payload whose size
is the honest bitrate. Both carry enough to decode back to the original length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import Audio
from ..errors import RequestError


@dataclass(frozen=True)
class CodecInfo:
    """Facts known without loading weights; they drive the UI, `codec-arena list` and the docs."""

    id: str
    family: str
    sample_rate: int
    channels: int
    frame_rate: float | None  # token frames per second; None for classical codecs
    codebook_size: int | None
    max_codebooks: int | None
    bitrates_kbps: tuple[float, ...]  # operating points offered in the UI
    quantizer: str  # RVQ, GRVQ, FSQ, ... or "classical"
    domain: str  # speech / music / general
    paper: str
    code_url: str
    weights: str  # where the official weights come from
    licence: str
    bitrate_range_kbps: tuple[float, float] | None = None  # classical codecs take any rate in range
    flexible_channels: bool = False  # takes 1..channels as given (classical), else exactly `channels`
    default_bitrate_kbps: float | None = None
    discriminators: str = ""  # the adversarial critics it was trained with (the survey's comparison)
    training_data: str = ""
    hub_id: str = ""  # model hub repository (or release) the official weights come from
    sources: tuple[str, ...] = ()  # where the facts above come from: paper sections, model cards
    codebook_strides: tuple[int, ...] = ()  # multi-scale codecs (SNAC): level i has one code per stride_i frames
    codebook_sizes: tuple[int, ...] = ()  # where codebooks differ in size (DualCodec), first to last;
    # codebook_size is then the largest
    frame_multiple: int = 1  # the encoder pads its input to a multiple of this many frames
    encode_only: bool = False  # a tokenizer without a decoder (S3Tokenizer): tokens, never audio back
    latent_dim: int = 0  # a continuous tokenizer (VibeVoice, Pocket TTS): floats per frame, no codebooks
    notes: str = ""

    @property
    def neural(self) -> bool:
        return self.quantizer != "classical"

    @property
    def continuous(self) -> bool:
        """Float latents instead of integer codes: no codebooks, and its one "bitrate" is the latents'
        float32 storage per second, not a codec bitrate."""
        return self.latent_dim > 0

    @property
    def float32_kbps(self) -> float:
        return round(self.latent_dim * 32 * (self.frame_rate or 0.0) / 1000, 3)

    @property
    def progressive(self) -> bool:
        """Whether decoding the first k codebooks means something: a residual stack, one scale."""
        return self.neural and (self.max_codebooks or 1) > 1 and not self.codebook_strides and \
            self.quantizer.startswith("RVQ")

    @property
    def default_bitrate(self) -> float:
        return self.default_bitrate_kbps or self.bitrates_kbps[len(self.bitrates_kbps) // 2]

    def kbps_for(self, codebooks: int) -> float:
        """The bitrate of the first `codebooks` codebooks, each log2(its size) bits per frame."""
        sizes = self.codebook_sizes or (self.codebook_size or 2,) * codebooks
        return round(sum(math.log2(s) for s in sizes[:codebooks]) * (self.frame_rate or 1) / 1000, 4)

    def codebooks_for(self, bitrate_kbps: float) -> int:
        """Number of residual codebooks giving this bitrate (neural codecs)."""
        if self.codebook_strides:
            return len(self.codebook_strides)
        if self.codebook_sizes:
            return min(range(1, len(self.codebook_sizes) + 1), key=lambda k: abs(self.kbps_for(k) - bitrate_kbps))
        bits_per_frame = math.log2(self.codebook_size or 2) * (self.frame_rate or 1)
        return max(1, round(bitrate_kbps * 1000 / bits_per_frame))

    def check_bitrate(self, bitrate_kbps: float) -> float:
        """Return the bitrate if this codec offers it, else raise with the choices."""
        if self.bitrate_range_kbps:
            low, high = self.bitrate_range_kbps
            if low <= bitrate_kbps <= high:
                return float(bitrate_kbps)
            raise RequestError(f"{self.id} takes {low:g}–{high:g} kbps; got {bitrate_kbps:g}.")
        for offered in self.bitrates_kbps:
            if math.isclose(offered, bitrate_kbps, rel_tol=0.02, abs_tol=0.01):
                return offered
        choices = ", ".join(f"{b:g}" for b in self.bitrates_kbps)
        raise RequestError(f"{self.id} offers {choices} kbps; got {bitrate_kbps:g}.")

    @property
    def sample_rate_label(self) -> str:
        return f"{self.sample_rate / 1000:g} kHz" + (" stereo" if self.channels == 2 else "")

    @property
    def frame_rate_label(self) -> str:
        return f"{self.frame_rate:g} Hz" if self.frame_rate else "—"

    def bitrate_summary(self) -> str:
        """Operating points in a few characters: a range, a short list, or first–last with the count."""
        if self.bitrate_range_kbps:
            return f"{self.bitrate_range_kbps[0]:g}–{self.bitrate_range_kbps[1]:g}"
        if self.continuous:
            return f"{self.bitrates_kbps[0]:g} as float32 (continuous)"
        rates = self.bitrates_kbps
        if len(rates) <= 5:
            return ", ".join(f"{b:g}" for b in rates)
        return f"{rates[0]:g}–{rates[-1]:g} ({len(rates)} steps)"

    def require_decoder(self, purpose: str = "decode its codes") -> None:
        """Refuse what needs audio back from an encode-only tokenizer: where a request enters (CLI, listening
        tests), and in `roundtrip` and `progressive_decode`, which every front end goes through."""
        if self.encode_only:
            raise self.no_decoder(purpose)

    def no_decoder(self, purpose: str = "decode its codes") -> RequestError:
        """Why an encode-only tokenizer cannot `purpose`, and where it does take part."""
        return RequestError(
            f"{self.id} cannot {purpose}: it only encodes. {self.family} has no decoder (a separate generative "
            "model turns its tokens into speech). Look at its tokens in the Tokens tab or with "
            "`codec-arena encode`, or pick a codec that decodes.")

    def channels_for(self, audio_channels: int) -> int:
        return min(audio_channels, self.channels) if self.flexible_channels else self.channels


@dataclass(frozen=True)
class Codes:
    """Tokens from a neural encoder: int (codebooks, frames), plus what decoding needs.

    Multi-scale codecs (SNAC) put each level on the finest frame grid, a coarse code repeated over
    the frames it covers, with `extras["strides"]`; the bitrates count each code once.
    """

    tokens: np.ndarray
    frame_rate: float
    codebook_size: int
    sample_rate: int
    num_samples: int  # length of the encoded audio, so decode trims codec padding
    codec_id: str = ""
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. EnCodec's per-segment scales

    @classmethod
    def of(cls, info: CodecInfo, tokens: np.ndarray, num_samples: int,
           extras: dict[str, np.ndarray] | None = None) -> Codes:
        """Codes [K, T] with the rates and codebook size(s) taken from the codec's facts."""
        tokens = np.asarray(tokens, dtype=np.int64)
        extras = dict(extras or {})
        if info.codebook_sizes:
            extras.setdefault("codebook_sizes", np.asarray(info.codebook_sizes[: tokens.shape[0]], np.int64))
        return cls(tokens=tokens, frame_rate=float(info.frame_rate),
                   codebook_size=int(info.codebook_size), sample_rate=info.sample_rate,
                   num_samples=int(num_samples), codec_id=info.id, extras=extras)

    @property
    def codebooks(self) -> int:
        return self.tokens.shape[0]

    @property
    def frames(self) -> int:
        return self.tokens.shape[-1]

    @property
    def strides(self) -> np.ndarray:
        return np.asarray(self.extras.get("strides", np.ones(self.codebooks, np.int64)))[: self.codebooks]

    @property
    def sizes(self) -> np.ndarray:
        """Each codebook's size: `extras["codebook_sizes"]` where they differ (DualCodec), else codebook_size."""
        return np.asarray(self.extras.get("codebook_sizes", np.full(self.codebooks, self.codebook_size)))[
            : self.codebooks]

    @property
    def token_count(self) -> int:
        """Codes actually emitted (a multi-scale level's repeats counted once)."""
        return int(sum(math.ceil(self.frames / int(s)) for s in self.strides))

    @property
    def nominal_kbps(self) -> float:
        """The operating point: each codebook's bits x its rate (the nominal frame rate / its stride)."""
        return float(np.sum(np.log2(self.sizes) / self.strides)) * self.frame_rate / 1000

    @property
    def bitrate_kbps(self) -> float:
        """What the tokens actually cost per second of audio, codec padding included."""
        bits = sum(math.ceil(self.frames / int(stride)) * math.log2(int(size))
                   for stride, size in zip(self.strides, self.sizes, strict=True))
        return bits / (self.num_samples / self.sample_rate) / 1000

    def level(self, k: int) -> np.ndarray:
        """Codebook k's codes, each once (multi-scale levels without their repeats)."""
        return self.tokens[k, :: int(self.strides[k])]

    def first(self, k: int) -> Codes:
        """The first k codebooks only: decoding them shows what each residual stage adds."""
        return replace(self, tokens=self.tokens[:k])

    def to_npz(self, weights: str = "") -> bytes:
        """The versioned codes file (`codes_file`), in memory; `weights` is the weights' fingerprint."""
        from . import codes_file

        return codes_file.to_bytes(self, weights)

    @classmethod
    def from_npz(cls, data: bytes) -> Codes:
        from . import codes_file

        return codes_file.read(data)[0]


@dataclass(frozen=True)
class Payload:
    """Bytes from a classical encoder; `payload_bytes` counts codec packets, not container overhead."""

    data: bytes
    container: str
    payload_bytes: int
    sample_rate: int
    channels: int
    num_samples: int
    codec_id: str = ""

    @property
    def bitrate_kbps(self) -> float:
        return self.payload_bytes * 8 / (self.num_samples / self.sample_rate) / 1000


@dataclass(frozen=True)
class Latents:
    """What a continuous encoder emits: float32 values [D, T], T = ceil(n / hop), plus per-clip extras
    (VibeVoice's `input_gain`, which its feature extractor applies and decoding undoes)."""

    values: np.ndarray
    frame_rate: float
    sample_rate: int
    num_samples: int  # length of the encoded audio, so decode trims the padding to whole frames
    codec_id: str = ""
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.values.shape[0]

    @property
    def frames(self) -> int:
        return self.values.shape[-1]

    @property
    def bitrate_kbps(self) -> float:
        """The values stored as float32, per second of audio: a storage figure, since they are not
        quantised; comparable across continuous tokenizers, not with codec bitrates."""
        return self.dim * self.frames * 32 / (self.num_samples / self.sample_rate) / 1000


Encoded = Codes | Payload | Latents


class Codec:
    """A loaded codec: what every caller may use, declared here instead of probed with `getattr`.

    Neural codecs subclass `ChunkedCodec` and only write chunk functions; the streaming engine
    (`stream.py`) runs them over clips and files. Classical codecs override `encode`/`decode`.
    """

    info: CodecInfo
    device: str = "cpu"
    model: Any = None  # the torch module (its size bounds the model cache); None for classical codecs
    checkpoint: Path | None = None  # the weights file loaded; None for codecs without weights

    def point(self, bitrate: OperatingPoint | float | None = None) -> OperatingPoint:
        """The operating point a call asked for: passed through when already parsed (the normal way
        down from the CLI, UI or bench), validated here when a caller gives a bare bitrate."""
        return bitrate if isinstance(bitrate, OperatingPoint) else OperatingPoint.of(self.info, bitrate)

    def encode(self, audio: Audio, point: OperatingPoint | float) -> Encoded:
        """Audio [C, n] at `info.sample_rate` (C = `info.channels_for(...)`) -> Codes [K, T] or a Payload."""
        raise NotImplementedError

    def decode(self, encoded: Encoded) -> Audio:
        """Codes [K, T] (or a Payload) -> Audio [C, num_samples] at `info.sample_rate`."""
        raise NotImplementedError

    def encode_batch(self, clips: list[Audio], point: OperatingPoint | float) -> list[Encoded]:
        """One result per clip, equal to encoding each alone; this default is the loop."""
        point = self.point(point)
        return [self.encode(clip, point) for clip in clips]

    def decode_batch(self, encoded: list[Encoded]) -> list[Audio]:
        return [self.decode(item) for item in encoded]

    @property
    def weights_id(self) -> str:
        """A fingerprint of the weights file (content, not path): what a codes file records."""
        from ..weights import fingerprint

        return fingerprint(self.checkpoint) if self.checkpoint else ""


@dataclass(frozen=True)
class OperatingPoint:
    """A codec at one bitrate: validated once, where a request enters (CLI, UI, bench manifest)."""

    info: CodecInfo
    bitrate_kbps: float
    codebooks: int | None  # residual codebooks that give the bitrate; None for classical and continuous codecs

    @classmethod
    def of(cls, info: CodecInfo, bitrate_kbps: float | None = None) -> OperatingPoint:
        kbps = info.check_bitrate(info.default_bitrate if bitrate_kbps is None else bitrate_kbps)
        return cls(info, kbps, info.codebooks_for(kbps) if info.neural and not info.continuous else None)

    @property
    def codec(self) -> str:
        return self.info.id

    @property
    def kbps(self) -> float:
        return self.bitrate_kbps

    @property
    def token_rate(self) -> float | None:
        """Tokens per second at this point (what a language model on these codes must predict); a
        multi-scale level with stride s adds frame_rate / s. None for classical codecs."""
        if self.codebooks is None or not self.info.frame_rate:
            return None
        strides = self.info.codebook_strides or (1,) * self.codebooks
        return self.info.frame_rate * sum(1 / s for s in strides[: self.codebooks])

    def __str__(self) -> str:
        return f"{self.info.id}@{self.bitrate_kbps:g}"

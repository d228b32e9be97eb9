"""The codec interface: static facts (`CodecInfo`), what an encoder emits (`Codes` or `Payload`),
and the `Codec` protocol every adapter implements.

Neural codecs emit integer tokens; classical codecs (Opus, MP3, ...) emit a byte payload whose size
is the honest bitrate. Both carry enough to decode back to the original length.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

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
    frame_multiple: int = 1  # the encoder pads its input to a multiple of this many frames
    notes: str = ""

    @property
    def neural(self) -> bool:
        return self.quantizer != "classical"

    @property
    def progressive(self) -> bool:
        """Whether decoding the first k codebooks means something: a residual stack, one scale."""
        return self.neural and (self.max_codebooks or 1) > 1 and not self.codebook_strides and \
            self.quantizer.startswith("RVQ")

    @property
    def default_bitrate(self) -> float:
        return self.default_bitrate_kbps or self.bitrates_kbps[len(self.bitrates_kbps) // 2]

    def codebooks_for(self, bitrate_kbps: float) -> int:
        """Number of residual codebooks giving this bitrate (neural codecs)."""
        if self.codebook_strides:
            return len(self.codebook_strides)
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
        rates = self.bitrates_kbps
        if len(rates) <= 5:
            return ", ".join(f"{b:g}" for b in rates)
        return f"{rates[0]:g}–{rates[-1]:g} ({len(rates)} steps)"

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
    def token_count(self) -> int:
        """Codes actually emitted (a multi-scale level's repeats counted once)."""
        return int(sum(math.ceil(self.frames / int(s)) for s in self.strides))

    @property
    def nominal_kbps(self) -> float:
        """The operating point: codebooks x bits x nominal frame rate."""
        return float(np.sum(1 / self.strides)) * math.log2(self.codebook_size) * self.frame_rate / 1000

    @property
    def bitrate_kbps(self) -> float:
        """What the tokens actually cost per second of audio, padding and window overlap included."""
        return self.token_count * math.log2(self.codebook_size) / (self.num_samples / self.sample_rate) / 1000

    def level(self, k: int) -> np.ndarray:
        """Codebook k's codes, each once (multi-scale levels without their repeats)."""
        return self.tokens[k, :: int(self.strides[k])]

    def first(self, k: int) -> Codes:
        """The first k codebooks only: decoding them shows what each residual stage adds."""
        from dataclasses import replace

        return replace(self, tokens=self.tokens[:k])

    def to_npz(self) -> bytes:
        buffer = io.BytesIO()
        meta = dict(frame_rate=self.frame_rate, codebook_size=self.codebook_size,
                    sample_rate=self.sample_rate, num_samples=self.num_samples, codec_id=self.codec_id)
        np.savez_compressed(buffer, tokens=self.tokens, **{f"extra_{k}": v for k, v in self.extras.items()},
                            **{k: np.asarray(v) for k, v in meta.items()})
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> Codes:
        with np.load(io.BytesIO(data)) as npz:
            extras = {k.removeprefix("extra_"): npz[k] for k in npz.files if k.startswith("extra_")}
            return cls(tokens=npz["tokens"], frame_rate=float(npz["frame_rate"]),
                       codebook_size=int(npz["codebook_size"]), sample_rate=int(npz["sample_rate"]),
                       num_samples=int(npz["num_samples"]), codec_id=str(npz["codec_id"]), extras=extras)


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


Encoded = Codes | Payload


@runtime_checkable
class Codec(Protocol):
    """Encode audio (already at `info.sample_rate`, `info.channels_for(...)`) and decode it back."""

    info: CodecInfo

    def encode(self, audio: Audio, bitrate_kbps: float) -> Encoded: ...

    def decode(self, encoded: Encoded) -> Audio: ...

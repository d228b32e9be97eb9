"""The codec-LM interface: static facts (`LMInfo`), what a user asks for (`GenerationRequest`),
what comes back (`Generation`), and the `CodecLM` protocol every model module implements.

A codec language model writes tokens of a codec in our registry; naming that codec (and the
bitrate its tokens correspond to) lets the app resynthesise a prompt through the same codec, so a
listener hears what the codec alone can do next to what the model generated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..audio import Audio
from ..codecs.base import Codes

if TYPE_CHECKING:
    import numpy as np

TASKS = {
    "tts": "Zero-shot TTS (voice prompt)",
    "speech": "Text to speech",
    "music": "Text to music",
    "melody": "Music from text and a melody",
    "continuation": "Continue a clip",
    "sound": "Text to sound",
    "dialogue": "Spoken reply to a clip",
}

Progress = Callable[[float, str], None]  # fraction done (0..1), a short message
# Audio as it is generated: successive pieces [n] of mono float32 at the model's rate, which laid end to end
# are the finished generation's audio (for playback that starts before generation ends).
AudioSink = Callable[["np.ndarray"], None]


@dataclass(frozen=True)
class LMInfo:
    """Facts known without loading weights; they drive the UI, `codec-arena lms` and the README."""

    id: str
    name: str
    tasks: tuple[str, ...]  # keys of TASKS
    codec_id: str  # the codec (our registry id) whose tokens the model writes
    codec_kbps: float  # the operating point of those tokens
    codebooks: int  # codebooks the model generates per frame
    parameters: str  # e.g. "300M" (all parts: LM, text encoder, codec)
    licence: str
    hub_id: str
    paper: str
    code_url: str
    conditioning: str  # what steers it: text, voice prompt + transcript, melody, ...
    architecture: str  # how tokens are laid out: delay pattern, AR + NAR, depth decoder, ...
    survey: str = ""  # where the survey (Wu et al., 2024) discusses it; "" for models after it
    sample_rate: int = 0  # output rate (the codec's)
    max_seconds: float = 30.0  # longest generation the model was trained for
    max_text_chars: int = 400
    prompt_seconds: tuple[float, float] = (1.0, 30.0)  # accepted voice-prompt / clip length
    needs_prompt_text: bool = False  # a voice prompt needs its transcript
    speakers: tuple[str, ...] = ()  # built-in voices (Bark presets)
    cpu_frames_per_s: float = 0.0  # codec frames generated per second on a 2-thread CPU, real size
    hardware: str = ""  # what it needs to be pleasant to use
    streams: bool = False  # decodes as it generates: `generate(..., on_audio=)` gets the audio piece by piece
    notes: str = ""

    def does(self, task: str) -> bool:
        return task in self.tasks


@dataclass(frozen=True)
class LMCard:
    """A codec LM that cannot run here: what it does, what it speaks, and where to try the same task."""

    id: str
    name: str
    tasks: tuple[str, ...]
    codec: str  # the tokenizer it speaks, in words (may not be in our registry)
    conditioning: str
    paper: str
    why_not_here: str
    try_instead: tuple[str, ...]  # LMInfo ids that do the same task here
    survey: str = ""
    code_url: str = ""
    codec_id: str = ""  # our registry id when we have that codec


@dataclass(frozen=True)
class GenerationRequest:
    task: str
    text: str = ""
    prompt: Audio | None = None  # voice prompt, clip to continue, or melody
    prompt_text: str = ""  # the prompt's transcript, for models that need it
    speaker: str = ""  # a built-in voice (Bark)
    max_seconds: float = 5.0
    temperature: float = 1.0
    top_k: int = 50  # 0 turns it off
    top_p: float = 1.0  # 1 turns it off
    seed: int = 0


@dataclass(frozen=True)
class Generation:
    model_id: str
    audio: Audio
    codes: Codes  # the tokens the model generated (codebooks x frames), prompt tokens excluded
    load_s: float
    generate_s: float  # the LM's token generation
    decode_s: float  # codec tokens to audio
    device: str
    random_weights: bool  # outputs are noise; timings are real
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tokens(self) -> int:
        return int(self.codes.tokens.size)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.generate_s, 1e-9)

    @property
    def frames_per_s(self) -> float:
        return self.codes.frames / max(self.generate_s, 1e-9)

    @property
    def real_time_factor(self) -> float:
        """Seconds of compute per second of audio (generation + decoding)."""
        return (self.generate_s + self.decode_s) / max(self.audio.duration, 1e-9)

    def summary(self) -> dict:
        return {
            "model": self.model_id, "seconds": round(self.audio.duration, 3),
            "sample_rate": self.audio.sample_rate, "codec": self.codes.codec_id,
            "codebooks": self.codes.codebooks, "frames": self.codes.frames, "tokens": self.tokens,
            "load_s": round(self.load_s, 3), "generate_s": round(self.generate_s, 3),
            "decode_s": round(self.decode_s, 3), "tokens_per_s": round(self.tokens_per_s, 1),
            "real_time_factor": round(self.real_time_factor, 3), "device": self.device,
            "random_weights": self.random_weights, "notes": list(self.notes),
        }


@dataclass(frozen=True)
class RawGeneration:
    """What a model module returns; the registry adds timings of loading and the weights' status."""

    audio: Audio
    codes: Codes
    generate_s: float
    decode_s: float
    notes: tuple[str, ...] = ()


@runtime_checkable
class CodecLM(Protocol):
    """A loaded model. `generate` receives a validated request (task supported, text and prompt
    checked, prompt already at `info.sample_rate`, mono) and the seed already set. A model whose info
    says `streams` also takes `on_audio` (an `AudioSink`) and feeds it while it generates."""

    info: LMInfo
    checkpoint: object  # the Path whose presence means downloaded (random-weight marker beside it)
    model: object  # the torch module(s), for memory accounting
    device: str

    def generate(self, request: GenerationRequest, progress: Progress) -> RawGeneration: ...

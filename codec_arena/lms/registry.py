"""The codec-LM registry and the one generation path every front end (tab, CLI, benchmark) runs.

Adding a model is one module in this package plus one entry in `FAMILIES`. A model module exposes
`INFOS` (facts, importable without torch), `load(info, device) -> CodecLM`, `weight_spec(lm_id)` and
`write_random_weights(lm_id, small)` (the test helper, as for codecs). Models that cannot run here
are `cards.CARDS`. The lookups and the cached loading are the generic `codec_arena.registry.Registry`.
"""

from __future__ import annotations

import threading
import time
from types import ModuleType

import numpy as np

from .. import weights
from ..audio import Audio, map_channels, resample
from ..errors import RequestError
from ..registry import Registry
from ..runtime import pick_device
from ..weights import WeightSpec
from .base import TASKS, AudioSink, CodecLM, Generation, GenerationRequest, LMInfo, Progress

MAX_TEMPERATURE = 5.0
MAX_TOP_K = 1000
_GENERATION_LOCK = threading.Lock()

FAMILIES: tuple[str, ...] = (
    # survey models
    "vallex",
    "musicgen",
    # after the survey
    "bark",  # AudioLM's semantic -> coarse -> fine recipe
    "csm",
    "dia",
    "higgs_audio",
    "moshi",  # full-duplex dialogue: a spoken reply to the user's clip
    "llasa",  # a Llama whose vocabulary holds X-Codec2's 65,536 speech tokens
)

REGISTRY: Registry[LMInfo] = Registry(__package__, FAMILIES, "model", cache_prefix="lm:")


def list_lms() -> list[LMInfo]:
    return REGISTRY.infos()


def lm_info(lm_id: str) -> LMInfo:
    return REGISTRY.info(lm_id)


def family_module(lm_id: str) -> ModuleType:
    return REGISTRY.module(lm_id)


def weight_spec(lm_id: str) -> WeightSpec:
    return REGISTRY.module(lm_id).weight_spec(lm_id)  # every codec LM has weights


def models_for(task: str) -> list[LMInfo]:
    return [info for info in list_lms() if info.does(task)]


def get_lm(lm_id: str, device: str | None = None) -> CodecLM:
    """The loaded model, from the shared cache: one load per (model, device)."""
    return REGISTRY.load(lm_id, device)


def estimate_seconds(lm_id: str, max_seconds: float, device: str | None = None) -> float | None:
    """A rough wait on CPU from the measured frame rate of generation (None on a GPU or unmeasured)."""
    info = lm_info(lm_id)
    device = device or pick_device()
    if device != "cpu" or not info.cpu_frames_per_s:
        return None
    from ..codecs import codec_info

    frames = max_seconds * (codec_info(info.codec_id).frame_rate or 50)
    return frames / info.cpu_frames_per_s


def check_request(info: LMInfo, request: GenerationRequest) -> GenerationRequest:
    """Raise a clear `RequestError` for anything the model cannot take; return the request with its
    prompt conformed (mono, the model's rate)."""
    if not info.does(request.task):
        doers = ", ".join(i.id for i in models_for(request.task)) or "none"
        raise RequestError(f"{info.name} does not do '{TASKS.get(request.task, request.task)}'. "
                           f"Models that do: {doers}.")
    text = request.text.strip()
    needs_text = request.task in ("tts", "speech", "music", "melody", "sound")
    if needs_text and not text:
        raise RequestError("Please enter some text: it is what the model is asked to say or make.")
    if len(text) > info.max_text_chars:
        raise RequestError(f"The text is {len(text)} characters; {info.name} takes at most "
                           f"{info.max_text_chars}. Shorten it or split it into several generations.")
    if not 0.5 <= request.max_seconds <= info.max_seconds:
        raise RequestError(f"Length must be between 0.5 and {info.max_seconds:g} s for {info.name}; "
                           f"got {request.max_seconds:g} s.")
    if not (0 < request.temperature <= MAX_TEMPERATURE and 0 <= request.top_k <= MAX_TOP_K
            and 0 < request.top_p <= 1):
        raise RequestError(f"Temperature must be in (0, {MAX_TEMPERATURE:g}], top-k in 0–{MAX_TOP_K} (0 = off), "
                           "and top-p in (0, 1] (1 = off).")
    if not 0 <= request.seed < 2**63:
        raise RequestError(f"The seed must be a whole number from 0 to {2**63 - 1}.")
    if info.speakers and request.speaker and request.speaker not in info.speakers:
        raise RequestError(f"Unknown voice '{request.speaker}' for {info.name}.")
    needs_prompt = request.task in ("tts", "continuation", "melody", "dialogue")
    prompt = request.prompt if needs_prompt else None  # a task without a prompt ignores one sent anyway
    if needs_prompt and prompt is None:
        what = {"tts": "a voice prompt (a few seconds of the voice to clone)",
                "continuation": "a clip to continue", "melody": "a melody clip",
                "dialogue": "a clip of someone talking to it"}[request.task]
        raise RequestError(f"{info.name} needs {what}: upload or record one.")
    if prompt is not None:
        low, high = info.prompt_seconds
        if not low <= prompt.duration <= high:
            raise RequestError(f"The prompt is {prompt.duration:.1f} s; {info.name} takes {low:g}–{high:g} s. "
                               "Trim it (or record a longer one).")
        if not np.isfinite(prompt.samples).all():
            raise RequestError("The prompt contains invalid samples (NaN or infinity): re-export it and try again.")
        if float(abs(prompt.samples).max(initial=0.0)) < 1e-4:
            raise RequestError("The prompt is silent: the model has nothing to follow.")
        prompt = conform(prompt, info.sample_rate)
    prompt_text = request.prompt_text.strip() if request.task == "tts" else ""
    if request.task == "tts" and info.needs_prompt_text and not prompt_text:
        raise RequestError(f"{info.name} needs the transcript of the voice prompt: type what is said in it.")
    if len(prompt_text) > info.max_text_chars:
        raise RequestError(f"The transcript is {len(prompt_text)} characters; {info.name} takes at most "
                           f"{info.max_text_chars}. Use a shorter voice prompt.")
    from dataclasses import replace

    return replace(request, text=text, prompt=prompt, prompt_text=prompt_text)


def conform(audio: Audio, sample_rate: int) -> Audio:
    samples = map_channels(audio.samples, 1)
    if audio.sample_rate != sample_rate:
        samples = resample(samples, audio.sample_rate, sample_rate)
    return Audio(samples, sample_rate)


def generate(lm_id: str, request: GenerationRequest, progress: Progress | None = None,
             device: str | None = None, on_audio: AudioSink | None = None) -> Generation:
    """Validate, load (cached), seed, generate. The app, the CLI and the benchmark all call this.
    `on_audio` receives the audio piece by piece while a streaming model (`info.streams`) generates;
    other models ignore it (the whole audio comes back at the end either way)."""
    import torch

    info = lm_info(lm_id)
    request = check_request(info, request)
    progress = progress or (lambda fraction, message: None)
    progress(0.0, f"Loading {info.name}")
    start = time.perf_counter()
    lm = get_lm(lm_id, device)
    load_s = time.perf_counter() - start
    with _GENERATION_LOCK:  # seeding and sampling share torch's global RNG: one generation at a time
        torch.manual_seed(request.seed)
        raw = lm.generate(request, progress, on_audio=on_audio) if on_audio and info.streams else \
            lm.generate(request, progress)
    progress(1.0, "Done")
    return Generation(model_id=lm_id, audio=raw.audio, codes=raw.codes, load_s=load_s,
                      generate_s=raw.generate_s, decode_s=raw.decode_s, device=lm.device,
                      random_weights=weights.is_random(lm.checkpoint), notes=raw.notes)


"""Dia 1.6B (Nari Labs) through transformers' `DiaForConditionalGeneration` and `DiaProcessor`.

Dia speaks DAC 44.1 kHz (our codec `dac_44khz`): 9 codebooks of 1024 entries at 86.1 frames/s, i.e.
7.75 kbps. A byte-level text encoder (12 layers) reads dialogue text tagged with speakers [S1]/[S2];
a decoder (18 layers, cross-attending to the text) writes all 9 codebooks of a frame per step, under
a delay pattern: codebook c at step t holds frame t - delay[c], delays (0, 8, 9, ..., 15). Sampling
uses classifier-free guidance (the text-free branch runs in the same batch).

The path reproduces transformers' Dia docs (model_doc/dia): `AutoProcessor.from_pretrained(
"nari-labs/Dia-1.6B-0626")` (DiaFeatureExtractor, DiaTokenizer, and the DAC `descript/dac_44khz` as
the processor's audio tokenizer), `processor(text=..., audio=prompt)`, `model.generate(**inputs,
max_new_tokens=..., guidance_scale=3.0, ...)`. For voice cloning the prompt's transcript comes first
in the text, followed by the text to say, as in the docs and Nari Labs' voice_clone example. We undo
the delay pattern with the processor's own `build_indices` / `apply_audio_delay` (what
`processor.batch_decode` runs), keep the frames after the prompt up to the EOS, and decode exactly
those with the processor's DacModel (`audio_tokenizer.decode`, as `batch_decode` does).

Deviations: the request's temperature / top-k / top-p replace the docs' (1.8 / 45 / 0.9); transformers
clamps temperatures below 1 to 1 for Dia (we say so in the notes). A text without a leading speaker
tag gets "[S1] ". `generate_s` includes the DAC encoding of the voice prompt (the processor call),
as CSM's does.
"""

from __future__ import annotations

import math
import re
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import RequestError
from ._common import audio_of, codes_of, sampling_kwargs, step_progress, timed
from .base import GenerationRequest, LMInfo, Progress, RawGeneration

HUB_ID = "nari-labs/Dia-1.6B-0626"
DAC_HUB_ID = "descript/dac_44khz"  # the processor's audio tokenizer, a separate hub repository
SAMPLE_RATE, HOP, CODEBOOKS, CODEBOOK_SIZE = 44_100, 512, 9, 1024
FRAME_RATE = SAMPLE_RATE / HOP
GUIDANCE_SCALE = 3.0  # the docs' / model card's classifier-free guidance
MAX_TEXT_BYTES = 1024  # the encoder's positions (DiaEncoderConfig.max_position_embeddings)
INFOS = [
    LMInfo(
        id="dia_1_6b", name="Dia 1.6B (Nari Labs)", cpu_frames_per_s=0.65, tasks=("tts", "speech"),
        codec_id="dac_44khz",
        codec_kbps=round(CODEBOOKS * 10 * FRAME_RATE / 1000, 3), codebooks=CODEBOOKS,
        parameters="1.69B (252M text encoder, 1.34B decoder, 77M DAC 44.1 kHz)",
        licence="Apache-2.0 (code and weights); DAC weights MIT",
        hub_id=HUB_ID,
        paper="Nari Labs, Dia (open-weights text-to-dialogue model), 2025 (no paper; README and model card)",
        code_url="https://github.com/nari-labs/dia",
        conditioning="dialogue text with [S1]/[S2] speaker tags and non-verbal cues, e.g. (laughs); optional "
                     "voice prompt whose transcript is prepended to the text",
        architecture="encoder-decoder transformer: byte-level text encoder, decoder writing all 9 DAC codebooks "
                     "per step with a delay pattern (0, 8-15 frames), classifier-free guidance",
        survey="", sample_rate=SAMPLE_RATE, max_seconds=20.0, max_text_chars=600, prompt_seconds=(1.0, 10.0),
        needs_prompt_text=True,
        hardware="GPU with ≥ 8 GB recommended (float32, 6.5 GB peak; guidance doubles the batch); an H100 runs "
                 "at about half real time (172 frames in 3.8 s); CPU is far slower",
        notes="Write dialogue as '[S1] ... [S2] ...'; a text without a leading tag is spoken as [S1]. Voice prompt: "
              "5-10 s with its transcript (also tagged), which the model continues. Runs in float32. The DAC "
              "decoder is downloaded from descript/dac_44khz with the model.",
    ),
]

SMALL_ENCODER = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, head_dim=16,
                     intermediate_size=64)
SMALL_DECODER = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                     cross_num_attention_heads=2, cross_head_dim=16, cross_num_key_value_heads=2, cross_hidden_size=32,
                     intermediate_size=64)
SMALL_DAC = dict(encoder_hidden_size=4, decoder_hidden_size=16)  # keeps rates, hop 512, 9 x 1024 codebooks


def tagged(text: str) -> str:
    """Dia's text starts with a speaker tag; an untagged text is speaker 1's."""
    text = text.strip()
    return text if re.match(r"\[S[12]\]", text) else f"[S1] {text}"


class DiaLM:
    """The loaded model and processor (with its DAC); one generation at a time."""

    def __init__(self, info: LMInfo, model, processor, device: str) -> None:
        import torch

        self.info, self.dia, self.processor, self.device = info, model, processor, device
        self.model = torch.nn.ModuleList([model, processor.audio_tokenizer])  # for memory accounting
        self.checkpoint = weight_spec(info.id).path
        self._lock = threading.Lock()

    def text_of(self, request: GenerationRequest) -> str:
        text = tagged(request.text)
        if request.prompt is not None:
            text = f"{tagged(request.prompt_text)} {text}"
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise RequestError(f"The text and the prompt's transcript come to {len(text.encode('utf-8'))} bytes; "
                               f"{self.info.name} reads at most {MAX_TEXT_BYTES}. Shorten one of them.")
        return text

    def generate(self, request: GenerationRequest, progress: Progress) -> RawGeneration:
        import torch

        text = self.text_of(request)
        delays = list(self.dia.config.delay_pattern)
        frames = max(1, round(request.max_seconds * FRAME_RATE))
        times: dict[str, float] = {}
        with self._lock, torch.inference_mode():
            with timed(times, "generate"):
                audio = None if request.prompt is None else np.ascontiguousarray(request.prompt.samples[0])
                inputs = self.processor(text=[text], audio=audio, padding=True, return_tensors="pt").to(self.device)
                start = self.processor.get_audio_prompt_len(inputs["decoder_attention_mask"])  # BOS + prompt frames
                room = self.dia.config.decoder_config.max_position_embeddings - start - max(delays) - 1
                frames = min(frames, room)
                steps = frames + max(delays) + 1  # the frames, the EOS, and the delay pattern's tail
                out = self.dia.generate(**inputs, max_new_tokens=steps, guidance_scale=GUIDANCE_SCALE,
                                        stopping_criteria=[step_progress(progress, steps)],
                                        **sampling_kwargs(request))
            tokens = self.undelay(out)[0, start:]  # (steps, 9), frame t in row t
            special = ((tokens < 0) | (tokens >= CODEBOOK_SIZE)).any(dim=-1).nonzero()  # EOS, padding, the tail
            ended = bool(special.numel()) and bool((tokens[int(special.min()), 0] == self.eos).item())
            tokens = tokens[: int(special.min()) if special.numel() else tokens.shape[0]][:frames].T.contiguous()
            if not tokens.shape[1]:
                raise RequestError("Dia ended the speech before its first frame. Try another seed or text.")
            progress(0.99, "Decoding with DAC")
            with timed(times, "decode"):
                codec = self.processor.audio_tokenizer
                wav = codec.decode(audio_codes=tokens[None]).audio_values
        n = tokens.shape[1] * HOP
        notes = ("Stopped at the end-of-speech token." if ended and tokens.shape[1] < frames else "",
                 "Dia clamps temperatures below 1 to 1." if request.temperature < 1 else "",
                 f"Text given to the model: {text}")
        return RawGeneration(audio=audio_of(wav, tokens.shape[1], HOP, SAMPLE_RATE),
                             codes=codes_of(tokens, self.info.codec_id, n), generate_s=times["generate"],
                             decode_s=times["decode"], notes=tuple(note for note in notes if note))

    @property
    def eos(self) -> int:
        return int(self.dia.config.decoder_config.eos_token_id)

    def undelay(self, sequences):
        """(batch, steps, 9) delayed codes -> the same shape with row t holding frame t of every codebook
        (the processor's revert, as in `batch_decode`; the tail past the last step is filled with -1)."""
        bsz, seq_len, channels = sequences.shape
        index = self.processor.build_indices(bsz=bsz, seq_len=seq_len, num_channels=channels,
                                             delay_pattern=list(self.dia.config.delay_pattern), revert=True)
        return self.processor.apply_audio_delay(audio=sequences, pad_token_id=-1, bos_token_id=-1,
                                                precomputed_idx=index)


def _weights_file(repo_id: str) -> Path:
    index = weights.hub_file(repo_id, "model.safetensors.index.json")
    return index if index.exists() else weights.hub_file(repo_id, "model.safetensors")


def weight_spec(lm_id: str) -> weights.WeightSpec:
    """Dia's weights, present only with the DAC repository beside them: until DAC's weights are there,
    the location is DAC's file, so a half download is fetched again. The fetch takes both repositories."""
    spec = weights.hub_spec(lm_id, HUB_ID, "model.safetensors", allow_patterns=["*.json", "*.safetensors"])

    def fetch() -> None:
        from huggingface_hub import snapshot_download

        snapshot_download(HUB_ID, allow_patterns=["*.json", "*.safetensors"])
        snapshot_download(DAC_HUB_ID, allow_patterns=["*.json", "*.safetensors"])

    def location() -> Path:
        dac = _weights_file(DAC_HUB_ID)
        return _weights_file(HUB_ID) if dac.exists() else dac

    return replace(spec, location=location, fetch=fetch, source=f"the Hugging Face hub ({HUB_ID}, {DAC_HUB_ID})")


def load(info: LMInfo, device: str) -> DiaLM:
    import torch
    from transformers import AutoProcessor, DiaForConditionalGeneration

    weights.download(weight_spec(info.id))
    processor = AutoProcessor.from_pretrained(HUB_ID, local_files_only=True, dtype=torch.float32)
    processor.audio_tokenizer.eval().to(device)
    model = DiaForConditionalGeneration.from_pretrained(HUB_ID, local_files_only=True, dtype=torch.float32)
    return DiaLM(info, model.eval().to(device), processor, device)


def write_random_weights(lm_id: str, small: bool = False) -> Path:
    """`DiaForConditionalGeneration(config)` and a `DacModel(config)`, each saved with `save_pretrained`
    where `from_pretrained` looks (DAC under descript/dac_44khz, which the saved processor names), with
    the processor (feature extractor and byte tokenizer) beside the model."""
    from transformers import (
        DacConfig,
        DacModel,
        DiaConfig,
        DiaFeatureExtractor,
        DiaForConditionalGeneration,
        DiaProcessor,
        DiaTokenizer,
    )

    from ..weights import hub_snapshot

    dac_config = DacConfig(sampling_rate=SAMPLE_RATE, **(SMALL_DAC if small else {}))  # else descript/dac_44khz's
    with tempfile.TemporaryDirectory() as tmp:
        DacModel(dac_config).eval().save_pretrained(tmp)
        hub_snapshot(DAC_HUB_ID, source=Path(tmp))
    dac = DacModel.from_pretrained(DAC_HUB_ID, local_files_only=True)  # so the processor records the repository
    config = DiaConfig(encoder_config=SMALL_ENCODER, decoder_config=SMALL_DECODER) if small else DiaConfig()
    model = DiaForConditionalGeneration(config).eval()
    model.generation_config.update(do_sample=True, temperature=1.8, top_p=0.9, top_k=45, guidance_scale=GUIDANCE_SCALE)
    processor = DiaProcessor(DiaFeatureExtractor(sampling_rate=SAMPLE_RATE, hop_length=HOP), DiaTokenizer(), dac)
    assert math.prod(dac.config.downsampling_ratios) == HOP
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        hub_snapshot(HUB_ID, source=Path(tmp))
    return weight_spec(lm_id).path

"""MusicGen (Copet et al., 2023): text-to-music, continuation and melody conditioning, through
transformers' `MusicgenForConditionalGeneration` / `MusicgenMelodyForConditionalGeneration`.

One decoder-only transformer writes the 4 codebooks of EnCodec 32 kHz (`encodec_32khz`: 50 frames/s,
4 x 2048 entries, 2.2 kbps) with the delay pattern: codebook k lags k steps, so a frame costs one step
and a clip of F frames costs F + 3 steps. Text reaches it through a frozen T5-base encoder, by
cross-attention in small/medium; musicgen-melody has no cross-attention: it prepends the projected T5
states and a chromagram of the melody (12 pitch classes, one-hot per 4096-sample hop, 235 frames =
30 s) to the sequence. Sampling uses classifier-free guidance with scale 3
(audiocraft's `cfg_coef` default and the model cards' `guidance_scale=3`), fixed here.

Paths, as the model cards write them: `AutoProcessor.from_pretrained(hub_id)` (T5 tokenizer + EnCodec
or chroma feature extractor), `from_pretrained(hub_id)`, then `model.generate(**inputs, do_sample=True,
guidance_scale=3, max_new_tokens=...)` with the request's temperature / top-k / top-p.
- music: `processor(text=[text])`, F + 3 new tokens for F = max_seconds x 50 frames.
- continuation (small, medium): `processor(audio=clip, sampling_rate=32000, text=[text])`; generate
  encodes the clip with EnCodec and continues its codes. Without text the text condition is the null
  one (attention mask zeros, as `get_unconditional_inputs` and audiocraft's empty description).
- melody (melody): `processor(audio=melody, sampling_rate=32000, text=[text])` computes the chroma.

Codes and timing: transformers' generate undoes the delay pattern and decodes with EnCodec inside, and
with `return_dict_in_generate=True` it replaces `sequences` with the audio, so the codes never come back
(`output_scores` gives logits, not codes). We therefore catch the code grid generate hands to
`audio_encoder.decode` (skipping that decode), then decode exactly those codes ourselves: `generate_s`
is tokens only (text encoder, prompt encoding, sampling), `decode_s` is EnCodec.

Official audiocraft vs here: `MusicGen.generate_continuation(prompt, sr, descriptions)` encodes the
prompt, generates until `duration` seconds *including* the prompt, and returns the decoded prompt +
continuation (prompt audio re-synthesised through EnCodec). We generate `max_seconds` *after* the
prompt and return only the new part: its codes and audio decoded from those codes alone (so the first
few milliseconds lack the decoder's left context from the prompt; the prompt + continuation must fit
the 30 s MusicGen was trained on). Sampling is the same (top-k/top-p/temperature, CFG 3), but
audiocraft's default is top-k 250 and ours is the request's. Melody: audiocraft first removes drums
and bass with Demucs (htdemucs "vocals" + "other" stems) before the chroma; Demucs is not installed
here, so the chroma comes from the whole mix (transformers' feature extractor accepts either). A melody
shorter than 30 s is looped to 235 chroma frames (transformers; audiocraft's chroma conditioner does the
same when `match_len_on_eval` is set).
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import RequestError, WeightsMismatch
from ._common import audio_of, codes_of, sampling_kwargs, step_progress, timed
from .base import AudioSink, GenerationRequest, LMInfo, Progress, RawGeneration

CODEC_ID, FRAME_RATE, CODEBOOKS, CODEBOOK_SIZE, SAMPLE_RATE = "encodec_32khz", 50, 4, 2048, 32_000
HOP = SAMPLE_RATE // FRAME_RATE
GUIDANCE_SCALE = 3.0  # the model cards' guidance_scale and audiocraft's cfg_coef default
MAX_SECONDS = 30.0  # training segments; melody chroma covers 235 frames = 30 s
ALLOW_PATTERNS = ["*.json", "*.safetensors", "spiece.model"]  # configs, weights (sharded or not), tokenizer
MELODY = "musicgen_melody"
STREAM_FRAMES = 25  # frames (0.5 s) before the first piece of live audio, and at least this many between pieces
MARGIN_FRAMES = 8  # a prefix's last frames are held back: beyond EnCodec's right receptive field, final samples

_COMMON = dict(
    codec_id=CODEC_ID, codec_kbps=2.2, codebooks=CODEBOOKS,
    licence="code MIT (audiocraft); weights CC-BY-NC 4.0",
    paper="Copet et al., Simple and Controllable Music Generation, 2023 (arXiv:2306.05284)",
    code_url="https://github.com/facebookresearch/audiocraft",
    architecture="one decoder-only transformer over 4 EnCodec codebooks with the delay pattern (codebook k lags "
                 "k steps: F frames in F + 3 steps, one step per frame); T5-base text encoder via cross-attention; "
                 "classifier-free guidance (scale 3)",  # melody: see its entry
    survey="Wu et al. 2024, §III",
    sample_rate=SAMPLE_RATE, max_seconds=MAX_SECONDS, max_text_chars=500, prompt_seconds=(1.0, 30.0),
    streams=True,
)
INFOS = [
    LMInfo(id="musicgen_small", cpu_frames_per_s=4.4, name="MusicGen small", tasks=("music", "continuation"),
           parameters="587M (decoder 420M, T5-base encoder 110M, EnCodec 57M)", hub_id="facebook/musicgen-small",
           conditioning="text description; or a clip to continue (+ optional text)",
           hardware="GPU with ≥ 4 GB recommended (2.5 GB peak; about real time on an H100 in fp32, where "
                    "sampling is step-bound at ~45 frames/s); CPU works but is memory-bound, tens of times "
                    "slower than real time (each step reads all 2.3 GB of weights)",
           notes="The paper's 300M model (24 layers, width 1024). Continuation returns only the new part.",
           **_COMMON),
    LMInfo(id="musicgen_medium", cpu_frames_per_s=1.1, name="MusicGen medium", tasks=("music", "continuation"),
           parameters="2.0B (decoder 1.84B, T5-base encoder 110M, EnCodec 57M)", hub_id="facebook/musicgen-medium",
           conditioning="text description; or a clip to continue (+ optional text)",
           hardware="GPU with ≥ 12 GB recommended (8.2-9.3 GB peak in fp32; ~1.7x real time on an H100); "
                    "CPU impractical (8 GB of weights read per step)",
           notes="The paper's 1.5B model (48 layers, width 1536). Continuation returns only the new part.",
           **_COMMON),
    LMInfo(id=MELODY, cpu_frames_per_s=1.0, name="MusicGen melody", tasks=("music", "melody"),
           parameters="1.55B (decoder 1.38B: no cross-attention; T5-base encoder 110M, EnCodec 57M)",
           hub_id="facebook/musicgen-melody",
           conditioning="text description + a melody clip (chromagram: the dominant pitch class per 128 ms)",
           hardware="GPU with ≥ 8 GB recommended (6.9 GB peak in fp32; about real time on an H100); "
                    "CPU impractical (6.2 GB of weights read per step)",
           notes="The paper's 1.5B melody model. The chroma is taken from the whole mix (audiocraft first "
                 "removes drums and bass with Demucs, which is not installed here).",
           **{**_COMMON, "architecture": "one decoder-only transformer over 4 EnCodec codebooks with the delay "
                                         "pattern (F frames in F + 3 steps); no cross-attention: the melody's "
                                         "12-bin chromagram (235 frames = 30 s, looped) and the T5-base text "
                                         "states are prepended to the sequence; classifier-free guidance (scale 3)"}),
]
DECODERS = {  # audiocraft model_scale small / medium; transformers' conversion scripts
    "musicgen_small": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096),
    "musicgen_medium": dict(hidden_size=1536, num_hidden_layers=48, num_attention_heads=24, ffn_dim=6144),
    MELODY: dict(hidden_size=1536, num_hidden_layers=48, num_attention_heads=24, ffn_dim=6144),
}
SMALL_DECODER = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
                     initializer_factor=1.0)  # std 1 (not 0.02): logits, hence codes, depend on the inputs
T5_BASE = dict(d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12, relative_attention_num_buckets=32,
               feed_forward_proj="relu", dropout_rate=0.1, layer_norm_epsilon=1e-6)  # t5-base's config.json
SMALL_T5 = dict(T5_BASE, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2, relative_attention_num_buckets=8)


def _info(lm_id: str) -> LMInfo:
    return next(info for info in INFOS if info.id == lm_id)


def weight_spec(lm_id: str) -> weights.WeightSpec:
    """Present when the weights are (the index of a sharded checkpoint, or the one file)."""
    hub_id = _info(lm_id).hub_id
    spec = weights.hub_spec(lm_id, hub_id, "model.safetensors", allow_patterns=ALLOW_PATTERNS)

    def location() -> Path:
        index = weights.hub_file(hub_id, "model.safetensors.index.json")
        return index if index.exists() else weights.hub_file(hub_id, "model.safetensors")

    return replace(spec, location=location)


def _model_class(lm_id: str):
    import transformers

    melody = lm_id == MELODY
    return transformers.MusicgenMelodyForConditionalGeneration if melody else \
        transformers.MusicgenForConditionalGeneration


def load(info: LMInfo, device: str) -> MusicGenLM:
    from transformers import AutoProcessor

    spec = weight_spec(info.id)
    weights.download(spec)
    # local_files_only: what download() checked is what loads
    model = _model_class(info.id).from_pretrained(info.hub_id, local_files_only=True).eval().to(device)
    processor = AutoProcessor.from_pretrained(info.hub_id, local_files_only=True)
    lm = MusicGenLM(info, model, processor, device, spec.path)
    lm.check_config()
    return lm


class MusicGenLM:
    def __init__(self, info: LMInfo, model, processor, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.processor, self.device, self.checkpoint = info, model, processor, device, checkpoint
        self._lock = threading.Lock()  # generate swaps audio_encoder.decode while it runs

    def check_config(self) -> None:
        """The checkpoint must speak encodec_32khz as we describe it (4 x 2048 codes at 32 kHz, 50 Hz)."""
        audio, decoder = self.model.config.audio_encoder, self.model.config.decoder
        facts = dict(codebooks=decoder.num_codebooks, vocab_size=decoder.vocab_size,
                     audio_channels=decoder.audio_channels, codebook_size=audio.codebook_size,
                     sample_rate=audio.sampling_rate, hop=int(np.prod(audio.upsampling_ratios)))
        expected = dict(codebooks=CODEBOOKS, vocab_size=CODEBOOK_SIZE, audio_channels=1, codebook_size=CODEBOOK_SIZE,
                        sample_rate=SAMPLE_RATE, hop=HOP)
        wrong = {k: (facts[k], v) for k, v in expected.items() if facts[k] != v}
        if wrong:
            detail = "; ".join(f"{k}: checkpoint {got}, expected {want}" for k, (got, want) in wrong.items())
            raise WeightsMismatch(self.info.id, self.checkpoint.parent, f"{self.info.hub_id}: {detail}")

    def inputs(self, request: GenerationRequest) -> dict:
        """The processor's tensors for this task (text; text + clip; text + melody)."""
        texts = [request.text]
        if request.task in ("continuation", "melody"):
            clip = request.prompt.samples[0]
            batch = self.processor(audio=clip, sampling_rate=SAMPLE_RATE, text=texts, padding=True,
                                   return_tensors="pt")
        else:
            batch = self.processor(text=texts, padding=True, return_tensors="pt")
        if not request.text:  # continuation without a description: the null text condition
            batch["attention_mask"][:] = 0
        return {key: value.to(self.device) for key, value in batch.items()}

    def generate(self, request: GenerationRequest, progress: Progress,
                 on_audio: AudioSink | None = None) -> RawGeneration:
        """`on_audio` hears the audio while it is generated (`_LiveAudio`); the pieces laid end to end are
        the returned audio."""
        import torch

        frames = max(1, round(request.max_seconds * FRAME_RATE))
        if request.task == "continuation" and request.prompt.duration + frames / FRAME_RATE > MAX_SECONDS + 1e-6:
            raise RequestError(f"The clip ({request.prompt.duration:.1f} s) plus the length asked "
                               f"({request.max_seconds:g} s) is over the {MAX_SECONDS:g} s MusicGen was trained on. "
                               "Trim the clip or ask for less.")
        steps = frames + CODEBOOKS - 1  # the delay pattern: the last codebook finishes 3 steps after the first
        kwargs = dict(sampling_kwargs(request), guidance_scale=GUIDANCE_SCALE, max_new_tokens=steps,
                      stopping_criteria=[step_progress(progress, steps)])
        live = _LiveAudio(self.model.audio_encoder.decode, frames, on_audio) if on_audio else None
        if live is not None:
            kwargs["stopping_criteria"].append(live)
        timings: dict[str, float] = {}
        with self._lock, torch.inference_mode():
            inputs = self.inputs(request)
            with timed(timings, "generate"), _codes_from_generate(self.model.audio_encoder) as caught:
                self.model.generate(**inputs, **kwargs)
            grid = caught[0][0, 0]  # (codebooks, prompt frames + frames), delay pattern undone by generate
            if grid.shape[-1] < frames:
                raise RuntimeError(f"MusicGen returned {grid.shape[-1]} frames; expected at least {frames}")
            tokens = grid[:, -frames:]  # the continuation's prompt frames come first
            progress(0.99, "Decoding with EnCodec 32 kHz")
            with timed(timings, "decode"):
                wav = self.model.audio_encoder.decode(tokens[None, None], audio_scales=[None]).audio_values[0, 0]
        audio = audio_of(wav, frames, HOP, SAMPLE_RATE)
        if live is not None:
            live.finish(audio.samples[0])
        notes = [f"classifier-free guidance scale {GUIDANCE_SCALE:g} (fixed)"]
        if request.task == "continuation":
            notes.append(f"continues {request.prompt.duration:.1f} s of the clip; the output is the new part only")
        if request.task == "melody":
            notes.append("chroma of the whole mix (no Demucs stem separation)")
        return RawGeneration(audio=audio, codes=codes_of(tokens, CODEC_ID, frames * HOP),
                             generate_s=timings["generate"], decode_s=timings["decode"], notes=tuple(notes))


class _LiveAudio:
    """A transformers `StoppingCriteria` that never stops but decodes the frames finished so far and hands
    the new audio to `sink`. The sequence is in the delay pattern (codebook k's frame j at column
    prompt + j + k + 1), so frame j is finished once the last codebook has written it. Each time at least
    `STREAM_FRAMES` new frames are finished (and half as many as already played, so decoding stays linear
    in the length), the generated frames are decoded from the first, as the final decode does, and the
    samples before the last `MARGIN_FRAMES` are final: they are sent. `finish` sends the rest from the
    final decode, so the pieces add up to exactly the returned audio."""

    def __init__(self, decode, frames: int, sink: AudioSink) -> None:
        self.decode, self.frames, self.sink = decode, frames, sink
        self.prompt_frames: int | None = None
        self.sent = 0  # samples handed to the sink

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        length = input_ids.shape[-1]
        if self.prompt_frames is None:  # the first step: the sequence was BOS + prompt frames, plus this one
            self.prompt_frames = length - 2
        done = min(length - CODEBOOKS - self.prompt_frames, self.frames)  # generated frames finished
        ready = (done - MARGIN_FRAMES) * HOP
        if done < self.frames and ready - self.sent >= max(STREAM_FRAMES * HOP, self.sent // 2):
            grid = input_ids.reshape(-1, CODEBOOKS, length)[0]
            start = self.prompt_frames + 1
            tokens = torch.stack([grid[k, start + k: start + k + done] for k in range(CODEBOOKS)])
            wav = self.decode(tokens[None, None], audio_scales=[None]).audio_values[0, 0]
            self._send(wav.float().cpu().numpy()[self.sent: ready])
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    def finish(self, samples: np.ndarray) -> None:
        self._send(samples[self.sent:])

    def _send(self, piece: np.ndarray) -> None:
        if piece.size:
            self.sent += piece.size
            self.sink(np.ascontiguousarray(piece, dtype=np.float32))


class _codes_from_generate:
    """While active, `audio_encoder.decode` records the codes generate passes it and skips the decoding
    (generate only reads `.audio_values` from its result, which we discard)."""

    def __init__(self, audio_encoder) -> None:
        self.audio_encoder, self.caught = audio_encoder, []

    def __enter__(self) -> list:
        from types import SimpleNamespace

        def record(audio_codes, *args, **kwargs):
            self.caught.append(audio_codes)
            return SimpleNamespace(audio_values=None)

        self.audio_encoder.decode = record  # an instance attribute shadows the method
        return self.caught

    def __exit__(self, *exc) -> None:
        del self.audio_encoder.decode
        if not self.caught and exc[0] is None:
            raise RuntimeError("transformers' MusicGen generate did not decode: the code capture needs updating")


# --- random weights ------------------------------------------------------------------------------

def write_random_weights(lm_id: str, small: bool = False) -> Path:
    """The real classes with random weights, saved with `save_pretrained` (model, generation config and
    processor: T5 tokenizer + feature extractor) where `from_pretrained(hub_id)` looks."""
    import torch

    from ..codecs import encodec_hf
    from ..weights import hub_snapshot

    info = _info(lm_id)
    tokenizer = _tokenizer()
    model = _model_class(lm_id)(_config(lm_id, small, text_vocab=len(tokenizer) if small else 32_128)).eval()
    with torch.no_grad():  # a fresh EnCodec's codebooks are zeros: every frame would decode the same
        encodec_hf.fit_codebooks(model.audio_encoder, lambda: _encode_noise(model.audio_encoder))
    generation = model.generation_config  # facebook/musicgen-*'s generation_config.json
    generation.update(decoder_start_token_id=CODEBOOK_SIZE, pad_token_id=CODEBOOK_SIZE, bos_token_id=CODEBOOK_SIZE,
                      do_sample=True, guidance_scale=GUIDANCE_SCALE, max_length=int(MAX_SECONDS * FRAME_RATE))
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        _processor(lm_id, tokenizer).save_pretrained(tmp)
        hub_snapshot(info.hub_id, source=Path(tmp))
    return weight_spec(lm_id).path


def _config(lm_id: str, small: bool, text_vocab: int):
    import transformers

    from ..codecs import encodec_hf

    melody = lm_id == MELODY
    text = transformers.T5Config(vocab_size=text_vocab, **(SMALL_T5 if small else T5_BASE))
    decoder_class = transformers.MusicgenMelodyDecoderConfig if melody else transformers.MusicgenDecoderConfig
    decoder = decoder_class(vocab_size=CODEBOOK_SIZE, max_position_embeddings=2048, num_codebooks=CODEBOOKS,
                            pad_token_id=CODEBOOK_SIZE, bos_token_id=CODEBOOK_SIZE, tie_word_embeddings=False,
                            **(SMALL_DECODER if small else DECODERS[lm_id]))
    config_class = transformers.MusicgenMelodyConfig if melody else transformers.MusicgenConfig
    extra = dict(num_chroma=12, chroma_length=235) if melody else {}
    return config_class(text_encoder=text.to_dict(), audio_encoder=encodec_hf.config(small).to_dict(),
                        decoder=decoder.to_dict(), **extra)


def _encode_noise(encodec) -> None:
    import torch

    noise = 0.1 * torch.randn(1, 1, 20 * HOP, generator=torch.Generator().manual_seed(0))
    encodec.encode(noise, bandwidth=2.2)


def _tokenizer():
    """A small T5 tokenizer (Unigram over characters and "▁"-words, T5's <pad>=0, </s>=1, <unk>=2) that
    `AutoProcessor` loads as it loads t5-base's; the hub's cannot be downloaded here."""
    import string

    from transformers import T5Tokenizer

    chars = string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(f"▁{c}", -3.0) for c in chars] + [(c, -4.0) for c in chars]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=512)


def _processor(lm_id: str, tokenizer):
    import transformers

    if lm_id == MELODY:  # facebook/musicgen-melody: MusicgenMelodyFeatureExtractor() defaults
        return transformers.MusicgenMelodyProcessor(transformers.MusicgenMelodyFeatureExtractor(), tokenizer)
    extractor = transformers.EncodecFeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                                     padding_side="left")  # the conversion script's
    return transformers.MusicgenProcessor(extractor, tokenizer)

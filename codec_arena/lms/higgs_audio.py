"""Higgs Audio v2 (Boson AI) through transformers' `HiggsAudioV2ForConditionalGeneration`.

Higgs Audio v2 speaks the Higgs Audio v2 tokenizer (our codec `higgs_audio_v2_tokenizer`): 8 codebooks
of 1024 entries at 25 frames/s, i.e. 2 kbps. A Llama-3.2-3B backbone reads a chat (system prompt,
scene description, user turns with text, assistant turns with audio) and writes all 8 codebooks of a
frame per step from one head; each decoder layer has a second feed-forward block ("DualFFN") that
audio positions go through instead of the text one. The codebooks follow a delay pattern: codebook k
at step t holds frame t - k, between an all-BOS row (1024) and an all-EOS row (1025).

The path reproduces transformers' Higgs Audio v2 docs (model_doc/higgs_audio_v2): `AutoProcessor.
from_pretrained("eustlb/higgs-audio-v2-generation-3B-base")` (DAC feature extractor, Llama-3 text
tokenizer, the Higgs Audio v2 tokenizer as its audio tokenizer, the chat template), a conversation of
the docs' system message "Generate audio following instruction." and scene "Audio is recorded from a
quiet room.", then the user's text; `processor.apply_chat_template(..., add_generation_prompt=True,
tokenize=True, return_dict=True)`, `model.generate(**inputs)`. Zero-shot voice cloning is the docs'
"Zero-shot voice cloning" conversation: the prompt's transcript as a user turn and the prompt's audio as
the assistant's answer, before the user's text. We then do what `processor.batch_decode` does: keep the
rows after the all-BOS row up to the all-EOS row, undo the delay pattern with the processor's
`revert_delay_pattern`, clip to 0..1023, and decode those codes with the processor's audio tokenizer.

Deviations: the request's temperature / top-k / top-p and a frame cap (`request.max_seconds`) go to
`generate` (the docs use greedy decoding; Boson's `examples/generation.py` samples with temperature 1.0,
top-k 50, top-p 0.95). The repetition-aware sampling of the hub's generation config (window 7, at most
2 repeats, as Boson's script) stays on. `generate_s` includes the tokenizer's encoding of the voice
prompt (it runs in the processor call), as for CSM and Dia.

Sources of the facts below: transformers 5.24 `models/higgs_audio_v2` (config defaults: Llama-3.2-3B
sizes, 8 codebooks, token ids; the delay-pattern logits processor; `processor.batch_decode`) and
`convert_higgs_audio_v2_to_hf.py` (codebook_size 1026, chat template, processor, generation config);
the docs page model_doc/higgs_audio_v2.md (hub id, conversations); GitHub boson-ai/higgs-audio README
(checkpoints "3.6B LLM + 2.2B audio adapter", ≥ 24 GB GPU, default system message and scene),
tech_blogs/ARCHITECTURE_BLOG.md (Llama-3.2-3B, DualFFN, delay pattern), configuration_higgs_audio.py
(special token ids 128011-128016), examples/generation.py (sampling defaults, RAS 7 / 2); the licence
text "Boson Higgs Audio 2 Community License Agreement" (the hub model card says "license: other").
Parameter counts are computed from the config (see tests/test_lm_higgs_audio.py).
"""

from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from .. import weights
from ..errors import RequestError
from ._common import audio_of, codes_of, step_progress, timed
from .base import GenerationRequest, LMInfo, Progress, RawGeneration

HUB_ID = "eustlb/higgs-audio-v2-generation-3B-base"  # the transformers conversion of bosonai/higgs-audio-v2-...
CODEC_ID = "higgs_audio_v2_tokenizer"
CODEC_HUB_ID = "eustlb/higgs-audio-v2-tokenizer"  # what the conversion script gives the processor
SAMPLE_RATE, HOP, CODEBOOKS, CODEBOOK_SIZE, FRAME_RATE = 24_000, 960, 8, 1024, 25.0
STREAM_BOS, STREAM_EOS = 1024, 1025  # audio_stream_bos_id / audio_stream_eos_id: the model's codebooks hold 1026
SYSTEM = "Generate audio following instruction."  # the docs' and Boson's default system message
SCENE = "Audio is recorded from a quiet room."  # Boson's examples/scene_prompts/quiet_indoor.txt, the docs' scene
INFOS = [
    LMInfo(
        id="higgs_audio_v2_3b", name="Higgs Audio v2 (Boson AI)", tasks=("tts", "speech"), codec_id=CODEC_ID,
        codec_kbps=CODEBOOKS * 10 * FRAME_RATE / 1000, codebooks=CODEBOOKS,
        parameters="5.58B (3.21B Llama-3.2-3B backbone, 2.16B audio DualFFN with the audio embeddings and head, "
                   "200M audio tokenizer; Boson's '3.6B LLM + 2.2B audio adapter' also counts the 394M text head, "
                   "which the transformers conversion drops)",
        licence="Boson Higgs Audio 2 Community License (built on the Meta Llama 3 Community License; an expanded "
                "licence is needed above 100,000 annual active users); code Apache-2.0",
        hub_id=HUB_ID,
        paper="Boson AI, Higgs Audio v2: Redefining Expressiveness in Audio Generation, 2025 (blog post "
              "boson.ai/blog/higgs-audio-v2 and the repository's tech_blogs; no paper)",
        code_url="https://github.com/boson-ai/higgs-audio",
        conditioning="chat: system message and scene description, the text as a user turn; optional voice prompt "
                     "as an earlier user turn (its transcript) answered by the assistant (its audio)",
        architecture="Llama-3.2-3B with DualFFN (a second feed-forward block per layer for audio positions) writes "
                     "all 8 codebooks of a frame per step, under a delay pattern (codebook k lags k frames)",
        survey="", sample_rate=SAMPLE_RATE, max_seconds=30.0, max_text_chars=600, prompt_seconds=(1.0, 30.0),
        needs_prompt_text=True,
        hardware="a large GPU: Boson's README asks for ≥ 24 GB, and this path runs in float32, whose weights alone "
                 "(model and tokenizer) take 22.3 GB; CPU is far slower",
        notes="The voice follows the text and scene unless a voice prompt is given; a voice prompt needs its "
              "transcript. Weights and text tokenizer from eustlb/higgs-audio-v2-generation-3B-base (the transformers "
              "conversion of bosonai/higgs-audio-v2-generation-3B-base); the audio tokenizer is downloaded with it. "
              "Runs in float32.",
    ),
]

# The test processor's chat template, our own, for the conversations `conversation` builds (the hub
# processor brings the real one): the system message, the scene between its markers, then turns; an
# assistant turn is one audio (`<|audio_out_bos|><|AUDIO_OUT|><|audio_eos|>`: the processor expands
# <|AUDIO_OUT|> to the prompt's delayed frames), and the generation prompt opens the assistant's audio.
CHAT_TEMPLATE = (
    "{%- macro text(message) %}{%- for part in message['content'] if part['type'] == 'text' %}"
    "{{- part['text'] | trim }}{%- endfor %}{%- endmacro %}"
    "{{- bos_token + '<|start_header_id|>system<|end_header_id|>\\n\\n' + text(messages[0]) }}"
    "{%- for message in messages[1:] if message['role'] == 'scene' %}"
    "{{- '\\n\\n<|scene_desc_start|>\\n' + text(message) + '\\n<|scene_desc_end|>' }}{%- endfor %}"
    "{{- '<|eot_id|>' }}"
    "{%- for message in messages[1:] if message['role'] != 'scene' %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['role'] == 'assistant' %}{{- '<|audio_out_bos|><|AUDIO_OUT|><|audio_eos|>' }}"
    "{%- else %}{{- text(message) }}{%- endif %}{{- '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n<|audio_out_bos|>' }}{%- endif %}"
)

# The special tokens the template and the model use, with their ids in the hub's Llama-3 tokenizer where
# Boson's configuration_higgs_audio.py and HiggsAudioV2Config name them (128011-128016 are Llama-3.1's
# reserved tokens 3-8, renamed); the scene markers get the next two ids here (only this random tokenizer's
# own numbering: the hub tokenizer defines the real ones).
SPECIAL_TOKENS = {"<|begin_of_text|>": 128_000, "<|end_of_text|>": 128_001, "<|start_header_id|>": 128_006,
                  "<|end_header_id|>": 128_007, "<|eot_id|>": 128_009, "<|audio_bos|>": 128_011,
                  "<|audio_eos|>": 128_012, "<|audio_out_bos|>": 128_013, "<|reserved_special_token_6|>": 128_014,
                  "<|AUDIO|>": 128_015, "<|AUDIO_OUT|>": 128_016, "<|scene_desc_start|>": 128_017,
                  "<|scene_desc_end|>": 128_018}
SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
             head_dim=16)


class HiggsAudioLM:
    """The loaded model and processor (with its audio tokenizer); one generation at a time."""

    def __init__(self, info: LMInfo, model, processor, device: str) -> None:
        import torch

        self.info, self.higgs, self.processor, self.device = info, model, processor, device
        self.model = torch.nn.ModuleList([model, processor.audio_tokenizer])  # for memory accounting
        self.checkpoint = weight_spec(info.id).path
        self._lock = threading.Lock()

    def conversation(self, request: GenerationRequest) -> list[dict]:
        """The docs' conversation: system, scene, [prompt transcript, prompt audio], the text to say."""
        import numpy as np

        turns = [{"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
                 {"role": "scene", "content": [{"type": "text", "text": SCENE}]}]
        if request.prompt is not None:
            turns += [{"role": "user", "content": [{"type": "text", "text": request.prompt_text}]},
                      {"role": "assistant", "content": [
                          {"type": "audio", "audio": np.ascontiguousarray(request.prompt.samples[0], np.float32)}]}]
        turns.append({"role": "user", "content": [{"type": "text", "text": request.text}]})
        return turns

    def generate(self, request: GenerationRequest, progress: Progress) -> RawGeneration:
        import torch

        frames = max(1, round(request.max_seconds * FRAME_RATE))
        steps = frames + CODEBOOKS  # the all-BOS row, the frames, and the delay pattern's tail of 7 rows
        # explicit values: transformers reads top_k 0 and top_p 1 as off (None could mean a default)
        sampling = dict(do_sample=True, temperature=request.temperature, top_k=request.top_k, top_p=request.top_p)
        times: dict[str, float] = {}
        with self._lock, torch.inference_mode():
            with timed(times, "generate"):
                inputs = self.processor.apply_chat_template(
                    self.conversation(request), add_generation_prompt=True, tokenize=True, return_dict=True,
                    return_tensors="pt", processor_kwargs=dict(sampling_rate=SAMPLE_RATE)).to(self.device)
                prompt_rows = inputs["audio_input_ids"].shape[1] if "audio_input_ids" in inputs else 0
                out = self.higgs.generate(**inputs, max_new_tokens=steps,
                                          stopping_criteria=[step_progress(progress, steps)], **sampling)
            tokens, ended, clipped = self.frames_of(out[0, prompt_rows:])
            tokens = tokens[:, :frames]
            progress(0.99, "Decoding with the Higgs Audio v2 tokenizer")
            with timed(times, "decode"):
                wav = self.processor.audio_tokenizer.decode(tokens[None]).audio_values
        notes = ("Stopped at the end-of-audio row." if ended else "",
                 f"{clipped} stream markers inside the audio were clipped to code 1023, as the processor's "
                 "batch_decode does (random weights emit them; a trained model ends the stream instead)."
                 if clipped else "",
                 "Voice prompt given as the assistant's earlier answer to its transcript."
                 if request.prompt is not None else "")
        return RawGeneration(audio=audio_of(wav, tokens.shape[1], HOP, SAMPLE_RATE),
                             codes=codes_of(tokens, self.info.codec_id, tokens.shape[1] * HOP),
                             generate_s=times["generate"], decode_s=times["decode"],
                             notes=tuple(note for note in notes if note))

    def frames_of(self, rows):
        """Generated rows [steps, 8] (delayed, after the prompt's) -> codes [8, T], whether the all-EOS row
        ended them, and how many stream markers were clipped: `processor.batch_decode`'s steps."""
        if not bool((rows[0] == STREAM_BOS).all()):
            raise RuntimeError("Higgs Audio's generation did not open with the all-BOS row; transformers changed?")
        rows = rows[1:]
        eos = (rows == STREAM_EOS).all(dim=-1).nonzero()
        ended = bool(eos.numel())
        rows = rows[: int(eos.min())] if ended else rows
        if rows.shape[0] < CODEBOOKS:  # fewer rows than the delay pattern's span: no whole frame
            raise RequestError("Higgs Audio ended the audio before its first frame. Try another seed or text.")
        codes = self.processor.revert_delay_pattern(rows)  # [T, 8], frame t in row t
        clipped = int((codes >= CODEBOOK_SIZE).sum())
        return codes.clip(0, CODEBOOK_SIZE - 1).T.contiguous(), ended, clipped


# --- weights -----------------------------------------------------------------------------------------

def _weights_file(repo_id: str) -> Path:
    index = weights.hub_file(repo_id, "model.safetensors.index.json")
    return index if index.exists() else weights.hub_file(repo_id, "model.safetensors")


def audio_tokenizer_repo() -> str:
    """The repository the downloaded processor names for its audio tokenizer (what `from_pretrained`
    loads); before the processor is here, the one the conversion script gives it."""
    config = weights.hub_file(HUB_ID, "processor_config.json")
    if config.exists():
        named = json.loads(config.read_text()).get("audio_tokenizer", {})
        return named.get("audio_tokenizer_name_or_path") or CODEC_HUB_ID
    return CODEC_HUB_ID


def weight_spec(lm_id: str) -> weights.WeightSpec:
    """The model's weights, present only with the audio tokenizer's beside them: until those are there,
    the location is the tokenizer's file, so a half download is fetched again. The fetch takes both."""
    patterns = ["*.json", "*.safetensors", "*.jinja"]
    spec = weights.hub_spec(lm_id, HUB_ID, "model.safetensors", allow_patterns=patterns)

    def fetch() -> None:
        from huggingface_hub import snapshot_download

        snapshot_download(HUB_ID, allow_patterns=patterns)
        snapshot_download(audio_tokenizer_repo(), allow_patterns=patterns)

    def location() -> Path:
        codec = _weights_file(audio_tokenizer_repo())
        return _weights_file(HUB_ID) if codec.exists() else codec

    return replace(spec, location=location, fetch=fetch,
                   source=f"the Hugging Face hub ({HUB_ID}, {audio_tokenizer_repo()})")


def load(info: LMInfo, device: str) -> HiggsAudioLM:
    import torch
    from transformers import AutoProcessor, HiggsAudioV2ForConditionalGeneration

    weights.download(weight_spec(info.id))
    processor = AutoProcessor.from_pretrained(HUB_ID, local_files_only=True, dtype=torch.float32)
    processor.audio_tokenizer.eval().to(device)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32  # 11 GB on a GPU, not 22
    model = HiggsAudioV2ForConditionalGeneration.from_pretrained(HUB_ID, local_files_only=True, dtype=dtype)
    return HiggsAudioLM(info, model.eval().to(device), processor, device)


# --- random weights ------------------------------------------------------------------------------------

def byte_level_tokenizer(special_ids: dict[str, int]):
    """A Llama-3-style byte-level BPE tokenizer without merges: the 256 byte tokens keep Llama-3's ids and
    the special tokens get `special_ids`."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    # GPT-2's byte-to-character map sends printable bytes to themselves and the rest to U+0100 on, in
    # byte order; GPT-2 and Llama-3 number the 256 byte tokens in that character order
    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab.update(special_ids)
    tok = Tokenizer(BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(special_ids))
    # the conversion script sets pad = eos; <|end_of_text|> is HiggsAudioV2Config's pad_token_id 128001
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>",
                                   pad_token="<|end_of_text|>")


def special_tokens(small: bool) -> dict[str, int]:
    """The special tokens' ids: the hub's, or just after the 256 byte tokens in the tiny vocabulary."""
    return {token: 256 + i for i, token in enumerate(SPECIAL_TOKENS)} if small else dict(SPECIAL_TOKENS)


def model_config(small: bool):
    """The conversion script's `HiggsAudioV2Config(codebook_size=1026)` (the 1024 codes, stream BOS and
    EOS; the rest, bos_token_id 1 included, the config's defaults, i.e. the 3B model), or a tiny one whose
    token ids follow the tiny vocabulary. With the hub ids the token ids equal the defaults."""
    from transformers import HiggsAudioV2Config

    special = special_tokens(small)
    ids = dict(pad_token_id=special["<|end_of_text|>"], eos_token_id=special["<|eot_id|>"],
               audio_token_id=special["<|AUDIO_OUT|>"], audio_bos_token_id=special["<|audio_out_bos|>"],
               audio_delay_token_id=special["<|reserved_special_token_6|>"])
    sizes = dict(SMALL, vocab_size=256 + len(special)) if small else {}
    return HiggsAudioV2Config(codebook_size=CODEBOOK_SIZE + 2, num_codebooks=CODEBOOKS, **sizes, **ids)


def write_random_weights(lm_id: str, small: bool = False) -> Path:
    """`HiggsAudioV2ForConditionalGeneration(config)` and a processor (DAC feature extractor, byte-level
    Llama-3-style tokenizer, the conversion script's chat template, the Higgs Audio v2 tokenizer) saved
    where `from_pretrained("eustlb/higgs-audio-v2-generation-3B-base")` looks. The audio tokenizer is our
    codec's checkpoint: written (random, marked) only when none is there, so a downloaded one is kept."""
    from transformers import (
        DacFeatureExtractor,
        HiggsAudioV2ForConditionalGeneration,
        HiggsAudioV2Processor,
        HiggsAudioV2TokenizerModel,
    )

    from ..codecs import registry as codecs
    from ..weights import hub_snapshot

    codec_path = codecs.weight_spec(CODEC_ID).path
    if not codec_path.exists():
        weights.mark_random(codecs.family_module(CODEC_ID).write_random_weights(CODEC_ID, small=small))
    audio_tokenizer = HiggsAudioV2TokenizerModel.from_pretrained(CODEC_HUB_ID, local_files_only=True)
    tokenizer = byte_level_tokenizer(special_tokens(small))
    config = model_config(small)
    model = HiggsAudioV2ForConditionalGeneration(config).eval()
    # the conversion script's generation config: token ids and repetition-aware sampling (window 7, 2 repeats);
    # `_from_model_config` False, or loading drops the attributes GenerationConfig does not know
    generation = dict(_from_model_config=False, bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
                      pad_token_id=config.pad_token_id, ras_win_len=7, ras_win_max_num_repeat=2)
    for name, value in generation.items():  # set, not `update`: update skips attributes it does not know
        setattr(model.generation_config, name, value)
    extractor = DacFeatureExtractor(feature_size=1, hop_length=1, padding_side="right", padding_value=0.0,
                                    sampling_rate=SAMPLE_RATE, return_attention_mask=True)
    processor = HiggsAudioV2Processor(extractor, tokenizer, audio_tokenizer, chat_template=CHAT_TEMPLATE,
                                      audio_stream_bos_id=STREAM_BOS, audio_stream_eos_id=STREAM_EOS)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        hub_snapshot(HUB_ID, source=Path(tmp))
    return weight_spec(lm_id).path

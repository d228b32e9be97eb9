"""Llasa (HKUST Audio; Ye et al., 2025) through transformers' `AutoModelForCausalLM` + `AutoTokenizer`,
decoded by X-Codec2 (our codec `xcodec2`).

Llasa is a plain Llama causal LM whose vocabulary is a Llama-3 tokenizer's plus 8 task markers and
X-Codec2's 65,536 speech tokens `<|s_0|>`..`<|s_65535|>` (`train_tts.py` adds them with `add_tokens`, in
that order, so `<|s_N|>` has id len(text tokenizer) + 8 + N: 128,264 + N for the hub models). Speech is
one token per 20 ms frame of X-Codec2 (single FSQ codebook, 16 kHz, 50 frames/s, 0.8 kbps): no delay
pattern, no second stage; column t of the output is frame t.

The path reproduces the model cards' "How to use" (HKUSTAudio/Llasa-1B / -3B / -8B):
`AutoTokenizer.from_pretrained(hub_id)`, `AutoModelForCausalLM.from_pretrained(hub_id)`, a chat
[user: "Convert the text to speech:<|TEXT_UNDERSTANDING_START|>{text}<|TEXT_UNDERSTANDING_END|>",
assistant: "<|SPEECH_GENERATION_START|>" + the voice prompt's speech tokens] through the tokenizer's own
chat template (Llama-3 Instruct's, inherited from the base tokenizer) with `continue_final_message=True`,
`model.generate(..., eos_token_id=<|SPEECH_GENERATION_END|>, do_sample=True)`, the new tokens turned
into strings and every `<|s_N|>` kept as code N (anything else dropped, as the card's
`extract_speech_ids` does), and X-Codec2 decoding the codes. Zero-shot ("tts"): the voice prompt is
encoded by X-Codec2 (our registry's codec, the same weights as the card's `encode_code`), its transcript
comes first in the text, and the prompt's tokens plus the new ones are decoded together; we keep the
audio after the prompt (the card's "if only need the generated part").

Deviations, all deliberate:
- Sampling takes the request's temperature / top-k / top-p (the card: temperature 0.8, top-p 1).
- Generation is capped by `request.max_seconds` and by the 2048 tokens Llasa was trained on (the card's
  `max_length=2048`); the card's `[:-1]` slice assumes the end token came, we cut at it when it does.
- The chat template gets `date_string="26 Jul 2024"` (its own fallback): Llama-3.2's template otherwise
  writes today's date into the system header, so one seed would give other speech on another day.
- The prompt's transcript and the text are joined with a space (the card concatenates them directly,
  its example being Chinese; the Llasa demo Spaces join with a space, which keeps English words apart).
- `generate_s` includes X-Codec2's encoding of the voice prompt, as CSM's and Dia's do.

Sources: model cards HKUSTAudio/Llasa-1B(-Multilingual) (inference code, licence cc-by-nc-4.0,
base_model meta-llama/Llama-3.2-1B-Instruct); GitHub zhenye234/LLaSA_training `train_tts.py` (token
layout, 2048-token training length, chat format) and `LICENSE` (CC BY-NC 4.0); hub file listings
(Llasa-1B: one 2.74 GB bf16 safetensors file; -3B: 8.02 GB in two shards; -8B: 17.14 GB in four), which
match Llama-3.2-1B / -3.2-3B / -3.1-8B layers with a 193,800-token vocabulary (tied / untied / untied
embeddings): 1.37B, 4.01B and 8.57B parameters.
"""

from __future__ import annotations

import re
import tempfile
import threading
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import weights
from ..audio import Audio
from ..errors import RequestError, WeightsMismatch
from ._common import codes_of, sampling_kwargs, step_progress, timed
from .base import GenerationRequest, LMInfo, Progress, RawGeneration

CODEC_ID, CODEC_HUB_ID = "xcodec2", "HKUSTAudio/xcodec2-hf"
SAMPLE_RATE, FRAME_RATE, CODEBOOK_SIZE, CODEC_KBPS = 16_000, 50.0, 65_536, 0.8  # X-Codec2's facts
HOP = int(SAMPLE_RATE / FRAME_RATE)  # 320 samples per token
MAX_LENGTH = 2048  # the cards' `max_length`: "We trained our model with a max length of 2048"
INSTRUCTION = "Convert the text to speech:"
TEXT_START, TEXT_END = "<|TEXT_UNDERSTANDING_START|>", "<|TEXT_UNDERSTANDING_END|>"
SPEECH_START, SPEECH_END = "<|SPEECH_GENERATION_START|>", "<|SPEECH_GENERATION_END|>"
# train_tts.py's Start_End_tokens, added right after the Llama-3 vocabulary in this order (ids 128,256-128,263)
TASK_TOKENS = ("<|TEXT_GENERATION_START|>", "<|TEXT_GENERATION_END|>", TEXT_START, TEXT_END, SPEECH_START,
               SPEECH_END, "<|SPEECH_UNDERSTANDING_START|>", "<|SPEECH_UNDERSTANDING_END|>")
SPEECH_TOKEN = re.compile(r"<\|s_(\d+)\|>")
DATE_STRING = "26 Jul 2024"  # the Llama-3 chat template's own fallback date

_COMMON = dict(
    tasks=("tts", "speech"), codec_id=CODEC_ID, codec_kbps=CODEC_KBPS, codebooks=1,
    licence="CC-BY-NC-4.0 (weights, per the model cards; the LLaSA_training code too); initialised from Meta "
            "Llama (Llasa-1B: Llama-3.2-1B-Instruct); X-Codec2 weights CC-BY-NC 4.0",
    paper="Ye et al., Llasa: Scaling Train-Time and Inference-Time Compute for Llama-based Speech Synthesis, "
          "2025 (arXiv:2502.04128)",
    code_url="https://github.com/zhenye234/LLaSA_training",
    conditioning="text (Chinese and English training data) + optional voice prompt: its X-Codec2 tokens start "
                 "the speech and its transcript comes first in the text",
    survey="", sample_rate=SAMPLE_RATE, max_seconds=30.0, max_text_chars=300, prompt_seconds=(1.0, 15.0),
    needs_prompt_text=True,
    notes="Write the text in the language of the voice prompt; the prompt's transcript is required (it is "
          "read as the start of the speech). Up to 2048 tokens in all (text, prompt and speech at 50 tokens/s): "
          "a long prompt leaves less room. X-Codec2 (HKUSTAudio/xcodec2-hf) is downloaded "
          "with the model. Non-commercial licence.",
)


def _llasa(size: str, base: str, parameters: str, hardware: str) -> LMInfo:
    return LMInfo(id=f"llasa_{size.lower()}", name=f"Llasa {size} (HKUST Audio)", hub_id=f"HKUSTAudio/Llasa-{size}",
                  parameters=f"{parameters} over 193,800 text and speech tokens; X-Codec2 (about 0.8B) encodes and "
                             "decodes",
                  architecture=f"{base} extended with 8 task markers and X-Codec2's 65,536 speech tokens; one token "
                               "per 20 ms frame after '<|SPEECH_GENERATION_START|>' in a Llama-3 chat turn (single "
                               "codebook, no delay pattern)",
                  hardware=hardware, **_COMMON)


INFOS = [
    _llasa("1B", "Llama-3.2-1B-Instruct", "1.37B (Llama-3.2-1B's 16 layers, 0.97B, + 0.40B embeddings tied with "
           "the output head)", "GPU with ≥ 8 GB recommended (bf16: 2.7 GB LM + about 3.4 GB X-Codec2); CPU is slow"),
    _llasa("3B", "Llama-3.2-3B", "4.01B (Llama-3.2-3B's 28 layers, 2.82B, + 0.60B input embeddings + 0.60B output "
           "head)", "GPU with ≥ 16 GB recommended (bf16: 8 GB LM + about 3.4 GB X-Codec2)"),
    _llasa("8B", "Llama-3.1-8B", "8.57B (Llama-3.1-8B's 32 layers, 6.98B, + 0.79B input embeddings + 0.79B output "
           "head)", "GPU with ≥ 24 GB recommended (bf16: 17 GB LM + about 3.4 GB X-Codec2)"),
]


def info_of(lm_id: str) -> LMInfo:
    return next(info for info in INFOS if info.id == lm_id)


class LlasaLM:
    """The loaded LM and tokenizer; X-Codec2 comes from the codec registry's cache (shared with the
    Compare tab) at each generation. One generation at a time."""

    def __init__(self, info: LMInfo, model, tokenizer, device: str) -> None:
        self.info, self.model, self.tokenizer, self.device = info, model, tokenizer, device
        self.checkpoint = weight_spec(info.id).path
        self._lock = threading.Lock()
        ids = tokenizer.convert_tokens_to_ids([*TASK_TOKENS, "<|s_0|>", f"<|s_{CODEBOOK_SIZE - 1}|>"])
        self.speech_end = ids[TASK_TOKENS.index(SPEECH_END)]
        first, last = ids[-2], ids[-1]
        if None in ids or last - first != CODEBOOK_SIZE - 1 or model.config.vocab_size <= last:
            raise WeightsMismatch(info.id, self.checkpoint.parent,
                                  f"the tokenizer of {info.hub_id} lacks Llasa's task tokens or the {CODEBOOK_SIZE} "
                                  f"X-Codec2 tokens <|s_0|>..<|s_{CODEBOOK_SIZE - 1}|> in order, or the model's "
                                  f"vocabulary ({model.config.vocab_size}) does not cover them")

    # --- the prompt ------------------------------------------------------------------------------

    def text_of(self, request: GenerationRequest) -> str:
        """What the model reads: the voice prompt's transcript, then the text to say."""
        return f"{request.prompt_text} {request.text}" if request.prompt is not None else request.text

    def chat(self, request: GenerationRequest, prompt_codes: np.ndarray) -> list[dict]:
        """The cards' two turns; the assistant turn is continued, starting with the prompt's tokens."""
        speech = "".join(f"<|s_{int(code)}|>" for code in prompt_codes)
        return [{"role": "user", "content": f"{INSTRUCTION}{TEXT_START}{self.text_of(request)}{TEXT_END}"},
                {"role": "assistant", "content": f"{SPEECH_START}{speech}"}]

    def input_ids(self, request: GenerationRequest, prompt_codes: np.ndarray):
        """Token ids [1, n] from the tokenizer's chat template (continue_final_message, as the cards)."""
        encoded = self.tokenizer.apply_chat_template(self.chat(request, prompt_codes), tokenize=True,
                                                     continue_final_message=True, return_dict=True,
                                                     return_tensors="pt", date_string=DATE_STRING)
        return encoded["input_ids"].to(self.device)

    # --- generation ------------------------------------------------------------------------------

    def speech_codes(self, new_ids: list[int]) -> tuple[np.ndarray, int, bool]:
        """The generated ids up to <|SPEECH_GENERATION_END|> -> (X-Codec2 codes [T] from the `<|s_N|>`
        tokens, how many other tokens were dropped, whether the end token came)."""
        ended = self.speech_end in new_ids
        if ended:
            new_ids = new_ids[: new_ids.index(self.speech_end)]
        codes = [int(m.group(1)) for token in self.tokenizer.convert_ids_to_tokens(new_ids)
                 if (m := SPEECH_TOKEN.fullmatch(token or "")) and int(m.group(1)) < CODEBOOK_SIZE]
        return np.asarray(codes, dtype=np.int64), len(new_ids) - len(codes), ended

    def generate(self, request: GenerationRequest, progress: Progress) -> RawGeneration:
        import torch

        from ..codecs import get_codec

        codec = get_codec(CODEC_ID, self.device)
        # explicit values: None would fall back to the checkpoint's generation config
        sampling = sampling_kwargs(request) | dict(top_k=request.top_k, top_p=request.top_p)
        times: dict[str, float] = {}
        prompt_codes = np.zeros(0, np.int64)
        with self._lock, torch.inference_mode():
            with timed(times, "generate"):
                if request.prompt is not None:
                    prompt_codes = codec.encode(request.prompt, CODEC_KBPS).tokens[0]
                ids = self.input_ids(request, prompt_codes)
                room = MAX_LENGTH - ids.shape[1]
                if room < 1:
                    raise RequestError(f"The text and the voice prompt take {ids.shape[1]} tokens; {self.info.name} "
                                       f"reads at most {MAX_LENGTH} in all. Shorten the text or the voice prompt.")
                wanted = max(1, round(request.max_seconds * FRAME_RATE))
                steps = min(wanted, room)
                out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=steps,
                                          eos_token_id=self.speech_end, pad_token_id=self.speech_end,
                                          stopping_criteria=[step_progress(progress, steps)], **sampling)
            codes, dropped, ended = self.speech_codes(out[0, ids.shape[1]:].tolist())
            if not codes.size:
                raise RequestError(f"{self.info.name} wrote no speech tokens. Try another seed or text.")
            progress(0.99, "Decoding with X-Codec2")
            with timed(times, "decode"):
                audio = self.decode(codec, prompt_codes, codes)
        notes = (f"Stopped at {SPEECH_END}." if ended else "",
                 f"Capped at {steps} tokens: the prompt leaves that much of the {MAX_LENGTH}-token context."
                 if steps < wanted else "",
                 f"Dropped {dropped} non-speech tokens the model wrote." if dropped else "",
                 f"Voice prompt: {prompt_codes.size} X-Codec2 tokens start the speech." if prompt_codes.size else "",
                 f"Text given to the model: {self.text_of(request)}")
        return RawGeneration(audio=audio, codes=codes_of(codes[None], CODEC_ID, codes.size * HOP),
                             generate_s=times["generate"], decode_s=times["decode"],
                             notes=tuple(note for note in notes if note))

    @staticmethod
    def decode(codec, prompt_codes: np.ndarray, codes: np.ndarray) -> Audio:
        """X-Codec2 decodes the prompt's codes and the new ones together (its decoder attends over all
        frames, as in the cards); the audio after the prompt, exactly `codes.size * HOP` samples."""
        whole = np.concatenate([prompt_codes, codes])
        samples = codec.decode(codes_of(whole[None], CODEC_ID, whole.size * HOP)).samples[0]
        samples = samples[prompt_codes.size * HOP:][: codes.size * HOP]
        samples = np.pad(samples, (0, codes.size * HOP - samples.size)).astype(np.float32)
        return Audio(samples[None], SAMPLE_RATE)


# --- weights -------------------------------------------------------------------------------------

def _weights_file(repo_id: str) -> Path:
    index = weights.hub_file(repo_id, "model.safetensors.index.json")
    return index if index.exists() else weights.hub_file(repo_id, "model.safetensors")


def weight_spec(lm_id: str) -> weights.WeightSpec:
    """Llasa's weights, present only with X-Codec2's beside them: until X-Codec2's are there, the
    location is X-Codec2's file, so a half download is fetched again. The fetch takes both."""
    from ..codecs import weight_spec as codec_weight_spec

    hub_id = info_of(lm_id).hub_id
    spec = weights.hub_spec(lm_id, hub_id, "model.safetensors", allow_patterns=["*.json", "*.safetensors"])
    codec = codec_weight_spec(CODEC_ID)

    def fetch() -> None:
        spec.fetch()
        codec.fetch()

    def location() -> Path:
        return _weights_file(hub_id) if codec.path.exists() else codec.path

    return replace(spec, location=location, fetch=fetch, source=f"the Hugging Face hub ({hub_id}, {CODEC_HUB_ID})")


def load(info: LMInfo, device: str) -> LlasaLM:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..codecs import get_codec

    weights.download(weight_spec(info.id))
    tokenizer = AutoTokenizer.from_pretrained(info.hub_id, local_files_only=True)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32  # the cards' GPU precision
    model = AutoModelForCausalLM.from_pretrained(info.hub_id, local_files_only=True, dtype=dtype)
    get_codec(CODEC_ID, device)  # load X-Codec2 now: its absence or mismatch surfaces here, and load_s counts it
    return LlasaLM(info, model.eval().to(device), tokenizer, device)


# --- random weights ------------------------------------------------------------------------------

# Llama-3's 256 special tokens (ids 128,000-128,255), in order
LLAMA3_SPECIAL = ("<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                  "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
                  *(f"<|reserved_special_token_{i}|>" for i in range(3, 248)))
LLAMA3_TEXT_VOCAB = 128_000  # ordinary tokens before the special ones
SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
             head_dim=16, max_position_embeddings=MAX_LENGTH)
def _llama3_rope(factor: float) -> dict:
    """Llama-3.1/3.2's long-context RoPE (theta 500,000, scaled from 8192 positions)."""
    return dict(rope_type="llama3", factor=factor, high_freq_factor=4.0, low_freq_factor=1.0,
                original_max_position_embeddings=8192, rope_theta=500_000.0)


# the base models' sizes (Llama-3.2-1B, Llama-3.2-3B, Llama-3.1-8B), which give the hub checkpoints' sizes exactly
FULL = {
    "llasa_1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=64, tie_word_embeddings=True, rope_parameters=_llama3_rope(32)),
    "llasa_3b": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24,
                     num_key_value_heads=8, head_dim=128, tie_word_embeddings=False, rope_parameters=_llama3_rope(32)),
    "llasa_8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=128, tie_word_embeddings=False, rope_parameters=_llama3_rope(8)),
}

# The test tokenizer's chat template: our own, writing what Llama-3.2-Instruct's (which the hub's Llasa
# tokenizers inherit) writes for the two turns Llasa uses: the system header with its knowledge cut-off
# and `date_string`, then each turn between header tokens, the last one left open when continued.
LLAMA3_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{- 'Cutting Knowledge Date: December 2023\\nToday Date: ' + (date_string or '26 Jul 2024') + '\\n\\n' }}"
    "{{- '<|eot_id|>' }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim }}"
    "{%- if not loop.last or add_generation_prompt %}{{- '<|eot_id|>' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)


@lru_cache(maxsize=2)
def llasa_tokenizer(text_vocab: int):
    """A Llama-3-style byte-level tokenizer laid out as Llasa's: `text_vocab` ordinary tokens (the 256 byte
    tokens, then unused fillers; 128,000 gives the hub layout), Llama-3's 256 special tokens, then
    `train_tts.py`'s `add_tokens(Start_End_tokens + <|s_0|>..<|s_65535|>)`, with the chat template."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab.update({f"<unused_{i}>": i for i in range(len(vocab), text_vocab)})  # no merge ever reaches them
    tok = Tokenizer(BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(LLAMA3_SPECIAL))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                        pad_token="<|eot_id|>")
    tokenizer.chat_template = LLAMA3_CHAT_TEMPLATE
    tokenizer.add_tokens([*TASK_TOKENS, *(f"<|s_{i}|>" for i in range(CODEBOOK_SIZE))])
    return tokenizer


def llama_config(lm_id: str, small: bool):
    """The `LlamaConfig` of a random-weight Llasa: tiny layers over the 66,056-token layout (256 byte tokens,
    then as the hub's), or the base model's sizes over the hub's 193,800 tokens."""
    from transformers import LlamaConfig

    text_vocab = 256 if small else LLAMA3_TEXT_VOCAB
    special = {token: text_vocab + i for i, token in enumerate(LLAMA3_SPECIAL)}
    full = FULL[lm_id] | dict(max_position_embeddings=131_072)
    sizes = SMALL | dict(tie_word_embeddings=full["tie_word_embeddings"]) if small else full
    return LlamaConfig(vocab_size=text_vocab + len(LLAMA3_SPECIAL) + len(TASK_TOKENS) + CODEBOOK_SIZE,
                       rms_norm_eps=1e-5, bos_token_id=special["<|begin_of_text|>"],
                       eos_token_id=[special[t] for t in ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>")], **sizes)


def write_random_weights(lm_id: str, small: bool = False) -> Path:
    """`LlamaForCausalLM(config)` over Llasa's token layout and the tokenizer above, saved with
    `save_pretrained` where `from_pretrained(hub_id)` looks; X-Codec2's random weights too when absent."""
    from transformers import LlamaForCausalLM

    from ..codecs import weight_spec as codec_weight_spec
    from ..weights import hub_snapshot

    if not codec_weight_spec(CODEC_ID).path.exists():
        from ..testing import write_random_weights as write_codec

        write_codec(CODEC_ID, small=small)
    config = llama_config(lm_id, small)
    tokenizer = llasa_tokenizer(256 if small else LLAMA3_TEXT_VOCAB)
    assert len(tokenizer) == config.vocab_size
    model = LlamaForCausalLM(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        hub_snapshot(info_of(lm_id).hub_id, source=Path(tmp))
    return weight_spec(lm_id).path

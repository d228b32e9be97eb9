"""Moshi (Kyutai) through transformers' `MoshiForConditionalGeneration`: a spoken reply to the user's clip.

Moshi is a full-duplex speech-text model. It speaks Mimi (our codec `mimi`): the first 8 of Mimi's 32
codebooks (2048 entries each) at 12.5 frames/s, i.e. 1.1 kbps. A 7B temporal transformer (Helium) reads,
per 80 ms step, the sum of 17 embeddings: Moshi's text token (its "inner monologue"), Moshi's 8 audio
codes and the user's 8 audio codes; it predicts Moshi's next text token, and a 6-layer depth transformer
(its own weights per codebook) then writes Moshi's 8 codes of that step. The acoustic codebooks 2-8 lag
one step behind the text and semantic codebook (Kyutai's `delays`, transformers' delay pattern mask).

The path reproduces transformers' Moshi docs (model_doc/moshi) and integration tests: tokenizer and
feature extractor from the hub id (`AutoTokenizer` / `AutoFeatureExtractor.from_pretrained(
"kmhf/hf-moshiko")`), the user's clip as `user_input_values`, Moshi's own stream during the clip as
silence (`moshi_input_values = zeros_like(...)`) with its text stream all `<pad>` ("we suppose moshi
didn't say anything while the user spoke"), then `model.generate(..., max_new_tokens=...)`. After the
clip transformers feeds the user stream blank audio, so what Moshi says is its reply to the clip.

Deviations from the docs' call, all in generate's arguments:
- The request's sampling settings go to the text stream and, as `depth_decoder_*`, to the audio codes
  (Kyutai's own defaults differ per stream: text 0.7 / top-k 25, audio 0.8 / top-k 250).
- The depth decoder's length is pinned to its 1 + 8 positions (what transformers uses when the
  generation config names none), so the hub's generation config cannot change it.
- `return_audio_codes=True, return_audio_waveforms=False`: we take the codes after the clip's frames
  and decode exactly those with the embedded Mimi (`model.audio_encoder.decode`), timed apart.
- `max_new_tokens` is the reply's frames + 1: the first step's text token only primes the audio (the
  reply's first frame is written at the second step; transformers drops the initial frame).
- Progress comes through a stopping criterion that never stops.
- `generate_s` includes Mimi's encoding of the clip (it runs inside `generate`), as CSM's does.
"""

from __future__ import annotations

import json
import math
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import weights
from ._common import audio_of, codes_of, sampling_kwargs, step_progress, timed
from .base import GenerationRequest, LMInfo, Progress, RawGeneration

HUB_IDS = {"moshiko": "kmhf/hf-moshiko", "moshika": "kmhf/hf-moshika"}
SAMPLE_RATE, FRAME_RATE, HOP = 24_000, 12.5, 1920  # Mimi: 24 kHz, 1920 samples per frame
CODEBOOKS, CODEBOOK_SIZE = 8, 2048  # MoshiConfig.num_codebooks (Kyutai's dep_q) of Mimi's 2048-entry codebooks
PAD, END_OF_PAD = "<pad>", "<unk>"  # the text stream's filler and the token before a word (ids 3 and 0)
INDEX = "model.safetensors.index.json"
TEXT_SHOWN = 300  # characters of Moshi's text stream shown in the notes

SOURCES = ("Défossez et al. 2024, arXiv:2410.00037 (Moshi: Helium 7B temporal transformer, depth transformer, "
           "inner monologue, 12.5 Hz Mimi with 8 codebooks modelled)",
           "github.com/kyutai-labs/moshi moshi/models/loaders.py `_lm_kwargs` (dim 4096, 32 layers, 32 heads, "
           "text_card 32000, text padding id 3, n_q 16 = 8 Moshi + 8 user, dep_q 8, depformer 1024 x 6 layers, "
           "context 3000, delays 0/0/1..1) and README (Moshiko / Moshika voices; weights CC-BY 4.0; 24 GB GPU "
           "for the PyTorch version)",
           "transformers 5.24 model_doc/moshi and tests/models/moshi (kmhf/hf-moshiko and kmhf/hf-moshika, "
           "AutoTokenizer / AutoFeatureExtractor from the same id); MoshiConfig defaults are the kmhf "
           "configuration; parameters counted on that configuration with MimiConfig() (meta device)")
_COMMON = dict(
    tasks=("dialogue",), codec_id="mimi", codec_kbps=CODEBOOKS * 11 * FRAME_RATE / 1000, codebooks=CODEBOOKS,
    parameters="7.77B (6.84B Helium temporal transformer incl. its 131M text embeddings and 131M text head, "
               "134M embeddings of the 16 audio streams, 714M depth transformer with per-codebook weights, "
               "79M Mimi)",
    licence="weights CC-BY 4.0 (Kyutai); code MIT (Python) / Apache-2.0 (Rust)",
    paper="Défossez et al., Moshi: a speech-text foundation model for real-time dialogue, 2024 (arXiv:2410.00037)",
    code_url="https://github.com/kyutai-labs/moshi",
    conditioning="the user's speech (a clip, as the user's audio stream); no text prompt",
    architecture="Helium 7B temporal transformer over per-step sums of 17 streams (Moshi's text, Moshi's 8 Mimi "
                 "codebooks, the user's 8); a 6-layer depth transformer writes Moshi's 8 codebooks of each step, "
                 "acoustic codebooks delayed one step",
    survey="", sample_rate=SAMPLE_RATE, max_seconds=30.0, prompt_seconds=(1.0, 30.0),
    hardware="GPU with ≥ 24 GB (Kyutai's README for the bf16 PyTorch model; it runs in bfloat16 on CUDA, "
             "float32 (31 GB) elsewhere); CPU is far too slow for a reply",
)
INFOS = [
    LMInfo(id="moshiko", name="Moshi · Moshiko (Kyutai)", hub_id=HUB_IDS["moshiko"], **_COMMON,
           notes="Moshiko: Moshi fine-tuned on a male synthetic voice. Give it a clip of someone talking to it; "
                 "it replies after the clip (the user is silent meanwhile). The text box is not used. "
                 "Sources: " + "; ".join(SOURCES)),
    LMInfo(id="moshika", name="Moshi · Moshika (Kyutai)", hub_id=HUB_IDS["moshika"], **_COMMON,
           notes="Moshika: Moshi fine-tuned on a female synthetic voice. Give it a clip of someone talking to it; "
                 "it replies after the clip (the user is silent meanwhile). The text box is not used. "
                 "Sources: " + "; ".join(SOURCES)),
]

# the hub's generation_config.json (kmhf/hf-moshiko, as of its last commit): sampling with top-k 25, the text
# stream's initial token (vocab_size) as bos / pad, sliding-window caches; its "temp": 0.7 is not a
# transformers key and is dropped here (the request's temperature is always passed)
GENERATION_CONFIG = dict(do_sample=True, top_k=25, cache_implementation="sliding_window")

SMALL = dict(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, ffn_dim=64)
SMALL_DEPTH = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32)


class MoshiLM:
    """The loaded model, its text tokenizer and its feature extractor; one generation at a time (the model
    keeps the codes it generates on itself)."""

    def __init__(self, info: LMInfo, model, tokenizer, feature_extractor, device: str) -> None:
        self.info, self.model, self.tokenizer, self.feature_extractor = info, model, tokenizer, feature_extractor
        self.device = device
        self.checkpoint = weight_spec(info.id).path
        self._lock = threading.Lock()

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.convert_tokens_to_ids(PAD))

    def inputs(self, request: GenerationRequest) -> dict:
        """The docs' three synchronised streams: the clip as the user's audio [1, 1, n], silence as Moshi's
        audio, and `<pad>` as Moshi's text, one token per Mimi frame of the clip."""
        import torch

        clip = np.ascontiguousarray(request.prompt.samples[0], dtype=np.float32)
        user = self.feature_extractor(raw_audio=clip, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_values
        user = user.to(self.device, self.model.dtype)
        frames = math.ceil(user.shape[-1] * FRAME_RATE / SAMPLE_RATE)  # the docs' waveform_to_token_ratio
        text = torch.full((1, frames), self.pad_id, dtype=torch.long, device=self.device)
        return dict(input_ids=text, user_input_values=user, moshi_input_values=torch.zeros_like(user))

    def generate(self, request: GenerationRequest, progress: Progress) -> RawGeneration:
        import torch

        frames = max(1, round(request.max_seconds * FRAME_RATE))
        # explicit values: None would fall back to the hub's top-k 25 (text) / transformers' 50 (audio)
        sampling = sampling_kwargs(request) | dict(top_k=request.top_k, top_p=request.top_p)
        steps = frames + 1
        kwargs = dict(max_new_tokens=steps, **sampling, **{f"depth_decoder_{k}": v for k, v in sampling.items()},
                      depth_decoder_min_length=CODEBOOKS + 1, depth_decoder_max_length=CODEBOOKS + 1,
                      return_audio_waveforms=False, return_audio_codes=True)
        times: dict[str, float] = {}
        with self._lock, torch.inference_mode():
            inputs = self.inputs(request)
            clip_frames = inputs["input_ids"].shape[1]  # within the context: LMInfo caps the clip and the reply
            with timed(times, "generate"):
                out = self.model.generate(**inputs, stopping_criteria=[step_progress(progress, steps)], **kwargs)
            codes = out.audio_codes[0]  # (8, clip frames + reply frames): Moshi's stream, delays undone
            if codes.shape[-1] != clip_frames + frames:
                raise RuntimeError(f"Moshi returned {codes.shape[-1]} frames for a {clip_frames}-frame clip and a "
                                   f"{frames}-frame reply")
            tokens = codes[:, clip_frames:].contiguous()  # (8, frames)
            progress(0.99, "Decoding with Mimi")
            with timed(times, "decode"):
                wav = self.model.audio_encoder.decode(tokens[None]).audio_values[0, 0]
        said = self.text_stream(out.sequences[0, -steps:])
        notes = (f"Moshi's text stream (its inner monologue): {said!r}" if said else
                 "Moshi's text stream holds only padding (it said nothing it would write down).",
                 "The user stream is silent after the clip (transformers feeds blank audio), so this is Moshi's "
                 "reply to the clip.",
                 "The text box is not used: Moshi answers what it hears." if request.text else "")
        return RawGeneration(audio=audio_of(wav, frames, HOP, SAMPLE_RATE),
                             codes=codes_of(tokens, self.info.codec_id, frames * HOP),
                             generate_s=times["generate"], decode_s=times["decode"],
                             notes=tuple(note for note in notes if note))

    def text_stream(self, ids) -> str:
        """Moshi's generated text tokens as text: padding, end-of-padding and ids past the tokenizer's
        vocabulary (the stream's initial token) dropped."""
        skip = {self.pad_id, int(self.tokenizer.convert_tokens_to_ids(END_OF_PAD))}
        kept = [int(i) for i in ids.tolist() if int(i) not in skip and int(i) < len(self.tokenizer)]
        text = self.tokenizer.decode(kept, skip_special_tokens=True).strip() if kept else ""
        return text if len(text) <= TEXT_SHOWN else text[:TEXT_SHOWN] + "…"


def weight_spec(lm_id: str) -> weights.WeightSpec:
    """Present when the shard index is (or a single `model.safetensors`). The repositories hold two shard
    sets (bf16 in 4 files, float32 in 7); the fetch takes the index first and then only the shards it
    names, with the configs, tokenizer and feature extractor."""
    hub_id = HUB_IDS[lm_id]
    spec = weights.hub_spec(lm_id, hub_id, INDEX)

    def location() -> Path:
        index = weights.hub_file(hub_id, INDEX)
        return index if index.exists() else weights.hub_file(hub_id, "model.safetensors")

    def fetch() -> None:
        from huggingface_hub import hf_hub_download, snapshot_download

        shards = sorted(set(json.loads(Path(hf_hub_download(hub_id, INDEX)).read_text())["weight_map"].values()))
        snapshot_download(hub_id, allow_patterns=["*.json", *shards])

    return replace(spec, location=location, fetch=fetch)


def load(info: LMInfo, device: str) -> MoshiLM:
    import torch
    from transformers import AutoFeatureExtractor, AutoTokenizer, MoshiForConditionalGeneration

    weights.download(weight_spec(info.id))
    tokenizer = AutoTokenizer.from_pretrained(info.hub_id, local_files_only=True)
    extractor = AutoFeatureExtractor.from_pretrained(info.hub_id, local_files_only=True)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32  # the docs run bf16 on CUDA
    model = MoshiForConditionalGeneration.from_pretrained(info.hub_id, local_files_only=True, dtype=dtype)
    return MoshiLM(info, model.eval().to(device), tokenizer, extractor, device)


# --- random weights --------------------------------------------------------------------------------

def small_tokenizer(vocab_size: int):
    """A SentencePiece-style unigram tokenizer built as transformers' `MoshiConverter` builds the real one
    (Metaspace, byte fallback), with Kyutai's special ids (`<unk>` 0, `<s>` 1, `</s>` 2, `<pad>` 3) and
    single characters for the rest of `vocab_size` pieces."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", PAD]
    chars = "▁etaoinshrdlucmfwypvbgkjqxzETAOINSHRDLUCMFWYPVBGKJQXZ.,'?!"
    pieces = [(token, 0.0) for token in specials] + [(ch, -float(i)) for i, ch in enumerate(chars)]
    tok = Tokenizer(Unigram(pieces[:vocab_size], unk_id=0, byte_fallback=False))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens(specials)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token=PAD)


def write_random_weights(lm_id: str, small: bool = False) -> Path:
    """`MoshiForConditionalGeneration(config)` with a varied Mimi inside, the hub's generation settings, a
    local tokenizer and the Encodec feature extractor, saved where `from_pretrained(hub id)` looks."""
    from transformers import EncodecFeatureExtractor, GenerationConfig, MimiConfig, MoshiConfig
    from transformers import MoshiForConditionalGeneration as Moshi

    from ..codecs import mimi
    from ..codecs.hf_codec import randomize_codebooks
    from ..weights import hub_snapshot

    if small:
        config = MoshiConfig(**SMALL, audio_encoder_config=MimiConfig(**mimi.SMALL).to_dict(),
                             depth_decoder_config=dict(SMALL_DEPTH))
    else:  # transformers' defaults are the kmhf checkpoints' sizes
        config = MoshiConfig(audio_encoder_config=MimiConfig().to_dict(), depth_decoder_config={})
    model = Moshi(config).eval()
    randomize_codebooks(model.audio_encoder)
    model.generation_config = GenerationConfig(
        **GENERATION_CONFIG, bos_token_id=config.vocab_size, pad_token_id=config.vocab_size,
        depth_decoder_config=dict(cache_implementation="sliding_window", min_length=CODEBOOKS + 1,
                                  max_length=CODEBOOKS + 1))
    extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        small_tokenizer(config.vocab_size).save_pretrained(tmp)
        extractor.save_pretrained(tmp)
        hub_snapshot(HUB_IDS[lm_id], source=Path(tmp))
    return weight_spec(lm_id).path

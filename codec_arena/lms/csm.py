"""CSM 1B (Sesame's Conversational Speech Model) through transformers' `CsmForConditionalGeneration`.

CSM speaks Mimi (our codec `mimi`): all 32 codebooks of 2048 entries at 12.5 frames/s, i.e. 4.4 kbps.
A Llama-3.2-1B-style backbone reads text tokens and earlier audio frames (each frame embedded as the
sum of its 32 codebook embeddings) and predicts codebook 1 of the next frame; a 4-layer depth decoder,
fed the backbone's last hidden state, then writes codebooks 2-32 of that frame one after the other.
No delay pattern: column t of the output is frame t.

The path reproduces the model card's "with conversational context" example (transformers docs,
model_doc/csm): `AutoProcessor.from_pretrained("sesame/csm-1b")`, a conversation whose earlier turn is
the voice prompt (its transcript and its audio, speaker "0") and whose last turn is the text to say
by the same speaker, `processor.apply_chat_template(..., tokenize=True, return_dict=True)`, then
`model.generate(**inputs)`; the embedded Mimi (`model.codec_model`) encodes the prompt inside
`generate` and decodes the new frames. Without a prompt ("speech") the conversation is the one turn:
plain TTS in whatever voice speaker 0 gets.

Deviations from the docs' call, all in generate's arguments:
- The request's sampling settings go to the backbone and, as `depth_decoder_*`, to the depth
  decoder (Sesame's own generator samples every codebook with the same temperature and top-k).
- Codebook ids 2048-2050 (the backbone's and depth decoder's extra entries: padding, unused) are
  suppressed: they are not Mimi codes and a trained model does not emit them, but random weights do.
- Frames are capped by `request.max_seconds`; generation otherwise ends on the all-zero (EOS) frame,
  which is dropped, as `generate(output_audio=True)` does.
- Progress comes through a streamer: CSM's generate ignores custom stopping criteria.
- `generate_s` includes Mimi's encoding of the voice prompt (it runs inside `generate`).
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import RequestError
from ._common import audio_of, codes_of, sampling_kwargs, step_progress, timed
from .base import GenerationRequest, LMInfo, Progress, RawGeneration

HUB_ID = "sesame/csm-1b"
FRAME_RATE, CODEBOOKS, CODEBOOK_SIZE, HOP = 12.5, 32, 2048, 1920  # Mimi at 24 kHz
SPEAKER = "0"
INFOS = [
    LMInfo(
        id="csm_1b", name="CSM 1B (Sesame)", cpu_frames_per_s=0.69,
        tasks=("tts", "speech"), codec_id="mimi",
        codec_kbps=CODEBOOKS * 11 * FRAME_RATE / 1000, codebooks=CODEBOOKS,
        parameters="1.63B (1.11B backbone incl. the 134M audio-frame embeddings it shares with the depth decoder, "
                   "263M text embeddings, 178M depth decoder with its 31 codebook heads, 79M Mimi)",
        licence="Apache-2.0 (code and weights); gated on the Hugging Face hub",
        hub_id=HUB_ID,
        paper="Sesame, Crossing the uncanny valley of conversational voice, 2025 (research blog post at "
              "sesame.com/research; no paper or arXiv id)",
        code_url="https://github.com/SesameAILabs/csm",
        conditioning="text (speaker turn '[0]') + optional voice prompt with its transcript as an earlier turn",
        architecture="Llama-3.2-1B backbone predicts codebook 1 of each Mimi frame from interleaved text and "
                     "audio frames; a 4-layer Llama depth decoder writes codebooks 2-32 of that frame "
                     "(no delay pattern)",
        survey="", sample_rate=24_000, max_seconds=30.0, max_text_chars=400, prompt_seconds=(1.0, 30.0),
        needs_prompt_text=True,
        hardware="GPU with ≥ 8 GB recommended (float32, 6.3 GB peak); an H100 runs at about half real time "
                 "(25 frames in 3.8 s: transformers runs the depth decoder's 31 steps per frame); CPU is far slower",
        notes="sesame/csm-1b is gated: accept its licence on the Hugging Face hub and log in (`hf auth login`) "
              "before `codec-arena download csm_1b`. The voice prompt is the previous turn of a conversation "
              "(speaker 0), so the prompt's transcript is required. Without a prompt the voice is whatever "
              "speaker 0 samples (it changes with the seed). Runs in float32.",
    ),
]

# The chat template sesame/csm-1b's processor ships (as in transformers' CSM processor tests): every
# turn is <bos>[speaker]text<eos>, followed by <|AUDIO|><|audio_eos|> when the turn has audio (the
# processor expands <|AUDIO|> to one token per Mimi frame); only the last turn may lack audio.
CHAT_TEMPLATE = """
{%- for message in messages %}
    {#-- Validate role is a stringified integer --#}
    {%- if not message['role'] is string or not message['role'].isdigit() %}
        {{- raise_exception("The role must be an integer or a stringified integer (e.g. '0') designating the speaker id") }}
    {%- endif %}

    {#-- Validate content is a list --#}
    {%- set content = message['content'] %}
    {%- if content is not iterable or content is string %}
        {{- raise_exception("The content must be a list") }}
    {%- endif %}

    {#-- Collect content types --#}
    {%- set content_types = content | map(attribute='type') | list %}
    {%- set is_last = loop.last %}

    {#-- Last message validation --#}
    {%- if is_last %}
        {%- if 'text' not in content_types %}
            {{- raise_exception("The last message must include one item of type 'text'") }}
        {%- elif (content_types | select('equalto', 'text') | list | length > 1) or (content_types | select('equalto', 'audio') | list | length > 1) %}
            {{- raise_exception("At most two items are allowed in the last message: one 'text' and one 'audio'") }}
        {%- endif %}

    {#-- All other messages validation --#}
    {%- else %}
        {%- if content_types | select('equalto', 'text') | list | length != 1
              or content_types | select('equalto', 'audio') | list | length != 1 %}
            {{- raise_exception("Each message (except the last) must contain exactly one 'text' and one 'audio' item") }}
        {%- elif content_types | reject('in', ['text', 'audio']) | list | length > 0 %}
            {{- raise_exception("Only 'text' and 'audio' types are allowed in content") }}
        {%- endif %}
    {%- endif %}
{%- endfor %}

{%- for message in messages %}
    {{- bos_token }}
    {{- '[' + message['role'] + ']' }}
    {{- message['content'][0]['text'] }}
    {{- eos_token }}
    {%- if message['content']|length > 1 %}
        {{- '<|AUDIO|><|audio_eos|>' }}
    {%- endif %}
{%- endfor %}
"""  # noqa: E501

SPECIAL_TOKENS = ("<|begin_of_text|>", "<|end_of_text|>", "<|AUDIO|>", "<|audio_eos|>")  # Llama-3 ids 128000-128003
SMALL_TEXT_VOCAB = 260  # 256 byte tokens + the 4 special tokens
SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
             text_vocab_size=SMALL_TEXT_VOCAB, bos_token_id=256, pad_token_id=258, audio_token_id=258,
             audio_eos_token_id=259)
SMALL_DEPTH = dict(backbone_hidden_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                   num_attention_heads=2, num_key_value_heads=1)


class CsmLM:
    """The loaded model and processor; one generation at a time (the processor and the depth
    decoder's generation config are shared state)."""

    def __init__(self, info: LMInfo, model, processor, device: str) -> None:
        self.info, self.model, self.processor, self.device = info, model, processor, device
        self.checkpoint = weight_spec(info.id).path
        self._lock = threading.Lock()

    def conversation(self, request: GenerationRequest) -> list[dict]:
        """The voice prompt as speaker 0's previous turn (transcript + audio), then the text to say."""
        turns = []
        if request.prompt is not None:
            turns.append({"role": SPEAKER, "content": [
                {"type": "text", "text": request.prompt_text},
                {"type": "audio", "audio": np.ascontiguousarray(request.prompt.samples[0], dtype=np.float32)}]})
        turns.append({"role": SPEAKER, "content": [{"type": "text", "text": request.text}]})
        return turns

    def generate(self, request: GenerationRequest, progress: Progress) -> RawGeneration:
        import torch

        frames = max(1, round(request.max_seconds * FRAME_RATE))
        # explicit values: None in the depth decoder's config would fall back to transformers' top-k 50
        sampling = sampling_kwargs(request) | dict(top_k=request.top_k, top_p=request.top_p)
        vocab = self.model.config.vocab_size
        suppress = list(range(CODEBOOK_SIZE, vocab))
        kwargs = dict(max_new_tokens=frames, suppress_tokens=suppress or None, **sampling,
                      **{f"depth_decoder_{k}": v for k, v in sampling.items()},
                      depth_decoder_suppress_tokens=suppress or None)
        times: dict[str, float] = {}
        with self._lock, torch.inference_mode():
            inputs = self.processor.apply_chat_template(self.conversation(request), tokenize=True,
                                                        return_dict=True).to(self.device)
            streamer = _StepStreamer(step_progress(progress, frames))
            with timed(times, "generate"):
                out = self.model.generate(**inputs, streamer=streamer, **kwargs)
            tokens = out[0]  # (frames, 32): CSM returns only the generated frames
            ended = (tokens == self.model.config.codebook_eos_token_id).all(dim=-1).nonzero()
            if ended.numel():
                tokens = tokens[: int(ended.min())]
            tokens = tokens.T.contiguous()  # (32, frames)
            if not tokens.shape[1]:
                raise RequestError("CSM ended the speech before its first frame. Try another seed or text.")
            progress(0.99, "Decoding with Mimi")
            with timed(times, "decode"):
                wav = self.model.codec_model.decode(tokens[None]).audio_values[0, 0]
        n = tokens.shape[1] * HOP
        notes = ("Stopped at the end-of-speech frame." if ended.numel() else "",
                 "Voice prompt given as speaker 0's previous turn." if request.prompt is not None else "")
        return RawGeneration(audio=audio_of(wav, tokens.shape[1], HOP, self.info.sample_rate),
                             codes=codes_of(tokens, self.info.codec_id, n), generate_s=times["generate"],
                             decode_s=times["decode"], notes=tuple(note for note in notes if note))


class _StepStreamer:
    """A transformers streamer that turns each generated frame into a `step_progress` report; the
    first `put` is the prompt and is skipped."""

    def __init__(self, report) -> None:
        self.report, self.started = report, False

    def put(self, value) -> None:
        if not self.started:
            self.started = True
            return
        self.report(value.reshape(value.shape[0], -1), None)

    def end(self) -> None:
        pass


def weight_spec(lm_id: str) -> weights.WeightSpec:
    """Present when the weights are (the shard index, or the single file); the original `ckpt.pt` is
    not downloaded."""
    spec = weights.hub_spec(lm_id, HUB_ID, "model.safetensors",
                            allow_patterns=["*.json", "*.safetensors", "*.jinja"])

    def location() -> Path:
        index = weights.hub_file(HUB_ID, "model.safetensors.index.json")
        return index if index.exists() else weights.hub_file(HUB_ID, "model.safetensors")

    return replace(spec, location=location)


def load(info: LMInfo, device: str) -> CsmLM:
    import torch
    from transformers import AutoProcessor, CsmForConditionalGeneration

    weights.download(weight_spec(info.id))
    processor = AutoProcessor.from_pretrained(HUB_ID, local_files_only=True)
    model = CsmForConditionalGeneration.from_pretrained(HUB_ID, local_files_only=True, dtype=torch.float32)
    return CsmLM(info, model.eval().to(device), processor, device)


# --- random weights --------------------------------------------------------------------------------

def byte_level_tokenizer(first_special_id: int):
    """A Llama-3-style byte-level BPE tokenizer without merges: the 256 byte tokens keep Llama-3's ids
    (so '[0]' is 58 15 60 as with the real one) and the special tokens sit at `first_special_id`..+3."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    # GPT-2's byte-to-character map sends printable bytes to themselves and the rest to U+0100 on, in
    # byte order; GPT-2 and Llama-3 number the 256 byte tokens in that character order
    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab.update({token: first_special_id + i for i, token in enumerate(SPECIAL_TOKENS)})
    tok = Tokenizer(BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=SPECIAL_TOKENS[0], eos_token=SPECIAL_TOKENS[1],
                                   pad_token=SPECIAL_TOKENS[1])



def write_random_weights(lm_id: str, small: bool = False) -> Path:
    """`CsmForConditionalGeneration(config)` with a varied Mimi inside, and a processor (Encodec feature
    extractor, byte-level Llama-3-style tokenizer, the hub's chat template), saved where
    `from_pretrained("sesame/csm-1b")` looks."""
    from transformers import CsmConfig, CsmForConditionalGeneration, CsmProcessor, EncodecFeatureExtractor, MimiConfig

    from ..codecs import mimi
    from ..codecs.hf_codec import randomize_codebooks
    from ..weights import hub_snapshot

    if small:
        config = CsmConfig(**SMALL, depth_decoder_config=SMALL_DEPTH, codec_config=MimiConfig(**mimi.SMALL).to_dict())
    else:
        config = CsmConfig(codec_config=MimiConfig().to_dict())  # transformers' defaults are csm-1b's sizes
    model = CsmForConditionalGeneration(config).eval()
    randomize_codebooks(model.codec_model)
    model.generation_config.update(do_sample=True, temperature=0.9, top_k=50)
    model.depth_decoder.generation_config.update(do_sample=True, temperature=0.9, top_k=50)
    tokenizer = byte_level_tokenizer(SMALL["bos_token_id"] if small else 128_000)
    extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=24_000, padding_value=0.0)
    processor = CsmProcessor(extractor, tokenizer, chat_template=CHAT_TEMPLATE)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        hub_snapshot(HUB_ID, source=Path(tmp))
    return weight_spec(lm_id).path


"""Bark (Suno, 2023) through transformers: `BarkModel.from_pretrained(hub_id)` + `BarkProcessor`.

Bark is AudioLM's recipe with text in front: a causal transformer writes semantic tokens (10 000
entries, 49.9 Hz) from BERT-multilingual text tokens; a second causal transformer turns them into the
first two EnCodec codebooks ("coarse", interleaved two tokens per 75 Hz frame, in 60-token sliding
windows); a non-causal transformer fills in codebooks 3–8 ("fine"), one codebook at a time; EnCodec
24 kHz decodes all 8 codebooks (6 kbps). So its tokens are our `encodec_24khz` codec's at 6 kbps.

Path: what a user writes with transformers (`processor(text, voice_preset=...)` then
`model.generate(**inputs)`), with `BarkModel.generate`'s three stages called here one by one in the
same way (`semantic.generate`, `coarse_acoustics.generate`, `fine_acoustics.generate`, then
`codec_decode`), so that we can report progress per stage, cap the length, keep the fine codes and
time generation apart from decoding. Voices are Suno's speaker presets from the hub repository
(`speaker_embeddings_path.json` + `speaker_embeddings/v2/*.npy`): token histories that prime all three
stages. The released weights cannot clone an arbitrary recording (no audio-to-semantic encoder ships).

Sampling, by stage (as in Suno's `generate_audio`: `text_temp` / `waveform_temp`, fine fixed):
- semantic: the request's temperature, top-k and top-p;
- coarse: the request's temperature only. transformers applies top-k/top-p *before* the mask that keeps
  the current codebook's 1024 entries, which can leave no valid token; Suno's code defaults them off;
- fine: the checkpoint's fine temperature (0.5 in Suno's release and generation config); transformers'
  fine stage offers nothing else (and at temperature 1 it takes the argmax).

Deviations from `BarkModel.generate`: the semantic stage stops after `max_seconds` × 49.9 tokens (the
model otherwise runs until its end token, at most 768 tokens ≈ 15 s); a generation whose first token is
the end token raises a `RequestError` instead of failing inside EnCodec.

Random weights (tests, demos): the real classes with random weights saved by `save_pretrained`, a
`generation_config.json` built from `BarkGenerationConfig` (its semantic/coarse/fine sub-configs, as
the hub snapshot has), a small BERT WordPiece tokenizer standing in for bert-base-multilingual-cased,
and random speaker presets with the real layout, all in the hub-cache layout so the real loaders read
them unchanged.
"""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import RequestError, WeightsMismatch
from ._common import audio_of, codes_of, sampling_kwargs, step_progress, timed
from .base import GenerationRequest, LMInfo, Progress, RawGeneration

CODEC_ID = "encodec_24khz"
HOP = 320  # EnCodec 24 kHz samples per frame (75 Hz)
OTHER_LANGUAGES = ("de", "es", "fr", "hi", "it", "ja", "ko", "pl", "pt", "ru", "tr", "zh")
SPEAKERS = tuple(f"v2/en_speaker_{i}" for i in range(10)) + tuple(f"v2/{lang}_speaker_0" for lang in OTHER_LANGUAGES)
PRESETS_JSON = "speaker_embeddings_path.json"

_COMMON = dict(
    tasks=("speech",), codec_id=CODEC_ID, codec_kbps=6.0, codebooks=8,
    licence="MIT (code and weights)",
    paper="Suno AI, Bark, 2023 (no paper; model card and code at github.com/suno-ai/bark)",
    code_url="https://github.com/suno-ai/bark",
    conditioning="text (BERT multilingual WordPiece; 13 languages, cues such as [laughs], ♪ for singing) + an "
                 "optional speaker preset (semantic/coarse/fine token history)",
    architecture="three GPT-style transformers: text → semantic tokens (10k, 49.9 Hz, causal) → coarse EnCodec "
                 "codebooks 1–2 (interleaved, 2 tokens per 75 Hz frame, causal, 60-token sliding windows) → fine "
                 "codebooks 3–8 (non-causal, one codebook per pass) → EnCodec 24 kHz decoder",
    survey="follows AudioLM's semantic → coarse → fine hierarchy (Wu et al. 2024, §III); not itself in the survey",
    sample_rate=24_000, max_seconds=15.0, max_text_chars=300, speakers=SPEAKERS,
    notes="Voices are Suno's speaker presets (v2, 10 English + one per other language here); the released weights "
          "cannot clone a voice from arbitrary audio. Sampling: semantic stage uses temperature, top-k and top-p; "
          "coarse stage temperature only; fine stage the checkpoint's temperature (0.5). Real weights end at their "
          "own end token (usually before the length limit); Bark was trained on utterances up to ~13–14 s.",
)
INFOS = [
    LMInfo(id="bark_small", cpu_frames_per_s=3.1, name="Bark small", hub_id="suno/bark-small",
           parameters="404M (semantic 193M incl. a 100M text embedding, coarse 104M, fine 92M, EnCodec 15M)",
           hardware="GPU recommended: 1.9 GB peak in fp32; an H100 took ~1.7 s per second of audio (transformers "
                    "generates step by step, ~100 steps/s); CPU works but takes tens of seconds per second of audio",
           **_COMMON),
    LMInfo(id="bark", cpu_frames_per_s=1.1, name="Bark", hub_id="suno/bark",
           parameters="1.1B (semantic 446M, coarse 328M, fine 312M, EnCodec 15M)",
           hardware="GPU ≥ 8 GB recommended: 4.9 GB peak in fp32 (Suno's own code: ~12 GB); an H100 took ~3 s per "
                    "second of audio; CPU works but is several times slower than Bark small",
           **_COMMON),
]
_BY_ID = {info.id: info for info in INFOS}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # the transformers checkpoint, either format
# config + generation config + tokenizer + preset index; the presets; not Suno's original *.pt files
SHARED_PATTERNS = ["*.json", "vocab.txt", "speaker_embeddings/v2/*"]


def weight_spec(lm_id: str) -> weights.WeightSpec:
    """Present when the transformers checkpoint is (config.json arrives first, so it must not count). The repos
    also hold Suno's original checkpoints (text.pt, coarse_2.pt, ...): the fetch takes only transformers' files,
    and only one weights format (safetensors when the repo has it)."""
    hub_id = _BY_ID[lm_id].hub_id

    def location() -> Path:
        for name in WEIGHT_FILES:
            path = weights.hub_file(hub_id, name)
            if path.exists():
                return path
        return weights.hub_file(hub_id, WEIGHT_FILES[0])

    def fetch() -> None:
        from huggingface_hub import list_repo_files, snapshot_download

        files = set(list_repo_files(hub_id))
        chosen = next((name for name in WEIGHT_FILES if name in files), WEIGHT_FILES[0])
        snapshot_download(hub_id, allow_patterns=[*SHARED_PATTERNS, chosen])

    return weights.WeightSpec(model_id=lm_id, source=f"the Hugging Face hub ({hub_id})", location=location,
                              fetch=fetch)


def load(info: LMInfo, device: str) -> BarkLM:
    spec = weight_spec(info.id)
    weights.download(spec)
    from transformers import BarkModel, BarkProcessor

    # local_files_only: what download() checked is what loads; never a silent new revision at run time
    model = BarkModel.from_pretrained(info.hub_id, local_files_only=True).eval().to(device)
    processor = BarkProcessor.from_pretrained(info.hub_id, local_files_only=True)
    if not hasattr(model.generation_config, "semantic_config"):
        raise WeightsMismatch(info.id, spec.path, "its generation_config.json has no Bark semantic/coarse/fine "
                                                  "settings")
    return BarkLM(info, model, processor, device, spec.path)


class BarkLM:
    """A loaded Bark: the three stages called as `BarkModel.generate` calls them, one request at a time."""

    def __init__(self, info: LMInfo, model, processor, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.processor, self.device, self.checkpoint = info, model, processor, device, checkpoint
        self._lock = threading.Lock()  # one model shared by the app's threads

    def stage_configs(self):
        """The per-stage generation configs, built from the checkpoint's nested config as `BarkModel.generate` does."""
        from transformers.models.bark.generation_configuration_bark import (
            BarkCoarseGenerationConfig,
            BarkFineGenerationConfig,
            BarkSemanticGenerationConfig,
        )

        config = self.model.generation_config
        return (BarkSemanticGenerationConfig(**config.semantic_config),
                BarkCoarseGenerationConfig(**config.coarse_acoustics_config),
                BarkFineGenerationConfig(**config.fine_acoustics_config), int(config.codebook_size))

    def generate(self, request: GenerationRequest, progress: Progress) -> RawGeneration:
        import torch
        from transformers import StoppingCriteriaList

        speaker = request.speaker or None
        if speaker is not None and speaker not in self.processor.available_voice_presets:
            raise RequestError(f"Voice preset '{speaker}' is not in the downloaded {self.info.hub_id} snapshot.")
        semantic_cfg, coarse_cfg, fine_cfg, codebook_size = self.stage_configs()
        # the processor would look the preset up online (a revision check per request); read the cached one
        preset = self.processor._load_voice_preset(speaker, local_files_only=True) if speaker else None
        inputs = self.processor(request.text, voice_preset=preset)
        history = None
        if "history_prompt" in inputs:
            history = {key: value.to(self.device) for key, value in inputs["history_prompt"].items()}
        input_ids = inputs["input_ids"].to(self.device)
        attention_mask = inputs["attention_mask"].to(self.device)
        semantic_steps = max(1, min(int(semantic_cfg.max_new_tokens),
                                    round(request.max_seconds * semantic_cfg.semantic_rate_hz)))
        frames_per_semantic = coarse_cfg.coarse_rate_hz / semantic_cfg.semantic_rate_hz
        times: dict[str, float] = {}
        with self._lock, torch.inference_mode():
            with timed(times, "generate"):
                semantic = self.model.semantic.generate(
                    input_ids, semantic_generation_config=semantic_cfg, history_prompt=history,
                    attention_mask=attention_mask, max_new_tokens=semantic_steps,
                    stopping_criteria=StoppingCriteriaList(
                        [step_progress(_span(progress, 0.0, 0.3), semantic_steps, "Semantic tokens")]),
                    **sampling_kwargs(request))
                spoken = int((semantic[0] != semantic_cfg.semantic_pad_token).sum())
                if spoken == 0:
                    raise RequestError(f"{self.info.name} ended the utterance before saying anything (its end token "
                                       "came first). Try another seed or a longer text.")
                coarse_steps = int(np.floor(spoken * frames_per_semantic)) * coarse_cfg.n_coarse_codebooks
                coarse = self.model.coarse_acoustics.generate(
                    semantic, semantic_generation_config=semantic_cfg, coarse_generation_config=coarse_cfg,
                    codebook_size=codebook_size, history_prompt=history,
                    stopping_criteria=StoppingCriteriaList(
                        [step_progress(_span(progress, 0.3, 0.9), coarse_steps, "Coarse codebooks 1–2")]),
                    do_sample=True, temperature=request.temperature, top_k=0, top_p=1.0)
                with _count_passes(self.model.fine_acoustics.layernorm_final, _span(progress, 0.9, 0.97),
                                   _fine_passes(coarse.shape[1] // coarse_cfg.n_coarse_codebooks, history,
                                                fine_cfg, coarse_cfg)):
                    fine = self.model.fine_acoustics.generate(
                        coarse, semantic_generation_config=semantic_cfg, coarse_generation_config=coarse_cfg,
                        fine_generation_config=fine_cfg, codebook_size=codebook_size, history_prompt=history)
            progress(0.97, "Decoding with EnCodec")
            with timed(times, "decode"):
                wav = self.model.codec_decode(fine)[0]
        tokens = fine[0].long().cpu().numpy()  # (8, frames): coarse codebooks 1-2, fine 3-8
        frames = tokens.shape[1]
        notes = (f"voice preset {speaker}" if speaker else "no voice preset (Bark picks a voice)",
                 f"{spoken} semantic tokens → {frames} EnCodec frames")
        return RawGeneration(
            audio=audio_of(wav, frames, HOP, self.info.sample_rate),
            codes=codes_of(tokens, CODEC_ID, frames * HOP),
            generate_s=times["generate"], decode_s=times["decode"], notes=notes)


def _span(progress: Progress, start: float, end: float) -> Progress:
    """`progress` for one stage: the stage's own 0..1 mapped onto [start, end] of the whole."""
    return lambda fraction, message: progress(start + (end - start) * fraction, message)


def _fine_passes(frames: int, history, fine_cfg, coarse_cfg) -> int:
    """Forward passes transformers' fine stage makes: one per codebook it fills, per window of frames."""
    given = 0 if history is None else min(history["fine_prompt"].shape[-1], fine_cfg.max_fine_history_length)
    windows = max(0, int(np.ceil((frames - (fine_cfg.max_fine_input_length - given))
                                 / fine_cfg.max_fine_history_length))) + 1
    return windows * (fine_cfg.n_fine_codebooks - coarse_cfg.n_coarse_codebooks)


class _count_passes:
    """Reports the fine stage's forward passes (it has no stopping criteria to hook) with passes per second.
    Its `generate` calls `self.forward` directly, so the hook sits on a layer every pass runs once."""

    def __init__(self, module, progress: Progress, total: int) -> None:
        self.module, self.progress, self.total, self.done = module, progress, max(total, 1), 0

    def __enter__(self):
        import time

        start = time.perf_counter()

        def hook(module, args, output):
            self.done += 1
            rate = self.done / max(time.perf_counter() - start, 1e-9)
            self.progress(min(self.done / self.total, 1.0),
                          f"Fine codebooks 3–8: pass {self.done}/{self.total} ({rate:.1f} passes/s)")

        self.handle = self.module.register_forward_hook(hook)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


# --- random weights (tests, demos) ---------------------------------------------------------------

TINY = dict(hidden_size=16, num_layers=1, num_heads=2)
REAL = {"bark_small": dict(hidden_size=768, num_layers=12, num_heads=12),
        "bark": dict(hidden_size=1024, num_layers=24, num_heads=16)}
TINY_CODEC = dict(hidden_size=8, num_filters=4, num_lstm_layers=1)  # keeps 24 kHz, hop 320, 32 x 1024 codebooks
FINE_WINDOWS_TINY = dict(max_fine_input_length=256, max_fine_history_length=128)
SEMANTIC_VOCAB, TEXT_OFFSET, CODEBOOK = 10_000, 10_048, 1024  # Bark's token layout (generation config defaults)
WORDS = ("the", "a", "and", "to", "of", "is", "in", "it", "you", "that", "hello", "world", "my", "dog", "cute",
         "speech", "codec", "audio", "model", "test", "Hello", "I")


def write_random_weights(lm_id: str, small: bool = False) -> Path:
    """The real `BarkModel` with random weights, saved with `save_pretrained` into the hub-cache layout, with a
    Bark `generation_config.json`, a WordPiece tokenizer and random speaker presets beside it."""
    from transformers import BarkConfig, BarkModel, EncodecConfig

    from ..codecs.hf_codec import randomize_codebooks
    from ..weights import hub_snapshot

    info = _BY_ID[lm_id]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tokenizer = _tokenizer()
        text_pad = TEXT_OFFSET + (len(tokenizer) if small else 119_547)  # bert-base-multilingual-cased: 119 547
        sub = dict(block_size=1024, dropout=0.0, bias=False, **(TINY if small else REAL[lm_id]))
        config = BarkConfig(
            semantic_config=dict(input_vocab_size=text_pad + 5, output_vocab_size=SEMANTIC_VOCAB + 48, **sub),
            coarse_acoustics_config=dict(input_vocab_size=SEMANTIC_VOCAB + 2 * CODEBOOK + 48,
                                         output_vocab_size=SEMANTIC_VOCAB + 2 * CODEBOOK + 48, **sub),
            fine_acoustics_config=dict(input_vocab_size=CODEBOOK + 32, output_vocab_size=CODEBOOK + 32,
                                       n_codes_total=8, n_codes_given=1, **sub),
            codec_config=EncodecConfig(**(TINY_CODEC if small else {})).to_dict())
        model = BarkModel(config).eval()
        _spread(model)
        randomize_codebooks(model.codec_model)
        model.generation_config = _generation_config(text_pad, small)
        model.save_pretrained(folder / "model")
        tokenizer.save_pretrained(folder / "tokenizer")
        presets = _write_presets(folder / "presets", info.hub_id, frames=60 if small else 450)
        files = {path.relative_to(folder / "presets").as_posix(): path
                 for path in (folder / "presets").rglob("*") if path.is_file()}
        hub_snapshot(info.hub_id, source=folder / "tokenizer")
        hub_snapshot(info.hub_id, source=folder / "model", files={**files, PRESETS_JSON: presets})
    return weight_spec(lm_id).path


def _spread(model) -> None:
    """Transformers' init (std 0.02) leaves the logits near zero, so sampling is uniform and the output would not
    depend on the text, the preset or the temperature; weights of std 1/sqrt(fan-in) give logits of std ~1."""
    import torch

    with torch.no_grad():
        for part in (model.semantic, model.coarse_acoustics, model.fine_acoustics):
            for parameter in part.parameters():  # tied weights appear once
                if parameter.ndim == 2:
                    parameter.normal_(0.0, parameter.shape[1] ** -0.5)


def _generation_config(text_pad: int, small: bool):
    """Bark's nested generation config (Suno's sampling defaults), with the text-token ids of our tokenizer; the
    tiny model fills the fine codebooks in 256-frame windows instead of 1024 (the same loop, a quarter the work)."""
    from transformers import GenerationConfig
    from transformers.models.bark.generation_configuration_bark import BarkGenerationConfig

    bark = BarkGenerationConfig(
        semantic_config=dict(do_sample=True, temperature=0.7, text_encoding_offset=TEXT_OFFSET, text_pad_token=text_pad,
                             semantic_infer_token=text_pad + 4, semantic_vocab_size=SEMANTIC_VOCAB,
                             eos_token_id=SEMANTIC_VOCAB),
        coarse_acoustics_config=dict(do_sample=True, temperature=0.7,
                                     coarse_semantic_pad_token=SEMANTIC_VOCAB + 2 * CODEBOOK,
                                     coarse_infer_token=SEMANTIC_VOCAB + 2 * CODEBOOK + 2),
        fine_acoustics_config=dict(temperature=0.5, **(FINE_WINDOWS_TINY if small else {})),
        sample_rate=24_000, codebook_size=CODEBOOK)
    return GenerationConfig.from_dict(bark.to_dict())


def _tokenizer():
    """A cased BERT WordPiece tokenizer (Bark uses bert-base-multilingual-cased's), over a small vocabulary."""
    import string

    from transformers import BertTokenizer

    pieces = [*string.ascii_letters, *string.digits, *string.punctuation, "♪"]
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *pieces, *(f"##{p}" for p in pieces), *WORDS]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    return BertTokenizer(vocab=vocab, do_lower_case=False, tokenize_chinese_chars=True, strip_accents=None)


def _write_presets(folder: Path, hub_id: str, frames: int) -> bytes:
    """Random presets in the hub layout: per voice `speaker_embeddings/<voice>_<part>.npy`, with the real shapes
    and dtypes (semantic (n,) int64; coarse (2, frames) int64; fine (8, frames) int32; frames ≈ n × 75 / 49.9)."""
    rng = np.random.default_rng(0)
    index: dict[str, object] = {"repo_or_path": hub_id}
    semantic = int(np.ceil(frames * 49.9 / 75))
    for voice in SPEAKERS:
        fine = rng.integers(0, CODEBOOK, (8, frames)).astype(np.int32)
        arrays = {"semantic_prompt": rng.integers(0, SEMANTIC_VOCAB, semantic).astype(np.int64),
                  "coarse_prompt": fine[:2].astype(np.int64), "fine_prompt": fine}
        index[voice] = {}
        for part, array in arrays.items():
            name = f"speaker_embeddings/{voice}_{part}.npy"
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            np.save(folder / name, array, allow_pickle=False)
            index[voice][part] = name
    return json.dumps(index, indent=1).encode()


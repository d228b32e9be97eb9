"""VALL-E X (Zhang et al., 2023) from its community release, Plachtaa/VALL-E-X: our port, the released files unchanged.

VALL-E X is VALL-E made multilingual: phonemes (with a language embedding) condition an
autoregressive transformer that writes codebook 1 of EnCodec 24 kHz at 6 kbps (8 codebooks x 1024,
75 frames/s) after the tokens of a voice prompt, and a non-autoregressive transformer fills
codebooks 2-8, one greedy pass each, with the prompt's 8 codebooks as prefix. Microsoft published
no weights; Plachtaa's reproduction (MIT; English, Chinese and Japanese; training data not
documented, training code lifeiteng/vall-e's per its README) is the release used here. Its waveform
comes from Vocos (charactr/vocos-encodec-24khz) instead of EnCodec's own decoder.

Which official path this reproduces: `launch-ui.py::infer_from_audio` / `utils/prompt_making.py` +
`utils/generation.py::generate_audio` with a transcript given: the prompt is encoded by EnCodec at
6 kbps (our registry's `encodec_24khz`, the same official weights), the transcript's phonemes come
first (`enroll_x_lens`) with the prompt's language, then the text's, `VALLE.inference` samples
codebook 1 (prefix mode 1, BOS prepended, KV cache) and the NAR fills the rest, and Vocos decodes with
`bandwidth_id=2` (6 kbps). `_vallex_nets` holds the networks (checkpoint names, strict load),
`_vallex_text` the English phoneme front end. `benchmarks/parity/vallex.py` runs the official scripts
and ours on the same random weights and seed: the prompt codes, the 8 generated codebooks and the
audio are identical (small and released sizes).

Known deviations: English only (the Chinese and Japanese front ends need jieba, cn2an, pypinyin and
pyopenjtalk; other scripts are refused with a clear message) and so no accent or language choice;
sampling takes the request's temperature, top-k and top-p where the release's scripts use
temperature 1 and no top-k (top-p exists in its sampler but is always 1); one candidate is sampled
(`generate_audio`'s `best_of=1`; the web UI's `infer_from_audio` samples 5 and keeps the likeliest);
generation stops at the end-of-speech token, at the release's own cap (16 frames per phoneme token)
or at `max_seconds`, whichever comes first; newlines in the text are read as spaces (the release
drops them); no Whisper transcription (the transcript is required). The prompt is encoded with weight
norm left in place (the release folds it first): the same function up to float rounding.

Weights: `vallex-checkpoint.pt` from the hub repository Plachta/VALL-E-X (what the release's own
download fetches), Vocos from charactr/vocos-encodec-24khz (config.yaml + pytorch_model.bin, read by
`Vocos.from_pretrained` from the hub cache at its cached revision, so no network call), the phoneme
tokenizer `utils/g2p/bpe_69.json` from GitHub at a pinned commit (see `_vallex_text`), and EnCodec's
package weights (shared with the `encodec_24khz` codec; Vocos's feature extractor reads them too).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from .. import weights
from ..audio import Audio
from ..errors import RequestError, WeightsMismatch, WeightsUnavailable
from . import _vallex_text as text_front
from .base import GenerationRequest, LMInfo, Progress, RawGeneration

HUB_ID = "Plachta/VALL-E-X"
CHECKPOINT = "vallex-checkpoint.pt"
VOCOS_ID = "charactr/vocos-encodec-24khz"
VOCOS_FILES = ("config.yaml", "pytorch_model.bin")
VOCOS_BANDWIDTHS = [1.5, 3.0, 6.0, 12.0]
VOCOS_BANDWIDTH_ID = 2  # 6 kbps, the 8 codebooks VALL-E X writes
CODEC_ID = "encodec_24khz"
CODEC_KBPS = 6.0
SAMPLE_RATE = 24_000
FRAME_RATE = 75
HOP = SAMPLE_RATE // FRAME_RATE  # 320 samples per frame

INFOS = [
    LMInfo(
        id="vallex", name="VALL-E X", tasks=("tts",), cpu_frames_per_s=8.2,
        codec_id=CODEC_ID, codec_kbps=CODEC_KBPS, codebooks=8,
        parameters="395M: VALL-E X 370.5M (AR 155.4M + NAR 215.2M), Vocos 10.1M (8.0M network + 2.1M "
                   "codebook table), EnCodec 14.9M (prompt encoder)",
        licence="MIT (code and weights, Plachtaa/VALL-E-X); Vocos MIT; EnCodec weights CC-BY-NC 4.0",
        hub_id=HUB_ID,
        paper="Zhang, Zhou, Wang, Chen, Wu, Liu, Chen, Liu, Wang, Li, He, Zhao, Wei, Speak Foreign Languages "
              "with Your Own Voice: Cross-Lingual Neural Codec Language Modeling, 2023 (arXiv:2303.03926)",
        code_url="https://github.com/Plachtaa/VALL-E-X",
        conditioning="English text (phonemes with a language embedding) + a 1-10 s voice prompt and its transcript",
        architecture="VALL-E AR + NAR: a 12-layer causal transformer writes codebook 1 frame by frame after "
                     "[transcript + text phonemes | BOS, prompt codebook-1 tokens]; a 12-layer non-causal "
                     "transformer with stage-adaptive LayerNorm fills codebooks 2-8, one greedy pass each, "
                     "the prompt's 8 codebooks as prefix; Vocos turns the codes into the waveform",
        survey="Wu et al. 2024, §III (codec-based LMs: VALL-E X among the zero-shot TTS models on EnCodec tokens)",
        sample_rate=SAMPLE_RATE, max_seconds=12.0, max_text_chars=200, prompt_seconds=(1.0, 10.0),
        needs_prompt_text=True,
        hardware="GPU ≥ 6 GB recommended (the release's figure; the AR writes ~210 frames/s on an H100, 75 make "
                 "a second); CPU works: ~86 frames/s on 16 cores, a few frames/s on 2 busy ones",
        notes="Community reproduction (Plachtaa), not Microsoft's model. English only here (Chinese and Japanese "
              "need front-end packages we do not install). The release was trained on clips under 22 s: keep "
              "prompt + generated speech under that. Decoded by Vocos, not EnCodec's decoder.",
    ),
]


# --- weights: the checkpoint, Vocos, the phoneme tokenizer, EnCodec ---

def _encodec_spec() -> weights.WeightSpec:
    from ..codecs import registry

    return registry.weight_spec(CODEC_ID)


def _fetch_checkpoint() -> None:
    from huggingface_hub import snapshot_download

    snapshot_download(HUB_ID, allow_patterns=[CHECKPOINT])


def _fetch_vocos() -> None:
    from huggingface_hub import snapshot_download

    snapshot_download(VOCOS_ID, allow_patterns=list(VOCOS_FILES))


def _vocos_missing() -> Path | None:
    for name in VOCOS_FILES:
        path = weights.hub_file(VOCOS_ID, name)
        if not path.exists():
            return path
    return None


def parts() -> list[tuple[str, Callable[[], Path | None], Callable[[], object]]]:
    """(what, the path that is missing or None, fetch) for each file VALL-E X needs."""

    def missing(path_of: Callable[[], Path]) -> Callable[[], Path | None]:
        return lambda: None if path_of().exists() else path_of()

    return [
        (f"the VALL-E X checkpoint ({CHECKPOINT} in {HUB_ID} on the Hugging Face hub)",
         missing(lambda: weights.hub_file(HUB_ID, CHECKPOINT)), _fetch_checkpoint),
        (f"the Vocos decoder ({VOCOS_ID} on the Hugging Face hub)", _vocos_missing, _fetch_vocos),
        (f"the phoneme tokenizer {text_front.TOKENIZER_FILE} (GitHub, Plachtaa/VALL-E-X at "
         f"{text_front.REPO_COMMIT[:8]})", missing(text_front.tokenizer_path), text_front.fetch_tokenizer),
        ("the EnCodec 24 kHz weights (encodec package)", missing(lambda: _encodec_spec().path),
         lambda: _encodec_spec().fetch()),
    ]


def _location() -> Path:
    """The checkpoint once every part is there; before that, the first missing file (so `download`
    fetches whatever is missing and messages say where we looked)."""
    for _, missing, _ in parts():
        if (path := missing()) is not None:
            return path
    return weights.hub_file(HUB_ID, CHECKPOINT)


def _fetch_missing() -> None:
    for _, missing, fetch in parts():
        if missing() is not None:
            fetch()


def weight_spec(lm_id: str) -> weights.WeightSpec:
    return weights.WeightSpec(
        model_id=lm_id, location=_location, fetch=_fetch_missing,
        source=f"the Hugging Face hub ({HUB_ID}, {VOCOS_ID}), GitHub (Plachtaa/VALL-E-X's bpe_69.json) "
               "and the encodec package's release URL")


def _download(lm_id: str) -> None:
    try:
        weights.download(weight_spec(lm_id))
    except WeightsUnavailable as exc:
        missing = "; ".join(what for what, is_missing, _ in parts() if is_missing() is not None)
        raise WeightsUnavailable(lm_id, exc.looked_at, f"missing: {missing}. {exc.reason}") from exc


# --- loading ---

def read_checkpoint(path: Path) -> dict:
    """`torch.load(path)["model"]`, tensors only: a downloaded pickle never runs code here."""
    import pickle

    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsMismatch("vallex", path, "it holds more than tensors, and Codec Arena does not unpickle "
                              "arbitrary objects from downloaded files") from exc
    if not isinstance(state, dict) or "model" not in state:
        raise WeightsMismatch("vallex", path, "it has no 'model' state dict")
    return state["model"]


def build_model(state: dict, path: Path | str = "vallex-checkpoint.pt"):
    """Our VALLE with the checkpoint's shapes, loaded strictly."""
    import torch

    from . import _vallex_nets as nets

    try:
        config = nets.Config.from_state_dict(state)
    except KeyError as exc:
        raise WeightsMismatch("vallex", path, f"no {exc} in the checkpoint") from exc
    with torch.device("meta"):
        model = nets.VallEX(config)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise WeightsMismatch("vallex", path, f"the checkpoint does not fit VALLE({config}): {exc}") from exc
    for j in range(nets.NUM_QUANTIZERS - 2):  # assign=True replaced the tied parameters: tie them again
        model.nar_predict_layers[j].weight = model.nar_audio_embeddings[j + 2].word_embeddings.weight
    return model.float().eval()


def load_vocos():
    """`Vocos.from_pretrained(VOCOS_ID)` at the cached revision (a commit hash: read from the cache,
    no network call)."""
    from vocos import Vocos

    ref = weights.hub_repo_dir(VOCOS_ID) / "refs" / "main"
    return Vocos.from_pretrained(VOCOS_ID, revision=ref.read_text().strip()).eval()


def load(info: LMInfo, device: str) -> VallEXModel:
    from torch import nn

    from ..codecs import get_codec

    _download(info.id)
    checkpoint = weights.hub_file(HUB_ID, CHECKPOINT)
    model = build_model(read_checkpoint(checkpoint), checkpoint).to(device)
    vocos = load_vocos().to(device)
    tokenizer = text_front.PhonemeTokenizer(text_front.tokenizer_path())
    get_codec(CODEC_ID, device)  # the prompt encoder, loaded now (and counted in the load time)
    return VallEXModel(info, checkpoint, model, vocos, tokenizer, device, nn.ModuleList([model, vocos]))


class VallEXModel:
    def __init__(self, info: LMInfo, checkpoint: Path, valle, vocos, tokenizer, device: str, modules) -> None:
        self.info, self.checkpoint, self.device = info, checkpoint, device
        self.valle, self.vocos, self.tokenizer, self.model = valle, vocos, tokenizer, modules
        self._lock = threading.Lock()

    def prompt_codes(self, prompt: Audio):
        """(1, P, 8) EnCodec 6 kbps tokens of the voice prompt, peak-normalised above 1 as the release does.
        The random state is set aside meanwhile: should the codec have left the model cache, loading it
        again would draw random initial weights and change what the seed samples."""
        import numpy as np
        import torch

        from ..codecs import get_codec

        samples = prompt.samples[:1]
        peak = float(np.abs(samples).max(initial=0.0))
        if peak > 1:
            samples = samples / peak
        cuda = torch.device(self.device)
        devices = [torch.cuda.current_device() if cuda.index is None else cuda.index] if cuda.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            codec = get_codec(CODEC_ID, self.device)
            codes = codec.encode(Audio(samples.astype(np.float32), SAMPLE_RATE), CODEC_KBPS)
        return torch.from_numpy(codes.tokens.T.copy())[None].to(self.device)

    def generate(self, request: GenerationRequest, progress: Progress, fast: bool | None = None) -> RawGeneration:
        """`fast` (default: on unless CODEC_ARENA_LM_FAST=0) runs the AR on a preallocated cache and
        the NAR without recomputing what stays the same; off, the reference path. Same tokens."""
        import torch

        from . import _vallex_nets as nets
        from ._common import audio_of, codes_of, fast_enabled

        fast = fast_enabled() if fast is None else fast
        prompt_ids, _ = self.tokenizer.encode(request.prompt_text, "prompt's transcript")
        text_ids, languages = self.tokenizer.encode(request.text, "text")
        with self._lock, torch.inference_mode():
            progress(0.02, "Encoding the voice prompt (EnCodec, 6 kbps)")
            prompt = self.prompt_codes(request.prompt)
            text = torch.tensor([prompt_ids + text_ids], dtype=torch.long, device=self.device)
            text_languages = torch.tensor([text_front.LANGUAGE_IDS[lang] for lang in languages], device=self.device)
            english = text_front.LANGUAGE_IDS["en"]
            max_frames = max(1, int(request.max_seconds * FRAME_RATE))
            expected = min(max_frames, 16 * text.shape[1])
            start = time.perf_counter()

            def on_step(frames: int) -> None:
                if frames % 5 == 0 or frames == expected:
                    rate = frames / max(time.perf_counter() - start, 1e-9)
                    progress(0.05 + 0.8 * frames / expected,
                             f"AR (codebook 1): frame {frames}/{expected} ({rate:.1f} frames/s)")

            sample = nets.sampler(request.temperature, request.top_k, request.top_p)
            first = self.valle.generate_first(text, len(prompt_ids), prompt, english, text_languages, sample,
                                              max_frames, on_step, fast=fast)
            if first.numel() == 0:
                raise RequestError("VALL-E X ended its speech before the first frame. Try another seed, or a "
                                   "longer text.")
            codes = self.valle.generate_rest(
                text, len(prompt_ids), prompt, english, text_languages, first,
                lambda k: progress(0.85 + 0.1 * (k - 1) / 7, f"NAR: codebook {k}/8"), fast=fast)
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            generate_s = time.perf_counter() - start
            progress(0.96, "Decoding with Vocos")
            start = time.perf_counter()
            features = self.vocos.codes_to_features(codes.T[:, None, :])
            wave = self.vocos.decode(features, bandwidth_id=torch.tensor([VOCOS_BANDWIDTH_ID], device=self.device))
            wave = wave[0].cpu()  # waits for the GPU, so decode_s is the decoding itself
            decode_s = time.perf_counter() - start
        frames = codes.shape[0]
        if frames >= max_frames:
            stop = f"reached the {request.max_seconds:g} s limit"
        elif frames >= 16 * text.shape[1]:
            stop = "reached the release's cap of 16 frames per phoneme token"
        else:
            stop = "ended at its end-of-speech token"
        tokens = codes.T.cpu()
        return RawGeneration(
            audio=audio_of(wave, frames, HOP, SAMPLE_RATE),
            codes=codes_of(tokens, CODEC_ID, frames * HOP),
            generate_s=generate_s, decode_s=decode_s,
            notes=(f"{frames} frames; the model {stop}.",
                   f"Prompt: {prompt.shape[1]} frames of EnCodec tokens; text: {len(prompt_ids)} transcript + "
                   f"{len(text_ids)} target phoneme tokens (English)."))


# --- random weights (tests, demos) ---

SMALL = dict(width=128, layers=2)  # 2 heads by the one-head-per-64-channels rule
VOCOS_SIZES = {True: dict(dim=32, intermediate_dim=64, num_layers=1), False: dict(dim=384, intermediate_dim=1152,
                                                                                    num_layers=8)}


def vocos_config(small: bool) -> dict:
    """charactr/vocos-encodec-24khz's config.yaml layout (small: a narrower, one-layer backbone)."""
    size = VOCOS_SIZES[small]
    return {
        "feature_extractor": {"class_path": "vocos.feature_extractors.EncodecFeatures",
                              "init_args": {"encodec_model": "encodec_24khz", "bandwidths": VOCOS_BANDWIDTHS,
                                            "train_codebooks": True}},
        "backbone": {"class_path": "vocos.models.VocosBackbone",
                     "init_args": {"input_channels": 128, **size, "adanorm_num_embeddings": len(VOCOS_BANDWIDTHS)}},
        "head": {"class_path": "vocos.heads.ISTFTHead",
                 "init_args": {"dim": size["dim"], "n_fft": 4 * HOP, "hop_length": HOP, "padding": "same"}},
    }


def write_random_vocos(small: bool) -> Path:
    """A random Vocos saved as the hub repository holds it (config.yaml, pytorch_model.bin without the
    EnCodec weights, which `from_pretrained` takes from the encodec package)."""
    import tempfile

    import torch
    import yaml
    from vocos import Vocos

    from ..codecs import registry

    if not _encodec_spec().path.exists():  # Vocos's feature extractor loads EnCodec's package weights
        torch.manual_seed(0)  # seeded as the random-weight helper seeds a checkpoint
        weights.mark_random(registry.family_module(CODEC_ID).write_random_weights(CODEC_ID))
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(yaml.safe_dump(vocos_config(small), sort_keys=False))
        vocos = Vocos.from_hparams(str(config))
        state = {k: v for k, v in vocos.state_dict().items() if not k.startswith("feature_extractor.encodec.")}
        torch.save(state, Path(tmp) / "pytorch_model.bin")
        return weights.hub_snapshot(VOCOS_ID, source=Path(tmp))


def write_random_weights(lm_id: str, small: bool = False) -> Path:
    """VALLE with random weights in the release's format (`{"model": state_dict}` at the hub path), a
    random Vocos, and a phoneme tokenizer equivalent to bpe_69.json. Small: width 128, 2 layers."""
    import torch

    from . import _vallex_nets as nets

    model = nets.VallEX(nets.Config(**SMALL) if small else nets.Config())
    path = weights.hub_snapshot(HUB_ID) / CHECKPOINT
    torch.save({"model": model.state_dict()}, path)
    write_random_vocos(small)
    text_front.build_tokenizer(text_front.tokenizer_path())
    return weight_spec(lm_id).path

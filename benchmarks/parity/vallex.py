"""Parity of our VALL-E X port with the official code (Plachtaa/VALL-E-X), on CPU.

For a small config (width 128, 2 layers, 2 heads) and the released size (1024, 12, 16), this builds
the official `VALLE` with seeded random weights and saves `{"model": state_dict}` where our loader
finds `vallex-checkpoint.pt` (the hub cache of Plachta/VALL-E-X) and where the official scripts find
it (`./checkpoints/`). EnCodec's package weights are random too, with codebooks scaled to the encoder's
output so that prompt codes vary; Vocos (charactr/vocos-encodec-24khz) is a random one in the hub
cache, read by both sides through `Vocos.from_pretrained`. The phoneme tokenizer is the checkout's
`utils/g2p/bpe_69.json`, for both.

The official path is the README's: `utils/prompt_making.make_prompt(name, wav, transcript)` then
`utils/generation.generate_audio(text, prompt=npz, language='en')` (temperature 1, no top-k, one
candidate), seeded with `torch.manual_seed`; `VALLE.inference` is wrapped to keep the codes it
returns. Ours is `codec_arena.lms.generate("vallex", ...)` with the same text, prompt, transcript,
seed and sampling. It prints whether the prompt codes and the generated codes (8 codebooks) are
equal and how far the audio is apart, and fails (exit 1) unless codes are equal and the audio within
1e-5. On the small config it also compares `VALLE.inference` called directly with top-k 20 and
temperature 0.7. Before that it checks the English front end (the official `PhonemeBpeTokenizer`
against ours, with the official file and with the equivalent tokenizer our tests build), and that
the official `VALLE` loads our `write_random_weights` checkpoints strictly.

    TMPDIR=/dev/shm python benchmarks/parity/vallex.py [--official /work/official/VALL-E-X] [--sizes small full]

What cannot run here, and the stand-ins (runtime stubs in this script only): the official scripts
import langid, whisper, jieba, cn2an, nltk and sudachipy at module level, none installed; `langid`
is stubbed to answer English (the official code then takes the English path, as for any Latin text),
`whisper` is never called (the transcript is given), `jieba` / `cn2an` are empty modules (only the
Chinese cleaners use them), and `utils.sentence_cutter` (long-text mode only) is replaced by a
one-sentence splitter. torchaudio 2.9's `load` needs torchcodec: it is patched to read with soundfile.
The full size needs about 6 GB of memory and 1.5 GB of temporary disk (TMPDIR), and takes minutes on
2 CPU cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from _common import TOLERANCE, default_official, seeded_audio  # noqa: E402

RATE = 24_000
PROMPT_SECONDS = 3.0
TRANSCRIPT = "Hi there."  # short texts: the release caps generation at 16 frames per phoneme token
TEXT = "Good day, friend."
SENTENCES = ["Hello world.", "The quick brown fox, 42 dogs!", "Dr. Smith paid $3.50 in 1995", "xyzzy qwrt",
             "Café naïve 1st", 'Hi\tthere  "you" ok...', "It's 2005; Mr. Lee's co. owes £1,200 and $0.01, really?",
             "The 21st of May, 2100 or 1200.", "ALL CAPS and rolling hills"]
SIZES = {"small": dict(width=128, heads=2, layers=2), "full": dict(width=1024, heads=16, layers=12)}


def stub_unavailable_imports() -> None:
    """Modules the official scripts import at top level but this comparison never needs."""
    langid = types.ModuleType("langid")
    langid.set_languages = lambda languages: None
    langid.classify = lambda text: ("en", 1.0)
    sys.modules["langid"] = langid
    for name in ("whisper", "jieba", "cn2an"):
        sys.modules[name] = types.ModuleType(name)
    cutter = types.ModuleType("utils.sentence_cutter")
    cutter.split_text_into_sentences = lambda text: [text]
    sys.modules["utils.sentence_cutter"] = cutter

    import soundfile as sf
    import torch
    import torchaudio

    def load(path, *args, **kwargs):
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        return torch.from_numpy(data.T.copy()), rate

    torchaudio.load = load


def write_spread_encodec(prompt: np.ndarray, seed: int) -> None:
    """Random EnCodec 24 kHz package weights whose codebooks sit at each RVQ stage's residual scale on
    the prompt (unit-variance codewords would give one code for every frame)."""
    import torch

    from codec_arena.codecs import encodec

    torch.manual_seed(seed)
    model = encodec.build("encodec_24khz", pretrained=False)
    with torch.no_grad():
        residual = model.encoder(torch.from_numpy(prompt)[None, None])
        for layer in model.quantizer.vq.layers:
            layer._codebook.embed.copy_(torch.randn_like(layer._codebook.embed) * residual.std())
            layer._codebook.embed_avg.copy_(layer._codebook.embed)
            layer._codebook.inited.fill_(1)
            residual = residual - layer.decode(layer.encode(residual))
    path = encodec.weight_spec("encodec_24khz").path
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)


def official_valle(size: dict):
    from models.vallex import VALLE

    return VALLE(size["width"], size["heads"], size["layers"], norm_first=True, add_prenet=False, prefix_mode=1,
                 share_embedding=True, nar_scale_factor=1.0, prepend_bos=True, num_quantizers=8)


def check_front_end(official: Path) -> bool:
    from utils.g2p import PhonemeBpeTokenizer

    from codec_arena.lms import _vallex_text as front

    theirs = PhonemeBpeTokenizer(tokenizer_path=str(official / "utils" / "g2p" / "bpe_69.json"))
    with tempfile.TemporaryDirectory() as tmp:
        stand_in = front.PhonemeTokenizer(front.build_tokenizer(Path(tmp) / "bpe.json"))
    real = front.PhonemeTokenizer(official / "utils" / "g2p" / "bpe_69.json")
    same = [theirs.tokenize(text=f"_[EN]{s}[EN]") == real.encode(s) == stand_in.encode(s) for s in SENTENCES]
    vocab_same = theirs.tokenizer.get_vocab() == stand_in.tokenizer.get_vocab()
    print(f"front end: {sum(same)}/{len(same)} sentences give the official phoneme ids and languages "
          f"(official bpe_69.json and our equivalent tokenizer); vocabularies equal: {vocab_same}")
    return all(same) and vocab_same


def official_accepts_ours(size_name: str) -> bool:
    """The official VALLE loads our random checkpoints strictly (small from the file we write, full
    from our model's state dict, to spare 1.5 GB of disk)."""
    import torch

    from codec_arena.lms import _vallex_nets as nets
    from codec_arena.lms import vallex

    size = SIZES[size_name]
    if size_name == "small":
        path = vallex.write_random_weights("vallex", small=True)
        state = torch.load(path, map_location="cpu", weights_only=True)["model"]
    else:
        state = nets.VallEX(nets.Config(width=size["width"], layers=size["layers"])).state_dict()
    try:
        official_valle(size).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        print(f"  {exc}")
        return False
    return True


def run_official(official: Path, work: Path, size: dict, wav_path: Path, seed: int):
    """make_prompt + generate_audio as the README shows them, with the small/full hyperparameters."""
    import torch

    from codec_arena import weights
    from codec_arena.lms import vallex

    (work / "utils" / "g2p").mkdir(parents=True, exist_ok=True)
    (work / "customs").mkdir(exist_ok=True)
    (work / "checkpoints").mkdir(exist_ok=True)
    shutil.copyfile(official / "utils" / "g2p" / "bpe_69.json", work / "utils" / "g2p" / "bpe_69.json")
    target = work / "checkpoints" / "vallex-checkpoint.pt"
    target.unlink(missing_ok=True)
    target.symlink_to(weights.hub_file(vallex.HUB_ID, vallex.CHECKPOINT))
    with contextlib.chdir(work), contextlib.redirect_stdout(None):
        from utils import generation, prompt_making

        generation.N_DIM, generation.NUM_HEAD, generation.NUM_LAYERS = size["width"], size["heads"], size["layers"]
        generation.model = None
        generation.preload_models()
        prompt_making.make_prompt(name="parity", audio_prompt_path=str(wav_path), transcript=TRANSCRIPT)
        npz = work / "customs" / "parity.npz"
        captured = []
        inference = generation.model.inference

        def keep(*args, **kwargs):
            captured.append(inference(*args, **kwargs))
            return captured[-1]

        generation.model.inference = keep
        torch.manual_seed(seed)
        audio = generation.generate_audio(TEXT, prompt=str(npz), language="en")
        generation.model.inference = inference
    prompt_codes = np.load(npz)["audio_tokens"][0].T  # (8, P)
    return prompt_codes, captured[0][0].T.numpy(), np.asarray(audio, dtype=np.float32), generation, npz


def official_direct(generation, npz: Path, seed: int, top_k: int, temperature: float) -> np.ndarray:
    """VALLE.inference called with other sampling settings on the inputs generate_audio builds."""
    import torch

    data = np.load(npz)
    phones, langs = generation.text_tokenizer.tokenize(text=f"_[EN]{TEXT}[EN]")
    tokens, lens = generation.text_collater([phones])
    prompt_text = torch.tensor(data["text_tokens"]).type(torch.int32)
    enroll = prompt_text.shape[-1]
    with torch.no_grad(), contextlib.redirect_stdout(None):
        torch.manual_seed(seed)
        codes = generation.model.inference(
            torch.cat([prompt_text, tokens], dim=-1), lens + enroll,
            torch.tensor(data["audio_tokens"]).type(torch.int32), enroll_x_lens=enroll, top_k=top_k,
            temperature=temperature, prompt_language="en", text_language=langs)
    return codes[0].T.numpy()


def ours(prompt: np.ndarray, seed: int, top_k: int = 0, temperature: float = 1.0):
    import torch

    from codec_arena.audio import Audio
    from codec_arena.lms import GenerationRequest, generate, get_lm

    request = GenerationRequest(task="tts", text=TEXT, prompt=Audio(prompt[None], RATE), prompt_text=TRANSCRIPT,
                                max_seconds=12.0, temperature=temperature, top_k=top_k, top_p=1.0, seed=seed)
    result = generate("vallex", request, device="cpu")
    with torch.inference_mode():
        prompt_codes = get_lm("vallex", "cpu").prompt_codes(request.prompt)[0].T.cpu().numpy()
    return prompt_codes, result


def compare(label: str, official_codes: np.ndarray, our_codes: np.ndarray, official_audio=None, our_audio=None):
    equal = official_codes.shape == our_codes.shape and bool(np.array_equal(official_codes, our_codes))
    line = (f"  {label}: codes {our_codes.shape[0]}x{our_codes.shape[1]} (official {official_codes.shape[0]}x"
            f"{official_codes.shape[1]}), equal: {equal} ({len(np.unique(our_codes))} distinct)")
    ok = equal
    if official_audio is not None:
        diff = float(np.abs(official_audio - our_audio).max()) if official_audio.shape == our_audio.shape else np.inf
        ok = ok and diff <= TOLERANCE
        line += (f"; audio {our_audio.size} samples, max abs diff {diff:.3g} (tolerance {TOLERANCE:g}, "
                 f"RMS {float(np.sqrt(np.mean(official_audio ** 2))):.3g})")
    print(line + ("  OK" if ok else "  FAIL"))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, default=default_official("VALL-E-X"))
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    args = parser.parse_args(argv)
    official = args.official.resolve()
    if not (official / "models" / "vallex.py").exists():
        print(f"skipped: official checkout not found at {official}, get it with "
              "git clone https://github.com/Plachtaa/VALL-E-X")
        return 0

    tmp = tempfile.mkdtemp(prefix="vallex-parity-")
    env = {"HF_HOME": f"{tmp}/hf", "TORCH_HOME": f"{tmp}/torch", "XDG_CACHE_HOME": f"{tmp}/xdg",
           "HF_HUB_OFFLINE": "1", "CODEC_ARENA_OFFLINE": "1", "CODEC_ARENA_DEVICE": "cpu"}
    os.environ.update(env)  # before huggingface_hub reads its constants
    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(official))  # the official scripts import models, modules, data, utils, macros
    stub_unavailable_imports()

    import soundfile as sf
    import torch

    torch.cuda.is_available = lambda: False  # the official scripts move to CUDA whenever they can
    from codec_arena.lms import vallex
    from codec_arena.runtime import cache

    failures = 0
    try:
        failures += not check_front_end(official)
        prompt = seeded_audio(RATE, PROMPT_SECONDS)
        wav_path = Path(tmp) / "prompt.wav"
        sf.write(wav_path, prompt, RATE, subtype="FLOAT")
        write_spread_encodec(prompt, seed=7)
        for seed, size_name in enumerate(args.sizes, start=1):
            size = SIZES[size_name]
            accepted = official_accepts_ours(size_name)
            failures += not accepted
            print(f"{size_name} (width {size['width']}, {size['heads']} heads, {size['layers']} layers): "
                  f"official VALLE loads our write_random_weights checkpoint strictly: {accepted}")
            torch.manual_seed(100 + seed)
            model = official_valle(size)
            path = vallex.write_random_weights("vallex", small=size_name == "small")  # our Vocos and tokenizer
            torch.save({"model": model.state_dict()}, path)  # ... and the official VALLE's random weights
            del model
            shutil.copyfile(official / "utils" / "g2p" / "bpe_69.json", vallex.text_front.tokenizer_path())
            cache.clear()
            official_prompt, official_codes, official_audio, generation, npz = run_official(
                official, Path(tmp) / "work", size, wav_path, seed)
            our_prompt, result = ours(prompt, seed)
            prompt_equal = bool(np.array_equal(official_prompt, our_prompt))
            failures += not prompt_equal
            print(f"  prompt: {PROMPT_SECONDS:g} s -> EnCodec codes {our_prompt.shape[0]}x{our_prompt.shape[1]}, "
                  f"equal: {prompt_equal} ({len(np.unique(our_prompt))} distinct); text: '{TRANSCRIPT}' + '{TEXT}'")
            failures += not compare("generate_audio (temperature 1, no top-k)", official_codes,
                                    result.codes.tokens, official_audio, result.audio.samples[0])
            print(f"    ours: {result.notes[0]}")
            if size_name == "small":
                direct = official_direct(generation, npz, seed, top_k=20, temperature=0.7)
                failures += not compare("VALLE.inference, top-k 20, temperature 0.7", direct,
                                        ours(prompt, seed, top_k=20, temperature=0.7)[1].codes.tokens)
            generation.model = generation.vocos = generation.codec = None
            cache.clear()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS" if not failures else f"FAIL ({failures} check(s))")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Parity of our BiCodec port with the official code (SparkAudio/Spark-TTS), on CPU.

Builds one random checkpoint in a small config with the official classes (`sparktts/modules/...`: the
semantic encoder, factorised VQ, prenet, postnet, wave generator and speaker encoder, seeded, with
weight-norm gains, BatchNorm statistics, AdaLN and layer scales perturbed so they all matter, and the
official 512-channel ECAPA-TDNN), saves it as `BiCodec/model.safetensors` beside a `BiCodec/config.yaml`,
the repository-level `config.yaml` (16 kHz, reference segment 6 s, latent hop 320, volume
normalisation on) and a tiny `wav2vec2-large-xlsr-53/` (a transformers Wav2Vec2Model with 18 layers,
so hidden state 16 and our dropping of the layers after it are exercised, and its feature extractor).
Then, for seeded clips written as float wavs, it runs the official `BiCodecTokenizer(model_dir).tokenize`
/ `detokenize` and `codec_arena.codecs.bicodec.load` reading the same files from a temporary hub
cache, and prints whether the semantic and global codes are equal and how far the audio is apart.

    python benchmarks/parity/bicodec.py [--official /work/official/Spark-TTS]

What is compared: the official tokenizer emits (n - 400) // 320 + 1 semantic tokens and we emit
ceil(n / 320), the first of them the official ones (see `codec_arena/codecs/bicodec.py`), so the
official tokens are compared with our first ones. The audio check decodes the official codes with
our decoder (`Codes` holding them and the global tokens, no volume gain: the official output level)
against `detokenize`. Pass (exit 0): codes equal and max abs audio difference <= 1e-5 for every clip,
and the official `BiCodec.load_from_checkpoint` loads what our `write_random_weights` saves with no
missing or unexpected tensor but the mel transform's derived buffers. For information it also prints
how far our full round trip (decoded at the input level, times the volume gain) is from the official
output away from the clip's end.

`--official` is a checkout or a bare git mirror of the repository; by default
`$CODEC_ARENA_OFFICIAL_DIR/Spark-TTS` or `/work/official/Spark-TTS`, else the mirror at
`/work/.mirror/SparkAudio+Spark-TTS/repo`. The official `sparktts/` package is imported from the
checkout, or from a copy of the mirror's (`git archive`) in a temporary folder; nothing is edited.
It needs omegaconf, einops and einx besides our pins (they are in our venv). About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from _common import TOLERANCE, default_official, seeded_audio  # noqa: E402

MIRROR = Path("/work/.mirror/SparkAudio+Spark-TTS/repo")
SAMPLE_RATE = 16_000
CLIPS = {"3 s + 123 samples (reference tiled)": 3 * SAMPLE_RATE + 123,
         "7.3 s (reference cut at 6 s)": int(7.3 * SAMPLE_RATE)}


def find_official(path: Path | None) -> Path | None:
    for candidate in ([path] if path else [default_official("Spark-TTS"), MIRROR]):
        if (candidate / "sparktts" / "models" / "bicodec.py").exists() or (candidate / "HEAD").exists():
            return candidate
    return None


def official_package(repo: Path, work: Path) -> Path:
    """A folder whose `sparktts/` is the official package: the checkout itself, or the mirror's HEAD."""
    if (repo / "sparktts" / "models" / "bicodec.py").exists():
        return repo
    target = work / "official"
    target.mkdir()
    archive = subprocess.run(["git", "--git-dir", str(repo), "archive", "HEAD", "sparktts"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def official_checkpoint(config: dict, path: Path, seed: int) -> None:
    """The official networks from `config` with seeded random weights, saved as BiCodec/model.safetensors
    (the official keys: weight_g/weight_v; the mel transform's buffers left out, as the release has them)."""
    import torch
    from safetensors.torch import save_file
    from sparktts.models.bicodec import BiCodec
    from sparktts.modules.encoder_decoder.feat_decoder import Decoder
    from sparktts.modules.encoder_decoder.feat_encoder import Encoder
    from sparktts.modules.encoder_decoder.wave_generator import WaveGenerator
    from sparktts.modules.speaker.speaker_encoder import SpeakerEncoder
    from sparktts.modules.vq.factorized_vector_quantize import FactorizedVectorQuantize

    torch.manual_seed(seed)
    model = BiCodec(mel_params=config["mel_params"], encoder=Encoder(**config["encoder"]),
                    decoder=WaveGenerator(**config["decoder"]),
                    quantizer=FactorizedVectorQuantize(**config["quantizer"]),
                    speaker_encoder=SpeakerEncoder(**config["speaker_encoder"]), prenet=Decoder(**config["prenet"]),
                    postnet=Decoder(**config["postnet"]))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("weight_g") or name.endswith(".gamma") or name.endswith(".alpha"):
                param.mul_(torch.empty_like(param).uniform_(0.5, 1.5))  # fresh: g = |v|, gamma = 1/layers, alpha 1
            elif ".norm.scale." in name or ".norm.shift." in name:  # AdaLN starts at scale 1, shift 0
                param.normal_(0, 0.5)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
        model.quantizer.codebook.weight.normal_(0, 1)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("mel_transformer.")}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, path, metadata={"format": "pt"})


def model_dir(work: Path, config: dict, seed: int) -> Path:
    """The three parts `BiCodecTokenizer(model_dir)` reads, as the hub repository lays them out."""
    import torch
    import yaml
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    from codec_arena.codecs import bicodec

    folder = work / "Spark-TTS-0.5B"
    official_checkpoint(config, folder / bicodec.CHECKPOINT, seed)
    (folder / "config.yaml").write_text(yaml.safe_dump(bicodec.SETTINGS))
    (folder / bicodec.CODEC_DIR / "config.yaml").write_text(yaml.safe_dump({"audio_tokenizer": config}))
    torch.manual_seed(seed + 1)
    tiny = Wav2Vec2Config(**{**bicodec.ssl_config(True).to_dict(), "num_hidden_layers": 18})
    Wav2Vec2Model(tiny).save_pretrained(folder / bicodec.SSL_DIR)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(folder / bicodec.SSL_DIR)
    return folder


def official_roundtrip(folder: Path, wav: Path):
    """The official tokenizer as its `__main__` runs it: tokenize a wav file, detokenize the tokens."""
    import torch
    from sparktts.models.audio_tokenizer import BiCodecTokenizer

    with contextlib.redirect_stdout(io.StringIO()):  # "Missing tensor: mel_transformer..."
        tokenizer = BiCodecTokenizer(folder, device=torch.device("cpu"))
    global_tokens, semantic_tokens = tokenizer.tokenize(str(wav))
    audio = tokenizer.detokenize(global_tokens.squeeze(0), semantic_tokens)
    return global_tokens[0].numpy(), semantic_tokens[0].numpy(), audio


def official_loads(folder: Path) -> tuple[bool, str]:
    """`BiCodec.load_from_checkpoint` on a folder: ok when it reports nothing missing but derived mel buffers."""
    from sparktts.models.bicodec import BiCodec

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        BiCodec.load_from_checkpoint(folder)
    lines = [line for line in printed.getvalue().splitlines() if line.strip()]
    problems = [line for line in lines if not line.startswith("Missing tensor: mel_transformer.")]
    return not problems, "; ".join(problems[:4]) or f"only the mel transform's buffers reported ({len(lines)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path,
                        help="Spark-TTS checkout or bare git mirror (default: see the docstring)")
    args = parser.parse_args(argv)
    repo = find_official(args.official)
    if repo is None:
        print("skipped: no official Spark-TTS checkout or mirror found, get it with "
              "git clone https://github.com/SparkAudio/Spark-TTS /work/official/Spark-TTS")
        return 0

    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="bicodec-parity-"))
    os.environ.update(HF_HOME=str(work / "hf"), HF_HUB_OFFLINE="1", CODEC_ARENA_OFFLINE="1")
    try:
        sys.path.insert(0, str(official_package(repo, work)))
        import soundfile as sf
        import torch
        from transformers.utils import logging as hf_logging

        from codec_arena import weights
        from codec_arena.audio import Audio
        from codec_arena.codecs import bicodec
        from codec_arena.codecs.base import Codes

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        print(f"official: {repo}")
        config = bicodec.small_config(bicodec.ssl_config(True).hidden_size)
        folder = model_dir(work, config, seed=1234)
        parts = ("config.yaml", f"{bicodec.CODEC_DIR}/config.yaml", bicodec.CHECKPOINT,
                 *(f"{bicodec.SSL_DIR}/{p.name}" for p in (folder / bicodec.SSL_DIR).iterdir()))
        weights.hub_snapshot(bicodec.HUB_ID, files={name: folder / name for name in parts})
        codec = bicodec.load(bicodec.INFOS[0], "cpu")
        ok = True
        for seed, (label, samples) in enumerate(CLIPS.items()):
            audio = seeded_audio(SAMPLE_RATE, samples / SAMPLE_RATE + 1)[:samples]
            wav = work / f"clip{seed}.wav"
            sf.write(wav, audio, SAMPLE_RATE, subtype="FLOAT")  # read back bit for bit as float64
            ref_global, ref_semantic, ref_audio = official_roundtrip(folder, wav)
            codes = codec.encode(Audio(audio[None].astype(np.float32), SAMPLE_RATE), bicodec.KBPS)
            semantic_equal = bool(np.array_equal(codes.tokens[0, : ref_semantic.shape[0]], ref_semantic))
            global_equal = bool(np.array_equal(codes.extras["global_tokens"], ref_global))
            official_codes = Codes.of(codec.info, ref_semantic[None], ref_semantic.shape[0] * codec.hop,
                                      {"global_tokens": ref_global})
            with torch.inference_mode():
                decoded = codec.decode(official_codes).samples[0]
            diff = float(np.max(np.abs(decoded - ref_audio))) if decoded.shape == ref_audio.shape else float("inf")
            ours = codec.decode(codes).samples[0] * float(codes.extras["volume_gain"][0])
            inner = (ref_semantic.shape[0] - codec.decode_context_units - 2) * codec.hop
            passed = semantic_equal and global_equal and diff <= TOLERANCE
            ok &= passed
            print(f"{label}: official {ref_semantic.shape[0]} semantic tokens "
                  f"({len(np.unique(ref_semantic))} distinct), ours {codes.frames}; "
                  f"semantic codes equal: {semantic_equal}; global codes {ref_global.shape} "
                  f"({len(np.unique(ref_global))} distinct) equal: {global_equal}; max abs audio difference decoding "
                  f"the official codes: {diff:.3g} (audio peak {np.abs(ref_audio).max():.3g}) -> "
                  f"{'ok' if passed else 'FAIL'}")
            print(f"  for information: our round trip x volume gain {float(codes.extras['volume_gain'][0]):.4g} vs the "
                  f"official output, first {inner / SAMPLE_RATE:.2f} s: max abs difference "
                  f"{float(np.max(np.abs(ours[:inner] - ref_audio[:inner]))):.3g}")
        written = bicodec.write_random_weights("bicodec", small=True).parent.parent
        loads, detail = official_loads(written / bicodec.CODEC_DIR)
        ok &= loads
        print(f"official BiCodec.load_from_checkpoint loads what our write_random_weights saves: {loads} ({detail})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

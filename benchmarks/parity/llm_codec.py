"""Parity of our LLM-Codec port (UniAudio 1.5) with the official code (yangdongchao/LLM-Codec), on CPU.

Builds the official `MSCodecLM` from the checkout's `config.yaml` (`generator.config`) with seeded
random weights: small widths by default (encoder_dim 4, latent 64, decoder_dim 64, 8-wide embeddings;
the recipe's rates, strides, attention window and codebook sizes 3248 / 32000), or the recipe's full
size with 4096-wide embeddings (`--sizes full`, about 1.1 GB). The official constructor reads its
codebooks from `embed_llama2.pt` (`{'weight': [32000, dim]}`, LLaMA-2's token embeddings) and
`layer1.pth` ([3248, dim]); random ones are written for it. Weight-norm gains, Snake alphas and
LayerNorm affines are perturbed so folding and every parameter matter, and each level's `cb_proj` is
centred on what that level sees, so the codes vary (`spread_codebooks`). The model is saved as the
official checkpoint (`{'codec_model': state_dict}`) at `Dongchao/2024/semantic_acoustic.pth` in a
temporary hub cache; then the same seeded audio goes through the official path (`infer.py`: the
model's forward for the codes, `model.decode(codes)` for the audio) and through ours
(`codec_arena.codecs.llm_codec.load` reading that file, `encode` / `decode`). The decoder adds
noise from torch's global generator (`NoiseBlock`); both decodes start from the same seed, so they
draw the same noise. Prints whether the codes are equal and how far the audio is apart; fails (exit 1)
unless codes are equal and the audio is within 1e-5. It also checks that the official class loads
our `write_random_weights` checkpoint strictly.

    python benchmarks/parity/llm_codec.py [--official PATH] [--sizes small full]

`--official` is a checkout or a bare git mirror of the repository (default: the checkout at
$CODEC_ARENA_OFFICIAL_DIR/LLM-Codec or /work/official/LLM-Codec, else the mirror at
/work/.mirror/yangdongchao+LLM-Codec/repo). From a mirror, `codec/` and `config.yaml` are extracted
with `git archive` into a temporary folder. The official package is imported from there, unmodified;
it needs einops and transformers (imported, unused), which our venv has. No monkeypatches.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from _common import TOLERANCE, default_official, seeded_audio  # noqa: E402

MIRROR = Path("/work/.mirror/yangdongchao+LLM-Codec/repo")
SECONDS = 3.0  # 48000 samples: 12.5 padding units of 3840, so the official padding is exercised
SMALL = dict(encoder_dim=4, latent_dim=64, decoder_dim=64)
SMALL_EMBEDDING = 8
FULL_EMBEDDING = 4096  # LLaMA-2 7B's embedding width
DECODE_SEED = 4321


def official_tree(candidate: Path, work: Path) -> Path | None:
    """A folder holding the official `codec/` and `config.yaml`: the checkout itself, or extracted from a
    (bare) git repository's HEAD; None if neither has them."""
    if (candidate / "codec" / "MSCodec.py").exists():
        return candidate
    for repo in (candidate, MIRROR):
        git_dir = repo / ".git" if (repo / ".git").exists() else repo
        if not git_dir.exists():
            continue
        result = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "HEAD", "codec", "config.yaml"],
                                capture_output=True)
        if result.returncode == 0:
            target = work / "LLM-Codec"
            with tarfile.open(fileobj=io.BytesIO(result.stdout)) as tar:
                tar.extractall(target, filter="data")
            commit = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"],
                                    capture_output=True, text=True).stdout.strip()
            print(f"official: {repo} (HEAD {commit}), extracted to {target}")
            return target
    return None


def official_config(tree: Path, size: str, work: Path) -> dict:
    """config.yaml's `generator.config`, with small widths (`size == "small"`) and random embedding files
    of the shapes the official constructor reads (3248 words; LLaMA-2's 32000 tokens)."""
    import torch
    import yaml

    config = dict(yaml.safe_load((tree / "config.yaml").read_text())["generator"]["config"])
    dim = FULL_EMBEDDING if size == "full" else SMALL_EMBEDDING
    if size == "small":
        config.update(SMALL)
    generator = torch.Generator().manual_seed(7)
    local, global_ = work / f"embed_llama2_{size}.pt", work / f"layer1_{size}.pth"
    torch.save({"weight": torch.randn(32_000, dim, generator=generator)}, local)
    torch.save(torch.randn(3248, dim, generator=generator), global_)
    config.update(local_embedding_path=str(local), global_embedding_path=str(global_))
    return config


def official_model(config: dict, seed: int, audio: np.ndarray):
    import torch
    from codec.MSCodec import MSCodecLM

    torch.manual_seed(seed)
    model = MSCodecLM(**config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("weight_g"):  # fresh weight norm has g = |v|: make the fold matter
                param.mul_(torch.empty_like(param).uniform_(0.5, 1.5))
            elif name.endswith("alpha"):  # Snake starts at 1 everywhere
                param.uniform_(0.5, 1.5)
        for norm in model.modules():
            if isinstance(norm, torch.nn.LayerNorm):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_(0, 0.1)
        spread_codebooks(model, audio)
    return model.eval()


def spread_codebooks(model, audio: np.ndarray) -> None:
    """Centre each level's projected codebook on what that level sees (cb_proj's bias at the mean of its
    input over time, its weight scaled to the input's spread): a random latent has a large common
    component, and random directions around the origin would all pick the same few codes."""
    import torch

    residual = model.encoder(model.preprocess(torch.from_numpy(audio)[None, None]))
    for quantizer in model.quantizer.quantizers:
        pooled = torch.nn.functional.avg_pool1d(residual, quantizer.stride, quantizer.stride)
        mean, std = pooled.mean(dim=(0, 2)), pooled.std(dim=(0, 2))
        quantizer.cb_proj.bias.copy_(mean)
        quantizer.cb_proj.weight.mul_((std * 3**0.5)[:, None])  # uniform(+-1/sqrt(D)) x N(0, 1) rows: var 1/3
        z_q, *_ = quantizer(residual)
        residual = residual - z_q


def official_roundtrip(model, audio: np.ndarray):
    """infer.py: `x, codes, ... = model(wav)` for the codes, `model.decode(codes)` for the audio."""
    import torch

    wav = torch.from_numpy(audio)[None, None]
    with torch.no_grad():
        _, codes, *_ = model(wav)
        again = model.encode(wav)
        assert all(torch.equal(a, b) for a, b in zip(codes, again, strict=True)), "forward and encode disagree"
        torch.manual_seed(DECODE_SEED)
        decoded = model.decode(codes)
    return [c[0].numpy() for c in codes], decoded[0, 0, : audio.size].numpy()


def ours_roundtrip(checkpoint: Path, audio: np.ndarray):
    import torch

    from codec_arena import weights
    from codec_arena.audio import Audio
    from codec_arena.codecs import llm_codec

    info = llm_codec.INFOS[0]
    weights.hub_snapshot(llm_codec.HUB_REPO, files={llm_codec.FILENAME: checkpoint})
    codec = llm_codec.load(info, "cpu")
    codes = codec.encode(Audio(audio[None], info.sample_rate), info.default_bitrate)
    torch.manual_seed(DECODE_SEED)
    decoded = codec.decode(codes).samples[0]
    return [codes.level(k) for k in range(codes.codebooks)], decoded, codec


def official_loads_ours(tree_config: dict, small: bool) -> bool:
    """The official MSCodecLM (strict `load_state_dict`, as infer.py) accepts `write_random_weights`."""
    import torch
    from codec.MSCodec import MSCodecLM

    from codec_arena.codecs import llm_codec

    path = llm_codec.write_random_weights(llm_codec.CODEC_ID, small=small)
    model = MSCodecLM(**tree_config)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu")["codec_model"])
    except RuntimeError as exc:
        print(f"  {exc}")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, default=default_official("LLM-Codec"),
                        help="LLM-Codec checkout or bare git mirror (default: see the docstring)")
    parser.add_argument("--sizes", nargs="+", choices=("small", "full"), default=["small"])
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="llm-codec-parity-"))
    try:
        tree = official_tree(args.official.resolve(), work)
        if tree is None:
            print(f"skipped: official code found neither at {args.official} nor at {MIRROR}, get it with "
                  "git clone https://github.com/yangdongchao/LLM-Codec")
            return 0
        warnings.filterwarnings("ignore")
        os.environ.update(HF_HOME=str(work / "hf"), HF_HUB_OFFLINE="1", CODEC_ARENA_OFFLINE="1")
        sys.path.insert(0, str(tree))
        import torch

        ok = True
        audio = seeded_audio(16_000, SECONDS)
        for seed, size in enumerate(args.sizes):
            config = official_config(tree, size, work)
            model = official_model(config, seed=1234 + seed, audio=audio)
            checkpoint = work / "semantic_acoustic.pth"
            torch.save({"codec_model": model.state_dict()}, checkpoint)
            ref_codes, ref_audio = official_roundtrip(model, audio)
            del model
            codes, decoded, codec = ours_roundtrip(checkpoint, audio)
            codes_equal = len(codes) == len(ref_codes) and all(
                a.shape == b.shape and np.array_equal(a, b) for a, b in zip(codes, ref_codes, strict=False))
            diff = float(np.max(np.abs(ref_audio - decoded))) if ref_audio.shape == decoded.shape else float("inf")
            passed = codes_equal and diff <= TOLERANCE
            ok &= passed
            shapes = " + ".join(str(c.size) for c in codes)
            distinct = ", ".join(str(len(np.unique(c))) for c in codes)
            print(f"llm_codec ({size}: encoder_dim {config['encoder_dim']}, latent {config['latent_dim']}, "
                  f"decoder_dim {config['decoder_dim']}, embeddings {codec.model.config.codebook_dim}-wide): "
                  f"codes {shapes} per level ({distinct} distinct), codes equal: {codes_equal}, "
                  f"max abs audio difference: {diff:.3g} (audio peak {np.abs(ref_audio).max():.3g}) "
                  f"-> {'ok' if passed else 'FAIL'}")
            del codec
            checkpoint.unlink()
            loads = official_loads_ours(config, small=size == "small")
            ok &= loads
            print(f"  official MSCodecLM loads (strictly) what our write_random_weights saves: {loads}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

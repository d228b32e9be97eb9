"""Parity of our HiFi-Codec port with the official code (yangdongchao/AcademiCodec), on CPU.

For each released model (the three `egs/HiFi-Codec-*` recipes, and the large-universal checkpoint,
which its users load with the 16 kHz 320d config) this builds the official `Encoder`, `Quantizer` and
`Generator` from the official config with seeded random weights (weight-norm gains and GroupNorm
affines perturbed too, so folding the weight norm is really exercised; codebooks at the latent's
scale, so codes vary), saves them as the official checkpoint (`{'generator', 'encoder', 'quantizer'}`),
then runs the same seeded audio through the official test-script path (`vqvae_copy_syn.py`:
`VqvaeTester` reading a wav with librosa, weight norm removed; `.vq()` for the codes) and through
ours (`codec_arena.codecs.hifi_codec.load` reading the same file from a temporary hub cache). It
prints whether the codes are equal and how far the audio is apart, and fails (exit 1) unless the
codes are equal and the audio is within 1e-5.

    python benchmarks/parity/hifi_codec.py [--official /work/official/AcademiCodec]

The clip is a whole number of frames: the official encoder drops a trailing partial frame, ours pads
it. The checkout is imported as its scripts expect (its root on sys.path) and never modified. Runtime
workaround: the official tester calls `.cuda()` on the model and the input; `torch.Tensor.cuda` and
`torch.nn.Module.cuda` are patched to stay on the CPU while this script runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from _common import TOLERANCE, default_official, seeded_audio  # noqa: E402

SECONDS = 3.0  # a whole number of frames at every hop (320 and 240)


def stay_on_cpu() -> None:
    """The official tester moves the model and every input to CUDA; here both stay where they are."""
    import torch

    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self


def official_checkpoint(config_path: Path, audio: np.ndarray, path: Path, seed: int) -> None:
    """The official networks, seeded random weights, saved as the official checkpoint dict."""
    import torch
    from academicodec.models.hificodec.env import AttrDict
    from academicodec.models.hificodec.models import Encoder, Generator, Quantizer

    h = AttrDict(json.loads(config_path.read_text()))
    torch.manual_seed(seed)
    encoder, quantizer, generator = Encoder(h), Quantizer(h), Generator(h)
    with torch.no_grad():
        for module in (encoder, generator):
            for name, param in module.named_parameters():
                if name.endswith("weight_g"):  # fresh weight norm has g = |v|: make the fold matter
                    param.mul_(torch.empty_like(param).uniform_(0.5, 1.5))
            for norm in module.modules():
                if isinstance(norm, torch.nn.GroupNorm):
                    norm.weight.uniform_(0.5, 1.5)
                    norm.bias.normal_(0, 0.1)
        latent = encoder(torch.from_numpy(audio)[None, None])
        for codebook in [*quantizer.quantizer_modules, *quantizer.quantizer_modules2]:
            codebook.embedding.weight.normal_(0, float(latent.std()))
    torch.save({"generator": generator.state_dict(), "encoder": encoder.state_dict(),
                "quantizer": quantizer.state_dict()}, path)


def official_roundtrip(config_path: Path, checkpoint: Path, wav_path: Path, sample_rate: int):
    """What `vqvae_copy_syn.py` does (and `VqvaeTester.vq` for the codes)."""
    import torch
    from academicodec.models.hificodec.vqvae_tester import VqvaeTester

    model = VqvaeTester(config_path=str(config_path), model_path=str(checkpoint), sample_rate=sample_rate)
    model.cuda()
    with contextlib.redirect_stdout(io.StringIO()):  # "Removing weight norm..."
        model.vqvae.generator.remove_weight_norm()
        model.vqvae.encoder.remove_weight_norm()
    model.eval()
    with torch.no_grad():
        _, syn = model(str(wav_path))
        _, codes = model.vq(str(wav_path))
    return codes[0].T.numpy(), syn.squeeze().numpy()  # codes (T, 4) -> (4, T)


def official_loads(config_path: Path, checkpoint: Path) -> bool:
    """The official VQVAE (strict load_state_dict of all three parts) accepts the checkpoint."""
    from academicodec.models.hificodec.vqvae import VQVAE

    try:
        VQVAE(str(config_path), str(checkpoint), with_encoder=True)
    except RuntimeError as exc:
        print(f"  {exc}")
        return False
    return True


def ours_roundtrip(codec_id: str, checkpoint: Path, audio: np.ndarray):
    from codec_arena import weights
    from codec_arena.audio import Audio
    from codec_arena.codecs import hifi_codec

    info = next(i for i in hifi_codec.INFOS if i.id == codec_id)
    weights.hub_snapshot(hifi_codec.HUB_REPO, files={hifi_codec.MODELS[codec_id][0]: checkpoint})
    codec = hifi_codec.load(info, "cpu")
    codes = codec.encode(Audio(audio[None], info.sample_rate), info.default_bitrate)
    return codes.tokens, codec.decode(codes).samples[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, default=default_official("AcademiCodec"),
                        help="AcademiCodec checkout (default: $CODEC_ARENA_OFFICIAL_DIR/AcademiCodec, "
                             "else /work/official/AcademiCodec)")
    args = parser.parse_args(argv)
    official = args.official.resolve()
    if not (official / "academicodec" / "models" / "hificodec" / "vqvae_tester.py").exists():
        print(f"skipped: official checkout not found at {official}, get it with "
              "git clone https://github.com/yangdongchao/AcademiCodec")
        return 0

    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="hifi-codec-parity-"))
    os.environ.update(HF_HOME=str(work / "hf"), HF_HUB_OFFLINE="1", CODEC_ARENA_OFFLINE="1")
    sys.path.insert(0, str(official))
    stay_on_cpu()
    import soundfile as sf

    from codec_arena.codecs import hifi_codec

    try:
        print(f"official: {official}")
        ok = True
        for seed, (codec_id, (filename, sample_rate, _, config)) in enumerate(hifi_codec.MODELS.items()):
            config_path = official / config
            audio = seeded_audio(sample_rate, SECONDS)
            wav_path = work / f"{codec_id}.wav"
            sf.write(wav_path, audio, sample_rate, subtype="FLOAT")  # read back bit for bit by librosa
            checkpoint = work / filename
            official_checkpoint(config_path, audio, checkpoint, seed=1234 + seed)
            ref_codes, ref_audio = official_roundtrip(config_path, checkpoint, wav_path, sample_rate)
            codes, decoded = ours_roundtrip(codec_id, checkpoint, audio)
            codes_equal = ref_codes.shape == codes.shape and bool(np.array_equal(ref_codes, codes))
            diff = float(np.max(np.abs(ref_audio - decoded))) if ref_audio.shape == decoded.shape else float("inf")
            passed = codes_equal and diff <= TOLERANCE
            ok &= passed
            print(f"{codec_id} ({config}, {filename}): codes {codes.shape[0]}x{codes.shape[1]} "
                  f"({len(np.unique(codes))} distinct), codes equal: {codes_equal}, "
                  f"max abs audio difference: {diff:.3g} (audio peak {np.abs(ref_audio).max():.3g}) "
                  f"-> {'ok' if passed else 'FAIL'}")
            checkpoint.unlink()
            loads = official_loads(config_path, hifi_codec.write_random_weights(codec_id))
            ok &= loads
            print(f"  official VQVAE loads (strictly) what our write_random_weights saves: {loads}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

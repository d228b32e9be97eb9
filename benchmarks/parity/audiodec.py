"""Parity of our AudioDec port with the official code (facebookresearch/AudioDec), on CPU.

For each codec (the README's AutoEncoder + AD v1 vocoder pairs), this builds the official networks
from the official config.yml files with seeded random weights (codebooks scaled to the encoder's
output so that the codes vary), saves them in the release layout
(`exp/autoencoder/<name>/checkpoint-<N>steps.pkl` with `['model']['generator']`, the vocoder's
stats .npy), runs the official non-streaming path (`codecTest.py::TestMain`: encode -> decode) and
ours (`codec_arena.codecs.audiodec.load` reading the same files) on the same seeded audio, and
prints whether the codes are equal and how far the audio is apart. It fails (exit 1) unless the codes
are equal and the audio is within 1e-5. For information it also prints how far the streaming
`demoFile.py` path is from ours (it warms its buffers up on zeros, so its first frames differ), and
checks that the official loaders accept the random checkpoints our `write_random_weights` writes.

    python benchmarks/parity/audiodec.py [--official /work/official/AudioDec]

The official checkout is imported as its scripts expect (its root on sys.path, paths relative to
the working folder); it is never modified. Workaround, as a runtime patch: `torch.cuda.is_available`
is forced False so the official tester stays on the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
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

SECONDS = 3.0


def spread_codebooks(model, audio: np.ndarray) -> None:
    """Codebooks at the scale of each RVQ stage's residual on this audio (official modules), so the
    codes vary: unit-variance codewords are so far from a random encoder's output that every frame
    would pick the same one, and 'codes equal' would test little."""
    import torch

    with torch.no_grad():
        x = torch.tensor(audio, dtype=torch.float).transpose(1, 0).unsqueeze(1)
        residual = model.projector(model.encoder(x)).transpose(2, 1)
        for layer in model.quantizer.codebook.layers:
            layer.embed.copy_(torch.randn_like(layer.embed) * residual.std())
            layer.embed_avg.copy_(layer.embed)
            residual = residual - layer.forward_index(residual)[0]


def build_official(official: Path, work: Path, release, seed: int, audio: np.ndarray) -> tuple[Path, Path]:
    """Official networks from the official configs, seeded random weights, saved in the release layout."""
    import torch
    import yaml
    from models.autoencoder.AudioDec import Generator as OfficialAutoEncoder
    from models.vocoder.HiFiGAN import Generator as OfficialHiFiGAN

    paths = []
    for kind, name, steps, cls in (("autoencoder", release.autoencoder, release.autoencoder_steps,
                                    OfficialAutoEncoder),
                                   ("vocoder", release.vocoder, release.vocoder_steps, OfficialHiFiGAN)):
        folder = work / "exp" / kind / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(official / "exp" / kind / name / "config.yml", folder / "config.yml")
        config = yaml.load((folder / "config.yml").read_text(), Loader=yaml.Loader)
        torch.manual_seed(seed)
        model = cls(**config["generator_params"])  # reads stats/<name>.npy relative to the working folder
        if kind == "autoencoder":
            spread_codebooks(model, audio)
        path = folder / f"checkpoint-{steps}steps.pkl"
        torch.save({"model": {"generator": model.state_dict()}}, path)
        paths.append(path)
    return paths[0], paths[1]


def run_official(ae_path: Path, voc_path: Path, audio: np.ndarray):
    """codecTest.py's TestMain, as its `run` calls it, plus the codes from the official quantizer."""
    import argparse as ap

    import torch
    from codecTest import TestMain

    tester = TestMain(ap.Namespace(encoder=str(ae_path), decoder=str(voc_path)))
    logging.getLogger().setLevel(logging.WARNING)  # TestGEN logs every step at INFO to stdout
    tester.load_encoder()
    tester.load_decoder()
    with torch.no_grad():
        y = tester.decode(tester.encode(audio))
        x = torch.tensor(audio, dtype=torch.float).transpose(1, 0).unsqueeze(1)
        _, codes = tester.encoder.quantizer.inference(tester.encoder.projector(tester.encoder.encoder(x)))
    return codes.numpy(), y.squeeze(1).transpose(1, 0).numpy()[:, 0]


def run_demo_path(ae_path: Path, voc_path: Path, audio: np.ndarray) -> np.ndarray:
    """demoFile.py's streaming path (warm-up on zeros, then the whole file as one chunk)."""
    import torch
    from utils.audiodec import AudioDec

    with contextlib.redirect_stdout(None):
        codec = AudioDec(tx_device="cpu", rx_device="cpu")
        codec.load_transmitter(str(ae_path))
        codec.load_receiver(str(ae_path), str(voc_path))
    with torch.no_grad():
        x = torch.tensor(audio.T[:, None], dtype=torch.float)
        idx = codec.tx_encoder.quantize(codec.tx_encoder.encode(x))
        y = codec.decoder.decode(codec.rx_encoder.lookup(idx))[:, :, : x.size(-1)]
    return y[0, 0].numpy()


def official_accepts_ours(codec_id: str, official: Path) -> bool:
    """Our write_random_weights(full size) files load strictly in the official classes."""
    import torch
    import yaml
    from models.autoencoder.AudioDec import Generator as OfficialAutoEncoder
    from models.vocoder.HiFiGAN import Generator as OfficialHiFiGAN

    from codec_arena.codecs import audiodec

    audiodec.write_random_weights(codec_id, small=False)
    with contextlib.chdir(audiodec.cache_dir()):
        for path, cls in ((audiodec.autoencoder_checkpoint(codec_id), OfficialAutoEncoder),
                          (audiodec.vocoder_checkpoint(codec_id), OfficialHiFiGAN)):
            config = yaml.load((path.parent / "config.yml").read_text(), Loader=yaml.Loader)
            model = cls(**config["generator_params"])
            try:
                model.load_state_dict(torch.load(path, map_location="cpu")["model"]["generator"])  # strict
            except RuntimeError as exc:
                print(f"  {path}: {exc}")
                return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, default=default_official("AudioDec"))
    args = parser.parse_args(argv)
    official = args.official.resolve()
    if not (official / "codecTest.py").exists():
        print(f"skipped: official checkout not found at {official}, get it with "
              "git clone https://github.com/facebookresearch/AudioDec")
        return 0

    import torch

    warnings.filterwarnings("ignore", category=FutureWarning)  # torch's weight_norm deprecation, in official code
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.cuda.is_available = lambda: False  # the official tester moves to CUDA whenever it can
    sys.path.insert(0, str(official))  # official scripts import `models`, `layers`, `bin`, `utils` from their root

    from codec_arena.audio import Audio
    from codec_arena.codecs import audiodec, codec_info

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "official")
        work = audiodec.cache_dir()  # our loader's folder doubles as the official working folder
        (work / "stats").mkdir(parents=True)
        for seed, (codec_id, release) in enumerate(audiodec.RELEASES.items()):
            info = codec_info(codec_id)
            shutil.copyfile(official / "stats" / f"{release.stats}.npy", work / "stats" / f"{release.stats}.npy")
            audio = seeded_audio(info.sample_rate, SECONDS)[:, None]  # (T, 1), as sf.read
            with contextlib.chdir(work):
                ae_path, voc_path = build_official(official, work, release, seed, audio)
                official_codes, official_audio = run_official(ae_path, voc_path, audio)
                demo_audio = run_demo_path(ae_path, voc_path, audio)
            codec = audiodec.load(info, "cpu")
            codes = codec.encode(Audio(np.ascontiguousarray(audio.T), info.sample_rate), info.bitrates_kbps[-1])
            ours = codec.decode(codes).samples[0]
            equal = codes.tokens.shape == official_codes.shape and bool(np.array_equal(codes.tokens, official_codes))
            diff = float(np.abs(ours - official_audio).max())
            head = int(0.05 * info.sample_rate)
            demo_head = float(np.abs(ours[:head] - demo_audio[:head]).max())
            demo_rest = float(np.abs(ours[head * 10:] - demo_audio[head * 10:]).max())
            ok = equal and diff <= TOLERANCE
            failures += not ok
            print(f"{codec_id} ({release.demo_name}: {release.autoencoder} + {release.vocoder}), "
                  f"{SECONDS:g} s at {info.sample_rate} Hz, codes {codes.tokens.shape[0]}x{codes.tokens.shape[1]}")
            print(f"  codes equal: {equal} ({len(np.unique(codes.tokens))} distinct codes)")
            print(f"  max abs diff of audio vs codecTest.py path: {diff:.3g} (tolerance {TOLERANCE:g}; "
                  f"output RMS {float(np.sqrt(np.mean(official_audio ** 2))):.3g})  {'OK' if ok else 'FAIL'}")
            print(f"  (info) demoFile.py streaming path vs ours: max abs diff {demo_head:.3g} in the first 50 ms, "
                  f"{demo_rest:.3g} after 0.5 s")
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "ours")
        for codec_id in audiodec.RELEASES:
            accepted = official_accepts_ours(codec_id, official)
            failures += not accepted
            print(f"{codec_id}: official loaders accept our write_random_weights files (strict): {accepted}")
    print("PASS" if not failures else f"FAIL ({failures} model(s))")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

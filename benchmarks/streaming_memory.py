"""Peak memory of `codec-arena encode`, `decode` and `roundtrip` on a 1-minute and a 60-minute file,
and their ratio (goal: at most 1.2), measured in one run.

    python benchmarks/streaming_memory.py [--minutes 1 60] [--codecs encodec_24khz dac_16khz] [--small]

Each command runs as its own process; its peak resident memory is the kernel's (wait4's ru_maxrss),
so the figure is the whole process: Python, torch, the model and the audio it holds. The input is
speech (assets/speech_arctic_a0007.wav) looped to length at 44.1 kHz stereo, so encoding also
resamples and downmixes. Weights are random (the real architecture, in a temporary cache): EnCodec's
loader always builds the full-size model; DAC is full size unless `--small` (the full 16 kHz DAC
runs at about 0.2x real time on two CPU cores, so an hour of it takes hours there).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_input(path: Path, minutes: float) -> None:
    """Written block by block, so making an hour of audio holds ten seconds at a time."""
    import numpy as np
    import soundfile as sf

    speech, rate = sf.read(ROOT / "assets" / "speech_arctic_a0007.wav", dtype="float32")
    import soxr

    speech = soxr.resample(speech, rate, 44_100).astype(np.float32)
    block = np.tile(speech, int(np.ceil(10 * 44_100 / len(speech))))[: 10 * 44_100]
    stereo = np.stack([block, 0.5 * block], axis=1)
    total = int(minutes * 60 * 44_100)
    with sf.SoundFile(path, "w", samplerate=44_100, channels=2, subtype="PCM_16") as out:
        for start in range(0, total, len(stereo)):
            out.write(stereo[: min(len(stereo), total - start)])


def peak_mb(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one CLI command."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "codec_arena.cli", *args, "--json"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: {process.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs=2, default=[1.0, 60.0])
    parser.add_argument("--codecs", nargs="*", default=["encodec_24khz", "dac_16khz"])
    parser.add_argument("--small", action="store_true", help="small DAC config (the engine's memory, faster)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="codec-arena-memory-"))
    env = {**os.environ, "HOME": str(work / "home"), "TORCH_HOME": str(work / "torch"), "HF_HOME": str(work / "hf"),
           "HF_HUB_OFFLINE": "1", "CODEC_ARENA_OFFLINE": "1", "CODEC_ARENA_DEVICE": "cpu"}
    for codec_id in args.codecs:
        small = ["--small"] if args.small and codec_id.startswith("dac") else []
        subprocess.run([sys.executable, "-m", "codec_arena.testing", codec_id, *small], cwd=ROOT, env=env,
                       check=True, capture_output=True)
    inputs = {}
    for minutes in args.minutes:
        inputs[minutes] = work / f"speech_{minutes:g}min.wav"
        make_input(inputs[minutes], minutes)
    print(f"{'codec':15} {'command':10} " + " ".join(f"{f'{m:g} min MiB':>12} {'s':>7}" for m in args.minutes)
          + f" {'ratio':>6}", flush=True)
    for codec_id in args.codecs:
        rows = {}
        for minutes, path in inputs.items():
            codes, out = work / f"{codec_id}_{minutes:g}.npz", work / f"{codec_id}_{minutes:g}.wav"
            rows.setdefault("encode", []).append(peak_mb(["encode", str(path), "--codec", codec_id,
                                                          "--out", str(codes)], env))
            rows.setdefault("decode", []).append(peak_mb(["decode", str(codes), "--out", str(out)], env))
            rows.setdefault("roundtrip", []).append(peak_mb(["roundtrip", str(path), "--codec", codec_id,
                                                             "--out", str(out)], env))
        for command, figures in rows.items():
            cells = " ".join(f"{mb:12.0f} {s:7.0f}" for mb, s in figures)
            print(f"{codec_id:15} {command:10} {cells} {figures[-1][0] / figures[0][0]:6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

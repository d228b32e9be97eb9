"""Every runnable codec LM on this machine: tokens/s, frames/s and real-time factor of a short
generation, load time and peak memory, through the app's path (`codec_arena.lms.generate`).

    python benchmarks/lms.py [--seconds 2] [--models musicgen_small bark_small ...] [--device cpu|cuda]

One process per model, so memory figures are its own. Models use their real checkpoints when they are
cached and random weights at REAL size otherwise (a temporary cache): the audio is noise, the timings
and memory are real. Random weights never emit a stop token, so every model generates exactly
`--seconds`. The `est/actual` column checks the CPU wait the app announces (`LMInfo.cpu_frames_per_s`)
against the time measured now; the warm second request checks the model cache (no new load).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def prompt_for(rate: int, seconds: float = 3.0):
    """A voiced, pitch-gliding signal as a stand-in voice/melody prompt."""
    from codec_arena.audio import Audio

    t = np.arange(int(seconds * rate)) / rate
    pitch = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(pitch) / rate) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    mono = 0.2 * voiced * envelope + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    return Audio(mono[None].astype(np.float32), rate)


def measure(lm_id: str, seconds: float, threads: int, device: str) -> str:
    import torch

    from codec_arena import quiet_library_warnings, weights
    from codec_arena.lms import GenerationRequest, estimate_seconds, generate, lm_info, weight_spec
    from codec_arena.memory import peak_memory
    from codec_arena.runtime import cache
    from codec_arena.testing import write_random_weights

    quiet_library_warnings()
    torch.set_num_threads(threads)
    info = lm_info(lm_id)
    spec = weight_spec(lm_id)
    kind = "real"
    if not spec.path.exists() or weights.is_random(spec.path):
        tmp = tempfile.mkdtemp(prefix="codec-arena-lm-bench-")
        os.environ.update(TORCH_HOME=f"{tmp}/torch", HOME=f"{tmp}/home", HF_HOME=f"{tmp}/hf",
                          XDG_CACHE_HOME=f"{tmp}/cache", HF_HUB_OFFLINE="1")
        write_random_weights(lm_id)
        if info.does("tts"):  # VALL-E X encodes the voice prompt with our codec; the others carry their own
            from codec_arena.codecs import weight_spec as codec_weight_spec

            spec = codec_weight_spec(info.codec_id)
            if spec is not None and not spec.path.exists():
                with contextlib.suppress(ImportError):  # its package may be missing (a bare GPU image)
                    write_random_weights(info.codec_id)
        kind = "random"
    task = info.tasks[0]
    prompt = prompt_for(info.sample_rate) if task in ("tts", "continuation", "melody") else None
    request = GenerationRequest(task=task, text="A short sentence for the benchmark, said clearly.",
                                prompt=prompt, prompt_text="A voiced test signal.", max_seconds=seconds,
                                speaker=info.speakers[0] if info.speakers else "")
    with peak_memory(device) as memory:
        first = generate(lm_id, request, device=device)
    estimate = estimate_seconds(lm_id, seconds, device)
    loads = cache.loads
    second = generate(lm_id, request, device=device)  # warm: timings without loading
    assert cache.loads == loads, "the second request loaded the model again"
    est = f"{estimate / second.generate_s:6.2f}" if estimate else f"{'—':>6}"
    return (f"{lm_id:16} {task:12} {kind:6} {second.codes.codebooks:>3}x{second.codes.frames:<5} "
            f"{first.load_s:>7.1f} {second.generate_s:>7.2f} {second.decode_s:>6.2f} {second.tokens_per_s:>8.1f} "
            f"{second.frames_per_s:>7.2f} {second.real_time_factor:>7.2f} {memory.peak_mb:>8.0f} {est}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0, help="audio to generate per model")
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(measure(args.one, args.seconds, args.threads, args.device), flush=True)
        return

    import subprocess

    import torch

    from codec_arena.lms import list_lms

    ids = args.models or [info.id for info in list_lms()]
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {args.threads} threads"
    print(f"torch {torch.__version__}, {where}, {args.seconds:g} s generated per model; one process per model")
    print(f"{'model':16} {'task':12} {'weights':6} {'codes':9} {'load s':>7} {'gen s':>7} {'dec s':>6} "
          f"{'tokens/s':>8} {'frames/s':>7} {'RTF':>7} {'peak MB':>8} est/actual")
    for lm_id in ids:
        run = subprocess.run([sys.executable, __file__, "--one", lm_id, "--seconds", str(args.seconds),
                              "--threads", str(args.threads), "--device", args.device], capture_output=True, text=True)
        print(run.stdout.strip() if run.returncode == 0 else f"{lm_id:16} failed: {run.stderr[-400:]}", flush=True)


if __name__ == "__main__":
    main()

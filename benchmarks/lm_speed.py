"""Codec-LM decoding speed, reference path vs fast path, in one process, greedy (top-k 1), with the
greedy tokens compared token for token, and the fp32 floor a step cannot go under on this machine.

    python benchmarks/lm_speed.py [--seconds 2] [--models vallex musicgen_small] [--threads 2] [--repeats 2]

Random weights at REAL size in a temporary cache (as benchmarks/lms.py does; real checkpoints are not
needed for timing): random weights never emit a stop token, so both paths generate exactly
`--seconds`. The two paths alternate (before, after, before, after, ...) so that a machine whose load
changes meanwhile slows both alike; the figures are the best of `--repeats` runs each. "Before" is
the models' reference path (`fast=False`, what `CODEC_ARENA_LM_FAST=0` selects in the app), not a copy;
a model without a fast path runs its one path twice.

The floor: one decoding step reads every weight of the autoregressive decoder once, so a step takes at
least (those weights' bytes) / (the memory bandwidth a matrix-vector product reaches here, measured in
the same process). `ms/frame` (one step's frame, all codebooks; VALL-E X's includes its NAR) against
`floor` shows how much any fp32 change could still gain.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = ("vallex", "musicgen_small")
STEP_WEIGHTS = {  # what one autoregressive step reads: the decoder stack and its heads
    "vallex": lambda lm: [lm.valle.ar_decoder, lm.valle.ar_predict_layer, lm.valle.ar_audio_embedding],
    "musicgen_small": lambda lm: [lm.model.decoder],
}
STEP_FRAMES = {"vallex": 1, "musicgen_small": 1}  # codec frames each step adds (all codebooks at once)


def bandwidth_gb_s() -> float:
    """The bandwidth a batch-2 matrix-vector product reaches on a 256 MB fp32 matrix (a decoding step's
    shape: weights read once, little arithmetic)."""
    import time

    import torch

    weights, x = torch.randn(8192, 8192), torch.randn(2, 8192)
    best = float("inf")
    for _ in range(6):
        started = time.perf_counter()
        x @ weights.T
        best = min(best, time.perf_counter() - started)
    return weights.numel() * 4 / best / 1e9


def step_bytes(lm_id: str, lm) -> int:
    modules = STEP_WEIGHTS[lm_id](lm)
    unique = {id(p): p for module in modules for p in module.parameters()}
    return sum(p.numel() * p.element_size() for p in unique.values())


def use_random_cache(lm_id: str) -> None:
    """Point every cache at a temporary folder and write random weights there at real size."""
    tmp = tempfile.mkdtemp(prefix="codec-arena-lm-speed-")
    os.environ.update(TORCH_HOME=f"{tmp}/torch", HOME=f"{tmp}/home", HF_HOME=f"{tmp}/hf",
                      XDG_CACHE_HOME=f"{tmp}/cache", HF_HUB_OFFLINE="1", CODEC_ARENA_OFFLINE="1")
    from codec_arena.lms import lm_info
    from codec_arena.testing import write_random_weights

    write_random_weights(lm_id)
    if lm_info(lm_id).does("tts"):  # VALL-E X encodes its voice prompt with our EnCodec
        write_random_weights(lm_info(lm_id).codec_id)


def request_for(lm_id: str, seconds: float):
    from lms import prompt_for

    from codec_arena.lms import GenerationRequest, lm_info

    info = lm_info(lm_id)
    task = info.tasks[0]
    prompt = prompt_for(info.sample_rate) if task in ("tts", "continuation", "melody") else None
    return GenerationRequest(task=task, text="A short sentence for the benchmark, said clearly.", prompt=prompt,
                             prompt_text="A voiced test signal.", max_seconds=seconds, top_k=1)  # greedy


def measure(lm_id: str, seconds: float, repeats: int) -> str:
    """Alternate reference and fast generations on one loaded model; best tokens/s of each."""
    import inspect

    import torch

    from codec_arena.lms.registry import get_lm

    lm = get_lm(lm_id, "cpu")
    request = request_for(lm_id, seconds)
    has_fast = "fast" in inspect.signature(lm.generate).parameters
    rates: dict[bool, list[float]] = {False: [], True: []}
    tokens: dict[bool, np.ndarray] = {}
    for _ in range(repeats):
        for fast in (False, True):
            torch.manual_seed(0)
            options = {"fast": fast} if has_fast else {}
            raw = lm.generate(request, lambda fraction, message: None, **options)
            tokens[fast] = raw.codes.tokens
            rates[fast].append(tokens[fast].size / max(raw.generate_s, 1e-9))
    before, after = max(rates[False]), max(rates[True])
    same = tokens[False].shape == tokens[True].shape
    equal = int((tokens[False] == tokens[True]).sum()) if same else 0
    codebooks = tokens[True].shape[0]
    step_ms = 1000 * codebooks * STEP_FRAMES[lm_id] / after
    floor_ms = 1000 * step_bytes(lm_id, lm) / 1e9 / bandwidth_gb_s()
    return (f"{lm_id:16} {codebooks}x{tokens[True].shape[1]:<6} {before:>10.1f} {after:>10.1f} "
            f"{after / before:>6.2f}x {equal:>6}/{tokens[False].size:<6} {step_ms:>8.0f} {floor_ms:>6.0f} "
            f"{'' if has_fast else '(no fast path) '}"
            f"(runs before: {', '.join(f'{r:.1f}' for r in rates[False])}; after: "
            f"{', '.join(f'{r:.1f}' for r in rates[True])})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="audio to generate per run")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each path (alternating)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import torch

        from codec_arena import quiet_library_warnings

        quiet_library_warnings()
        torch.set_num_threads(args.threads)
        use_random_cache(args.one)
        print(measure(args.one, args.seconds, args.repeats), flush=True)
        return

    import subprocess

    import torch

    print(f"torch {torch.__version__}, CPU, {args.threads} threads, fp32, greedy, {args.seconds:g} s per run, "
          f"best of {args.repeats} alternating runs; random weights at real size; one process per model")
    print(f"{'model':16} {'codes':8} {'before t/s':>10} {'after t/s':>10} {'ratio':>7} {'equal/total':>13} "
          f"{'ms/frame':>8} {'floor':>6}")
    for lm_id in args.models:
        run = subprocess.run([sys.executable, __file__, "--one", lm_id, "--seconds", str(args.seconds),
                              "--threads", str(args.threads), "--repeats", str(args.repeats)],
                             capture_output=True, text=True)
        print(run.stdout.strip() if run.returncode == 0 else f"{lm_id:16} failed: {run.stderr[-600:]}", flush=True)


if __name__ == "__main__":
    main()

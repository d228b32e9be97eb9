"""Live audio from a streaming codec LM (the Codec LM tab's live player): how soon the first audio comes,
and what decoding while generating costs, in one process, with and without the live decoding.

    python benchmarks/lm_streaming.py [--seconds 3] [--models musicgen_small] [--threads 2] [--repeats 1]

Random weights at REAL size in a temporary cache (as benchmarks/lm_speed.py does); greedy decoding, so
both runs write the same tokens, which the script checks, with the live pieces laid end to end against
the returned audio (max |Δ|). The runs alternate (plain, live, plain, live, ...); figures are medians.
"first audio" is the wall time from the call to the first piece; "wall" is the whole call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = ("musicgen_small",)


def measure(lm_id: str, seconds: float, repeats: int) -> str:
    from lm_speed import request_for

    from codec_arena.lms import generate

    request = request_for(lm_id, seconds)
    generate(lm_id, request)  # load once, outside the timings
    walls: dict[bool, list[float]] = {False: [], True: []}
    first: list[float] = []
    tokens: dict[bool, np.ndarray] = {}
    worst = 0.0
    pieces: list[tuple[float, np.ndarray]] = []
    for _ in range(repeats):
        for live in (False, True):
            pieces.clear()
            started = time.perf_counter()
            sink = (lambda piece, t0=started: pieces.append((time.perf_counter() - t0, piece))) if live else None
            result = generate(lm_id, request, on_audio=sink)
            walls[live].append(time.perf_counter() - started)
            tokens[live] = result.codes.tokens
            if live:
                first.append(pieces[0][0])
                joined = np.concatenate([piece for _, piece in pieces])
                worst = max(worst, float(np.abs(joined - result.audio.samples[0]).max()))
    plain, live = statistics.median(walls[False]), statistics.median(walls[True])
    equal = np.array_equal(tokens[False], tokens[True])
    return (f"{lm_id:16} {seconds:>5g} s {statistics.median(first):>10.2f} s {plain:>9.2f} s {live:>9.2f} s "
            f"{live / plain:>6.3f}x  {len(pieces):>6}  tokens {'equal' if equal else 'DIFFER'}, "
            f"pieces vs audio max|Δ| {worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="audio to generate per run")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each kind (alternating)")
    args = parser.parse_args()
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # writing and loading the weights: no bars
    import torch
    from lm_speed import use_random_cache

    from codec_arena import quiet_library_warnings

    quiet_library_warnings()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU, {args.threads} threads, fp32, greedy; random weights at real size; "
          f"medians of {args.repeats} alternating runs each")
    print(f"{'model':16} {'audio':>7} {'first audio':>12} {'wall plain':>11} {'wall live':>11} {'ratio':>7}  "
          f"{'pieces':>6}")
    for lm_id in args.models:
        use_random_cache(lm_id)
        print(measure(lm_id, args.seconds, args.repeats), flush=True)


if __name__ == "__main__":
    main()

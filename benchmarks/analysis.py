"""The whole metric suite on a 10 s clip, as a ratio of that clip's codec round trip.

    python benchmarks/analysis.py [--seconds 10] [--codecs encodec_24khz dac_16khz opus]

Per codec: the round trip (warm cache), then `metrics.score` on its output, each metric timed too.
Speech is the CMU ARCTIC example, looped to length. Neural codecs use random weights at real size
when the real ones are not cached (timings are real either way).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def time_each_metric(metrics, ref: np.ndarray, est: np.ndarray, rate: int) -> dict[str, float]:
    calls = {
        "si_sdr": lambda: metrics.si_sdr(ref, est),
        "mel": lambda: metrics.mel_distance(ref, est, rate),
        "stft": lambda: metrics.stft_distance(ref, est),
        "pesq": lambda: (metrics.pesq_score(ref, est, rate, "wb"), metrics.pesq_score(ref, est, rate, "nb")),
        "stoi": lambda: (metrics.stoi_score(ref, est, rate, False), metrics.stoi_score(ref, est, rate, True)),
        "visqol": lambda: (metrics.visqol_score(ref, est, rate, "speech"),
                           rate >= 32_000 and metrics.visqol_score(ref, est, rate, "audio")),
        "speaker": lambda: metrics.speaker_similarity(ref, est, rate),
    }
    each = {}
    for key, call in calls.items():
        started = time.perf_counter()
        with contextlib.suppress(metrics.NotApplicable):
            call()
        each[key] = time.perf_counter() - started
    return each


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--codecs", nargs="*", default=["encodec_24khz", "dac_16khz", "dac_44khz", "opus", "mp3"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from codec_arena import quiet_library_warnings, weights
    from codec_arena.analysis import metrics
    from codec_arena.audio import Audio, load_audio
    from codec_arena.codecs import weight_spec
    from codec_arena.roundtrip import roundtrip
    from codec_arena.testing import write_random_weights

    quiet_library_warnings()
    torch.set_num_threads(args.threads)
    speech = load_audio(ROOT / "assets" / "speech_arctic_a0007.wav")
    reps = int(np.ceil(args.seconds / speech.duration))
    clip = Audio(np.tile(speech.samples, reps)[:, : int(args.seconds * speech.sample_rate)], speech.sample_rate)
    tmp = tempfile.mkdtemp(prefix="codec-arena-bench-")
    print(f"torch {torch.__version__}, CPU, {args.threads} threads, {clip.duration:g} s of speech")
    print(f"{'codec':15} {'round trip s':>12} {'metrics s':>10} {'ratio':>7}  slowest metrics")
    warmed = False
    for codec_id in args.codecs:
        spec = weight_spec(codec_id)
        if spec is not None and (not spec.path.exists() or weights.is_random(spec.path)):
            os.environ.update(TORCH_HOME=f"{tmp}/torch", HOME=f"{tmp}/home")
            if not spec.path.exists():
                write_random_weights(codec_id)
        result = roundtrip(clip, codec_id)  # load and warm
        result = roundtrip(clip, codec_id)
        trip = result.encode_s + result.decode_s
        ref, est, _ = metrics.align(result.input, result.output)
        if not warmed:  # first use loads ViSQOL's model and Resemblyzer's encoder, and JIT-compiles
            metrics.score(result.input, result.output)
            warmed = True
        started = time.perf_counter()
        metrics.score(result.input, result.output)
        total = time.perf_counter() - started
        each = time_each_metric(metrics, ref, est, result.input.sample_rate)
        slowest = ", ".join(f"{k} {v:.2f}s" for k, v in sorted(each.items(), key=lambda kv: -kv[1])[:4])
        print(f"{codec_id:15} {trip:>12.3f} {total:>10.3f} {total / trip:>7.2f}  {slowest}", flush=True)


if __name__ == "__main__":
    main()

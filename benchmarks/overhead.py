"""Every codec's CPU round trip: real-time factor and peak memory, and the app's path against the
bare library call where we have one, measured in one run.

    python benchmarks/overhead.py [--seconds 10] [--repeats 3] [--codecs dac_44khz opus ...]

For each codec (one process each, so memory figures are its own) both paths get the same clip,
already at the codec's rate and channel count, and run alternately; the ratio is median(app) /
median(bare) (goal <= 1.05). Codecs whose inference lives in this project (ports) or whose bare call
is the same as ours show only the app path. Then a second app request checks the warm cache: no model
load. Neural codecs use the real checkpoints when they are in the cache and random weights at real size
otherwise (a temporary cache): timings are real either way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bare_call(codec_id: str, samples: np.ndarray, rate: int, kbps: float):
    """What a user of the official package writes: its loader, then its encode/decode calls (None
    where we have no separate recipe)."""
    import torch

    if codec_id.startswith("encodec_"):
        from encodec import EncodecModel

        model = getattr(EncodecModel, f"encodec_model_{codec_id.split('_')[1]}")().eval()
        model.set_target_bandwidth(kbps)

        def run():
            with torch.inference_mode():
                return model.decode(model.encode(torch.from_numpy(samples)[None]))
        return run
    if codec_id.startswith("dac_"):
        import dac
        from audiotools import AudioSignal

        from codec_arena.codecs import codec_info

        model = dac.utils.load_model(model_type=codec_id.split("_")[1]).eval()
        n = codec_info(codec_id).codebooks_for(kbps)

        def run():
            with torch.inference_mode():
                packed = model.compress(AudioSignal(torch.from_numpy(samples)[None], rate), win_duration=10.0,
                                        n_quantizers=n)
                return model.decompress(packed)
        return run
    from codec_arena.audio import Audio
    from codec_arena.codecs.classical import INFOS, ClassicalCodec

    info = next((info for info in INFOS if info.id == codec_id), None)
    if info is None:
        return None
    codec = ClassicalCodec(info)
    return lambda: codec.decode(codec.encode(Audio(samples, rate), kbps))


def measure(codec_id: str, seconds: float, repeats: int, threads: int) -> str:
    """One codec, in a fresh process (so its memory figures are its own); returns a table row."""
    import torch

    from codec_arena import quiet_library_warnings, weights
    from codec_arena.audio import Audio
    from codec_arena.codecs import codec_info, weight_spec
    from codec_arena.roundtrip import roundtrip
    from codec_arena.runtime import cache
    from codec_arena.testing import write_random_weights

    quiet_library_warnings()
    torch.set_num_threads(threads)
    info, spec = codec_info(codec_id), weight_spec(codec_id)
    kind = "none"
    if spec is not None:
        kind = "real"
        if not spec.path.exists() or weights.is_random(spec.path):
            tmp = tempfile.mkdtemp(prefix="codec-arena-bench-")
            os.environ.update(TORCH_HOME=f"{tmp}/torch", HOME=f"{tmp}/home", HF_HOME=f"{tmp}/hf",
                              XDG_CACHE_HOME=f"{tmp}/cache", HF_HUB_OFFLINE="1")
            write_random_weights(codec_id)
            kind = "random"
    # DAC's decompress() crashes within 8 samples of a frame boundary: keep 100 samples clear of it
    frames = int(seconds * info.sample_rate) - 100 * codec_id.startswith("dac_")
    t = np.arange(frames) / info.sample_rate
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2
    mono += 0.02 * np.random.default_rng(0).standard_normal(frames)
    samples = np.repeat(mono[None], info.channels_for(1), 0).astype(np.float32)
    audio, kbps = Audio(samples, info.sample_rate), info.default_bitrate

    first = roundtrip(audio, codec_id, kbps, device="cpu")  # loads the cached codec; memory of a first call
    bare = bare_call(codec_id, samples, info.sample_rate, kbps)
    if bare:
        bare()  # warm the bare model too
    bare_times, app_times = [], []
    for _ in range(repeats):  # alternate, so drift in machine load hits both alike
        if bare:
            started = time.perf_counter()
            bare()
            bare_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        roundtrip(audio, codec_id, kbps, device="cpu")
        app_times.append(time.perf_counter() - started)
    loads = cache.loads
    warm = roundtrip(audio, codec_id, kbps, device="cpu")
    second = f"loads +{cache.loads - loads}, {warm.load_s * 1000:.2f} ms"
    a = statistics.median(app_times)
    b, ratio = (f"{statistics.median(bare_times):7.3f}", f"{a / statistics.median(bare_times):6.3f}") if bare \
        else (f"{'—':>7}", f"{'—':>6}")
    return (f"{codec_id:30} {kbps:>6.3g} {kind:7} {b} {a:>7.3f} {ratio} {a / seconds:>6.3f} "
            f"{first.peak_memory_mb:>7.0f} {first.peak_process_mb:>8.0f}  {second}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--codecs", nargs="*")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(measure(args.one, args.seconds, args.repeats, args.threads), flush=True)
        return

    import subprocess

    import torch

    from codec_arena.codecs import list_codecs

    ids = args.codecs or [info.id for info in list_codecs() if not info.encode_only]  # a round trip decodes
    print(f"torch {torch.__version__}, CPU, {args.threads} threads, {args.seconds:g} s clip, "
          f"median of {args.repeats}; one process per codec")
    print(f"{'codec':30} {'kbps':>6} {'weights':7} {'bare s':>7} {'app s':>7} {'ratio':>6} {'RTF':>6} "
          f"{'+MB':>7} {'peak MB':>8}  second request")
    for codec_id in ids:
        run = subprocess.run([sys.executable, __file__, "--one", codec_id, "--seconds", str(args.seconds),
                              "--repeats", str(args.repeats), "--threads", str(args.threads)],
                             capture_output=True, text=True)
        print(run.stdout.strip() if run.returncode == 0 else f"{codec_id:30} failed: {run.stderr[-300:]}",
              flush=True)


if __name__ == "__main__":
    main()

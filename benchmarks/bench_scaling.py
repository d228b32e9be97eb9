"""Throughput of `codec-arena bench` (clips per second) on 1 worker, a pool of N and Ray, in one run.

    python benchmarks/bench_scaling.py [--clips 24] [--seconds 3] [--workers 2] [--codec dac_16khz@6]
                                       [--full] [--device cuda]

Each executor runs the same generated dataset from an empty output folder, as a user's command would
(`codec-arena bench` in its own process, so model loads and process start-up count), with Codec-SUPERB's
seven metrics. Ray runs on a one-node cluster started here with `ray start --head` on 127.0.0.1 (usage
stats off) and joined by address. Prints clips/s for each and the ratios to the serial run. Random
weights (small DAC unless --full): the timings are real, the audio is not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_clips(folder: Path, count: int, seconds: float, rate: int = 16_000) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        t = np.arange(int(seconds * rate)) / rate
        f0 = 100 + 10 * i + 20 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voiced = sum(np.sin(k * phase) / k for k in range(1, 10)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
        split = ("Speech", "Audio", "Music")[i % 3]
        (folder / split).mkdir(parents=True, exist_ok=True)
        sf.write(folder / split / f"{i:03}.wav", (0.15 * voiced + 0.01 * rng.standard_normal(t.size)), rate)


def run(data: Path, out: Path, point: str, env: dict, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "codec_arena.cli", "bench", str(data), "--codec", point, "--out", str(out),
               "--json", *extra]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(extra) or 'serial'} failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    return result | {"wall_s": wall, "wall_clips_per_s": result["done"] / wall}


def stop_cluster(temp: str) -> None:
    """Stop the cluster started here only (`ray stop` would stop every Ray on the machine)."""
    import psutil

    owned = [p for p in psutil.process_iter(["cmdline"]) if temp in " ".join(p.info["cmdline"] or [])]
    family = set(owned) | {c for p in owned for c in p.children(recursive=True)}
    for proc in family:
        proc.terminate()
    for proc in psutil.wait_procs(family, timeout=15)[1]:
        proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--codec", default="dac_16khz@6")
    parser.add_argument("--full", action="store_true", help="full-size random weights")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: a GPU when there is one")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="codec-arena-scaling-"))
    env = os.environ | {"HOME": str(cache), "TORCH_HOME": str(cache / "torch"), "HF_HOME": str(cache / "hf"),
                        "HF_HUB_OFFLINE": "1", "CODEC_ARENA_OFFLINE": "1", "CODEC_ARENA_DATA_DIR": str(cache / "data"),
                        "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    os.environ.update(env)
    from codec_arena import quiet_library_warnings
    from codec_arena.testing import write_random_weights

    quiet_library_warnings()
    codec_id = args.codec.split("@")[0]
    write_random_weights(codec_id, small=not args.full)
    data = cache / "data-clips"
    make_clips(data, args.clips, args.seconds)
    device = ["--device", args.device] if args.device else []
    print(f"{args.clips} clips of {args.seconds:g} s through {args.codec} ({'full' if args.full else 'small'} random "
          f"weights), Codec-SUPERB metrics, {os.cpu_count()} CPUs")

    results = {"1 worker": run(data, cache / "serial", args.codec, env, device)}
    results[f"pool of {args.workers}"] = run(data, cache / "pool", args.codec, env,
                                             ["--workers", str(args.workers), *device])
    ray = Path(sys.executable).parent / "ray"
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    port = "6390"
    subprocess.run([str(ray), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                    "--ray-client-server-port=10091", "--disable-usage-stats", "--include-dashboard=false",
                    f"--temp-dir={temp}"],
                   env=env, capture_output=True, check=True)
    try:
        results[f"Ray, {args.workers} actors"] = run(data, cache / "ray", args.codec, env,
                                                     ["--ray", f"127.0.0.1:{port}", "--workers", str(args.workers),
                                                      *device])
    finally:
        stop_cluster(temp)
        shutil.rmtree(temp, ignore_errors=True)

    base = results["1 worker"]
    print(f"{'executor':16} {'clips/s (run)':>14} {'clips/s (wall)':>15} {'ratio to 1 worker':>18}")
    for name, r in results.items():
        print(f"{name:16} {r['clips_per_second']:14.3f} {r['wall_clips_per_s']:15.3f} "
              f"{r['clips_per_second'] / base['clips_per_second']:18.2f}")
    print("clips/s (run): from the first job to the last row, as the CLI reports it; (wall): the whole command, "
          "process and worker start-up included.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`codec-arena compare` against codecscope (PyPI), the peer tool that reports the same family of
figures, on one clip, codec and weights: median wall times of whole processes and the ratio, in one run.

    python benchmarks/compare_vs_codecscope.py [--runs 3] [--seconds 4] [--baseline PATH]

codecscope goes into a scratch folder (`pip install --target`, keyed by its version, under
~/.cache/codec-arena/bench-codecscope), so the project's environment is not touched; it runs on this
interpreter, with the same torch, DAC and metric packages as ours. Random DAC-16k weights at full size are
written into a temporary HOME, where both tools' DAC loader looks. The clip is 4 s of 16 kHz speech-like
signal (`codec_arena.signals.seeded_audio`). Each run is one process per tool, alternating, after one
untimed warm-up each (disk cache, numba's and matplotlib's caches): ours is the plain
`codec-arena compare clip.wav --codec dac_16khz@6 --out DIR` (every metric, wavs, metrics.json and
report.html); theirs is `codecscope clip.wav -c dac:16khz --speech` (quality metrics on: SI-SNR, STOI,
PESQ). DAC-16k at 6 kbps is all 12 codebooks, which is what codecscope runs. `--baseline PATH` times a
third contender: `compare` from another checkout of this project (say, before a change).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OURS_POINT = "dac_16khz@6"
THEIR_CODEC = "dac:16khz"
CODECSCOPE_VERSION = "0.1.0"
# what `codecscope -c dac:16khz --speech` imports, as (module, distribution): installed next to it if missing
CODECSCOPE_NEEDS = [("numpy", "numpy"), ("torch", "torch"), ("dac", "descript-audio-codec"),
                    ("pystoi", "pystoi"), ("pesq", "pesq")]
NOT_FIGURES = {"codec", "notes", "random_weights", "requested_kbps", "codebook_size", "multiscale"}


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codec-arena" / "bench-codecscope"


def scratch_env(version: str, root: Path) -> Path:
    """codecscope `version` in its own folder (created once): its wheel, plus whichever of its runtime
    needs this interpreter lacks. Returns the folder to put on PYTHONPATH."""
    target = root / f"codecscope-{version}"
    done = target / ".complete"
    if done.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    _pip(target, [f"codecscope=={version}", "--no-deps"])
    missing = [dist for module, dist in CODECSCOPE_NEEDS if importlib.util.find_spec(module) is None]
    if missing:
        _pip(target, missing)
    done.write_text(f"codecscope {version}\n")
    return target


def _pip(target: Path, args: list[str]) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), *args]
    subprocess.run(command, check=True)


def child_env(home: Path) -> dict[str, str]:
    """Both tools' environment: a temporary HOME (its DAC cache holds the random weights), offline."""
    env = dict(os.environ)
    env.update(HOME=str(home), TORCH_HOME=str(home / "torch"), HF_HOME=str(home / "hf"),
               XDG_CACHE_HOME=str(home / ".cache"), CODEC_ARENA_DATA_DIR=str(home / "data"),
               CODEC_ARENA_OFFLINE="1", HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a user's machine: the warm-up run writes the bytecode caches
    return env


def write_inputs(home: Path, seconds: float) -> Path:
    """Random full-size DAC-16k weights where both loaders look (a child process: HOME is read there),
    and the clip as 16-bit wav (codecscope reads wav with the standard library)."""
    code = "from codec_arena.testing import write_random_weights; write_random_weights('dac_16khz')"
    subprocess.run([sys.executable, "-c", code], env={**child_env(home), "PYTHONPATH": str(ROOT)}, check=True,
                   capture_output=True)
    import soundfile as sf

    from codec_arena.signals import seeded_audio

    clip = home / "clip.wav"
    sf.write(clip, seeded_audio(16_000, seconds), 16_000, subtype="PCM_16")
    return clip


def ours(clip: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "codec_arena.cli", "compare", str(clip), "--codec", OURS_POINT, "--out", str(out)]


def theirs(clip: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "codecscope.cli", str(clip), "-c", THEIR_CODEC, "--speech", "--json",
            str(out / "codecscope.json")]


def timed(command: list[str], env: dict[str, str], path: Path, out: Path) -> tuple[float, float]:
    """Wall seconds of one whole process, and the CPU seconds it and its children used (on a busy machine
    the wall time follows the CPU time); its failure stops the benchmark with its stderr."""
    out.mkdir(parents=True, exist_ok=True)
    before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, env={**env, "PYTHONPATH": str(path)}, cwd=out, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, _children_cpu() - before


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def figures(out: Path) -> list[str]:
    """The figures a tool reported (non-empty values) in its JSON output."""
    path = out / "metrics.json" if (out / "metrics.json").exists() else out / "codecscope.json"
    row = json.loads(path.read_text())[0]
    return [key for key, value in row.items() if key not in NOT_FIGURES and value is not None]


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each tool, alternating (3)")
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length (4)")
    parser.add_argument("--codecscope-version", default=CODECSCOPE_VERSION)
    parser.add_argument("--env-dir", type=Path, default=None, help="where scratch environments live")
    parser.add_argument("--baseline", type=Path, help="also time `compare` from this checkout of codec-arena")
    args = parser.parse_args()

    site = scratch_env(args.codecscope_version, args.env_dir or cache_root())
    with tempfile.TemporaryDirectory(prefix="codec-arena-vs-codecscope-") as tmp:
        home = Path(tmp)
        env = child_env(home)
        clip = write_inputs(home, args.seconds)
        contenders = {"codec-arena": (ours(clip, home / "ours"), ROOT, home / "ours"),
                      f"codecscope {args.codecscope_version}": (theirs(clip, home / "theirs"), site, home / "theirs")}
        if args.baseline:
            contenders["codec-arena baseline"] = (ours(clip, home / "base"), args.baseline.resolve(),
                                                  home / "base")
        print(f"clip {args.seconds:g} s at 16 kHz, {OURS_POINT} (codecscope: {THEIR_CODEC}, all 12 codebooks), "
              f"random full-size weights; {args.runs} runs after a warm-up; load average {load_average()}")
        for command, path, out in contenders.values():
            timed(command, env, path, out)  # warm-up, untimed
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
        for run in range(args.runs):
            for name, (command, path, out) in contenders.items():
                times[name].append(timed(command, env, path, out))
            print(f"run {run + 1}: " + ", ".join(f"{name} {t[-1][0]:.2f} s ({t[-1][1]:.1f} s CPU)"
                                                 for name, t in times.items()), flush=True)
        wall = {name: statistics.median(w for w, _ in t) for name, t in times.items()}
        cpu = {name: statistics.median(c for _, c in t) for name, t in times.items()}
        for name, (_, _, out) in contenders.items():
            print(f"{name}: median {wall[name]:.2f} s wall, {cpu[name]:.1f} s CPU; reports {', '.join(figures(out))}")
        print(f"load average at the end {load_average()}")
        names = list(contenders)
        for other in names[1:]:
            print(f"ratio codec-arena / {other} (median wall time) = {wall[names[0]] / wall[other]:.3f} "
                  f"(CPU time {cpu[names[0]] / cpu[other]:.3f})")


if __name__ == "__main__":
    main()

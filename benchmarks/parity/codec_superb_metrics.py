"""Parity of `codec_arena.analysis.superb` with Codec-SUPERB's `get_metrics` (voidful/Codec-SUPERB), on CPU.

Runs the official `SoundCodec/metrics.py: get_metrics` (after `SoundCodec/base_codec/general.py:
pad_arrays_to_match`, as `scripts/benchmarking.py` does) and our `superb_metrics` on the same
deterministic pairs: `codec_arena.signals.seeded_audio` (2 s) at 16, 24 and 44.1 kHz against itself plus noise,
low-passed, delayed (longer), shortened and quieter, near-silent, identical, and a 40 ms pair on
which some official metrics fail (NaN, or their 1.0 / 0.0 fallbacks). It also runs the
official STOI function and ours directly at 10 kHz on a probe whose last sample is huge (it enters
only through the official silent-frame quirk that reads frame 0's energy from x[-1]). It prints the
values, then the largest |ours - official| per metric, and fails (exit 1) if any is over 1e-6 or if
one side is NaN where the other is not.

    python benchmarks/parity/codec_superb_metrics.py [--official PATH] [--write-reference]

`--official` is a checkout or a bare git mirror of the repository; by default
`$CODEC_ARENA_OFFICIAL_DIR/Codec-SUPERB` (else `/work/official/Codec-SUPERB`), and if that is missing
the mirror at `/work/.mirror/voidful+Codec-SUPERB/repo`. The two official files are copied (from the
work tree, or with `git show HEAD:<path>`) to a temporary folder and imported from there; the
checkout is never modified. `--write-reference` also writes the official values, the signal recipe
and the library versions to `tests/data/codec_superb_reference.json`, which `tests/test_superb_metrics.py`
compares our numbers with, so the test needs no official code.

Dependencies: the official code needs torchmetrics (for `PearsonCorrCoef`), which our venv does not
have. If it cannot be imported, this script runs `python -m pip install --no-deps --target DIR
torchmetrics==1.9.0 lightning-utilities==0.15.3` (DIR: `--deps`, by default
`<tmp>/codec-arena-superb-parity-deps`, reused on later runs) and puts DIR first on sys.path for this
process only; our venv is left alone. The rest (librosa, audiotools, pesq, parselmouth, torchaudio for
`general.py`'s imports) is in our venv. Exits 0 with "skipped: ..." when the official code or
torchmetrics cannot be had. Torch runs on one thread (Codec-SUPERB's benchmarking.py sets
OMP_NUM_THREADS=1 too). About 20 s on 2 cores after the imports.

The signal recipe is written twice, here and in the test (which cannot import benchmarks/); the
reference JSON records it with each signal's length and RMS, and the test checks both, so the copies
cannot drift apart unnoticed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from _common import default_official  # noqa: E402

from codec_arena.signals import SUPERB_PAIRS, SUPERB_RECIPE, superb_pairs, superb_stoi_probe  # noqa: E402

TOLERANCE = 1e-6
MIRROR = Path("/work/.mirror/voidful+Codec-SUPERB/repo")
OFFICIAL_FILES = {"metrics": "SoundCodec/metrics.py", "general": "SoundCodec/base_codec/general.py"}
DEPS = ["torchmetrics==1.9.0", "lightning-utilities==0.15.3"]
REFERENCE_JSON = ROOT / "tests" / "data" / "codec_superb_reference.json"

RECIPE, PAIRS = SUPERB_RECIPE, SUPERB_PAIRS
reference_pairs, stoi_probe = superb_pairs, superb_stoi_probe


def stats(signal: np.ndarray) -> dict[str, float]:
    """What the test checks to be sure it regenerated the same signal."""
    return {"length": int(signal.size), "rms": float(np.sqrt(np.mean(np.asarray(signal, np.float64) ** 2)))}


def find_official(path: Path | None) -> Path | None:
    """The given checkout/mirror, else the default checkout, else the mirror; None if none holds the files."""
    for candidate in ([path] if path else [default_official("Codec-SUPERB"), MIRROR]):
        if (candidate / OFFICIAL_FILES["metrics"]).exists() or git_show(candidate, OFFICIAL_FILES["metrics"]):
            return candidate
    return None


def git_show(repo: Path, path: str) -> str | None:
    """A file's text at HEAD of a (bare or not) git repository; None if it is not there."""
    result = subprocess.run(["git", "--git-dir", str(git_dir(repo)), "show", f"HEAD:{path}"],
                            capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").exists() else repo


def official_commit(repo: Path) -> str | None:
    result = subprocess.run(["git", "--git-dir", str(git_dir(repo)), "rev-parse", "HEAD"],
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def load_official(repo: Path, folder: Path) -> dict:
    """Copy the official files to `folder` and import them as modules (never from the checkout itself)."""
    modules = {}
    for name, rel in OFFICIAL_FILES.items():
        source = repo / rel
        text = source.read_text() if source.exists() else git_show(repo, rel)
        target = folder / f"codec_superb_official_{name}.py"
        target.write_text(text)
        spec = importlib.util.spec_from_file_location(target.stem, target)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


def ensure_torchmetrics(deps: Path) -> str | None:
    """Make torchmetrics importable (installing it into `deps` if needed); its version, or None."""
    try:
        import torchmetrics
    except ImportError:
        if not (deps / "torchmetrics").exists():
            print(f"installing {' '.join(DEPS)} into {deps} (for the official code only)")
            result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                                     "--target", str(deps), *DEPS], capture_output=True, text=True)
            if result.returncode != 0:
                print(result.stderr[-2000:])
                return None
        sys.path.insert(0, str(deps))
        try:
            import torchmetrics
        except ImportError:
            return None
    return torchmetrics.__version__


def as_number(value) -> float:
    """The official returns floats, sometimes a 0-d tensor (f0corr's DTW failure); NaN stays NaN."""
    return float(value.item() if hasattr(value, "item") else value)


def gap(ours: float, official: float) -> float:
    """|ours - official|, 0 when both are NaN, inf when only one is."""
    if math.isnan(ours) or math.isnan(official):
        return 0.0 if math.isnan(ours) and math.isnan(official) else math.inf
    return abs(ours - official)


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("torch", "torchmetrics", "descript-audiotools", "julius", "pesq",
                                             "praat-parselmouth", "librosa", "scipy", "numpy")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, default=None,
                        help="Codec-SUPERB checkout or bare git mirror (default: see the docstring)")
    parser.add_argument("--deps", type=Path, default=Path(tempfile.gettempdir()) / "codec-arena-superb-parity-deps",
                        help="where torchmetrics is installed if it is not importable")
    parser.add_argument("--write-reference", action="store_true",
                        help=f"write the official values to {REFERENCE_JSON.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    official_repo = find_official(args.official.resolve() if args.official else None)
    if official_repo is None:
        print(f"skipped: official Codec-SUPERB not found at {args.official or default_official('Codec-SUPERB')} "
              f"nor {MIRROR}, get it with git clone https://github.com/voidful/Codec-SUPERB")
        return 0
    torchmetrics_version = ensure_torchmetrics(args.deps)
    if torchmetrics_version is None:
        print("skipped: torchmetrics (needed by the official metrics.py) could not be installed")
        return 0

    import torch
    from audiotools import AudioSignal

    from codec_arena.analysis import superb

    warnings.filterwarnings("ignore", category=UserWarning)  # audiotools' "stft_data changed shape", torchmetrics
    torch.set_num_threads(1)
    commit = official_commit(official_repo)
    print(f"official: {official_repo} (HEAD {commit or 'not a git repository'}), torchmetrics {torchmetrics_version}")

    with tempfile.TemporaryDirectory() as tmp:
        official = load_official(official_repo, Path(tmp))
        get_metrics, pad = official["metrics"].get_metrics, official["general"].pad_arrays_to_match
        worst = dict.fromkeys(superb.NAMES, 0.0)
        values: dict[str, dict[str, dict[str, float | None]]] = {}
        signals: dict[str, dict[str, dict[str, dict]]] = {}
        header = f"{'rate':>6} {'pair':<12}" + "".join(f"{name:>11}" for name in superb.NAMES)
        print("official values\n" + header)
        for rate in RECIPE["rates"]:
            values[str(rate)], signals[str(rate)] = {}, {}
            for pair, (reference, estimate) in reference_pairs(rate).items():
                padded_ref, padded_est = pad(reference, estimate)
                theirs = {name: as_number(v) for name, v in
                          get_metrics(AudioSignal(padded_ref, rate), AudioSignal(padded_est, rate)).items()}
                ours = superb.superb_metrics(reference, estimate, rate)
                for name in superb.NAMES:
                    worst[name] = max(worst[name], gap(ours[name], theirs[name]))
                values[str(rate)][pair] = {name: None if math.isnan(theirs[name]) else theirs[name]
                                           for name in superb.NAMES}
                signals[str(rate)][pair] = {"reference": stats(reference), "estimate": stats(estimate)}
                print(f"{rate:>6} {pair:<12}" + "".join(f"{theirs[name]:>11.6g}" for name in superb.NAMES))
        probe_ref, probe_est = stoi_probe()
        probe_theirs = float(official["metrics"].stoi(probe_ref, probe_est, RECIPE["stoi_probe"]["rate"]))
        probe_ours = superb._stoi(probe_ref, probe_est, RECIPE["stoi_probe"]["rate"])
        probe_gap = gap(probe_ours, probe_theirs)

    print(f"\n{'metric':<10} {'max |ours - official|':>22}  (tolerance {TOLERANCE:g})")
    failures = 0
    for name in superb.NAMES:
        ok = worst[name] <= TOLERANCE
        failures += not ok
        print(f"{name:<10} {worst[name]:>22.3g}  {'PASS' if ok else 'FAIL'}")
    ok = probe_gap <= TOLERANCE
    failures += not ok
    print(f"{'stoi core':<10} {probe_gap:>22.3g}  {'PASS' if ok else 'FAIL'}  (10 kHz end-spike probe: official "
          f"{probe_theirs:.6g}, ours {probe_ours:.6g})")

    if args.write_reference:
        REFERENCE_JSON.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "about": "Codec-SUPERB get_metrics values on generated pairs, written by "
                     "benchmarks/parity/codec_superb_metrics.py --write-reference; null means NaN",
            "superb_version": superb.VERSION,
            "official": {"repository": "voidful/Codec-SUPERB", "commit": commit,
                         "files": list(OFFICIAL_FILES.values())},
            "versions": versions(),
            "tolerance": TOLERANCE,
            "recipe": RECIPE,
            "pairs": list(PAIRS),
            "signals": signals,
            "values": values,
            "stoi_probe": {"official": probe_theirs, "signals": {"reference": stats(probe_ref),
                                                                  "estimate": stats(probe_est)}},
        }
        REFERENCE_JSON.write_text(json.dumps(document, indent=1) + "\n")
        print(f"wrote {REFERENCE_JSON.relative_to(ROOT)}")
    print("PASS" if not failures else f"FAIL ({failures} check(s))")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

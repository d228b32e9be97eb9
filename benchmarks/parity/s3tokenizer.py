"""Parity of our S3Tokenizer adapter and network port with the official `s3tokenizer` package (0.3.0,
xingchensong/S3Tokenizer, the code Codec-SUPERB's `SoundCodec/base_codec/s3tokenizer.py` runs), on CPU.

For each shipped tokenizer (`s3tokenizer_v1`, `_v1_25hz`, `_v2_25hz`, `_v3_25hz`) this builds our torch
port (`codec_arena/codecs/_s3tokenizer_nets.py`) in a small config with the real rates, strides and
quantizer (width 128 in two heads of 64, the rotary tables' width; two blocks) and seeded random
weights: LayerNorm affines perturbed so they matter; v1's codebook rows near unit length with
spread norms, so the cosine search picks varied codes and its |e|^2 term counts; v2 / v3's FSQ
projection multiplied by 8, as `write_random_weights` does, so latents reach all three levels. Then:

(a) network: the official torch model (`S3Tokenizer("speech_tokenizer_v1" / "_v1_25hz", ModelConfig)`,
    `S3TokenizerV2("speech_tokenizer_v2_25hz", ...)`, `S3TokenizerV3("speech_tokenizer_v3_25hz",
    ModelConfigV3)`) loads our state dict through its own `init_from_pt` (strict), our names mapped
    (`quantizer.embed` -> `quantizer._codebook.embed`, `quantizer.project_down.*` ->
    `quantizer._codebook.project_down.*`); its `quantize` and our port run on the same log-mel batch
    (two items, 12.8 s and 3.01 s, the second zero-padded, so the length masks count). Codes must be
    equal over each item's length, with more than one distinct code, and the encoders' outputs (what
    the quantizers take) within 1e-5: codes alone would hide small errors that flip no code.
(b) end to end: our adapter, `codec_arena.codecs.s3tokenizer.load(info, "cpu")`, reads the ONNX graph
    exported from that port (`export_onnx`) out of a temporary Hugging Face cache, at the path
    `weight_spec(codec_id).path` names, and encodes seeded clips (`_common.seeded_audio`); the official
    pipeline encodes the same waves: `log_mel_spectrogram(wav)` -> `padding([mel])` -> `quantize`.
    On clips of whole tokens (3.2 s and 12.8 s: multiples of 640 samples) codes must be equal.
    For information only: a clip 123 samples past 3.2 s (we zero-pad to whole tokens, the official
    takes the frames there are: its tokens against our first ones), and 40 s (the official cuts 30 s
    segments with 4 s overlap from one log-mel; our engine encodes 26 s windows with 2 s of context each
    side, each with its own log-mel: the share of equal codes), and the largest difference between
    transformers' `WhisperFeatureExtractor` (what the adapter computes) and the official log-mel.

    python benchmarks/parity/s3tokenizer.py [--deps DIR]

Exit 0 when (a) and (b) hold for all four versions ("PASS"), 1 otherwise ("FAIL"), 0 with "skipped: ..."
when the official package cannot be had.

Why a subprocess: the official package imports `onnx` at import time, and `onnx` needs protobuf >= 6.31
where our venv pins protobuf < 3.20 (descript-audiotools). So this script installs `s3tokenizer`, `onnx`,
`protobuf` and `ml_dtypes` (pinned in PACKAGES) with `pip install --no-deps --target DIR` (DIR: `--deps`,
by default `$XDG_CACHE_HOME/codec-arena/parity-s3tokenizer`, else under `~/.cache`; reused on later runs;
our venv is untouched) and runs the official side as a child process of this file with `PYTHONPATH=DIR`,
so the newer protobuf shadows ours only there; torch, torchaudio, einops and numpy come from our venv.
The two sides exchange arrays through files in a temporary folder. About 30 s on 2 cores (the first
run also installs the four wheels: seconds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from _common import TOLERANCE, seeded_audio  # noqa: E402

SR = 16_000
PACKAGES = ("s3tokenizer==0.3.0", "onnx==1.23.2", "protobuf==6.33.6", "ml_dtypes==0.5.4")
OFFICIAL_NAMES = {  # our id -> the name the official classes and `load_model` take
    "s3tokenizer_v1": "speech_tokenizer_v1",
    "s3tokenizer_v1_25hz": "speech_tokenizer_v1_25hz",
    "s3tokenizer_v2_25hz": "speech_tokenizer_v2_25hz",
    "s3tokenizer_v3_25hz": "speech_tokenizer_v3_25hz",
}
# name -> samples; "checked" clips are whole tokens at every rate (multiples of 640 samples)
CLIPS = {"3.2 s": 51_200, "12.8 s": 204_800, "3.2 s + 123": 51_323, "40 s": 640_000}
CHECKED = ("3.2 s", "12.8 s")
NETWORK_ITEMS = (204_800, 48_160)  # (a)'s batch: 1,280 and 301 log-mel frames


def clip(samples: int) -> np.ndarray:
    """The first `samples` of the seeded signal (float32 [samples])."""
    return seeded_audio(SR, math.ceil(samples / SR))[:samples]


# --- the official side (a child process with the official package first on the path) -------------------


def official_side(job: Path) -> None:
    """Everything the official package computes, from the files in `job`, into `job/official_*`."""
    here = str(HERE)  # this file is `s3tokenizer.py` too: off the path before importing the package
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != here]
    from importlib.metadata import version

    import s3tokenizer
    import torch
    from s3tokenizer.model import ModelConfig
    from s3tokenizer.model_v2 import ModelConfig as ModelConfigV2
    from s3tokenizer.model_v3 import ModelConfigV3

    spec = json.loads((job / "job.json").read_text())
    waves = dict(np.load(job / "clips.npz"))
    network = np.load(job / "network_input.npz")
    mels = {name: s3tokenizer.log_mel_spectrogram(torch.from_numpy(wave)) for name, wave in waves.items()}
    np.savez(job / "official_mels.npz", **{name: mel.numpy() for name, mel in mels.items()})
    report = {"versions": {p: version(p) for p in ("s3tokenizer", "onnx", "protobuf")},
              "package": str(Path(s3tokenizer.__file__).parent), "models": {}}
    for codec_id, item in spec.items():
        c = item["config"]
        fields = dict(n_mels=c["n_mels"], n_audio_ctx=c["n_ctx"], n_audio_state=c["n_state"],
                      n_audio_head=c["n_head"], n_audio_layer=c["n_layer"], n_codebook_size=c["codebook_size"])
        # fresh config objects: the classes' defaults are shared instances that V2 mutates
        if c["version"] == 1:
            model = s3tokenizer.S3Tokenizer(item["name"], ModelConfig(**fields))
        elif c["version"] == 2:
            model = s3tokenizer.S3TokenizerV2(item["name"], ModelConfigV2(**fields))
        else:
            model = s3tokenizer.S3TokenizerV3(item["name"], ModelConfigV3(**fields))
        entry = {"class": f"{type(model).__name__}({item['name']!r})"}
        own_positions = model.state_dict().get("encoder.positional_embedding")
        try:
            model.init_from_pt(str(job / f"{codec_id}.pt"))  # load_state_dict(strict=True)
            entry["strict_load"] = "ok"
        except RuntimeError as exc:
            entry["strict_load"] = " ".join(str(exc).split())[:400]
            report["models"][codec_id] = entry
            continue
        if own_positions is not None:  # v1: its sinusoid table against the one our port wrote
            entry["positions_diff"] = float((own_positions - model.encoder.positional_embedding).abs().max())
        model.eval()
        out = {}
        batch = torch.from_numpy(network["feats"]), torch.from_numpy(network["lengths"])
        codes, lengths = model.quantize(*batch)
        out["network"], out["network_lengths"] = codes.long().numpy(), lengths.long().numpy()
        with torch.inference_mode():
            out["hidden"] = model.encoder(*batch)[0].numpy()  # what the quantizer takes
        for name, mel in mels.items():  # Codec-SUPERB's SoundCodec/base_codec/s3tokenizer.py
            feats, feats_lengths = s3tokenizer.padding([mel])
            codes, lengths = model.quantize(feats, feats_lengths)
            out[f"clip:{name}"] = codes[0, : int(lengths[0])].long().numpy()
        np.savez(job / f"official_{codec_id}.npz", **out)
        report["models"][codec_id] = entry
    (job / "official.json").write_text(json.dumps(report))


def ensure_official(deps: Path) -> str | None:
    """Install the official package and its onnx/protobuf into `deps` if missing; None, or why not."""
    wanted = [deps / f"{p.replace('==', '-')}.dist-info" for p in PACKAGES]
    if all(path.exists() for path in wanted):
        return None
    print(f"installing {' '.join(PACKAGES)} into {deps} (for the official side only)")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade",
                             "--target", str(deps), *PACKAGES], capture_output=True, text=True)
    if result.returncode != 0 or not all(path.exists() for path in wanted):
        return (f"pip could not install them ({(result.stderr or result.stdout).strip()[-300:]}); with network, "
                f"run: python -m pip install --no-deps --target {deps} {' '.join(PACKAGES)}")
    return None


def run_official(job: Path, deps: Path) -> str | None:
    """The official side in a child process; None, or its error output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(deps), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--official-side", str(job)],
                            env=env, capture_output=True, text=True)
    return None if result.returncode == 0 else result.stderr.strip()[-3000:]


# --- our side ---------------------------------------------------------------------------------------------


def seeded_port(codec_id: str, seed: int):
    """Our port, small config, seeded random weights whose every part shows in the codes."""
    import torch

    from codec_arena.codecs import s3tokenizer as adapter
    from codec_arena.codecs._s3tokenizer_nets import S3Tokenizer

    torch.manual_seed(seed)
    model = S3Tokenizer(adapter.small_config(codec_id, small=True)).eval()
    with torch.no_grad():
        for norm in model.modules():
            if isinstance(norm, torch.nn.LayerNorm):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_(0, 0.1)
        if model.config.version == 1:  # near unit rows: cosine search varies, the |e|^2 term still counts
            embed = model.quantizer.embed
            embed.copy_(torch.nn.functional.normalize(embed, dim=-1) * torch.empty(len(embed), 1).uniform_(0.9, 1.1))
        else:  # as write_random_weights: spread the FSQ's input over its three levels
            model.quantizer.project_down.weight.mul_(8.0)
    return model


def official_names(state: dict) -> dict:
    """Our state dict under the official module names (the quantizer sits in `_codebook` there)."""
    return {("quantizer._codebook." + k.removeprefix("quantizer.") if k.startswith("quantizer.") else k): v
            for k, v in state.items()}


def our_side(codec_id: str, seed: int, work: Path, job: Path, waves: dict, network: dict) -> dict:
    """Write the official checkpoint and our ONNX graph; our port's network codes, the adapter's clip
    codes and features."""
    import dataclasses

    import torch

    from codec_arena import weights
    from codec_arena.audio import Audio
    from codec_arena.codecs import s3tokenizer as adapter
    from codec_arena.codecs._s3tokenizer_nets import export_onnx

    model = seeded_port(codec_id, seed)
    torch.save(official_names(model.state_dict()), job / f"{codec_id}.pt")
    with torch.no_grad():
        batch = torch.from_numpy(network["feats"]), torch.from_numpy(network["lengths"])
        net_codes, hidden = model(*batch).numpy(), model.encoder(*batch)[0].numpy()

    m = adapter.MODELS[codec_id]
    graph = work / "graphs" / codec_id / m.filename
    graph.parent.mkdir(parents=True)
    export_onnx(model, graph)
    snapshot = weights.hub_snapshot(m.hub_id, {m.filename: graph})
    expected = adapter.weight_spec(codec_id).path
    info = next(i for i in adapter.INFOS if i.id == codec_id)
    codec = adapter.load(info, "cpu")
    clips = {name: codec.encode(Audio(wave[None], SR), info.default_bitrate).tokens[0] for name, wave in waves.items()}
    # the adapter's features on clips up to 30 s (it never gives it more; WhisperFeatureExtractor truncates)
    feats = {name: codec.log_mel(wave[None])[0] for name, wave in waves.items()
             if len(wave) <= adapter.MAX_SECONDS * SR}
    return {"config": dataclasses.asdict(model.config), "network": net_codes, "hidden": hidden, "clips": clips,
            "feats": feats,
            "graph_where_loaded": (snapshot / m.filename).resolve() == expected.resolve() == codec.checkpoint.resolve()}


# --- the comparison ---------------------------------------------------------------------------------------


def equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


def share_equal(ref: np.ndarray, ours: np.ndarray, start: int = 0, stop: int | None = None) -> str:
    """How many of the official tokens [start, stop) ours has at the same places."""
    stop = min(len(ref), len(ours)) if stop is None else stop
    return f"{int(np.sum(ref[start:stop] == ours[start:stop]))}/{stop - start}"


def default_deps() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codec-arena" / "parity-s3tokenizer"


def network_input() -> dict[str, np.ndarray]:
    """(a)'s batch: the adapter's log-mel of two seeded clips, the shorter zero-padded (feats [2, 128, T],
    lengths [2] int32)."""
    from transformers import WhisperFeatureExtractor

    from codec_arena.codecs import s3tokenizer as adapter

    extractor = WhisperFeatureExtractor(feature_size=adapter.N_MELS, sampling_rate=SR, hop_length=adapter.MEL_HOP,
                                        n_fft=400)  # as the adapter builds it; padding="longest" as it calls it
    mels = [extractor([clip(n)], sampling_rate=SR, padding="longest", return_tensors="np")["input_features"][0]
            for n in NETWORK_ITEMS]
    feats = np.zeros((len(mels), mels[0].shape[0], max(m.shape[1] for m in mels)), np.float32)
    for row, mel in enumerate(mels):
        feats[row, :, : mel.shape[1]] = mel
    return {"feats": feats, "lengths": np.array([m.shape[1] for m in mels], np.int32)}


def report(job: Path, ours: dict, waves: dict, network: dict) -> bool:
    official = json.loads((job / "official.json").read_text())
    versions = official["versions"]
    print(f"official: s3tokenizer {versions['s3tokenizer']} ({official['package']}), onnx {versions['onnx']}, "
          f"protobuf {versions['protobuf']}, in a child process")
    mels = np.load(job / "official_mels.npz")
    feats = next(iter(ours.values()))["feats"]
    diffs = ", ".join(f"{name}: {np.abs(mels[name] - feats[name]).max():.2g}"
                      if mels[name].shape == feats[name].shape else f"{name}: shapes {mels[name].shape} / "
                      f"{feats[name].shape}" for name in feats)
    print(f"log-mel, WhisperFeatureExtractor (ours) vs s3tokenizer.log_mel_spectrogram, max abs difference: {diffs}")

    lengths = network["lengths"]
    print(f"\n(a) network: official torch model with our weights (init_from_pt, strict) vs our port, one log-mel "
          f"batch {list(network['feats'].shape)}, lengths {lengths.tolist()}")
    print(f"{'codec':<21} {'official model':<42} {'load':<5} {'tokens':<9} {'distinct':>8}  "
          "encoder max diff (rms)      codes equal")
    ok = True
    results = {}
    for codec_id, o in ours.items():
        entry = official["models"][codec_id]
        path = job / f"official_{codec_id}.npz"
        results[codec_id] = dict(np.load(path)) if path.exists() else None
        ref = results[codec_id]
        if ref is None:
            ok = False
            print(f"{codec_id:<21} {entry['class']:<42} FAIL: {entry['strict_load']}")
            continue
        valid = ref["network_lengths"]
        same = all(equal(ref["network"][i, :n], o["network"][i, :n]) for i, n in enumerate(valid))
        distinct = len(np.unique(np.concatenate([o["network"][i, :n] for i, n in enumerate(valid)])))
        hidden = np.concatenate([ref["hidden"][i, :n] - o["hidden"][i, :n] for i, n in enumerate(valid)])
        scale = np.sqrt(np.mean(np.concatenate([ref["hidden"][i, :n] for i, n in enumerate(valid)]) ** 2))
        diff = f"{np.abs(hidden).max():.2g} ({scale:.2g})"
        passed = same and distinct > 1 and bool(np.abs(hidden).max() <= TOLERANCE)
        ok &= passed
        positions = f"  (v1 sinusoid table diff {entry['positions_diff']:.1g})" if "positions_diff" in entry else ""
        print(f"{codec_id:<21} {entry['class']:<42} {entry['strict_load']:<5} {'+'.join(map(str, valid)):<9} "
              f"{distinct:>8}  {diff:<25}  {same} -> {'ok' if passed else 'FAIL'}{positions}")

    print("\n(b) end to end: our adapter (ONNX graph of the port, ONNX Runtime) vs official log_mel_spectrogram -> "
          "padding -> quantize")
    print(f"{'codec':<21} {'graph at weight_spec':<21} " + " ".join(f"{name:<25}" for name in CHECKED))
    for codec_id, o in ours.items():
        ref = results[codec_id]
        if ref is None:
            continue
        cells, passed = [], o["graph_where_loaded"]
        for name in CHECKED:
            a, b = ref[f"clip:{name}"], o["clips"][name]
            same = equal(a, b)
            passed &= same
            cells.append(f"{same} ({len(b)}, {len(np.unique(b))} distinct)")
        ok &= passed
        print(f"{codec_id:<21} {o['graph_where_loaded']!s:<21} " + " ".join(f"{c:<25}" for c in cells)
              + f" -> {'ok' if passed else 'FAIL'}")
    print("\nfor information (not part of the verdict): equal codes where the two cut differently")
    print(f"{'codec':<21} {'3.2 s + 123 samples':<24} 40 s: all, [0, 26 s), [26 s, 40 s)")
    for codec_id, o in ours.items():
        ref = results[codec_id]
        if ref is None:
            continue
        a, b = ref["clip:3.2 s + 123"], o["clips"]["3.2 s + 123"]
        partial = f"{share_equal(a, b)} ({len(a)} vs {len(b)})"
        a, b = ref["clip:40 s"], o["clips"]["40 s"]
        seam = round(26 * len(b) / 40)  # our first window keeps 26 s, the official's first segment 28 s
        print(f"{codec_id:<21} {partial:<24} {share_equal(a, b)} ({len(a)} vs {len(b)}), "
              f"{share_equal(a, b, 0, seam)}, {share_equal(a, b, seam)}")
    print("PASS" if ok else "FAIL")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deps", type=Path, default=default_deps(),
                        help="where the official package, onnx and protobuf are installed (default: %(default)s)")
    parser.add_argument("--official-side", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.official_side:
        official_side(args.official_side)
        return 0
    deps = args.deps.resolve()
    problem = ensure_official(deps)
    if problem:
        print(f"skipped: the official s3tokenizer package is not available: {problem}")
        return 0

    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="s3tokenizer-parity-"))
    os.environ.update(HF_HOME=str(work / "hf"), HOME=str(work / "home"), XDG_CACHE_HOME=str(work / "xdg"),
                      HF_HUB_OFFLINE="1", CODEC_ARENA_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    job = work / "job"
    job.mkdir()
    try:
        waves = {name: clip(n) for name, n in CLIPS.items()}
        np.savez(job / "clips.npz", **waves)
        network = network_input()
        np.savez(job / "network_input.npz", **network)
        ours = {codec_id: our_side(codec_id, 1234 + i, work, job, waves, network)
                for i, codec_id in enumerate(OFFICIAL_NAMES)}
        (job / "job.json").write_text(json.dumps({codec_id: {"name": OFFICIAL_NAMES[codec_id], "config": o["config"]}
                                                  for codec_id, o in ours.items()}))
        error = run_official(job, deps)
        if error:
            print(f"the official side failed:\n{error}\nFAIL")
            return 1
        return 0 if report(job, ours, waves, network) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

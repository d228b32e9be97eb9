"""`codec-arena`: list codecs and LMs, round-trip a file, generate, run listening tests, get weights, serve.

Every failure ends in one line on stderr and exit code 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from . import quiet_library_warnings
from .errors import CodecArenaError

EXIT_ERROR = 2
# lms.base.TASKS, without importing it
TASK_KEYS = ("tts", "speech", "music", "melody", "continuation", "sound", "dialogue")


def _cmd_list(args: argparse.Namespace) -> None:
    from .codecs import list_codecs

    infos = list_codecs()
    try:
        _print_list(args, infos)
    except BrokenPipeError:  # `codec-arena list | head`: the reader left early; nothing went wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_list(args: argparse.Namespace, infos) -> None:
    from .codecs import weight_spec

    if args.superb:
        from .codecs import superb

        print(superb.markdown())
        return
    if args.markdown:
        print(markdown_table(infos))
        return
    if args.json:
        rows = []
        for info in infos:
            spec = weight_spec(info.id)
            rows.append({**asdict(info), "weights_path": str(spec.path) if spec else None,
                         "weights_present": bool(spec and spec.path.exists()) if spec else None})
        print(json.dumps(rows, indent=2))
        return
    width = max(len(info.id) for info in infos) + 1
    family = max(len(info.family) for info in infos) + 1
    print(f"{'id':{width}} {'family':{family}} {'rate':>7} {'ch':>2} {'quantizer':12} bitrates (kbps)")
    for info in infos:
        print(f"{info.id:{width}} {info.family:{family}} {info.sample_rate:>7} {info.channels:>2} "
              f"{info.quantizer.split()[0]:12} {_rates(info)}{' (encode only)' if info.encode_only else ''}")


def _rates(info) -> str:
    if info.continuous:
        return info.bitrate_summary()
    rates = ", ".join(f"{b:g}" for b in info.bitrates_kbps)
    if info.bitrate_range_kbps:
        return f"{info.bitrate_range_kbps[0]:g}–{info.bitrate_range_kbps[1]:g} (e.g. {rates})"
    return rates


def markdown_table(infos) -> str:
    """The README's codec table, generated from the same facts the app shows (a test keeps them equal)."""
    lines = ["| id | family | sample rate | frame rate | quantizer | bitrates (kbps) | licence | weights |",
             "|---|---|---|---|---|---|---|---|"]
    for info in infos:
        quantizer = info.quantizer + ("; **encode only** (no decoder)" if info.encode_only else "")
        cells = [f"`{info.id}`", info.family, info.sample_rate_label, info.frame_rate_label, quantizer,
                 info.bitrate_summary(), info.licence, info.weights]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)


def _cmd_roundtrip(args: argparse.Namespace) -> None:
    """Neural codecs stream the file (any length, flat memory); classical codecs take it whole."""
    from .codecs import get_codec
    from .compare import parse_point

    point = parse_point(args.codec if args.bitrate is None else f"{args.codec}@{args.bitrate:g}")
    point.info.require_decoder("round-trip audio")
    if not point.info.neural or point.info.continuous:  # codes files hold integer tokens
        return _roundtrip_in_memory(args, point)
    from . import files, weights
    from .memory import peak_memory

    started = time.perf_counter()
    codec = get_codec(point.codec)
    load_s = time.perf_counter() - started
    with peak_memory(codec.device) as memory, _progress_bar(args) as progress:
        encoded, decoded = files.roundtrip_file(codec, point, Path(args.input), args.out, args.codes, progress)
    header = encoded.codes
    random_weights = bool(codec.checkpoint and weights.is_random(codec.checkpoint))
    summary = {"codec": point.codec, "bitrate_kbps": round(decoded.bitrate_kbps, 3), "codebooks": header.codebooks,
               "frames": header.frames, "frame_rate": header.frame_rate, "sample_rate": header.sample_rate,
               "duration_s": round(encoded.seconds, 3), "load_s": round(load_s, 4),
               "encode_s": round(encoded.elapsed_s, 3), "decode_s": round(decoded.elapsed_s, 3),
               "real_time_factor": round((encoded.elapsed_s + decoded.elapsed_s) / max(encoded.seconds, 1e-9), 4),
               "peak_memory_mb": round(memory.mb, 1), "peak_process_mb": round(memory.peak_mb, 1),
               "device": codec.device, "random_weights": random_weights, "out": str(args.out),
               "codes": str(args.codes) if args.codes else None}
    _report(summary, random_weights, args.json)


def _roundtrip_in_memory(args: argparse.Namespace, point) -> None:
    from .audio import load_audio, write_wav
    from .roundtrip import roundtrip

    if args.codes:
        kind = "a continuous tokenizer: it makes float latents" if point.info.continuous else \
            "a classical codec: it makes bytes"
        raise CodecArenaError(f"{point.codec} is {kind}, not tokens (no --codes).")
    result = roundtrip(load_audio(args.input), point)
    write_wav(result.output, args.out)
    _report(result.summary() | {"out": str(args.out)}, result.random_weights, args.json)


def _cmd_encode(args: argparse.Namespace) -> None:
    from . import files, weights
    from .codecs import get_codec
    from .compare import parse_point
    from .memory import peak_memory

    point = parse_point(args.codec if args.bitrate is None else f"{args.codec}@{args.bitrate:g}")
    files.require_codes_file(point.info)
    codec = files.streaming_codec(get_codec(point.codec))
    with peak_memory(codec.device) as memory, _progress_bar(args) as progress:
        result = files.encode_file(codec, point, Path(args.input), args.out, progress)
    header = result.codes
    summary = {"codec": point.codec, "nominal_kbps": header.bitrate_kbps, "codebooks": header.codebooks,
               "frames": header.frames, "duration_s": round(result.seconds, 3), "encode_s": round(result.elapsed_s, 3),
               "peak_memory_mb": round(memory.mb, 1), "peak_process_mb": round(memory.peak_mb, 1),
               "weights": header.weights, "out": str(args.out)}
    _report(summary, bool(codec.checkpoint and weights.is_random(codec.checkpoint)), args.json)


def _cmd_decode(args: argparse.Namespace) -> None:
    from . import files, weights
    from .codecs import codec_info, codes_file, get_codec
    from .memory import peak_memory

    header = codes_file.read_header(args.input, codec_id=args.codec)  # which codec, before any model loads
    codec_info(header.codec_id).require_decoder("decode a codes file")
    codec = files.streaming_codec(get_codec(header.codec_id))
    with peak_memory(codec.device) as memory, _progress_bar(args) as progress:
        result = files.decode_file(codec, Path(args.input), args.out, progress)
    summary = {"codec": header.codec_id, "bitrate_kbps": round(result.bitrate_kbps, 3),
               "duration_s": round(result.seconds, 3), "decode_s": round(result.elapsed_s, 3),
               "peak_memory_mb": round(memory.mb, 1), "peak_process_mb": round(memory.peak_mb, 1),
               "out": str(args.out)}
    _report(summary, bool(codec.checkpoint and weights.is_random(codec.checkpoint)), args.json)


class _progress_bar:
    """Progress with ETA on stderr (none with --json): a live bar on a terminal, a line per tenth
    in a log. `with _progress_bar(args) as progress:`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.enabled = not getattr(args, "json", False)
        self.bar = None

    def __enter__(self):
        if not self.enabled:
            return None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=100, file=sys.stderr, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| [{elapsed}<{remaining}] {postfix}")

            def progress(fraction: float, message: str) -> None:
                self.bar.n = min(100.0, 100 * fraction)
                self.bar.set_postfix_str(message, refresh=False)
                self.bar.refresh()

            return progress
        import time

        started, shown = time.perf_counter(), [0]

        def log(fraction: float, message: str) -> None:
            if int(fraction * 10) > shown[0]:
                shown[0] = int(fraction * 10)
                elapsed = time.perf_counter() - started
                eta = elapsed * (1 - fraction) / max(fraction, 1e-9)
                print(f"[{fraction:4.0%}] {message}, {elapsed:.0f} s elapsed, ETA {eta:.0f} s", file=sys.stderr,
                      flush=True)

        return log

    def __exit__(self, kind, error, traceback) -> bool:
        if self.bar is not None:
            self.bar.leave = kind is None  # on failure the bar goes and the one-line error stays
            self.bar.close()
        return False


def _report(summary: dict, random_weights: bool, as_json: bool) -> None:
    """A result's summary: JSON, or one `key value` line each under a warning for random weights."""
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    if random_weights:
        print("WARNING: random weights (test checkpoint): the audio is noise, timings are real.")
    for key, value in summary.items():
        if value not in (None, []):
            print(f"{key:17} {value}")


def _cmd_compare(args: argparse.Namespace) -> None:
    """The metrics run in a second process (`ProcessScorer`), started first so that its imports and
    models load while this process loads the codec: same numbers, less waiting."""
    _passive_openmp()
    from .audio import load_audio
    from .compare import ProcessScorer, compare, parse_point

    points = [parse_point(p) for group in args.codec for p in group]

    def progress(fraction: float, message: str) -> None:
        if not args.json:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    with ProcessScorer({point.info.sample_rate for point in points}, on_wait=_import_report) as scorer:
        _import_in_background("scipy.signal")  # the loudness filter, while torch loads (after the fork)
        original = load_audio(args.input)
        comparison = compare(original, points, progress=progress, scorer=scorer)
    from .report import write_outputs

    for point, message in comparison.skipped:
        print(f"codec-arena: skipped {point}: {message}", file=sys.stderr)
    entries = comparison.entries
    paths = write_outputs(original, entries, args.out, tokenized=comparison.tokenized)
    if args.json:
        print(json.dumps([entry.row() for entry in entries], indent=2))
        return
    if any(entry.result.random_weights for entry in entries):
        print("WARNING: random test weights for some codecs: their audio is noise, their quality metrics meaningless.")
    for entry in entries:
        row = entry.row()
        shown = {k: row[k] for k in ("bitrate_kbps", "pesq_wb", "stoi", "si_sdr", "mel_distance")}
        print(f"{str(entry.point):22} " + "  ".join(f"{k}={'n/a' if v is None else v}" for k, v in shown.items()))
    print(f"wrote {len(paths)} files to {args.out} (report: {args.out / 'report.html'})")


def _passive_openmp() -> None:
    """OpenMP threads that sleep when out of work instead of spinning (read once, when torch loads; a
    user's own setting wins). Spinning buys microseconds per op on an idle machine, but on a busy one
    the spinning threads take the cores from the ones computing: DAC-16k's round trip of 4 s took 1.5-2x
    as long. Where threads wait changes no result."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _import_in_background(*modules: str) -> None:
    """Start importing modules a command needs later: reading their files overlaps other imports."""
    import importlib
    import threading

    def load() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # the real import, later, reports its own error
                return

    threading.Thread(target=load, name="codec-arena-imports", daemon=True).start()


def _import_report() -> None:
    """What writing report.html imports (matplotlib, plotly), done while the metrics are still running."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import plotly.graph_objects  # noqa: F401

    from . import report  # noqa: F401


def _cmd_bench(args: argparse.Namespace) -> None:
    from .bench.runner import BenchRequest, run_bench
    from .compare import parse_point

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' "Loading weights" bars: ours only
    points = [parse_point(p) for group in args.codec for p in group]
    request = BenchRequest(args.data, points, args.out, args.metrics or (), args.workers, args.ray, args.limit,
                           args.split, args.max_seconds, args.device)
    with _progress_bar(args) as bar:
        started = time.perf_counter()

        def progress(done: int, total: int, event: str) -> None:
            """Clips done, with throughput: on the shared bar (a terminal) or a line per tenth (a log)."""
            if bar is None or total == 0:  # --json, or everything was stored already
                return
            elapsed = time.perf_counter() - started
            bar(done / total, f"{done}/{total} clips, {done / elapsed if elapsed > 0 else 0:.2f} clips/s")

        outcome = run_bench(request, progress)
    dataset = outcome.dataset
    if args.json:
        print(json.dumps({"dataset": dataset.name, "kind": dataset.kind, "clips": len(dataset.clips),
                          "done": outcome.done, "failed": outcome.failed, "skipped": outcome.stored_before,
                          "unavailable": outcome.unavailable, "seconds": round(outcome.seconds, 3),
                          "clips_per_second": round(outcome.clips_per_second, 4),
                          "files": [str(f) for f in outcome.files]}, indent=2))
        return
    for warning in dataset.warnings:
        print(f"codec-arena: {warning}", file=sys.stderr)
    for point, why in outcome.unavailable.items():
        print(f"codec-arena: skipped {point}: {why}", file=sys.stderr)
    failed: dict[tuple[str, str], list[str]] = {}
    for clip, point, reason in outcome.failures:
        failed.setdefault((clip, reason), []).append(point)
    for (clip, reason), at in list(failed.items())[:5]:
        where = "every point" if len(at) == len(points) else ", ".join(at)
        print(f"codec-arena: failed {clip} ({where}): {reason}", file=sys.stderr)
    if len(failed) > 5:
        print(f"codec-arena: … and {len(failed) - 5} more; every reason is in clips.csv", file=sys.stderr)
    print(f"{dataset.name}: {len(dataset.clips)} clips ({dataset.kind}); {outcome.done} done, {outcome.failed} failed, "
          f"{outcome.stored_before} skipped (already stored), in {outcome.seconds:.1f} s "
          f"({outcome.clips_per_second:.2f} clips/s)")
    print(f"wrote {', '.join(f.name for f in outcome.files)} and results.sqlite to {args.out}")


def _cmd_lms(args: argparse.Namespace) -> None:
    from .lms import catalogue

    if args.markdown:
        print(catalogue.markdown_table())
        return
    if args.json:
        print(json.dumps(catalogue.facts(), indent=2))
        return
    rows = catalogue.rows()
    width = max(len(row["id"]) for row in rows) + 1
    print(f"{'id':{width}} {'runs':5} {'tasks':42} codec")
    for row in rows:
        runs = ("yes" if row["weights_present"] else "yes*") if row["runnable"] else "card"
        print(f"{row['id']:{width}} {runs:5} {row['tasks'][:42]:42} {row['codec']}")
    print("yes* = weights not downloaded yet (`codec-arena download ID`); card = cannot run here, "
          "see `codec-arena lms --json` for why and what to try instead")


def _cmd_generate(args: argparse.Namespace) -> None:
    from .audio import load_audio, write_wav
    from .lms import GenerationRequest, estimate_seconds, generate, lm_info, weight_spec
    from .lms.registry import check_request

    request = GenerationRequest(
        task=args.task, text=args.text or "", prompt=load_audio(args.prompt) if args.prompt else None,
        prompt_text=args.prompt_text or "", speaker=args.speaker or "", max_seconds=args.seconds,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    check_request(lm_info(args.model), request)  # a bad request fails before any wait is announced
    wait = estimate_seconds(args.model, args.seconds) if weight_spec(args.model).path.exists() else None
    if wait is not None and not args.json:
        print(f"On this CPU expect about {wait:.0f} s of generation (a GPU is much faster).", file=sys.stderr)

    def progress(fraction: float, message: str) -> None:
        if not args.json:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    result = generate(args.model, request, progress=progress)
    write_wav(result.audio, args.out)
    summary = result.summary() | {"out": str(args.out)}
    if args.tokens:
        from .codecs import codes_file

        codes_file.write(Path(args.tokens), result.codes, weights="")  # the LM's codec weights: not checked
        summary["tokens_file"] = str(args.tokens)
    _report(summary, result.random_weights, args.json)


def _spec_for(model_id: str):
    """The weights of a codec or of a codec LM."""
    from .codecs import weight_spec
    from .lms import list_lms
    from .lms import weight_spec as lm_weight_spec

    if model_id in {info.id for info in list_lms()}:
        return lm_weight_spec(model_id)
    return weight_spec(model_id)


def _cmd_download(args: argparse.Namespace) -> None:
    from . import weights

    spec = _spec_for(args.model)
    if spec is None:
        print(f"{args.model} needs no weights.")
        return
    print(f"{args.model}: {weights.download(spec)}")


def _cmd_listening_create(args: argparse.Namespace) -> None:
    from .listening import api
    from .ui.sharing import host_of, is_loopback

    points = [p for group in args.codec for p in group]
    created = api.create(args.title, args.method, args.clips, points, args.per_participant, not args.no_training,
                         args.instructions or "", args.url,
                         progress=None if args.json else lambda f, m: print(f"[{f:4.0%}] {m}", file=sys.stderr))
    if created["random_weights"]:
        print(f"warning: random test weights for {', '.join(created['random_weights'])}: those stimuli are noise",
              file=sys.stderr)
    if is_loopback(host_of(created["participant_link"])):
        print(f"warning: {host_of(created['participant_link'])} in the links means each student's own device; "
              "serve the app on the network (codec-arena serve --host 0.0.0.0) and pass --url "
              "http://<this machine's LAN address>:7860", file=sys.stderr)
    if args.json:
        print(json.dumps(created, indent=2))
        return
    print(f"participant link: {created['participant_link']}\nowner link (keep it secret, shown only now): "
          f"{created['owner_link']}\n{created['trials']} trials, {created['trials_each']} per participant, "
          f"loudness {created['loudness_lufs']:g} LUFS")


def _cmd_listening_results(args: argparse.Namespace) -> None:
    from .listening import api, service

    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, text in service.results(args.test, args.token, screening=not args.no_screening).csv_files().items():
            (args.out / name).write_text(text)
    summary = api.results(args.test, args.token, screening=not args.no_screening)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return
    print(f"{summary['title']} ({summary['method']}): {len(summary['participants'])} participants, "
          f"{summary['responses']} responses, {len(summary['excluded'])} excluded by post-screening")
    for row in summary["summary"]:
        print("  " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                               if v is not None))  # no interval with too few ratings: the note says so


def _cmd_serve(args: argparse.Namespace) -> None:
    from .ui import launch

    launch(host=args.host, port=args.port, share=args.share)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codec-arena", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list codecs")
    p.add_argument("--markdown", action="store_true", help="the README's codec table")
    p.add_argument("--superb", action="store_true",
                   help="Codec-SUPERB's configurations and their ids here (the README's table)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_list)

    p = sub.add_parser("roundtrip", help="encode and decode a file (neural codecs: any length, streamed)")
    p.add_argument("input", help="audio file (wav, flac, ogg, opus, mp3, m4a, webm, ...)")
    p.add_argument("--codec", required=True, help="codec id (see `codec-arena list`)")
    p.add_argument("--bitrate", type=float, default=None, help="kbps; the codec's default if omitted")
    p.add_argument("--out", required=True, type=Path, help="reconstruction, written as wav")
    p.add_argument("--codes", type=Path, help="also save the codes file (.npz; neural codecs)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_roundtrip, quick_exit=True)

    p = sub.add_parser("encode", help="audio file -> codes file (.npz), streamed: any length, flat memory")
    p.add_argument("input", help="audio file (wav, flac, ogg, opus, mp3, m4a, webm, ...)")
    p.add_argument("--codec", required=True, help="neural codec id (see `codec-arena list`)")
    p.add_argument("--bitrate", type=float, default=None, help="kbps; the codec's default if omitted")
    p.add_argument("--out", required=True, type=Path, help="codes file to write (.npz)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_encode)

    p = sub.add_parser("decode", help="codes file -> wav, streamed; refuses codes of another codec or weights")
    p.add_argument("input", type=Path, help="codes file written by `codec-arena encode` or `roundtrip --codes`")
    p.add_argument("--codec", default=None, help="refuse the file unless it holds this codec's codes")
    p.add_argument("--out", required=True, type=Path, help="audio to write (wav)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_decode)

    p = sub.add_parser("compare", help="compare operating points: metrics.json, wavs, report.html")
    p.add_argument("input", help="audio file")
    p.add_argument("--codec", action="append", nargs="+", required=True, metavar="ID@KBPS",
                   help="operating points, e.g. --codec encodec_24khz@6 dac_44khz@7.75 opus@24")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--json", action="store_true", help="print metrics.json to stdout")
    p.set_defaults(run=_cmd_compare, quick_exit=True)

    p = sub.add_parser("bench", help="benchmark operating points over a dataset: resumable, a pool or Ray")
    p.add_argument("data", help="folder of audio files, CSV/JSONL manifest, `datasets` folder or parquet, or hub id")
    p.add_argument("--codec", action="append", nargs="+", required=True, metavar="ID@KBPS",
                   help="operating points, e.g. --codec encodec_24khz@6 dac_16khz@6")
    p.add_argument("--metrics", action="append", metavar="NAME",
                   help="Codec-SUPERB's mel, stft, waveform, pesq, pesq-wb, stoi, f0corr (default: all of them); "
                        "app.<key> for the app's metrics; 'app' for all of those")
    p.add_argument("--out", required=True, type=Path, help="output folder (results.sqlite, clips.csv/.parquet, "
                                                          "summary.json, codec_superb.json); rerun to resume")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (with --ray: Ray actors)")
    p.add_argument("--ray", metavar="ADDRESS", help="run on Ray: a cluster's host:port, 'auto', or 'local'")
    p.add_argument("--limit", type=int, help="only the first N clips")
    p.add_argument("--split", action="append", help="only these splits (repeatable)")
    p.add_argument("--max-seconds", type=float, default=120.0, help="longer clips are recorded as failed (120)")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], help="default: a GPU when there is one")
    p.add_argument("--json", action="store_true", help="print the run's summary as JSON")
    p.set_defaults(run=_cmd_bench)

    p = sub.add_parser("lms", help="list codec language models (runnable ones and cards)")
    p.add_argument("--markdown", action="store_true", help="the README's LM table")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_lms)

    p = sub.add_parser("generate", help="run a codec language model: TTS, music, continuation")
    p.add_argument("model", help="model id (see `codec-arena lms`)")
    p.add_argument("--task", required=True, choices=sorted(TASK_KEYS), help="what to do")
    p.add_argument("--text", help="what to say, or the music/sound description")
    p.add_argument("--prompt", help="voice prompt, clip to continue, or melody (audio file)")
    p.add_argument("--prompt-text", help="transcript of the voice prompt (models that need it)")
    p.add_argument("--speaker", help="a built-in voice (Bark presets)")
    p.add_argument("--seconds", type=float, default=5.0, help="length to generate (default 5)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=50, help="0 = off")
    p.add_argument("--top-p", type=float, default=1.0, help="1 = off")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path, help="generated audio, written as wav")
    p.add_argument("--tokens", type=Path, help="also save the generated codec tokens as .npz")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_generate)

    p = sub.add_parser("download", help="fetch a model's weights through its official loader")
    p.add_argument("model", help="codec or codec-LM id")
    p.set_defaults(run=_cmd_download)

    p = sub.add_parser("listening", help="create a listening test, or read its results (owner token)")
    steps = p.add_subparsers(dest="step", required=True)
    q = steps.add_parser("create", help="render and store a test in CODEC_ARENA_DATA_DIR; prints both links")
    q.add_argument("clips", nargs="+", help="audio files (the first 15 s of each are used)")
    q.add_argument("--method", default="mushra", choices=["mushra", "ab", "ab_noref", "abx", "mos"])
    q.add_argument("--codec", action="append", nargs="+", required=True, metavar="ID@KBPS",
                   help="conditions, e.g. --codec encodec_24khz@6 opus@12")
    q.add_argument("--title", default="Listening test")
    q.add_argument("--per-participant", type=int, default=0, help="trials each participant gets (0 = all)")
    q.add_argument("--no-training", action="store_true", help="no practice trial")
    q.add_argument("--instructions", help="shown before the test (default: the method's standard wording)")
    q.add_argument("--url", default="http://127.0.0.1:7860", help="where the app will be served, for the links")
    q.add_argument("--json", action="store_true")
    q.set_defaults(run=_cmd_listening_create)
    q = steps.add_parser("results", help="summary statistics; --out writes the CSV exports")
    q.add_argument("test", help="test id")
    q.add_argument("--token", required=True, help="the owner token")
    q.add_argument("--out", type=Path, help="folder for the CSV exports (raw responses, summary, per clip, ...)")
    q.add_argument("--no-screening", action="store_true", help="keep participants BS.1534-3 would exclude")
    q.add_argument("--json", action="store_true")
    q.set_defaults(run=_cmd_listening_results)

    p = sub.add_parser("serve", help="serve the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true")
    p.set_defaults(run=_cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_library_warnings()
    try:
        args.run(args)
    except CodecArenaError as exc:
        print(f"codec-arena: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("codec-arena: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # last resort: still one line, never a traceback
        print(f"codec-arena: unexpected error ({type(exc).__name__}): {exc}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def entry() -> None:
    """The `codec-arena` command: `main`, then, for the one-shot commands that hold nothing to clean up
    (compare, roundtrip: every file written and closed), an exit that skips tearing down the loaded
    models and libraries, about a second of waiting that changes nothing."""
    argv = sys.argv[1:]
    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    if getattr(build_parser().parse_known_args(argv)[0], "quick_exit", False):
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()

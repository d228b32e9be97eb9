"""Compare one clip across codec operating points: round trips, metrics, and the rows reports use.

An operating point is written `codec@kbps` (`dac_44khz@7.75`, `opus@24`); a bare codec id means its
default bitrate. The CLI's `compare`, the Compare tab and the rate–distortion sweep all go through
`compare()`; the app passes a `ResultCache` so a point it has already computed for a clip is not run again.
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .analysis.metrics import Scores, prepare_scoring_process, score
from .audio import Audio
from .codecs import codec_info, list_codecs, weights_identity
from .codecs.base import OperatingPoint
from .errors import CodecArenaError, RequestError, WeightsUnavailable
from .roundtrip import Encoding, RoundTrip, encode_clip, roundtrip

ENCODE_ONLY = ("It only encodes (it has no decoder), so there is nothing to hear or score; its tokens are in the "
               "Tokens tab and the downloads.")


def parse_point(text: str) -> OperatingPoint:
    """`codec@kbps` (or a bare codec id, meaning its default bitrate), validated: the one place a
    point written by a person becomes an `OperatingPoint`."""
    codec, _, kbps = str(text).strip().partition("@")
    info = codec_info(codec.strip())
    if not kbps.strip():
        return OperatingPoint.of(info)
    try:
        value = float(kbps.removesuffix("kbps").strip())
    except ValueError:
        raise RequestError(f"'{text}': write an operating point as codec@kbps, e.g. dac_44khz@7.75.") from None
    return OperatingPoint.of(info, value)


def all_points(codec_ids: list[str] | None = None, decoding: bool = False) -> list[OperatingPoint]:
    """Every operating point of these codecs (all codecs when None): what the sweep runs. `decoding`: only
    codecs that give audio back (a listening test's conditions)."""
    infos = [codec_info(c) for c in codec_ids] if codec_ids else list_codecs()
    return [OperatingPoint.of(info, kbps) for info in infos if not (decoding and info.encode_only)
            for kbps in info.bitrates_kbps]


@dataclass
class Entry:
    point: OperatingPoint
    result: RoundTrip
    scores: Scores

    def row(self) -> dict[str, Any]:
        """One reconstruction as `metrics.json` writes it: codec, bitrate_kbps, then one key per metric."""
        r, codes = self.result, self.result.codes
        notes = dict(self.scores.notes)
        if codes is None:
            notes["token_rate"] = ("continuous latents (floats), not tokens; the bitrate is their float32 storage"
                                   if r.info.continuous else "classical codec: a byte stream, not tokens")
        if r.random_weights:
            notes["random_weights"] = "random test weights: quality metrics are meaningless, timings are real"
        return {
            "codec": r.info.id, "bitrate_kbps": round(r.bitrate_kbps, 3), "requested_kbps": r.requested_kbps,
            "codebooks": codes.codebooks if codes else None,
            "token_rate": round(codes.tokens.size / r.input.duration, 2) if codes else None,
            **{k: (round(v, 4) if v is not None else None) for k, v in self.scores.values.items()},
            "delay_ms": round(1000 * self.scores.lag_samples / r.input.sample_rate, 2),
            "real_time_factor": round(r.real_time_factor, 4), "peak_memory_mb": round(r.peak_memory_mb, 1),
            "random_weights": r.random_weights, "notes": notes,
        }


@dataclass(eq=False)  # hashed by identity: Gradio hashes session state to see what changed
class Comparison:
    original: Audio
    entries: list[Entry]
    skipped: list[tuple[OperatingPoint, str]] = field(default_factory=list)  # weights unavailable, or encode only
    reused: int = 0  # entries taken from a ResultCache, not computed again
    tokenized: list[Encoding] = field(default_factory=list)  # encode-only tokenizers: tokens, no audio back


def clip_hash(audio: Audio) -> str:
    """The clip's content (samples, shape and rate): a re-upload of the same file is the same clip."""
    digest = hashlib.sha256(f"{audio.sample_rate}:{audio.samples.shape}:{audio.samples.dtype}".encode())
    digest.update(audio.samples.tobytes())
    return digest.hexdigest()


def entry_bytes(entry: Entry) -> int:
    """What an entry holds in memory: the codec's input and output audio, and the tokens."""
    codes = entry.result.codes
    return (entry.result.input.samples.nbytes + entry.result.output.samples.nbytes
            + (codes.tokens.nbytes if codes is not None else 0))


class ResultCache:
    """Round trips already computed while a page is open, keyed by the clip's content and the operating point,
    so Compare and the rate–distortion sweep never run the same point on the same clip twice. Bounded by
    count and by memory; the least recently used entry goes first. Safe to share between threads."""

    def __init__(self, max_entries: int = 64, max_mb: float = 256.0):
        self.max_entries, self.max_bytes = max_entries, int(max_mb * 2**20)
        self._entries: OrderedDict[tuple[str, OperatingPoint], Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, clip: str, point: OperatingPoint) -> Entry | None:
        with self._lock:
            entry = self._entries.get((clip, point))
            if entry is not None:
                self._entries.move_to_end((clip, point))
            return entry

    def put(self, clip: str, entry: Entry) -> None:
        size = entry_bytes(entry)
        if size > self.max_bytes:
            return  # would push out everything else and still not fit
        with self._lock:
            old = self._entries.pop((clip, entry.point), None)
            self._bytes -= entry_bytes(old) if old is not None else 0
            self._entries[(clip, entry.point)] = entry
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= entry_bytes(dropped)

    # Gradio deep-copies a State's first value per session, and ZeroGPU pickles arguments: neither takes a lock
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


PendingScores = Callable[[], Scores]  # the scores of one reconstruction, once they are ready


class Scorer(Protocol):
    """Where the metrics of a reconstruction are computed. `defers`: results are asked for after the last
    round trip (they are computed elsewhere meanwhile); else each one at once, before the next point."""

    defers: bool

    def submit(self, reference: Audio, estimate: Audio) -> PendingScores: ...


class InlineScorer:
    """Each reconstruction scored at once, in this process: the app's way, whose threads share the
    metric models it has loaded."""

    defers = False

    def submit(self, reference: Audio, estimate: Audio) -> PendingScores:
        scores = score(reference, estimate)
        return lambda: scores


def _start_method() -> str:
    """fork where it is safe and cheapest (Linux, before torch has started its thread pools, which a
    forked child cannot use); spawn elsewhere."""
    if sys.platform.startswith("linux") and "torch" not in sys.modules:
        return "fork"
    return "spawn"


def _scoring_process_ready(sample_rates: tuple[int, ...]) -> None:
    """The scoring process's start: Ctrl-C is for the main process to report in one line; a model that
    fails to load here is reported by its metric later, as a note."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        prepare_scoring_process(sample_rates)


class ProcessScorer:
    """Every metric in a second process, the CLI's way: that process imports the metric libraries and
    loads their models while this one loads the codec, and scores one reconstruction while this one runs
    the next round trip or writes files. The metrics are the same `score`, on the same arrays, so the
    numbers are identical; if the process cannot start or dies, scoring falls back to this process.
    `on_wait` runs once, the first time a result is not ready when asked for (the CLI imports what its
    report needs there). Use as a context manager; start it before anything imports torch."""

    defers = True

    def __init__(self, sample_rates: Iterable[int] = (), on_wait: Callable[[], None] | None = None) -> None:
        self._on_wait = on_wait
        self._pool = None
        try:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context(_start_method())
            self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=_scoring_process_ready,
                                             initargs=(tuple(sorted(set(sample_rates))),))
            self._pool.submit(int)  # start it now: its imports overlap this process's codec loading
        except (OSError, ImportError, NotImplementedError, ValueError):  # no process support here
            self._pool = None

    def submit(self, reference: Audio, estimate: Audio) -> PendingScores:
        if self._pool is None:
            return InlineScorer().submit(reference, estimate)
        try:
            future = self._pool.submit(score, reference, estimate)
        except Exception:  # the process broke (killed, out of memory): score here
            return InlineScorer().submit(reference, estimate)

        def result() -> Scores:
            if not future.done():
                self._idle()
            try:
                return future.result()
            except Exception:  # the process died under this clip: the same metrics, here
                return score(reference, estimate)

        return result

    def _idle(self) -> None:
        hook, self._on_wait = self._on_wait, None
        if hook is not None:
            with contextlib.suppress(Exception):  # a warm-up only: the real import reports its own error
                hook()

    def close(self) -> None:
        """Stop the process now: its results are in, or no longer wanted (a failed comparison), and this
        one's exit would otherwise wait for it to finish loading its models."""
        if self._pool is None:
            return
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        self._pool = None

    def __enter__(self) -> ProcessScorer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def compare(audio: Audio, points: list[OperatingPoint],
            progress: Callable[[float, str], None] | None = None,
            cache: ResultCache | None = None, scorer: Scorer | None = None) -> Comparison:
    """Round-trip and score every point (or take it from `cache`, which then keeps the new ones). A codec
    whose weights cannot be had is skipped with its message (the others still run); an encode-only tokenizer
    is skipped with its reason and only encoded, for the Tokens tab; if nothing can run, the messages are the
    error. `scorer` decides where the metrics run (default: here, at once)."""
    if not points:
        raise RequestError("Choose at least one codec operating point.")
    scorer = scorer or InlineScorer()
    done: list[Entry | tuple[OperatingPoint, RoundTrip, PendingScores, str]] = []
    skipped, tokenized, reused = [], [], 0
    clip = clip_hash(audio) if cache is not None else ""
    for i, point in enumerate(points):
        # new weights (the real ones, say) are computed afresh
        key = f"{clip}|{weights_identity(point.codec)}" if cache is not None else ""
        known = cache.get(key, point) if cache is not None else None
        if known is not None:
            done.append(known)
            reused += 1
            continue
        if progress:
            progress(i / len(points), f"{point}")
        try:
            if point.info.encode_only:
                tokenized.append(encode_clip(audio, point))
                skipped.append((point, ENCODE_ONLY))
                continue
            result = roundtrip(audio, point)
        except WeightsUnavailable as missing:
            skipped.append((point, str(missing)))
            continue
        pending = (point, result, scorer.submit(result.input, result.output), key)
        done.append(pending if scorer.defers else _entry(pending, cache))  # at once: cached as it comes
    entries = [_entry(item, cache) for item in done]
    if progress:
        progress(1.0, "done")
    if not entries and not tokenized:
        raise CodecArenaError(" ".join(message for _, message in skipped))
    return Comparison(audio, entries, skipped, reused, tokenized)


def _entry(item: Entry | tuple[OperatingPoint, RoundTrip, PendingScores, str], cache: ResultCache | None) -> Entry:
    """A cached entry as it is; a new one with its scores, kept in the cache."""
    if isinstance(item, Entry):
        return item
    point, result, pending, key = item
    entry = Entry(point, result, pending())
    if cache is not None:
        cache.put(key, entry)
    return entry

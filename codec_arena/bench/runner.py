"""`codec-arena bench`: read DATA, plan (clip, point) jobs, skip what the store already holds, run the
rest on the chosen executor, commit each row as it arrives, then write the exports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..codecs.base import OperatingPoint
from ..errors import RequestError
from . import executors
from .board import record_run
from .data import Dataset, open_data
from .job import DEFAULT_MAX_SECONDS, Job, Settings, point_info
from .metrics import metric_version, parse_metrics
from .store import DONE, Key, ResultsStore, Row

Progress = Callable[[int, int, str], None]  # (finished, total, last event)


@dataclass(frozen=True)
class BenchRequest:
    data: str
    points: Sequence[OperatingPoint]
    out: Path
    metrics: Sequence[str] = ()
    workers: int = 1
    ray: str | None = None  # a cluster address, "auto", or "local" (started in this process)
    limit: int | None = None
    splits: Sequence[str] | None = None
    max_seconds: float = DEFAULT_MAX_SECONDS
    device: str | None = None


@dataclass
class Outcome:
    dataset: Dataset
    done: int = 0
    failed: int = 0
    stored_before: int = 0  # skipped: already in the store from an earlier run
    unavailable: dict[str, str] = field(default_factory=dict)  # point -> why it could not run
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (clip, point, reason), first few

    @property
    def clips_per_second(self) -> float:
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0


def weights_key(point: OperatingPoint) -> tuple[str, str | None]:
    """The fingerprint of the checkpoint this run would use, read without loading the model; with no
    weights on disk and no network, the reason (one message per point, not one per clip)."""
    from .. import weights
    from ..codecs import weight_spec
    from ..errors import WeightsUnavailable

    spec = weight_spec(point.codec)
    if spec is None:
        return "none", None
    path = spec.path
    if not path.exists():
        if weights.offline():
            return "", str(WeightsUnavailable(point.codec, path, "offline"))
        return "pending-download", None
    if path.is_dir():
        files = sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: (-p.stat().st_size, str(p)))
        return (weights.fingerprint(files[0]) if files else "empty"), None
    return weights.fingerprint(path), None


def run_bench(request: BenchRequest, progress: Progress | None = None) -> Outcome:
    metrics = parse_metrics(request.metrics)
    if not request.points:
        raise RequestError("Name at least one operating point: --codec ID@KBPS (see `codec-arena list`).")
    if request.ray is None and request.workers < 1:
        raise RequestError("--workers must be 1 or more.")
    dataset = open_data(request.data, limit=request.limit, splits=request.splits)
    outcome = Outcome(dataset)
    version = metric_version(metrics)
    points: dict[str, dict] = {}
    jobs: list[Job] = []
    for point in request.points:
        if point.info.encode_only:  # the benchmark scores audio: nothing comes back to score
            outcome.unavailable[str(point)] = str(point.info.no_decoder("be benchmarked"))
            continue
        key, why = weights_key(point)
        if why:
            outcome.unavailable[str(point)] = why
            continue
        points[str(point)] = point_info(point)
        jobs += [Job(clip, point, Key(clip.key, str(point), key, version)) for clip in dataset.clips]
    if not jobs:
        raise RequestError("No operating point can run here: " + " ".join(dict.fromkeys(outcome.unavailable.values())))

    out = Path(request.out)
    with ResultsStore(out / "results.sqlite") as store:
        store.set_meta({"dataset": dataset.name, "metric_version": version})
        stored = store.done_keys()
        todo = [job for job in jobs if job.key not in stored]
        outcome.stored_before = len(jobs) - len(todo)
        total, started = len(todo), time.perf_counter()

        def on_row(row: Row) -> None:
            if not store.put(row):
                return  # a retried shard's duplicate: already counted
            if row.status == DONE:
                outcome.done += 1
            else:
                outcome.failed += 1
                if len(outcome.failures) < 20:
                    outcome.failures.append((row.clip_id, row.key.point, row.reason or ""))
            if progress:
                progress(outcome.done + outcome.failed, total, f"{row.key.point} {row.clip_id}")

        settings = Settings(metrics, request.max_seconds, request.device)
        if progress:
            progress(0, total, "starting")
        if todo:
            if request.ray:
                executors.run_ray(todo, settings, on_row, request.ray, request.workers if request.workers > 1 else None)
            elif request.workers > 1:
                executors.run_pool(todo, settings, on_row, request.workers)
            else:
                executors.run_serial(todo, settings, on_row)
        outcome.seconds = time.perf_counter() - started
        rows = [row.flat() for row in store.rows({job.key for job in jobs})]
    random = {r["point"] for r in rows if r.get("random_weights")}
    for label, facts in points.items():
        facts["random_weights"] = label in random
    counts = {"done": sum(r["status"] == DONE for r in rows), "failed": sum(r["status"] != DONE for r in rows),
              "unavailable_points": len(outcome.unavailable)}
    from .exports import write_all

    described = f"{dataset.name} ({dataset.kind}, {len(dataset.clips)} clips)"
    outcome.files = write_all(out, rows, metrics, points, described, version, counts)
    record_run(out)
    return outcome

"""Where jobs run: in this process, in a local process pool, or on Ray actors (one machine or a
cluster). Every executor hands each finished row to `on_row` in the driver, which commits it, so what
survives a crash does not depend on the executor. Jobs arrive grouped by operating point, so each
worker meets one model at a time and loads it once (the model cache keeps it for the next clip).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from itertools import islice

from ..errors import RequestError
from .job import Job, Settings, run_job
from .store import Row

log = logging.getLogger("codec_arena.bench")
OnRow = Callable[[Row], None]
MAX_POOL_RESTARTS = 3  # a worker killed by the OS (OOM, kill -9): rebuild the pool and go on
SHARD_SIZE = 4  # clips per Ray task: small, so a lost worker costs little and rows arrive steadily


def _threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def run_serial(jobs: Sequence[Job], settings: Settings, on_row: OnRow) -> None:
    for job in jobs:
        on_row(run_job(job, settings))


def _init_pool_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_pool(jobs: Sequence[Job], settings: Settings, on_row: OnRow, workers: int) -> None:
    """A local process pool (spawned, so no forked torch state); each process keeps its own model
    cache. A worker that dies takes only its in-flight jobs with it: they run again in a new pool."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pending = list(jobs)
    restarts = 0
    context = multiprocessing.get_context("spawn")
    while pending:
        finished: set = set()
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_pool_worker,
                                 initargs=(_threads_per_worker(workers),)) as pool:
            queue = iter(pending)
            running = {pool.submit(run_job, job, settings): job for job in islice(queue, 2 * workers)}
            try:
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        job = running.pop(future)
                        on_row(future.result())
                        finished.add(job.key)
                        for follow in islice(queue, 1):
                            running[pool.submit(run_job, follow, settings)] = follow
            except BrokenProcessPool:
                restarts += 1
                if restarts > MAX_POOL_RESTARTS:
                    raise RequestError(f"Worker processes died {restarts} times (out of memory?). Finished rows "
                                       "are stored: rerun the same command to go on, perhaps with fewer --workers.") \
                        from None
                log.warning("a worker process died; restarting the pool (%d of %d)", restarts, MAX_POOL_RESTARTS)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        pending = [job for job in pending if job.key not in finished]


def connect_ray(address: str, workers: int | None = None) -> None:
    """Join a running cluster (`host:port`, or `auto`), or start one in this process (`local`). On one
    machine Ray is kept on the loopback interface: nothing listens for or dials the LAN address."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return
    local = address == "local" or address.split(":")[0] in ("127.0.0.1", "localhost")
    if local:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray's switch for a loopback-only node
    options: dict = {"logging_level": "warning", "log_to_driver": False}
    if address not in ("local", "auto"):
        _check_reachable(address)
    try:
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1", **options)
        else:
            ray.init(address=address, _node_ip_address="127.0.0.1" if local else None, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RequestError(f"Could not join the Ray cluster at '{address}' ({str(exc).splitlines()[0][:200]}). "
                           "Start one with `ray start --head`, or pass --ray local.") from None


def _check_reachable(address: str) -> None:
    """Ray's own connect retries for minutes against a wrong address: ask the port first."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except (OSError, ValueError):
        raise RequestError(f"No Ray cluster answers at '{address}'. Start one with `ray start --head` (its output "
                           "names the address), pass that address, or use --ray local.") from None


def _bench_actor_class():
    import ray

    class BenchWorker:
        """Holds this process's model cache across shards: each model is loaded once per actor."""

        def __init__(self, settings: Settings, threads: int) -> None:
            import torch

            torch.set_num_threads(threads)
            self.settings = settings

        def run_shard(self, shard: list[Job]) -> list[Row]:
            return [run_job(job, self.settings) for job in shard]

        def pid(self) -> int:
            return os.getpid()

    return ray.remote(max_restarts=4, max_task_retries=4)(BenchWorker)


def run_ray(jobs: Sequence[Job], settings: Settings, on_row: OnRow, address: str, workers: int | None) -> None:
    """Ray actors take shards of clips of one point at a time. A killed actor process is restarted
    by Ray and its shard retried; a shard that still fails goes to another actor."""
    import ray

    connect_ray(address, workers)
    resources = ray.cluster_resources()
    actors_n = workers or max(1, int(resources.get("CPU", 1)))
    gpus = resources.get("GPU", 0)
    use_gpu = settings.device == "cuda" or (settings.device is None and gpus > 0)
    options = {"num_cpus": 1}
    if use_gpu:
        options["num_gpus"] = min(1.0, gpus / actors_n)
    threads = max(1, int(resources.get("CPU", 1)) // actors_n)
    cls = _bench_actor_class()
    actors = [cls.options(**options).remote(settings, threads) for _ in range(actors_n)]
    shards = _shards(jobs)
    in_flight: dict = {}
    idle = list(actors) * 2  # two shards per actor in flight: no gap between shards
    try:
        while shards or in_flight:
            while shards and idle:
                actor = idle.pop(0)
                shard = shards.pop(0)
                in_flight[actor.run_shard.remote(shard)] = (actor, shard)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            ref = ready[0]
            actor, shard = in_flight.pop(ref)
            try:
                rows = ray.get(ref)
            except ray.exceptions.RayActorError:
                log.warning("a Ray worker was lost for good; its shard goes to another worker")
                actors = [a for a in actors if a is not actor]
                idle = [a for a in idle if a is not actor]
                if not actors:
                    raise RequestError("Every Ray worker was lost. Finished rows are stored: rerun to go on.") from None
                shards.insert(0, shard)
                continue
            for row in rows:
                on_row(row)
            idle.append(actor)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)


def _shards(jobs: Sequence[Job]) -> list[list[Job]]:
    """SHARD_SIZE jobs of one point each (jobs come grouped by point): an actor loads one model per shard."""
    from itertools import groupby

    shards: list[list[Job]] = []
    for _, group in groupby(jobs, key=lambda job: str(job.point)):
        same_point = list(group)
        shards += [same_point[i:i + SHARD_SIZE] for i in range(0, len(same_point), SHARD_SIZE)]
    return shards

"""Peak memory of a block of work: RSS sampled in a background thread (CPU), or CUDA's own peak.

On CPU the increase is what the work needed beyond what the process already held; a warm process
whose allocator reuses freed pages shows little, so benchmarks run each codec in a fresh process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class PeakMemory:
    mb: float = 0.0  # peak increase over the start of the block, in MiB: the work's own memory
    peak_mb: float = 0.0  # the peak itself: process RSS on CPU, allocated tensors on CUDA


@contextmanager
def peak_memory(device: str = "cpu", interval_s: float = 0.025) -> Iterator[PeakMemory]:
    result = PeakMemory()
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        yield result
        result.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        result.mb = result.peak_mb - start / 2**20
        return
    import psutil

    process = psutil.Process()
    start = peak = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(interval_s):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        peak = max(peak, process.memory_info().rss)
        result.mb, result.peak_mb = (peak - start) / 2**20, peak / 2**20

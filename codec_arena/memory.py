"""Peak memory of a block of work.

On Linux the kernel keeps the process's peak RSS (VmHWM) and resets it when asked
(`/proc/self/clear_refs`), which costs nothing while the work runs. Elsewhere a background thread
samples RSS. On CUDA, torch's own peak of allocated memory. All of these are process-wide: with
several requests at once, each one's figure includes the others'.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


@dataclass
class PeakMemory:
    mb: float = 0.0  # peak increase over the start of the block, in MiB: the work's own memory
    peak_mb: float = 0.0  # the peak itself: process RSS on CPU, allocated tensors on CUDA


def _status_kb(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_kernel_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


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
    if _reset_kernel_peak():
        start = _status_kb("VmRSS")
        yield result
        peak = _status_kb("VmHWM")
        result.mb, result.peak_mb = (peak - start) / 1024, peak / 1024
        return
    yield from _sampled(result, interval_s)


def _sampled(result: PeakMemory, interval_s: float) -> Iterator[PeakMemory]:
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

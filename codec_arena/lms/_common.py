"""Pieces every model module needs once: sampling settings, step progress, timing, token grids."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

import numpy as np

from ..audio import Audio
from ..codecs import codec_info
from ..codecs.base import Codes
from .base import GenerationRequest, Progress

FAST_ENV = "CODEC_ARENA_LM_FAST"


def fast_enabled() -> bool:
    """The models' fast decoding paths (static caches, lean steps; same tokens) unless
    CODEC_ARENA_LM_FAST=0 asks for the reference paths, to compare or to rule them out."""
    return os.environ.get(FAST_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def sampling_kwargs(request: GenerationRequest) -> dict:
    """transformers `generate` sampling arguments from the request (0 / 1 switch top-k / top-p off)."""
    return dict(do_sample=True, temperature=request.temperature, top_k=request.top_k or None,
                top_p=request.top_p if request.top_p < 1 else None)


def step_progress(progress: Progress, total_steps: int, label: str = "Generating"):
    """A transformers `StoppingCriteria` that never stops but reports each decoding step, with the
    steps per second so far, to `progress`."""
    from transformers import StoppingCriteria

    class _Report(StoppingCriteria):
        def __init__(self) -> None:
            self.steps = 0
            self.start = time.perf_counter()

        def __call__(self, input_ids, scores, **kwargs):
            import torch

            self.steps += 1
            if self.steps % 5 == 0 or self.steps == total_steps:
                rate = self.steps / max(time.perf_counter() - self.start, 1e-9)
                progress(min(self.steps / max(total_steps, 1), 0.99),
                         f"{label}: step {self.steps}/{total_steps} ({rate:.1f} steps/s)")
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return _Report()


def _sync_gpu() -> None:
    """CUDA runs asynchronously: wait for queued kernels so a timer measures the work, not its launch."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


@contextmanager
def timed(into: dict, key: str):
    _sync_gpu()
    start = time.perf_counter()
    try:
        yield
    finally:
        _sync_gpu()
        into[key] = into.get(key, 0.0) + time.perf_counter() - start


def audio_of(wav, frames: int, hop: int, sample_rate: int) -> Audio:
    """A decoder's output (a torch tensor) as mono float32 of exactly `frames * hop` samples, trimmed or
    zero-padded, so the audio's length matches the codes returned with it."""
    n = frames * hop
    samples = wav.float().cpu().numpy().reshape(-1)[:n]
    return Audio(np.pad(samples, (0, n - samples.size)).astype(np.float32)[None], sample_rate)


def codes_of(tokens, codec_id: str, num_samples: int, **extras: np.ndarray) -> Codes:
    """Wrap generated tokens (codebooks, frames) as `Codes` of our registry's codec, so the token grid,
    downloads and resynthesis treat them like any codec's codes."""
    array = np.asarray(tokens.cpu() if hasattr(tokens, "cpu") else tokens)
    return Codes.of(codec_info(codec_id), array, num_samples, extras)

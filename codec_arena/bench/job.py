"""One unit of bench work: a clip through one operating point, measured. Runs the same in the
driver (serial), a pool process or a Ray actor; every model it loads stays in that process's model
cache, so a worker loads each model once."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import numpy as np

from ..codecs.base import OperatingPoint
from .clip import Clip
from .metrics import compute
from .store import DONE, FAILED, Key, Row

MIN_SECONDS = 0.1  # shorter clips are recorded as failed: no metric means anything on them
DEFAULT_MAX_SECONDS = 120.0  # Codec-SUPERB's max_duration: longer clips are recorded as failed


@dataclass(frozen=True)
class Settings:
    metrics: tuple[str, ...]
    max_seconds: float = DEFAULT_MAX_SECONDS
    device: str | None = None


@dataclass(frozen=True)
class Job:
    clip: Clip
    point: OperatingPoint
    key: Key


def point_info(point: OperatingPoint) -> dict:
    return {"codec": point.codec, "family": point.info.family, "kbps": point.kbps, "token_rate": point.token_rate}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(job: Job, settings: Settings) -> Row:
    """Never raises for a bad clip: its reason goes into the row and the run goes on."""
    from ..errors import CodecArenaError

    clip = job.clip
    info = point_info(job.point) | {"worker": worker_name()}
    if clip.problem:
        return _failed(job, clip.problem, info)
    try:
        row = _measure(job, settings, info)
    except CodecArenaError as exc:
        return _failed(job, str(exc), info)
    except (OSError, ValueError, RuntimeError) as exc:  # an unreadable file, a codec refusing this input
        return _failed(job, f"{type(exc).__name__}: {exc}"[:300], info)
    return row


def _measure(job: Job, settings: Settings, info: dict) -> Row:
    from ..analysis.metrics import align, level_dbfs, near_silent
    from ..audio import load_audio, map_channels, resample
    from ..roundtrip import roundtrip

    original = load_audio(job.clip.content(), settings.max_seconds)
    info |= {"duration_s": round(original.duration, 4), "sample_rate": original.sample_rate,
             "channels": original.channels}
    if original.duration < MIN_SECONDS:
        return _failed(job, f"too short ({original.duration * 1000:.0f} ms; at least {MIN_SECONDS * 1000:.0f} ms)",
                       info)
    reference = map_channels(original.samples, 1)[0]
    if near_silent(reference):
        level = level_dbfs(reference)
        why = "every sample is zero" if level == float("-inf") else f"active level {level:.1f} dBFS, below -60"
        return _failed(job, f"silent ({why}): nothing to compare against", info)
    result = roundtrip(original, job.point, device=settings.device)
    estimate = map_channels(result.output.samples, 1)
    if result.output.sample_rate != original.sample_rate:
        estimate = resample(estimate, result.output.sample_rate, original.sample_rate)
    needs_app = any(n.startswith("app.") for n in settings.metrics)
    ref_c, est_c, _ = align(result.input, result.output) if needs_app else (np.zeros(0), np.zeros(0), 0)
    values = compute(settings.metrics, reference, original.sample_rate, estimate[0], ref_c, est_c,
                     result.input.sample_rate)
    info |= {"bitrate_kbps": round(result.bitrate_kbps, 4), "load_s": round(result.load_s, 4),
             "encode_s": round(result.encode_s, 4), "decode_s": round(result.decode_s, 4),
             "device": result.device, "random_weights": result.random_weights, "weights_id": result.weights_id}
    return Row(job.key, job.clip.id, job.clip.split, DONE, None, values, info)


def _failed(job: Job, reason: str, info: dict) -> Row:
    return Row(job.key, job.clip.id, job.clip.split, FAILED, reason, {}, info)

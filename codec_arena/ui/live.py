"""Live audio: the Codec LM tab plays a streaming model's audio while it is still being generated.

The tab's Generate button runs `generate` in a worker thread whose `on_audio` pieces go into a
`Channel`; the button's handler, a generator, yields each piece as WAV bytes to a streaming player
and, when the worker is done, the usual outputs. (The `/generate` API endpoint keeps its plain,
non-streaming outputs.)

The live player is shown only where it can play (`available`): Gradio encodes streamed audio with the
`ffmpeg` program (and probes audio files with `ffprobe` once ffmpeg is there), which `scripts/env.sh`
installs from Debian; and not on ZeroGPU, where the generation runs in another process.
"""

from __future__ import annotations

import contextvars
import io
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

_END = object()


class Channel:
    """The pieces of one generation, in order, until `close` (also after a failure)."""

    def __init__(self) -> None:
        self.sample_rate = 0  # set by the generation before its first piece
        self._pieces: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, piece: np.ndarray) -> None:
        self._pieces.put(piece)

    def close(self) -> None:
        self._pieces.put(_END)

    def pieces(self) -> Iterator[np.ndarray]:
        while (piece := self._pieces.get()) is not _END:
            yield piece


def stream(work: Callable[[Channel], Any]) -> Iterator[np.ndarray | tuple[Any]]:
    """Run `work(channel)` in a thread (with this request's context, so Gradio's progress still reaches
    the page); yield each piece it puts in the channel, then `(its result,)`, or raise its exception."""
    channel, outcome = Channel(), {}

    def run() -> None:
        try:
            outcome["result"] = work(channel)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            channel.close()

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True,
                              name="codec-arena-live")
    thread.start()
    yield from channel.pieces()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    yield (outcome["result"],)


def wav_bytes(piece: np.ndarray, sample_rate: int) -> bytes:
    """One piece as a 16-bit WAV file (what a streaming `gr.Audio` takes per chunk)."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(piece, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def available() -> bool:
    """ffmpeg and ffprobe on PATH, and the generation in this process (not ZeroGPU's `spaces`)."""
    import importlib.util
    import shutil

    on_path = all(shutil.which(program) for program in ("ffmpeg", "ffprobe"))
    return on_path and importlib.util.find_spec("spaces") is None

"""The live player's plumbing: a generation in a worker thread hands its pieces over in order while it
runs, then its result; its failure reaches the handler; the request's context (Gradio's progress) goes
with it; pieces become WAV chunks."""

from __future__ import annotations

import contextvars
import io
import threading

import numpy as np
import pytest
import soundfile as sf

from codec_arena.ui.live import stream, wav_bytes

REQUEST = contextvars.ContextVar("request", default=None)


def test_pieces_come_while_the_work_runs_then_its_result():
    release = threading.Event()

    def work(channel):
        channel.put(np.array([1.0], np.float32))
        release.wait(5)  # still running when the first piece is read
        channel.put(np.array([2.0], np.float32))
        return "outputs"

    items = stream(work)
    assert next(items).tolist() == [1.0]
    release.set()
    assert next(items).tolist() == [2.0]
    assert next(items) == ("outputs",)
    assert next(items, "end") == "end"


def test_a_failure_in_the_work_is_raised_to_the_handler_after_its_pieces():
    def work(channel):
        channel.put(np.zeros(4, np.float32))
        raise ValueError("the model refused")

    items = stream(work)
    assert next(items).shape == (4,)
    with pytest.raises(ValueError, match="the model refused"):
        next(items)


def test_the_work_sees_the_request_context():
    REQUEST.set("session-1")
    assert list(stream(lambda channel: REQUEST.get())) == [("session-1",)]


def test_pieces_become_wav_chunks_at_the_models_rate():
    piece = np.sin(np.linspace(0, 100, 3200)).astype(np.float32) * 1.5  # clipped, not wrapped around
    data, rate = sf.read(io.BytesIO(wav_bytes(piece, 32_000)), dtype="float32")
    assert rate == 32_000 and data.shape == (3200,)
    np.testing.assert_allclose(data, np.clip(piece, -1, 1), atol=1 / 2**15 + 1e-6)


def test_a_streaming_handler_refuses_with_its_sentence_after_the_pieces_it_sent():
    """The Generate button's handler is a generator: a refusal mid-stream is the same toast and remembered
    reason as a plain handler's, an unexpected failure the apology."""
    import gradio as gr
    from gradio.context import LocalContext

    from codec_arena.errors import RequestError
    from codec_arena.ui import errors

    @errors.user_errors("generating")
    def refusing():
        yield "piece"
        raise RequestError("Please enter some text.")

    @errors.user_errors("generating")
    def breaking():
        yield "piece"
        raise KeyError("internal")

    token = LocalContext.request.set(type("Request", (), {"session_hash": "s-live"})())
    try:
        items = refusing()
        assert next(items) == "piece"
        with pytest.raises(gr.Error, match="Please enter some text."):
            next(items)
        assert errors._reasons["s-live"] == "Please enter some text."
        items = breaking()
        next(items)
        with pytest.raises(gr.Error, match="Something went wrong while generating"):
            next(items)
    finally:
        LocalContext.request.reset(token)

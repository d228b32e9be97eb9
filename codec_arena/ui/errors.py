"""Turn failures into Gradio error toasts with a sentence a person understands, and keep that sentence
on the page where the result would have been (a toast closes after 10 s; Gradio would leave bare red
"Error" badges on the outputs).

Refusals are ordinary: one line in the server log, no traceback. Anything unexpected is logged with
its traceback once and shown as a short apology.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import gradio as gr  # at module level: Gradio resolves the `gr.Request` annotation below in these globals

from ..errors import CodecArenaError
from .text import md

log = logging.getLogger("codec_arena.ui")
F = TypeVar("F", bound=Callable)
_reasons: OrderedDict[str, str] = OrderedDict()  # session -> the reason of its last refused request
_reasons_lock = threading.Lock()
KEEP_REASONS = 1000


def _session() -> str | None:
    """The browser session of the request being handled (None outside a Gradio event)."""
    from gradio.context import LocalContext

    return getattr(LocalContext.request.get(None), "session_hash", None)


def _remember(message: str | None) -> None:
    """The refusal's reason for `show_reason`, by the browser session the request came from; None forgets the
    last one (every request starts afresh, so an old reason never explains a later failure)."""
    session = _session()
    if not session:
        return
    with _reasons_lock:
        if message is None:
            _reasons.pop(session, None)
            return
        _reasons[session] = message
        _reasons.move_to_end(session)
        while len(_reasons) > KEEP_REASONS:
            _reasons.popitem(last=False)


def user_errors(action: str) -> Callable[[F], F]:
    """Expected failures show their own message; anything else a short apology, details in the log."""

    @contextlib.contextmanager
    def refusals():
        """A request's failure as the toast and the remembered reason: refusals pass their sentence on,
        anything else becomes the apology (its traceback logged once)."""
        _remember(None)
        try:
            yield
        except gr.Error as exc:
            _remember(str(exc.message))
            raise
        except CodecArenaError as exc:  # an ordinary refusal: one line in the server log, not a traceback
            log.info("%s refused: %s", action, exc)
            _remember(str(exc))
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception:
            log.exception("%s failed", action)
            message = f"Something went wrong while {action}; the server log has the details."
            _remember(message)
            raise gr.Error(message, print_exception=False) from None  # logged just above, once

    def wrap(fn: F) -> F:
        if inspect.isgeneratorfunction(fn):  # a streaming handler: its failures surface while it is iterated
            @functools.wraps(fn)
            def stream(*args, **kwargs):
                with refusals():
                    yield from fn(*args, **kwargs)

            return stream  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args, **kwargs):
            with refusals():
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]

    return wrap


def reason_markdown(message: str) -> str:
    return f"> ✖ **Not done.** {md(message)}"


def show_reason(event, status, outputs: list) -> None:
    """When `event` fails, write its reason into `status` (Markdown) and settle `outputs`, so the page
    says why where the result would have been instead of leaving red badges."""

    def shown(request: gr.Request):
        with _reasons_lock:
            message = _reasons.pop(getattr(request, "session_hash", None) or "", None)
        text = reason_markdown(message or "The request could not be completed; the message above says why.")
        return (text, *[gr.update() for _ in outputs]) if outputs else text  # Gradio wants no 1-tuple

    event.failure(shown, None, [status, *outputs], api_visibility="private", show_progress="hidden")

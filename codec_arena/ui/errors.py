"""Turn failures into Gradio error toasts with a sentence a person understands."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar

from ..errors import CodecArenaError

log = logging.getLogger("codec_arena.ui")
F = TypeVar("F", bound=Callable)


def user_errors(action: str) -> Callable[[F], F]:
    """Expected failures show their own message; anything else a short apology, details in the log."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            import gradio as gr

            try:
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except CodecArenaError as exc:  # an ordinary refusal: one line in the server log, not a traceback
                log.info("%s refused: %s", action, exc)
                raise gr.Error(str(exc), print_exception=False) from None
            except Exception:
                log.exception("%s failed", action)
                raise gr.Error(f"Something went wrong while {action}; the server log has the details.",
                               print_exception=False) from None  # logged just above, once

        return run  # type: ignore[return-value]

    return wrap

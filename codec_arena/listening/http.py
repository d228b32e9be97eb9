"""A participant's calls as plain JSON routes, outside Gradio's queue: join, next trial, submit.

Why: through Gradio's queue each small call pays for a queued job and an event stream (about 240 ms
at p50 for 30 participants here, against a few milliseconds for the committed write itself). These
routes call the same `listening.api` functions (one place for what a call does and returns) and
answer when the response is on disk, as the queued endpoints do.

    POST listening/api/{test_id}/join                                      -> {"token", "trials"}
    POST listening/api/{test_id}/next    {"token"}                         -> the trial or the code
    POST listening/api/{test_id}/submit  {"token", "position", "answer"}   -> the receipt

Tokens travel in the body, never in the path, so they stay out of access logs. A refusal (unknown
test, wrong token, bad answer) is a 4xx with {"error": message}; anything else a 500 with a short
apology, its details in the server log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ..errors import CodecArenaError
from . import api

PREFIX = "listening/api/"
MAX_BODY = 64 * 1024  # bytes: an answer is a few hundred
log = logging.getLogger(__name__)


def _join(test_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return api.join(test_id)


def _next(test_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return api.next_trial(test_id, _text(body, "token"))


def _submit(test_id: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = body.get("answer")
    if not isinstance(answer, str):  # the answer object itself is accepted too
        answer = json.dumps(answer)
    position = body.get("position")
    if not isinstance(position, int) or isinstance(position, bool):
        raise CodecArenaError("`position` must be the trial's number, as the next-trial call returned it.")
    return api.submit(test_id, _text(body, "token"), position, answer)


CALLS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {"join": _join, "next": _next, "submit": _submit}


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise CodecArenaError(f"The request needs `{key}` (a string): the token that joining returned.")
    return value


def respond(call: str, test_id: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for one call: what the route sends, kept apart from HTTP for the tests."""
    if len(raw) > MAX_BODY:
        return 413, {"error": f"The request is larger than {MAX_BODY // 1024} KiB; an answer is far smaller."}
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return 400, {"error": "The request body is not JSON."}
    if not isinstance(body, dict):
        return 400, {"error": "The request body must be a JSON object."}
    try:
        return 200, CALLS[call](test_id, body)
    except CodecArenaError as exc:
        return 400, {"error": str(exc)}
    except Exception:
        log.exception("listening %s failed", call)
        return 500, {"error": f"Something went wrong with {call}; the server log has the details."}


def routes() -> list:
    """The app's routes for these calls (added to Gradio's FastAPI app at launch)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def serve(request):
        call = request.path_params["call"]
        if call not in CALLS:
            return JSONResponse({"error": f"Unknown call {call!r}: use one of {', '.join(CALLS)}."}, status_code=404)
        raw = await request.body()
        status, body = await run_in_threadpool(respond, call, request.path_params["test_id"], raw)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    return [Route(f"/{PREFIX}{{test_id}}/{{call}}", serve, methods=["POST"])]

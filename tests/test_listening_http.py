"""The participants' plain JSON routes (outside Gradio's queue): a whole test taken through them over
the real Starlette route, and every bad request answered with a status and a sentence, never a trace."""

from __future__ import annotations

import json

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from codec_arena.audio import Audio
from codec_arena.listening import http, service


@pytest.fixture
def created(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path / "data"))
    rate = 16_000
    tone = Audio((0.2 * np.sin(2 * np.pi * 330 * np.arange(rate) / rate))[None].astype(np.float32), rate)
    return service.create_test("Routes", "mos", [("tone.wav", tone)], ["opus@12"], training=False,
                               db=service.store())


@pytest.fixture
def web() -> TestClient:
    return TestClient(Starlette(routes=http.routes()))


def post(web: TestClient, test_id: str, call: str, body) -> tuple[int, dict]:
    content = body if isinstance(body, bytes) else json.dumps(body)
    response = web.post(f"/{http.PREFIX}{test_id}/{call}", content=content)
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def test_a_participant_takes_the_whole_test_through_the_routes(created, web):
    status, joined = post(web, created.test_id, "join", {})
    assert status == 200 and joined["trials"] == created.trials_each
    token, answers = joined["token"], {}
    while True:
        status, trial = post(web, created.test_id, "next", {"token": token})
        assert status == 200
        if trial["done"]:
            break
        rating = 1 + trial["position"] % 5
        status, receipt = post(web, created.test_id, "submit", {
            "token": token, "position": trial["position"], "answer": {"played": trial["letters"], "rating": rating}})
        assert status == 200 and receipt["saved"] and not receipt["duplicate"]
        answers[trial["position"]] = rating
    assert trial["completion_code"].startswith("CA-") and len(answers) == created.trials_each
    found = service.results(created.test_id, created.owner_token)
    assert len(found.responses) == created.trials_each
    status, again = post(web, created.test_id, "submit", {"token": token, "position": 0,
                                                          "answer": json.dumps({"played": ["A"], "rating": 5})})
    assert status == 200 and again["duplicate"]  # a resent answer: stored once, the first kept


@pytest.mark.parametrize(("call", "body", "status", "says"), [
    ("next", b"{not json", 400, "not JSON"),
    ("next", b"[1, 2]", 400, "JSON object"),
    ("next", {}, 400, "`token`"),
    ("next", {"token": "nobody"}, 400, ""),
    ("submit", {"token": "nobody", "position": "one", "answer": "{}"}, 400, "`position`"),
    ("submit", {"token": "nobody", "position": True, "answer": "{}"}, 400, "`position`"),
    ("delete", {}, 404, "Unknown call"),
    ("next", b" " * (http.MAX_BODY + 1), 413, "larger than"),
])
def test_bad_requests_get_a_status_and_a_sentence(created, web, call, body, status, says):
    got, answer = post(web, created.test_id, call, body)
    assert got == status and says in answer["error"] and "Traceback" not in answer["error"]


def test_an_unknown_test_is_refused(created, web):
    status, answer = post(web, "no-such-test", "join", {})
    assert status == 400 and answer["error"]


def test_an_unexpected_failure_is_a_500_with_an_apology(created, web, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("deep inside")

    monkeypatch.setattr(http.api, "join", broken)
    status, answer = post(web, created.test_id, "join", {})
    assert status == 500 and "server log" in answer["error"] and "deep inside" not in answer["error"]
    assert "deep inside" in caplog.text

"""Listening-test submissions through the running app: many participants at once, each joining, then
fetching and answering every trial over the app's JSON endpoints, as a class taking a test does.

    python benchmarks/listening_load.py [--participants 30] [--responses 20] [--url URL --data-dir DIR]

Without --url it starts `python app.py` on a free port with a fresh data directory. The test is
created in this process on the server's data directory (the server reads the same SQLite file): an
ACR/MOS test of generated one-second clips × (reference + classical codecs), which render in a second.
Prints submissions/s, the latency of a confirmed submit (p50/p95: the call returns once the response
is committed), and the rows the database holds. The simulated participants run in this process on the
same machine as the server, so on a small machine the figures are a lower bound on what the app serves.
tests/e2e/test_listening_load.py uses these helpers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POINTS = ("opus@12", "opus@24", "mp3@64", "aac@64")  # classical: no weights, fast to render
RATE = 16_000
CALL_TIMEOUT = 60.0  # seconds; a call that never answers is an error, not a hang


def clips(n: int) -> list[tuple[str, Any]]:
    """n one-second mono clips at 16 kHz: tones and noise, alternating."""
    from codec_arena.audio import Audio

    rng, t = np.random.default_rng(0), np.arange(RATE) / RATE
    out = []
    for i in range(n):
        if i % 2 == 0:
            mono = 0.3 * np.sin(2 * np.pi * (220.0 * (i + 1)) * t) + 0.01 * rng.standard_normal(t.size)
        else:
            mono = 0.1 * rng.standard_normal(t.size)
        out.append((f"{'tone' if i % 2 == 0 else 'noise'}{i}.wav", Audio(mono[None].astype(np.float32), RATE)))
    return out


def db_path(data_dir: Path | str) -> Path:
    from codec_arena.listening.store import DB_NAME

    return Path(data_dir) / DB_NAME


def create_test(data_dir: Path | str, responses: int = 20, points: tuple[str, ...] = POINTS):
    """An MOS test on `data_dir`'s database giving each participant `responses` trials (returns `Created`).

    The store is local here, so this process holds no connection to the file once the test exists."""
    from codec_arena.listening import service
    from codec_arena.listening.store import Store

    n = min(max(1, math.ceil(responses / (len(points) + 1))), service.MAX_CLIPS)
    return service.create_test("Load test", "mos", clips(n), list(points), per_participant=responses,
                               training=False, db=Store(db_path(data_dir)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(data_dir: Path | str, port: int, log: Path, env: dict[str, str] | None = None,
              timeout: float = 120, root: Path = ROOT) -> subprocess.Popen:
    """`python app.py` (of the checkout at `root`) on 127.0.0.1:port with CODEC_ARENA_DATA_DIR=data_dir,
    once it answers."""
    env = {**os.environ, **(env or {}), "CODEC_ARENA_DATA_DIR": str(data_dir), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "a") as out:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2)
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                server.wait()
                raise RuntimeError(f"app did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.5)


def client(url: str, via: str = "gradio"):
    """One participant's connection: a gradio_client (`via="gradio"`, the named endpoints) or a
    keep-alive HTTP connection to the plain JSON routes (`via="routes"`, `listening.http`). Over plain
    http the gradio_client skips building a TLS context: httpx builds one per request otherwise (~30 ms
    of CPU each, two per call), which would make the load generator, not the app, the bottleneck."""
    if via == "routes":
        return RouteClient(url)
    from gradio_client import Client

    return Client(url, verbose=False, ssl_verify=not url.startswith("http://"))


class RouteClient:
    """The JSON routes over one keep-alive connection (what a participant's browser page could hold)."""

    CALLS = {"listening_join": ("join", ()), "listening_next": ("next", ("token",)),
             "listening_submit": ("submit", ("token", "position", "answer"))}

    def __init__(self, url: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=CALL_TIMEOUT)
        self.base = parts.path.rstrip("/")

    def call(self, name: str, test_id: str, *args: Any) -> Any:
        from codec_arena.listening.http import PREFIX

        call, keys = self.CALLS[name]
        body = json.dumps(dict(zip(keys, args, strict=True)))
        self.connection.request("POST", f"{self.base}/{PREFIX}{test_id}/{call}", body,
                                {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {body.get('error')}")
        return body

    def close(self) -> None:
        self.connection.close()


def call(api: Any, name: str, *args: Any) -> Any:
    """One endpoint call (`api` a gradio_client.Client or a RouteClient), bounded in time."""
    if isinstance(api, RouteClient):
        return api.call(name, *args)
    return api.submit(*args, api_name=f"/{name}").result(timeout=CALL_TIMEOUT)


def answer(trial: dict[str, Any], rating: int) -> str:
    """A valid MOS answer to the trial `/listening_next` returned: every button played, one rating."""
    return json.dumps({"played": trial["letters"], "rating": rating})


def rating_of(token: str, position: int) -> int:
    """A rating that differs between neighbouring trials, so a swapped or stale row shows."""
    return 1 + (sum(token.encode()) + position) % 5


@dataclass
class Taker:
    """One participant's run: what was confirmed (position -> rating), timings, the error if any."""

    token: str = ""
    confirmed: dict[int, int] = field(default_factory=dict)
    submit_s: list[float] = field(default_factory=list)
    next_s: list[float] = field(default_factory=list)
    code: str | None = None
    error: str | None = None
    failed_in: str | None = None  # the endpoint whose call failed
    failed_call_at: float | None = None  # time.perf_counter() when that call began


def take(api: Any, test_id: str, taker: Taker, on_confirm: Callable[[], None] = lambda: None) -> Taker:
    """Join (unless `taker` has a token: resume), then answer every remaining trial until the code comes."""
    step, started = "listening_join", time.perf_counter()
    try:
        if not taker.token:
            taker.token = call(api, step, test_id)["token"]
        while True:
            step, started = "listening_next", time.perf_counter()
            trial = call(api, step, test_id, taker.token)
            taker.next_s.append(time.perf_counter() - started)
            if trial["done"]:
                taker.code = trial["completion_code"]
                return taker
            rating = rating_of(taker.token, trial["position"])
            step, started = "listening_submit", time.perf_counter()
            receipt = call(api, step, test_id, taker.token, trial["position"], answer(trial, rating))
            taker.submit_s.append(time.perf_counter() - started)
            if not receipt["saved"] or receipt["duplicate"] or receipt["position"] != trial["position"]:
                raise RuntimeError(f"unexpected receipt {receipt} for position {trial['position']}")
            taker.confirmed[trial["position"]] = rating
            on_confirm()
    except Exception as exc:  # noqa: BLE001 - the caller decides whether a failure was expected
        taker.error, taker.failed_in, taker.failed_call_at = f"{type(exc).__name__}: {exc}", step, started
        return taker


def quantile(values: list[float], q: float) -> float:
    return float(np.quantile(values, q)) if values else math.nan


@dataclass
class Figures:
    participants: int
    responses_each: int
    elapsed_s: float
    takers: list[Taker]
    rows: int

    @property
    def submits(self) -> int:
        return sum(len(t.submit_s) for t in self.takers)

    def lines(self) -> list[str]:
        submit_s = [s for t in self.takers for s in t.submit_s]
        next_s = [s for t in self.takers for s in t.next_s]
        errors = [t.error for t in self.takers if t.error]
        return [
            f"participants x responses: {self.participants} x {self.responses_each}",
            f"elapsed: {self.elapsed_s:.2f} s (joins, next trials and submits of all participants at once)",
            f"confirmed submits: {self.submits} ({self.submits / self.elapsed_s:.1f} submits/s)",
            f"confirmed submit latency: p50 {1000 * quantile(submit_s, 0.5):.0f} ms, "
            f"p95 {1000 * quantile(submit_s, 0.95):.0f} ms, max {1000 * max(submit_s, default=math.nan):.0f} ms",
            f"next-trial latency: p50 {1000 * quantile(next_s, 0.5):.0f} ms, "
            f"p95 {1000 * quantile(next_s, 0.95):.0f} ms",
            f"completion codes: {sum(1 for t in self.takers if t.code)} of {self.participants}",
            f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""),
            f"response rows in the database: {self.rows}",
        ]


def run_load(url: str, test_id: str, participants: int, responses_each: int, data_dir: Path | str,
             via: str = "gradio") -> Figures:
    """All participants at once, one thread and one client each; clients connect before the clock starts."""
    takers = [Taker() for _ in range(participants)]
    ready = threading.Barrier(participants + 1)

    def run(taker: Taker) -> None:
        try:
            api = client(url, via)
        except Exception as exc:  # noqa: BLE001
            taker.error = f"connect: {exc}"
            api = None
        ready.wait()
        if api is not None:
            take(api, test_id, taker)
            api.close()

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in takers]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return Figures(participants, responses_each, elapsed, takers, len(rows(data_dir, test_id)))


def run_bare(data_dir: Path | str, test_id: str, participants: int) -> tuple[list[float], list[float]]:
    """The same class through the bare service calls in this process (no HTTP, no Gradio): the seconds
    each confirmed submit and each next-trial fetch took, to set the app's latencies against."""
    from codec_arena.listening import service
    from codec_arena.listening.store import Store

    db = Store(db_path(data_dir))
    times: list[float] = []
    fetches: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        token, _ = service.join(test_id, db=db)
        while True:
            started = time.perf_counter()
            view = service.next_trial(test_id, token, db=db)
            fetched = time.perf_counter()
            if view is None:
                return
            service.submit(test_id, token, view.slot.position, {"played": view.letters, "rating": 3}, db=db)
            with lock:
                fetches.append(fetched - started)
                times.append(time.perf_counter() - fetched)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(participants)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, fetches


def rows(data_dir: Path | str, test_id: str) -> list[tuple[str, int, dict[str, Any]]]:
    """(participant id, position, stored answer) of every response, read straight from the file."""
    with closing(sqlite3.connect(db_path(data_dir), timeout=60)) as db:
        found = db.execute("SELECT participant_id, position, answer FROM responses WHERE test_id = ?",
                           (test_id,)).fetchall()
    return [(p, pos, json.loads(a)) for p, pos, a in found]


def participant_ids(data_dir: Path | str, test_id: str, tokens: list[str]) -> dict[str, str]:
    """token -> participant id (the store keeps only SHA-256 hashes of tokens)."""
    from codec_arena.listening.store import digest

    with closing(sqlite3.connect(db_path(data_dir), timeout=60)) as db:
        ids = dict(db.execute("SELECT token_hash, id FROM participants WHERE test_id = ?", (test_id,)).fetchall())
    return {t: ids[digest(t)] for t in tokens if digest(t) in ids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--responses", type=int, default=20, help="trials each participant answers")
    parser.add_argument("--url", help="a running app (then --data-dir must be its CODEC_ARENA_DATA_DIR)")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--via", nargs="+", choices=["routes", "gradio"], default=["routes", "gradio"],
                        help="the plain JSON routes and/or the Gradio endpoints (gradio_client)")
    args = parser.parse_args()
    if args.url and not args.data_dir:
        parser.error("--url needs --data-dir (the server's CODEC_ARENA_DATA_DIR)")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        os.environ["CODEC_ARENA_DATA_DIR"] = str(data_dir)  # the render cache goes there too
        server, url = None, args.url
        if not url:
            port = free_port()
            server, url = start_app(data_dir, port, Path(tmp) / "server.log"), f"http://127.0.0.1:{port}"
        try:
            bare, bare_next = run_bare(data_dir, create_test(data_dir, args.responses).test_id, args.participants)
            print(f"bare service calls, same class in-process: submit p50 {1000 * quantile(bare, 0.5):.1f} ms, "
                  f"p95 {1000 * quantile(bare, 0.95):.1f} ms (committed, fsync included); next trial p50 "
                  f"{1000 * quantile(bare_next, 0.5):.1f} ms")
            for via in args.via:
                created = create_test(data_dir, args.responses)
                figures = run_load(url, created.test_id, args.participants, created.trials_each, data_dir, via)
                print(f"\n-- through the app: {via} --")
                print("\n".join(figures.lines()))
                submit_s = [s for t in figures.takers for s in t.submit_s]
                next_s = [s for t in figures.takers for s in t.next_s]
                print(f"app / bare at p50: submit {quantile(submit_s, 0.5) / quantile(bare, 0.5):.1f}x, "
                      f"next trial {quantile(next_s, 0.5) / quantile(bare_next, 0.5):.1f}x")
            if server is not None and server.poll() is not None:
                print(f"the server exited during the run (status {server.returncode}); the figures are void")
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)


if __name__ == "__main__":
    main()

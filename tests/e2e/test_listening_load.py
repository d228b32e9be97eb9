"""Listening-test submissions through the running app stay put: a class of participants submitting at
once loses and doubles nothing, and every submit the app confirmed survives the server being killed
mid-stream (SIGKILL, no shutdown) and the test resumes on restart. The helpers are the load benchmark's
(benchmarks/listening_load.py), so the figures printed here are the ones it reports."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from conftest import ARTIFACTS, free_port

from benchmarks.listening_load import (
    Taker,
    call,
    client,
    create_test,
    db_path,
    participant_ids,
    rows,
    run_load,
    start_app,
    take,
)

pytestmark = pytest.mark.e2e
PARTICIPANTS, TRIALS = 30, 20  # 4 clips x (reference + 4 operating points), every trial for everyone
CRASH_PARTICIPANTS, KILL_AFTER = 10, 100


def report(name: str, lines: list[str]) -> None:
    """Print the figures (seen with -s) and keep them in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_text("\n".join(lines) + "\n")
    print(f"\n[{name}]\n" + "\n".join(lines))


def stored_scores(data_dir: Path, test_id: str, tokens: list[str]) -> dict[tuple[str, int], float]:
    """(token, position) -> the stored MOS rating of those participants, read straight from the SQLite file."""
    by_id = {v: k for k, v in participant_ids(data_dir, test_id, tokens).items()}
    found = {}
    for participant, position, stored in rows(data_dir, test_id):
        if participant in by_id:
            (score,) = stored["scores"].values()
            found[(by_id[participant], position)] = score
    return found


VIA = ["routes", "gradio"]  # the plain JSON routes (listening.http) and the Gradio endpoints (gradio_client)


@pytest.mark.parametrize("via", VIA)
def test_a_class_submitting_at_once_loses_and_doubles_nothing(app_url, cache_env, via):
    data_dir = Path(cache_env["CODEC_ARENA_DATA_DIR"])
    created = create_test(data_dir, TRIALS)
    assert created.trials == created.trials_each == TRIALS

    figures = run_load(app_url, created.test_id, PARTICIPANTS, TRIALS, data_dir, via)
    report(f"listening-load-{via}.txt", figures.lines())
    assert [t.error for t in figures.takers if t.error] == []
    assert all(t.code and t.code.startswith("CA-") for t in figures.takers)
    assert len({t.code for t in figures.takers}) == PARTICIPANTS
    assert all(sorted(t.confirmed) == list(range(TRIALS)) for t in figures.takers)

    tokens = [t.token for t in figures.takers]
    found = rows(data_dir, created.test_id)
    assert len(found) == PARTICIPANTS * TRIALS
    assert len({(p, pos) for p, pos, _ in found}) == len(found)  # each (participant, position) once
    assert stored_scores(data_dir, created.test_id, tokens) == {
        (t.token, pos): rating for t in figures.takers for pos, rating in t.confirmed.items()}

    api = client(app_url)
    try:
        results = call(api, "listening_results", created.test_id, created.owner_token)
        assert results["responses"] == PARTICIPANTS * TRIALS
        assert sorted(p["answered"] for p in results["participants"]) == [TRIALS] * PARTICIPANTS
        assert {p["completion_code"] for p in results["participants"]} == {t.code for t in figures.takers}

        # The page resends an answer (a retry after a lost reply): reported duplicate, stored once.
        first = figures.takers[0]
        again = call(api, "listening_submit", created.test_id, first.token, 0,
                     json.dumps({"played": ["A"], "rating": 1 + first.confirmed[0] % 5}))
        assert again["saved"] and again["duplicate"] and again["answered"] == TRIALS
        assert again["completion_code"] == first.code
        assert len(rows(data_dir, created.test_id)) == PARTICIPANTS * TRIALS
        assert stored_scores(data_dir, created.test_id, [first.token])[(first.token, 0)] == first.confirmed[0]
        assert call(api, "listening_results", created.test_id, created.owner_token)["responses"] == len(found)
    finally:
        api.close()


@pytest.mark.parametrize("via", VIA)
def test_confirmed_submits_survive_a_killed_server_and_the_test_resumes(cache_env, tmp_path, via):
    data_dir, port, log = tmp_path / "data", free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    server = start_app(data_dir, port, log, cache_env)
    try:
        created = create_test(data_dir, TRIALS)
        takers = [Taker() for _ in range(CRASH_PARTICIPANTS)]
        confirmations, enough = [0], threading.Event()
        lock = threading.Lock()

        def confirmed() -> None:
            with lock:
                confirmations[0] += 1
                if confirmations[0] >= KILL_AFTER:
                    enough.set()

        clients = [client(url, via) for _ in takers]
        for api, taker in zip(clients, takers, strict=True):  # everyone in the class before the stream starts:
            taker.token = call(api, "listening_join", created.test_id)["token"]  # a late join could miss the kill
        threads = [threading.Thread(target=take, args=(api, created.test_id, t, confirmed), daemon=True)
                   for api, t in zip(clients, takers, strict=True)]
        for thread in threads:
            thread.start()
        assert enough.wait(timeout=120), (f"only {confirmations[0]} confirmations; server status {server.poll()}:\n"
                                          f"{log.read_text()[-3000:]}")
        killed_at = time.perf_counter()
        os.kill(server.pid, signal.SIGKILL)  # mid-stream: the other threads are still submitting
        server.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=90)
        assert not any(thread.is_alive() for thread in threads), "a client hung on the killed server"
        for api in clients:
            api.close()
        confirmed_before = {(t.token, pos): rating for t in takers for pos, rating in t.confirmed.items()}
        failed = [t for t in takers if t.error]
        in_flight = [t for t in failed if t.failed_call_at < killed_at]  # the others called a dead server
        assert len(confirmed_before) >= KILL_AFTER and all(t.token for t in takers) and in_flight
        assert all((t.code is None) == bool(t.error) for t in takers)  # cut off by the kill, or done before it

        server = start_app(data_dir, port, log, cache_env)  # same data dir, same port
        restart_s = time.perf_counter() - killed_at
        api = client(url)
        try:
            results = call(api, "listening_results", created.test_id, created.owner_token)
            with closing(sqlite3.connect(db_path(data_dir))) as db:
                integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            after = stored_scores(data_dir, created.test_id, [t.token for t in takers])
            assert integrity == "ok"
            assert {k: after.get(k) for k in confirmed_before} == confirmed_before  # same answers, none lost
            assert results["responses"] == len(after)
            unconfirmed = set(after) - set(confirmed_before)  # committed, but the reply died with the server
            assert len(unconfirmed) <= sum(t.failed_in == "listening_submit" for t in in_flight)

            # Each participant resumes with their token where they stopped, and finishes.
            cut = failed[0]
            trial = call(api, "listening_next", created.test_id, cut.token)
            assert not trial["done"] and trial["position"] not in cut.confirmed
            assert trial["answered"] == len({pos for token, pos in after if token == cut.token})
            rest = [take(api, created.test_id, Taker(token=t.token)) for t in takers]
            assert [t.error for t in rest if t.error] == []
            assert all(t.code and t.code.startswith("CA-") for t in rest)
            final = rows(data_dir, created.test_id)
            assert len(final) == len({(p, pos) for p, pos, _ in final}) == CRASH_PARTICIPANTS * TRIALS
            assert call(api, "listening_results", created.test_id, created.owner_token)["responses"] == len(final)
            assert {k: v for k, v in stored_scores(data_dir, created.test_id, [t.token for t in takers]).items()
                    if k in confirmed_before} == confirmed_before
        finally:
            api.close()
        report("listening-crash.txt", [
            f"participants x trials: {CRASH_PARTICIPANTS} x {TRIALS}, SIGKILL after {KILL_AFTER} confirmations",
            f"confirmed before the kill: {len(confirmed_before)}",
            f"in-flight calls failed by the kill: {len(in_flight)} "
            f"({sum(t.failed_in == 'listening_submit' for t in in_flight)} submits, "
            f"{sum(t.failed_in == 'listening_next' for t in in_flight)} next-trial fetches); "
            f"{len(failed) - len(in_flight)} later calls refused; {CRASH_PARTICIPANTS - len(failed)} finished before",
            f"rows found after restart: {len(after)} (all {len(confirmed_before)} confirmed, same answers; "
            f"{len(unconfirmed)} committed whose reply was lost)",
            f"integrity_check: {integrity}; restart took {restart_s:.1f} s",
            f"submitted after restart: {sum(len(t.confirmed) for t in rest)}; rows at the end: {len(final)}; "
            f"completion codes: {sum(1 for t in rest if t.code)} of {CRASH_PARTICIPANTS}",
        ])
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except Exception:  # noqa: BLE001
            server.kill()

"""`codec-arena bench` on a real local Ray cluster (a head from `ray start --head`, joined by address),
and on a Ray started in the driver (`--ray local`): the same numbers per clip as a serial run, and a
worker killed mid-run still leaves every row stored exactly once. Loopback only, usage stats off."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from conftest import free_port
from test_bench import (  # noqa: F401  (own_runs_index: an autouse fixture, here too)
    POINTS,
    assert_same_rows,
    bench,
    make_dataset,
    own_runs_index,
    read_csv,
    stored,
    stored_count,
)

RAY = Path(sys.executable).parent / "ray"
LOOPBACK_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "OMP_NUM_THREADS": "1"}


@pytest.fixture
def ray_head(cache_env):
    """A one-node cluster on 127.0.0.1, started the way a user starts one, and stopped afterwards."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's sockets live under it
    env = os.environ | cache_env | LOOPBACK_ENV
    started = subprocess.run([str(RAY), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                              f"--ray-client-server-port={free_port()}", "--disable-usage-stats", "--num-cpus=2",
                              "--include-dashboard=false", f"--temp-dir={temp}"],
                             env=env, capture_output=True, text=True, timeout=120)
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        assert "Local node IP: 127.0.0.1" in started.stdout + started.stderr
        yield f"127.0.0.1:{port}", env
    finally:
        stop_cluster(temp)
        shutil.rmtree(temp, ignore_errors=True)


def stop_cluster(temp: str) -> None:
    """Stop this test's cluster only (`ray stop` would stop every Ray on the machine): its processes
    name its temp dir; their children (the workers) go with them."""
    owned = [p for p in psutil.process_iter(["cmdline"]) if temp in " ".join(p.info["cmdline"] or [])]
    family = {c for p in owned for c in _children(p)} | set(owned)
    for proc in family:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(family, timeout=15)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def bench_worker_pids() -> list[int]:
    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline and cmdline[0].startswith("ray::BenchWorker"):
            pids.append(proc.pid)
    return pids


def test_a_ray_cluster_survives_a_killed_worker_with_the_serial_numbers(ray_head, tmp_path):
    address, env = ray_head
    data = make_dataset(tmp_path / "data", n_good=10, bad=True)
    assert bench(data, tmp_path / "serial") == 0
    out = tmp_path / "ray"
    command = [sys.executable, "-m", "codec_arena.cli", "bench", str(data), "--codec", *POINTS, "--out", str(out),
               "--ray", address, "--workers", "2"]
    env = env | {"CODEC_ARENA_DATA_DIR": os.environ["CODEC_ARENA_DATA_DIR"]}  # the driver indexes the run here
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = out / "results.sqlite"
    killed = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and killed is None:
        workers = bench_worker_pids()
        if workers and store.exists() and stored_count(store) >= 2:
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    assert killed is not None, "no Ray worker was seen working: " + (proc.stderr.read() if proc.poll() else "")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert "20 done, 6 failed, 0 skipped" in stdout
    rows = stored(store)
    assert len(rows) == 26 == len({row[:2] for row in rows})  # every (clip, point) exactly once
    assert_same_rows(tmp_path / "serial", out)
    assert not psutil.pid_exists(killed) or psutil.Process(killed).status() == psutil.STATUS_ZOMBIE
    workers = {r["worker"] for r in read_csv(out / "clips.csv") if r["status"] == "done"}
    assert len(workers) >= 2  # the work was spread over more than one actor process


def test_ray_started_in_the_driver_gives_the_serial_numbers(cache_env, tmp_path):
    data = make_dataset(tmp_path / "data", n_good=4, bad=False)
    assert bench(data, tmp_path / "serial") == 0
    env = os.environ | cache_env | LOOPBACK_ENV | {"CODEC_ARENA_DATA_DIR": os.environ["CODEC_ARENA_DATA_DIR"]}
    out = tmp_path / "ray"
    done = subprocess.run([sys.executable, "-m", "codec_arena.cli", "bench", str(data), "--codec", *POINTS,
                           "--out", str(out), "--ray", "local", "--workers", "2"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "8 done, 0 failed" in done.stdout
    assert_same_rows(tmp_path / "serial", out)


def test_an_unreachable_cluster_is_one_line(cache_env, tmp_path):
    data = make_dataset(tmp_path / "data", n_good=1, bad=False)
    env = os.environ | cache_env | LOOPBACK_ENV
    done = subprocess.run([sys.executable, "-m", "codec_arena.cli", "bench", str(data), "--codec", "g722@64",
                           "--out", str(tmp_path / "x"), "--ray", f"127.0.0.1:{free_port()}"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "No Ray cluster answers at" in done.stderr and "Traceback" not in done.stderr

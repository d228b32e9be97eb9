"""`codec-arena bench` end to end on a generated dataset: exports, failures recorded with their reasons,
resume after a rerun and after kill -9, a process pool equal to a serial run, and a bad request."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_arena.bench.aggregate import summarise
from codec_arena.bench.store import Key, ResultsStore, Row
from codec_arena.cli import main

POINTS = ["dac_16khz@6", "g722@64"]


@pytest.fixture(autouse=True)
def own_runs_index(tmp_path, monkeypatch):
    """Runs made here are indexed in the test's own data dir, not the session's (which the app serves)."""
    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path / "data-dir"))


def speechlike(seconds: float, rate: int = 16_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110 + 30 * seed + 20 * np.sin(2 * np.pi * 0.8 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 10)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (0.15 * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def make_dataset(root: Path, n_good: int = 4, bad: bool = True) -> Path:
    """Speech/ and Music/ splits of 1 s clips; with `bad`, one clip each that is not audio, silent, too short."""
    for i in range(n_good):
        split = "Speech" if i % 2 == 0 else "Music"
        (root / split).mkdir(parents=True, exist_ok=True)
        sf.write(root / split / f"clip{i}.wav", speechlike(1.0, seed=i), 16_000)
    if bad:
        (root / "Speech" / "broken.wav").write_bytes(b"this is not a wav file at all" * 20)
        sf.write(root / "Music" / "silent.wav", np.zeros(16_000, np.float32), 16_000)
        sf.write(root / "Speech" / "short.wav", speechlike(0.02), 16_000)
    return root


def bench(data: Path, out: Path, *extra: str, points=POINTS) -> int:
    return main(["bench", str(data), "--codec", *points, "--out", str(out), *extra])


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_bench_writes_every_export_and_records_bad_clips(cache_env, tmp_path, capsys):
    data = make_dataset(tmp_path / "data")
    out = tmp_path / "run"
    assert bench(data, out) == 0
    printed = capsys.readouterr()
    assert "8 done, 6 failed, 0 skipped" in printed.out
    rows = read_csv(out / "clips.csv")
    assert len(rows) == 7 * 2
    reasons = {r["clip_id"]: r["reason"] for r in rows if r["status"] == "failed"}
    assert set(reasons) == {"Speech/broken.wav", "Music/silent.wav", "Speech/short.wav"}
    assert "silent" in reasons["Music/silent.wav"]
    assert "too short" in reasons["Speech/short.wav"]
    assert reasons["Speech/broken.wav"]  # the decoder's reason, whatever it is, is kept
    done = [r for r in rows if r["status"] == "done"]
    assert all(math.isfinite(float(r["waveform"])) and float(r["waveform"]) >= 0 for r in done)
    assert {r["random_weights"] for r in done if r["point"] == "dac_16khz@6"} == {"True"}
    assert {r["random_weights"] for r in done if r["point"] == "g722@64"} == {"False"}

    summary = json.loads((out / "summary.json").read_text())
    assert summary["format"] == "codec-arena-bench" and summary["counts"]["failed"] == 6
    assert summary["points"]["dac_16khz@6"]["random_weights"] is True
    assert summary["points"]["dac_16khz@6"]["token_rate"] == pytest.approx(50 * 12)
    g722 = summary["results"]["g722@64"]
    assert set(g722) == {"Speech", "Music", "overall"}
    assert g722["overall"]["stoi"]["n"] == 4 and g722["Speech"]["stoi"]["n"] == 2
    stoi = [float(r["stoi"]) for r in done if r["point"] == "g722@64"]
    assert g722["overall"]["stoi"]["mean"] == pytest.approx(np.mean(stoi))
    assert g722["overall"]["stoi"]["mean"] > 0.8  # G.722 at 64 kbps keeps speech intelligible
    superb = json.loads((out / "codec_superb.json").read_text())
    assert set(superb["g722@64"]["overall"]) == {"mel", "stft", "waveform", "pesq", "pesq-wb", "stoi", "f0corr"}
    assert superb["g722@64"]["overall"]["stoi"] == g722["overall"]["stoi"]["mean"]

    import pyarrow.parquet as pq

    table = pq.read_table(out / "clips.parquet")
    assert table.num_rows == 14 and "f0corr" in table.column_names

    # a rerun measures nothing again
    assert bench(data, out) == 0
    assert "0 done, 0 failed, 14 skipped" in capsys.readouterr().out
    assert len(read_csv(out / "clips.csv")) == 14


def test_a_killed_run_resumes_with_every_row_once(cache_env, tmp_path):
    data = make_dataset(tmp_path / "data", n_good=10, bad=False)
    out = tmp_path / "run"
    env = os.environ | cache_env | {"OMP_NUM_THREADS": "1", "CODEC_ARENA_DATA_DIR": os.environ["CODEC_ARENA_DATA_DIR"]}
    command = [sys.executable, "-m", "codec_arena.cli", "bench", str(data), "--codec", *POINTS, "--out", str(out)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = out / "results.sqlite"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if store.exists() and stored_count(store) >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed: make the dataset larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {row[:2]: row[2] for row in stored(store)}
    assert 3 <= len(before) < 20
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert f"{20 - len(before)} done, 0 failed, {len(before)} skipped" in finished.stdout
    after = stored(store)
    assert len(after) == 20 == len({row[:2] for row in after})  # every (clip, point) once
    assert all(before[row[:2]] == row[2] for row in after if row[:2] in before)  # kept, not redone


def stored(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT clip_key, point, created FROM results").fetchall()


def stored_count(path: Path) -> int:
    try:
        return len(stored(path))
    except sqlite3.Error:
        return 0


def test_a_process_pool_gives_the_serial_numbers(cache_env, tmp_path, capsys):
    data = make_dataset(tmp_path / "data", n_good=4, bad=True)
    assert bench(data, tmp_path / "serial") == 0
    assert bench(data, tmp_path / "pool", "--workers", "2") == 0
    assert "8 done, 6 failed" in capsys.readouterr().out
    assert_same_rows(tmp_path / "serial", tmp_path / "pool")


def assert_same_rows(a: Path, b: Path, tolerance: float = 1e-5) -> None:
    rows_a = {(r["clip_id"], r["point"]): r for r in read_csv(a / "clips.csv")}
    rows_b = {(r["clip_id"], r["point"]): r for r in read_csv(b / "clips.csv")}
    assert rows_a.keys() == rows_b.keys()
    for key, row in rows_a.items():
        assert row["status"] == rows_b[key]["status"], key
        for metric in ("mel", "stft", "waveform", "pesq", "stoi", "f0corr"):
            if row[metric]:
                assert float(row[metric]) == pytest.approx(float(rows_b[key][metric]), abs=tolerance), (key, metric)


def test_bad_requests_give_one_line(cache_env, tmp_path, capsys):
    data = make_dataset(tmp_path / "data", n_good=1, bad=False)
    assert bench(data, tmp_path / "a", "--metrics", "mos") == 2
    assert "Unknown metric 'mos'" in capsys.readouterr().err
    assert bench(tmp_path / "nowhere", tmp_path / "b") == 2
    err = capsys.readouterr().err
    assert err.startswith("codec-arena: ") and "Traceback" not in err
    assert bench(data, tmp_path / "c", points=["dac_16khz@7"]) == 2
    assert "dac_16khz" in capsys.readouterr().err


def test_points_without_weights_are_skipped_with_the_reason(empty_cache_env, tmp_path, capsys):
    data = make_dataset(tmp_path / "data", n_good=2, bad=False)
    assert bench(data, tmp_path / "run") == 0
    captured = capsys.readouterr()
    assert "skipped dac_16khz@6: Weights for dac_16khz are not available" in captured.err
    assert "2 done, 0 failed" in captured.out  # G.722 needs no weights
    assert bench(data, tmp_path / "run2", points=["dac_16khz@6"]) == 2
    assert "No operating point can run here" in capsys.readouterr().err


def test_app_metrics_ride_along(cache_env, tmp_path):
    data = make_dataset(tmp_path / "data", n_good=2, bad=False)
    assert bench(data, tmp_path / "run", "--metrics", "stoi,app.si_sdr", points=["g722@64"]) == 0
    rows = read_csv(tmp_path / "run" / "clips.csv")
    assert {"stoi", "app.si_sdr"} <= set(rows[0]) and "mel" not in rows[0]
    assert all(float(r["app.si_sdr"]) > 10 for r in rows)  # G.722 at 64 kbps: a close copy


def test_summaries_and_the_store_keep_their_promises(tmp_path):
    values = [1.0, 2.0, 4.0, float("nan"), None]
    s = summarise(values)
    from scipy import stats

    low, high = stats.t.interval(0.95, 2, loc=np.mean([1, 2, 4]), scale=stats.sem([1, 2, 4]))
    assert s.n == 3 and s.mean == pytest.approx(7 / 3) and s.ci95 == pytest.approx((high - low) / 2)
    assert summarise([3.0]).ci95 is None and summarise([]).mean is None
    with ResultsStore(tmp_path / "r.sqlite") as store:
        row = Row(Key("abc", "g722@64", "none", "v"), "a.wav", "", "done", None, {"stoi": 0.9}, {})
        assert store.put(row) is True
        assert store.put(row) is False  # a retried shard's duplicate is not stored twice
        assert store.count() == 1
        assert store.done_keys() == {row.key}
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_manifest_and_a_datasets_copy_give_the_folder_numbers(cache_env, tmp_path, capsys):
    """The same clips as a folder, a CSV manifest, a `save_to_disk` DatasetDict laid out like
    voidful/codec-superb-tiny (splits Speech / Music, `id` and `audio` columns) and its parquet files."""
    import datasets

    data = make_dataset(tmp_path / "data", n_good=4, bad=False)
    files = sorted(data.rglob("*.wav"))
    manifest = tmp_path / "clips.csv"
    manifest.write_text("path,split\n" + "".join(f"{f.relative_to(tmp_path)},{f.parent.name}\n" for f in files))
    splits = {}
    for split in ("Speech", "Music"):
        chosen = [f for f in files if f.parent.name == split]
        splits[split] = datasets.Dataset.from_dict(
            {"id": [f.stem for f in chosen], "audio": [{"bytes": f.read_bytes(), "path": None} for f in chosen]}
        ).cast_column("audio", datasets.Audio(decode=False))
    saved = tmp_path / "saved"
    datasets.DatasetDict(splits).save_to_disk(saved)
    parquet = tmp_path / "parquet" / "data"
    parquet.mkdir(parents=True)
    for split, ds in splits.items():
        ds.to_parquet(parquet / f"{split}-00000-of-00001.parquet")

    by_hash = {}
    for name, source in [("folder", data), ("manifest", manifest), ("saved", saved), ("parquet", parquet.parent)]:
        assert bench(source, tmp_path / f"run-{name}", points=["g722@64"]) == 0, capsys.readouterr().err
        rows = read_csv(tmp_path / f"run-{name}" / "clips.csv")
        by_hash[name] = {r["clip_sha256"]: (r["split"], r["stoi"], r["mel"]) for r in rows}
    assert len(by_hash["folder"]) == 4
    assert by_hash["manifest"] == by_hash["folder"] == by_hash["saved"] == by_hash["parquet"]
    summary = json.loads((tmp_path / "run-saved" / "summary.json").read_text())
    assert set(summary["results"]["g722@64"]) == {"Speech", "Music", "overall"}

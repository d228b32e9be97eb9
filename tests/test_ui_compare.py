"""The Compare tab's handlers without a browser: the metrics table, reuse of round trips already computed
in this page (Compare and the rate–distortion sweep), and the sweep's legend."""

from __future__ import annotations

import pytest
import soundfile as sf
from conftest import tone

import codec_arena.compare as compare_module
from codec_arena.audio import Audio
from codec_arena.compare import ResultCache, all_points, compare, parse_point
from codec_arena.report import table_headers


class Progress:
    """Stands in for gr.Progress: records (fraction, description)."""

    def __init__(self):
        self.calls = []

    def __call__(self, fraction, desc=None, **_):
        self.calls.append((fraction, desc))


@pytest.fixture
def count_roundtrips(monkeypatch) -> list:
    calls = []
    real = compare_module.roundtrip

    def counted(audio, point, *args, **kwargs):  # compare passes the parsed point
        calls.append(str(point))
        return real(audio, point, *args, **kwargs)

    monkeypatch.setattr(compare_module, "roundtrip", counted)
    return calls


@pytest.fixture
def clip(tmp_path) -> str:
    path = tmp_path / "clip.wav"
    sf.write(path, tone(0.5, 16_000).T, 16_000)
    return str(path)


def test_compare_reuses_round_trips_of_the_same_clip_and_point(count_roundtrips):
    audio = Audio(tone(0.5, 16_000), 16_000)
    cache = ResultCache()
    points = [parse_point("opus@24"), parse_point("mp3@64")]
    first = compare(audio, points, cache=cache)
    assert count_roundtrips == ["opus@24", "mp3@64"]
    again = compare(Audio(audio.samples.copy(), 16_000), [parse_point("mp3@64"), parse_point("opus@32")], cache=cache)
    assert count_roundtrips == ["opus@24", "mp3@64", "opus@32"]  # the same content is the same clip
    assert again.entries[0] is first.entries[1]
    compare(Audio(tone(0.5, 16_000, freq=330.0), 16_000), [parse_point("opus@24")], cache=cache)
    assert count_roundtrips[-1] == "opus@24"  # another clip is computed
    compare(audio, points)  # no cache: every point runs
    assert len(count_roundtrips) == 6


def test_the_cache_is_bounded_least_recently_used_first(count_roundtrips):
    audio = Audio(tone(0.5, 16_000), 16_000)
    cache = ResultCache(max_entries=2)
    compare(audio, [parse_point("opus@24"), parse_point("opus@32")], cache=cache)
    compare(audio, [parse_point("opus@24")], cache=cache)  # used again: now the most recent
    compare(audio, [parse_point("opus@48")], cache=cache)  # evicts opus@32
    assert len(cache) == 2
    compare(audio, [parse_point("opus@24"), parse_point("opus@32")], cache=cache)
    assert count_roundtrips == ["opus@24", "opus@32", "opus@48", "opus@32"]
    tiny = ResultCache(max_mb=0.001)  # nothing fits: nothing is kept, nothing breaks
    compare(audio, [parse_point("opus@24")], cache=tiny)
    assert len(tiny) == 0


def test_other_weights_are_computed_afresh(cache_env, count_roundtrips):
    """A cached random-weight result is not reused once other weights (the real ones) are in place."""
    import os

    from codec_arena.codecs import weight_spec

    audio = Audio(tone(0.5, 16_000), 16_000)
    cache = ResultCache()
    compare(audio, [parse_point("dac_16khz@3")], cache=cache)
    compare(audio, [parse_point("dac_16khz@3")], cache=cache)
    assert count_roundtrips == ["dac_16khz@3"]
    path = weight_spec("dac_16khz").path
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a new file in the same place
    try:
        compare(audio, [parse_point("dac_16khz@3")], cache=cache)
    finally:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert count_roundtrips == ["dac_16khz@3", "dac_16khz@3"]


def test_metrics_table_names_the_operating_point_and_marks_random_weights(cache_env, clip):
    from codec_arena.ui import compare as tab

    cache = ResultCache()
    result = tab.run_compare(clip, ["dac_16khz@3", "opus@24"], cache, progress=Progress())
    rows = result[1]
    assert [row[0] for row in rows] == ["dac_16khz@3 ⚠\u00a0random", "opus@24"]
    headers = table_headers()
    assert headers[0] == "operating point" and "PESQ WB ↑" in headers and "mel distance ↓" in headers
    assert len(headers) == len(rows[0])


def test_sweep_after_compare_recomputes_nothing_it_has(cache_env, clip, count_roundtrips):
    from codec_arena.ui import compare as tab

    cache = ResultCache()
    tab.run_compare(clip, ["dac_16khz@3", "opus@24"], cache, progress=Progress())
    assert count_roundtrips == ["dac_16khz@3", "opus@24"]
    chart, _table, note, *_ = tab.run_sweep(clip, ["dac_16khz@3", "opus@24"], "mel_distance", cache,
                                            progress=Progress())
    swept = count_roundtrips[2:]
    every = [str(p) for p in all_points(["dac_16khz", "opus"])]
    assert sorted(swept) == sorted(set(every) - {"dac_16khz@3", "opus@24"})  # the compared points are reused
    assert note == f"{len(every)} operating points: {len(every) - 2} computed, 2 reused from this page."
    tab.run_compare(clip, ["dac_16khz@6"], cache, progress=Progress())  # and the sweep's are reused by Compare
    assert len(count_roundtrips) == 2 + len(swept)
    legend = [trace.name for trace in chart.data]
    assert legend == ["dac_16khz ⚠\u00a0random weights", "opus"]

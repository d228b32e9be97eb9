"""The CLI's faster comparison (metrics in a second process, `ProcessScorer`) gives the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from codec_arena import compare as compare_module
from codec_arena.analysis.metrics import QUALITY_KEYS, score
from codec_arena.audio import Audio
from codec_arena.compare import InlineScorer, ProcessScorer, compare, parse_point
from codec_arena.signals import seeded_audio


@pytest.fixture(autouse=True)
def spawned(monkeypatch):
    """spawn, not fork: this pytest process may already run torch's thread pools (the CLI forks before)."""
    monkeypatch.setattr(compare_module, "_start_method", lambda: "spawn")


def pair(rate: int = 16_000) -> tuple[Audio, Audio]:
    """A speech-like original and a delayed, noisy, quieter reconstruction of it."""
    ref = seeded_audio(rate, 2.0)
    noise = np.random.default_rng(7).standard_normal(ref.size).astype(np.float32)
    est = np.concatenate([np.zeros(80, np.float32), 0.7 * ref + 0.02 * noise])
    return Audio(ref[None], rate), Audio(est[None], rate)


# pystoi's ESTOI and ViSQOL's audio mode differ in their last bits from one call to the next, in any process
LAST_BITS_VARY = {"estoi", "visqol_audio", "visqol_speech"}


def same_scores(a, b) -> None:
    assert list(a.values) == list(b.values) == QUALITY_KEYS  # same keys, same order (metrics.json's columns)
    assert a.notes == b.notes and a.lag_samples == b.lag_samples
    for key in QUALITY_KEYS:
        if key in LAST_BITS_VARY and a.values[key] is not None:
            assert a.values[key] == pytest.approx(b.values[key], rel=1e-12), key
        else:
            assert a.values[key] == b.values[key], key


def test_the_scoring_process_gives_identical_numbers():
    reference, estimate = pair()
    waited = []
    with ProcessScorer([16_000], on_wait=lambda: waited.append(1)) as scorer:
        pending = scorer.submit(reference, estimate)
        there = pending()
    here = score(reference, estimate)  # after: torch in this process must not exist before a fork elsewhere
    same_scores(there, here)
    assert there.values["speaker_similarity"] is not None and there.values["visqol_speech"] is not None
    assert len(waited) <= 1


def test_a_dead_scoring_process_falls_back_to_this_one():
    reference, estimate = pair()
    with ProcessScorer([16_000]) as scorer:
        for process in list(scorer._pool._processes.values()):
            process.kill()
            process.join()
        fallback = scorer.submit(reference, estimate)()
    same_scores(fallback, score(reference, estimate))


def test_compare_with_the_scoring_process_equals_compare_inline(tmp_path):
    """Classical codecs (no weights needed), two points: rows in order, metrics identical."""
    original = Audio(np.stack([seeded_audio(48_000, 1.5)] * 2), 48_000)
    points = [parse_point("opus@24"), parse_point("mp3@64")]
    with ProcessScorer({p.info.sample_rate for p in points}) as scorer:
        deferred = compare(original, points, scorer=scorer)
    inline = compare(original, points, scorer=InlineScorer())
    timing = {"real_time_factor", "peak_memory_mb"}
    for a, b in zip(deferred.entries, inline.entries, strict=True):
        assert a.point == b.point
        same_scores(a.scores, b.scores)
        assert {k: v for k, v in a.row().items() if k not in timing} == {k: v for k, v in b.row().items()
                                                                          if k not in timing}

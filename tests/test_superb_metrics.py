"""Codec-SUPERB metrics: the official `get_metrics` numbers (stored), and answers known without them.

`tests/data/codec_superb_reference.json` holds what the official code returned on generated pairs
(`benchmarks/parity/codec_superb_metrics.py --write-reference`). The signal recipe is repeated here
because tests cannot import benchmarks/; the JSON records the recipe and each signal's length and
RMS, and the first test checks both, so a drift between the two copies fails loudly.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codec_arena.analysis import superb
from codec_arena.signals import SUPERB_PAIRS, SUPERB_RECIPE, seeded_audio, superb_pairs, superb_stoi_probe

REFERENCE = json.loads((Path(__file__).parent / "data" / "codec_superb_reference.json").read_text())
TOLERANCE = 1e-6

RECIPE, PAIRS = SUPERB_RECIPE, SUPERB_PAIRS
reference_pairs, stoi_probe = superb_pairs, superb_stoi_probe


def assert_same_signal(signal: np.ndarray, recorded: dict) -> None:
    assert signal.size == recorded["length"]
    assert math.isclose(float(np.sqrt(np.mean(np.asarray(signal, np.float64) ** 2))), recorded["rms"], rel_tol=1e-6)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The reference was computed on one thread (as Codec-SUPERB's benchmarking.py runs): same float32 sums."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def pairs() -> dict[int, dict[str, tuple[np.ndarray, np.ndarray]]]:
    return {rate: reference_pairs(rate) for rate in RECIPE["rates"]}


def test_recipe_and_signals_match_the_reference(pairs) -> None:
    assert REFERENCE["recipe"] == RECIPE
    assert tuple(REFERENCE["pairs"]) == PAIRS
    assert REFERENCE["superb_version"] == superb.VERSION, "definitions changed: rerun the parity script"
    for rate, by_pair in pairs.items():
        assert tuple(by_pair) == PAIRS
        for pair, (reference, estimate) in by_pair.items():
            recorded = REFERENCE["signals"][str(rate)][pair]
            assert_same_signal(reference, recorded["reference"])
            assert_same_signal(estimate, recorded["estimate"])
    probe_ref, probe_est = stoi_probe()
    assert_same_signal(probe_ref, REFERENCE["stoi_probe"]["signals"]["reference"])
    assert_same_signal(probe_est, REFERENCE["stoi_probe"]["signals"]["estimate"])


@pytest.mark.parametrize("rate", RECIPE["rates"])
def test_matches_official_get_metrics(pairs, rate: int) -> None:
    failures = []
    for pair, (reference, estimate) in pairs[rate].items():
        ours = superb.superb_metrics(reference, estimate, rate)
        assert list(ours) == list(superb.NAMES)
        for name, official in REFERENCE["values"][str(rate)][pair].items():
            value = ours[name]
            same = math.isnan(value) if official is None else abs(value - official) <= TOLERANCE
            if not same:
                failures.append(f"{pair} {name}: ours {value!r}, official {official!r}")
    assert not failures, "\n".join(failures)


def test_stoi_core_reproduces_the_frame_zero_wrap() -> None:
    """Only the wrap (frame 0's energy read from x[-1]) sees the huge last sample: it drops every other
    frame, so STOI is 0 as in the official code (without the quirk it is about 0.9)."""
    reference, estimate = stoi_probe()
    score = superb._stoi(reference, estimate, RECIPE["stoi_probe"]["rate"])
    assert abs(score - REFERENCE["stoi_probe"]["official"]) <= TOLERANCE
    assert score == 0.0
    clean = reference.copy()
    clean[-1] = 0.0
    assert superb._stoi(clean, estimate, RECIPE["stoi_probe"]["rate"]) > 0.8


def test_identical_signals_known_answers(pairs) -> None:
    reference, _ = pairs[24000]["identical"]
    values = superb.superb_metrics(reference, reference.copy(), 24000)
    assert values["waveform"] == 0.0
    assert values["mel"] == 0.0
    assert values["stft"] == 0.0
    assert values["stoi"] == pytest.approx(1.0, abs=1e-5)
    assert values["pesq"] == pytest.approx(4.64, abs=0.01)  # wide-band PESQ's ceiling
    assert values["pesq-wb"] == values["pesq"]
    assert values["f0corr"] == pytest.approx(1.0, abs=1e-6)


def test_a_subset_returns_those_keys_with_the_full_run_values(pairs) -> None:
    """stoi and f0corr at 44.1 kHz still see the 16 kHz signals PESQ's in-place resampling leaves, even
    when PESQ is not asked for."""
    reference, estimate = pairs[44100]["noise"]
    values = superb.superb_metrics(reference, estimate, 44100, names=("stoi", "waveform", "f0corr"))
    assert list(values) == ["stoi", "waveform", "f0corr"]
    official = REFERENCE["values"]["44100"]["noise"]
    for name, value in values.items():
        assert abs(value - official[name]) <= TOLERANCE, name


def test_degenerate_inputs_give_nan_not_an_exception() -> None:
    clip = seeded_audio(16000, 0.5)
    with_nan, with_inf = clip.copy(), clip.copy()
    with_nan[100] = np.nan
    with_inf[-1] = np.inf
    for reference, estimate in [(np.zeros(0, np.float32), np.zeros(0, np.float32)), (with_nan, clip),
                                (clip, with_inf)]:
        values = superb.superb_metrics(reference, estimate, 16000)
        assert list(values) == list(superb.NAMES)
        assert all(math.isnan(value) for value in values.values()), values


def test_bad_arguments_raise() -> None:
    clip = seeded_audio(16000, 0.5)
    with pytest.raises(ValueError, match="unknown"):
        superb.superb_metrics(clip, clip, 16000, names=("mel", "visqol"))
    with pytest.raises(ValueError, match="mono"):
        superb.superb_metrics(np.stack([clip, clip]), np.stack([clip, clip]), 16000)


def test_tables_cover_every_metric() -> None:
    assert superb.NAMES == ("mel", "stft", "waveform", "pesq", "pesq-wb", "stoi", "f0corr")
    assert set(superb.HIGHER_IS_BETTER) == set(superb.NAMES) == set(superb.DESCRIPTIONS)
    assert [name for name in superb.NAMES if not superb.HIGHER_IS_BETTER[name]] == ["mel", "stft", "waveform"]
    assert all(text and "\n" not in text for text in superb.DESCRIPTIONS.values())


def test_importing_is_cheap() -> None:
    code = ("import sys, codec_arena.analysis.superb; "
            "print(sorted({'torch', 'audiotools', 'dac', 'parselmouth', 'librosa', 'pesq'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

"""Rendered listening-test stimuli, measured on the stored FLAC: BS.1534-3 anchors' cut-offs, loudness
matching (BS.1770) under a peak ceiling, excerpt limits, codec alignment and the render cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import codec_arena.roundtrip
from codec_arena.audio import Audio
from codec_arena.errors import AudioInputError
from codec_arena.listening import service, stimuli
from codec_arena.listening.protocols import ANCHORS, REFERENCE
from codec_arena.listening.store import Store

RATE = 48_000


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own data dir, so the render cache starts empty and nothing lands in ~/.local."""
    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path))
    return tmp_path


def noise(seconds: float, rate: int = RATE, channels: int = 1, level: float = 0.1, seed: int = 0) -> Audio:
    samples = np.random.default_rng(seed).standard_normal((channels, int(seconds * rate))) * level
    return Audio(samples.astype(np.float32), rate)


def stored(db: Store, test_id: str) -> dict[str, Audio]:
    """Every stored stimulus of a one-clip test, decoded from its FLAC, by condition."""
    facts = db.stimuli_facts(test_id)
    return {f["condition"]: stimuli.read_flac(db.stimulus(test_id, f["clip"], f["condition"])) for f in facts}


def peak_dbfs(audio: Audio) -> float:
    return 20 * np.log10(float(np.abs(audio.samples).max()))


@pytest.fixture
def mushra_noise(data_dir: Path) -> tuple[Store, str]:
    db = Store(data_dir / "x.sqlite3")
    created = service.create_test("anchors", "mushra", [("noise.wav", noise(8.0))], ["opus@24", "mp3@64"], db=db)
    return db, created.test_id


def test_anchor_cutoffs_measured_on_the_stored_audio(mushra_noise: tuple[Store, str]) -> None:
    """White noise in: the anchor's PSD over the reference's, with the loudness gains taken out, is the
    anchor filter's response: -6 dB at the cut-off (±5%), flat below 0.7x, over 40 dB down at 1.5x."""
    from scipy.signal import welch

    db, test_id = mushra_noise
    audio = stored(db, test_id)
    gains = {f["condition"]: f["gain_db"] for f in db.stimuli_facts(test_id)}
    freqs, reference = welch(audio[REFERENCE].samples[0].astype(np.float64), RATE, nperseg=4096)
    for condition, cutoff in ANCHORS.items():
        assert audio[condition].sample_rate == RATE
        _, anchor = welch(audio[condition].samples[0].astype(np.float64), RATE, nperseg=4096)
        response = 10 * np.log10(anchor / reference) - (gains[condition] - gains[REFERENCE])
        first_below = int(np.argmax(response < -6))
        minus_6db = np.interp(-6, response[[first_below, first_below - 1]], freqs[[first_below, first_below - 1]])
        assert abs(minus_6db - cutoff) <= 0.05 * cutoff, (condition, minus_6db)
        passband = (freqs > 50) & (freqs < 0.7 * cutoff)
        assert np.abs(response[passband]).max() < 1.0, condition
        assert np.interp(1.5 * cutoff, freqs, response) < -40, condition
        assert response[freqs >= 1.5 * cutoff].max() < -40, condition


def test_every_stored_stimulus_has_the_same_loudness_and_no_peak_above_minus_1_dbfs(
        mushra_noise: tuple[Store, str]) -> None:
    db, test_id = mushra_noise
    audio = stored(db, test_id)
    assert set(audio) == {REFERENCE, *ANCHORS, "opus@24", "mp3@64"}
    levels = {condition: stimuli.loudness(a) for condition, a in audio.items()}
    assert max(levels.values()) - min(levels.values()) < 0.5, levels
    assert all(abs(level - stimuli.TARGET_LUFS) < 0.5 for level in levels.values()), levels  # no need to lower it
    assert all(peak_dbfs(a) <= -1.0 + 0.01 for a in audio.values())
    assert {f["loudness_lufs"] for f in db.stimuli_facts(test_id)} == {stimuli.TARGET_LUFS}


def test_a_loud_clip_lowers_the_common_target_instead_of_clipping(data_dir: Path) -> None:
    """Noise near -23 LUFS with full-scale clicks: reaching -23 LUFS would put the clicks above the
    -1 dBFS ceiling, so the whole test is matched to a lower level."""
    clip = noise(2.0, level=0.05).samples
    clip[0, RATE // 4:: RATE // 2] = 0.99
    loud = Audio(clip, RATE)
    assert stimuli.loudness(loud) > -23 and peak_dbfs(loud) > -0.1
    db = Store(data_dir / "x.sqlite3")
    created = service.create_test("loud", "mushra", [("loud.wav", loud)], ["opus@24", "mp3@64"], db=db)
    assert created.loudness_lufs < stimuli.TARGET_LUFS - 0.3
    audio = stored(db, created.test_id)
    levels = [stimuli.loudness(a) for a in audio.values()]
    assert max(levels) - min(levels) < 0.5
    assert all(abs(level - created.loudness_lufs) < 0.5 for level in levels)
    assert max(peak_dbfs(a) for a in audio.values()) <= -1.0 + 0.01
    assert max(peak_dbfs(a) for a in audio.values()) > -1.5  # lowered just enough, not more


def test_match_loudness_keeps_the_target_when_nothing_would_clip() -> None:
    quiet, louder = noise(2.0, level=0.01), noise(2.0, level=0.05, seed=1)
    target, matched = stimuli.match_loudness([("a", REFERENCE, quiet), ("a", "opus@24", louder)])
    assert target == stimuli.TARGET_LUFS
    for (_, _, audio, gain), original in zip(matched, (quiet, louder), strict=True):
        assert abs(stimuli.loudness(audio) - target) < 0.01
        assert gain == pytest.approx(target - stimuli.loudness(original), abs=1e-6)


# excerpt ----------------------------------------------------------------------------------------
def test_excerpt_cuts_to_15_seconds_and_keeps_shorter_clips_whole() -> None:
    long = stimuli.excerpt(noise(20.0, rate=44_100), "long")
    assert long.sample_rate == 44_100 and long.frames == 15 * 44_100
    short = stimuli.excerpt(noise(3.0), "short")
    assert short.frames == 3 * RATE and short.channels == 1


def test_excerpt_refuses_clips_under_a_second() -> None:
    with pytest.raises(AudioInputError, match=r"'blip' is 0\.50 s long; a listening test needs at least 1 s"):
        stimuli.excerpt(noise(0.5), "blip")


def test_excerpt_raises_8khz_to_16khz_and_lowers_96khz_to_48khz() -> None:
    up = stimuli.excerpt(noise(2.0, rate=8_000), "phone")
    assert up.sample_rate == 16_000 and up.frames == 32_000
    down = stimuli.excerpt(noise(2.0, rate=96_000), "studio")
    assert down.sample_rate == 48_000 and down.frames == 96_000


def test_excerpt_downmixes_six_channels_to_stereo_and_keeps_stereo() -> None:
    surround = noise(2.0, channels=6)
    stereo = stimuli.excerpt(surround, "surround")
    assert stereo.channels == 2
    np.testing.assert_allclose(stereo.samples[0], surround.samples.mean(0), atol=1e-6)
    assert stimuli.excerpt(noise(2.0, channels=2), "stereo").channels == 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_silence_is_refused_with_a_clear_message_before_any_codec_runs(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    silent = Audio(np.zeros((1, 2 * RATE), np.float32), RATE)
    with pytest.raises(AudioInputError, match="'quiet' is silent"):
        stimuli.excerpt(silent, "quiet")
    calls = []
    monkeypatch.setattr(codec_arena.roundtrip, "roundtrip", lambda *args, **kwargs: calls.append(args))
    for method_id in ("mushra", "ab_noref"):
        with pytest.raises(AudioInputError, match="'quiet' is silent.*pick a clip with sound in it") as raised:
            service.create_test("t", method_id, [("quiet.wav", silent)], ["opus@24", "mp3@64"],
                                db=Store(data_dir / "x.sqlite3"))
        assert "opus" not in str(raised.value) and "anchor" not in str(raised.value)
    assert calls == []


@pytest.mark.parametrize("shift", [300, -200, 0])
def test_aligned_removes_a_known_delay(shift: int) -> None:
    reference = noise(1.0, seed=4)
    n = reference.frames
    if shift >= 0:  # the codec's output starts `shift` samples late
        delayed = np.concatenate([np.zeros((1, shift), np.float32), reference.samples], axis=1)
    else:  # or early, missing its first samples
        delayed = reference.samples[:, -shift:]
    out = stimuli.aligned(reference, Audio(delayed, RATE))
    assert out.frames == n and out.sample_rate == RATE and out.channels == 1
    valid = slice(-shift, n) if shift < 0 else slice(0, n)  # an early output lacks its first samples
    np.testing.assert_array_equal(out.samples[:, valid], reference.samples[:, valid])


def test_aligned_matches_rate_and_channels_of_the_reference() -> None:
    reference = noise(1.0, channels=2, seed=5)
    output = Audio(np.concatenate([np.zeros((1, 120), np.float32), reference.to(24_000, 1).samples], axis=1), 24_000)
    out = stimuli.aligned(reference, output)
    assert (out.sample_rate, out.channels, out.frames) == (RATE, 2, reference.frames)
    from codec_arena.analysis.metrics import estimate_lag

    assert estimate_lag(reference.samples.mean(0).astype(np.float64), out.samples[0].astype(np.float64), 2400) == 0
    band_limited = reference.to(24_000, 1).to(RATE, 1).samples[0]  # what survives the trip through 24 kHz
    assert np.corrcoef(band_limited[:-200], out.samples[1, :-200])[0, 1] > 0.99


def test_codec_versions_are_aligned_to_the_reference(mushra_noise: tuple[Store, str]) -> None:
    """Opus and MP3 add a decoder delay; the stored versions line up with the reference."""
    from codec_arena.analysis.metrics import estimate_lag

    db, test_id = mushra_noise
    audio = stored(db, test_id)
    reference = audio[REFERENCE].samples[0].astype(np.float64)
    for point in ("opus@24", "mp3@64"):
        assert audio[point].frames == audio[REFERENCE].frames
        assert estimate_lag(reference, audio[point].samples[0].astype(np.float64), RATE // 20) == 0, point


# render cache -----------------------------------------------------------------------------------
def test_a_second_test_from_the_same_clip_reuses_the_render_cache(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`stimuli.codec_version` imports `roundtrip` from `codec_arena.roundtrip` when it runs, so the
    module attribute is what it calls."""
    real, calls = codec_arena.roundtrip.roundtrip, []

    def spy(audio, point, *args, **kwargs):  # the parsed operating point
        calls.append(point.codec)
        return real(audio, point, *args, **kwargs)

    monkeypatch.setattr(codec_arena.roundtrip, "roundtrip", spy)
    db, clip = Store(data_dir / "x.sqlite3"), noise(2.0, seed=7)
    first = service.create_test("one", "mushra", [("clip.wav", clip)], ["opus@24"], db=db)
    assert calls == ["opus"]
    assert list((data_dir / "render-cache").glob("*.npz"))
    second = service.create_test("two", "mushra", [("clip.wav", clip)], ["opus@24"], db=db)
    assert calls == ["opus"]
    a, b = stored(db, first.test_id), stored(db, second.test_id)
    np.testing.assert_array_equal(a["opus@24"].samples, b["opus@24"].samples)
    service.create_test("three", "mushra", [("clip.wav", noise(2.0, seed=8))], ["opus@24"], db=db)
    assert calls == ["opus", "opus"]  # another clip is rendered

"""The streaming engine on files: codes files (versioned, refused when foreign), files longer than the
upload cap, chunked equal to one pass, whole-file loudness from a first pass, batches, and bad files
(truncated or corrupt in the middle, a full disk) that leave nothing behind that looks complete."""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT
from test_cli import cli

from codec_arena import files
from codec_arena.audio import Audio
from codec_arena.codecs import codes_file, get_codec, stream

CODEC = "dac_16khz"  # small random weights (cache_env); exact, and normalises loudness over the whole file


def noise(seconds: float, rate: int = 16_000, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, int(seconds * rate)))).astype(np.float32)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name or p.name.startswith(".codes-"))


@pytest.fixture
def small_windows(cache_env):
    """The shared DAC instance with 0.8 s windows, so a few seconds of audio need several."""
    codec = get_codec(CODEC, "cpu")
    codec.window_units = 40
    yield codec
    codec.window_units = None


def test_file_through_the_engine_equals_the_clip_in_one_pass(small_windows, tmp_path):
    """A 3.3 s file in 0.8 s windows: the codes file holds the one-pass codes, the wav the clip's length."""
    codec = small_windows
    samples = noise(3.3)
    sf.write(tmp_path / "in.wav", samples.T, 16_000)
    point = codec.point(3.0)
    encoded = files.encode_file(codec, point, tmp_path / "in.wav", tmp_path / "codes.npz")
    codes, header = codes_file.read(tmp_path / "codes.npz")
    codec.window_units = 1000
    one_pass = codec.encode(Audio(samples, 16_000), point)
    np.testing.assert_array_equal(codes.tokens, one_pass.tokens)
    assert header.codec_id == CODEC and header.codebooks == 6 and header.frames == 165
    assert header.weights == codec.weights_id and len(header.weights) == 16
    assert encoded.codes == header and header.num_samples == samples.shape[1]
    codec.window_units = 40
    files.decode_file(codec, tmp_path / "codes.npz", tmp_path / "out.wav")
    out, rate = sf.read(tmp_path / "out.wav", always_2d=True)
    assert rate == 16_000 and out.shape == (samples.shape[1], 1)
    expected = codec.decode(one_pass).samples[0]
    assert np.max(np.abs(out[:, 0] - np.clip(expected, -1, 1))) < 2 / 32768  # 16-bit output
    with np.load(tmp_path / "codes.npz") as npz:  # an ordinary npz for anyone with numpy
        assert json.loads(str(npz["header"]))["version"] == codes_file.VERSION
        assert npz["tokens"].dtype == np.int16 and npz["tokens"].shape == (6, 165)
    assert leftovers(tmp_path) == []


def test_whole_file_loudness_comes_from_a_first_pass(small_windows):
    """DAC normalises to -16 LUFS over the whole input: a loud half and a quiet half in different windows
    get the one-pass gain, so the codes still equal one pass."""
    codec = small_windows
    samples = np.concatenate([noise(1.6), 0.05 * noise(1.6, seed=1)], axis=1)
    figures = stream.exactness(codec, samples, codec.point(3.0), window_units=40)
    assert figures.windows == 4 and figures.equal_codes == 1.0 and figures.max_latent_delta < 1e-4
    assert figures.max_audio_delta < 1e-4


def test_loudness_is_the_bs1770_figure_whatever_the_blocks():
    import pyloudnorm

    samples = noise(5.0, 44_100, channels=2) * np.linspace(0.2, 1.0, 5 * 44_100, dtype=np.float32)
    whole, pieces = stream.SignalStats(44_100), stream.SignalStats(44_100)
    whole.add(samples)
    for start in range(0, samples.shape[1], 12_345):
        pieces.add(samples[:, start:start + 12_345])
    reference = pyloudnorm.Meter(44_100).integrated_loudness(samples.T.astype(np.float64))
    assert abs(whole.loudness() - reference) < 0.05
    assert whole.loudness() == pytest.approx(pieces.loudness(), abs=1e-9) and whole.peak == pieces.peak
    assert stream.SignalStats(16_000).loudness() == -70.0  # nothing seen


def test_batch_equals_one_at_a_time(cache_env):
    codec = get_codec(CODEC, "cpu")
    point = codec.point(3.0)
    clips = [Audio(noise(1.0, seed=s), 16_000) for s in range(3)]
    clips += [Audio(noise(1.0, seed=3)[:, :15_900], 16_000), Audio(noise(0.5, seed=4), 16_000)]  # 50, 50, 25 frames
    batch = codec.encode_batch(clips, point)
    alone = [codec.encode(clip, point) for clip in clips]
    for a, b in zip(batch, alone, strict=True):
        np.testing.assert_array_equal(a.tokens, b.tokens)
        assert a.num_samples == b.num_samples
    for a, b in zip(codec.decode_batch(batch), [codec.decode(c) for c in alone], strict=True):
        assert a.frames == b.frames and np.max(np.abs(a.samples - b.samples)) < 1e-4


def test_cli_streams_a_file_longer_than_the_upload_cap(cache_env, tmp_path):
    """The five-minute cap (here 2 s) is for uploads; the CLI streams any length, with progress and ETA."""
    src = tmp_path / "long.flac"
    sf.write(src, noise(5.0, 44_100, channels=2).T, 44_100)  # another rate and two channels: conformed
    env = {**cache_env, "CODEC_ARENA_MAX_SECONDS": "2"}
    refused = cli("compare", str(src), "--codec", "opus@24", "--out", str(tmp_path / "r"), env=env)
    assert refused.returncode == 2 and "the limit is 2 s" in refused.stderr
    encoded = cli("encode", str(src), "--codec", CODEC, "--bitrate", "1.5", "--out", str(tmp_path / "c.npz"), env=env)
    assert encoded.returncode == 0, encoded.stderr
    assert "[100%]" in encoded.stderr and "ETA" in encoded.stderr
    assert "frames            250" in encoded.stdout
    decoded = cli("decode", str(tmp_path / "c.npz"), "--out", str(tmp_path / "o.wav"), "--json", env=env)
    assert decoded.returncode == 0, decoded.stderr
    assert json.loads(decoded.stdout)["duration_s"] == 5.0
    assert sf.info(tmp_path / "o.wav").frames == 80_000 and sf.info(tmp_path / "o.wav").channels == 1
    both = cli("roundtrip", str(src), "--codec", CODEC, "--out", str(tmp_path / "r.wav"), "--json", env=env)
    summary = json.loads(both.stdout)
    assert both.returncode == 0 and summary["frames"] == 250 and summary["random_weights"] is True
    assert sf.info(tmp_path / "r.wav").frames == 80_000


def test_codes_from_another_codec_version_or_weights_are_refused_in_one_line(cache_env, tmp_path):
    codec = get_codec(CODEC, "cpu")
    codes = codec.encode(Audio(noise(0.5), 16_000), 1.5)
    good = tmp_path / "good.npz"
    codes_file.write(good, codes, codec.weights_id)
    other_weights = tmp_path / "other_weights.npz"
    codes_file.write(other_weights, codes, "0123456789abcdef")
    newer = tmp_path / "newer.npz"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(newer, "w") as target:
        for item in source.namelist():
            data = source.read(item)
            if item == "header.npy":
                meta = json.loads(str(np.load(io.BytesIO(data))))
                data = codes_file._npy(np.array(json.dumps({**meta, "version": codes_file.VERSION + 1})))
            target.writestr(item, data)
    plain = tmp_path / "plain.npz"
    np.savez(plain, tokens=codes.tokens)
    cases = [(["--codec", "encodec_24khz"], good, "holds dac_16khz codes, not encodec_24khz"),
             ([], other_weights, "made with other dac_16khz weights"),
             ([], newer, f"codes format version {codes_file.VERSION + 1}; this Codec Arena reads version 1"),
             ([], plain, "not a Codec Arena codes file"),
             ([], tmp_path / "missing.npz", "No such codes file")]
    for extra, path, message in cases:
        run = cli("decode", str(path), *extra, "--out", str(tmp_path / "o.wav"), env=cache_env)
        assert run.returncode == 2 and run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
        assert not (tmp_path / "o.wav").exists()
    assert cli("decode", str(good), "--out", str(tmp_path / "o.wav"), env=cache_env).returncode == 0


def test_in_place_reading_accepts_a_cut_tail_and_refuses_nan(cache_env, tmp_path):
    """A wav at the codec's rate is read in place: 50 ms missing from its end is accepted (what is there
    is encoded), NaN samples are refused as they are for uploads."""
    sf.write(tmp_path / "in.wav", noise(3.0).T, 16_000, subtype="PCM_16")
    data = (tmp_path / "in.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) - 1600])  # 800 samples (50 ms) short of the header
    run = cli("encode", str(tmp_path / "cut.wav"), "--codec", CODEC, "--out", str(tmp_path / "c.npz"), "--json",
              env=cache_env)
    assert run.returncode == 0, run.stderr
    assert codes_file.read(tmp_path / "c.npz")[1].num_samples == 48_000 - 800
    bad = noise(3.0)
    bad[0, 20_000] = np.nan
    sf.write(tmp_path / "nan.wav", bad.T, 16_000, subtype="FLOAT")
    run = cli("encode", str(tmp_path / "nan.wav"), "--codec", CODEC, "--out", str(tmp_path / "n.npz"), env=cache_env)
    assert run.returncode == 2 and "NaN" in run.stderr and not (tmp_path / "n.npz").exists()


@pytest.mark.parametrize("damage", ["truncated wav", "corrupt flac", "truncated mp3"])
def test_a_file_broken_in_the_middle_names_the_position_and_leaves_nothing(cache_env, tmp_path, damage):
    samples = noise(30.0)
    if damage == "truncated wav":
        sf.write(tmp_path / "in.wav", samples.T, 16_000, subtype="PCM_16")
        data = (tmp_path / "in.wav").read_bytes()
        src = tmp_path / "cut.wav"
        src.write_bytes(data[: len(data) * 2 // 5])  # header says 30 s, data stops at 12 s
        where = "breaks off at 0:11.99"
    elif damage == "corrupt flac":
        sf.write(tmp_path / "in.flac", samples.T, 16_000)
        data = bytearray((tmp_path / "in.flac").read_bytes())
        data[len(data) // 2: len(data) // 2 + 4000] = np.random.default_rng(0).bytes(4000)
        src = tmp_path / "bad.flac"
        src.write_bytes(bytes(data))
        where = "breaks off at 0:"
    else:
        import av

        full = tmp_path / "in.mp3"
        with av.open(str(full), "w") as out:
            stream_ = out.add_stream("libmp3lame", rate=16_000, layout="mono")
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 16_000
            for packet in [*stream_.encode(frame), *stream_.encode(None)]:
                out.mux(packet)
        src = tmp_path / "cut.mp3"
        src.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        where = "breaks off at 0:1"
    out = tmp_path / "codes.npz"
    run = cli("encode", str(src), "--codec", CODEC, "--out", str(out), env=cache_env)
    assert run.returncode == 2, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("codec-arena: ") and where in last and "truncated or corrupt" in last, run.stderr
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["decode", "encode"])
def test_a_full_disk_is_one_clear_error_and_leaves_nothing(cache_env, tmp_path, command):
    """A file-size limit of 64 KiB (RLIMIT_FSIZE, as a full disk for this process): decoding 10 s to a wav,
    or encoding 10 s of 44.1 kHz stereo (its conformed copy), into a folder that does not exist yet."""
    codec = get_codec(CODEC, "cpu")
    codes_file.write(tmp_path / "c.npz", codec.encode(Audio(noise(10.0), 16_000), 1.5), codec.weights_id)
    sf.write(tmp_path / "in.wav", noise(10.0, 44_100, channels=2).T, 44_100, subtype="PCM_16")  # 1.7 MB

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    out = tmp_path / "new" / ("o.wav" if command == "decode" else "o.npz")
    source = tmp_path / ("c.npz" if command == "decode" else "in.wav")
    run = subprocess.run([sys.executable, "-m", "codec_arena.cli", command, str(source), "--codec", CODEC, "--out",
                          str(out)], cwd=ROOT, capture_output=True, text=True, env={**os.environ, **cache_env},
                         preexec_fn=limit, timeout=300)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("codec-arena: No room left to write") and str(out) in last, run.stderr
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == []  # no output, no spool, no temporary folder


def test_an_interrupted_write_leaves_no_output(cache_env, tmp_path):
    """Ctrl-C (KeyboardInterrupt) in the middle of decoding: the temporary file goes, no wav appears."""
    codec = get_codec(CODEC, "cpu")
    codes_file.write(tmp_path / "c.npz", codec.encode(Audio(noise(3.0), 16_000), 1.5), codec.weights_id)
    codec.window_units = 40
    calls = []

    def interrupt(fraction: float, message: str) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            files.decode_file(codec, tmp_path / "c.npz", tmp_path / "o.wav", progress=interrupt)
    finally:
        codec.window_units = None
    assert not (tmp_path / "o.wav").exists() and leftovers(tmp_path) == [] and len(calls) == 2

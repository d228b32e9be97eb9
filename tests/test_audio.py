"""Audio in and out: every format a user uploads, and every broken input gets a clear error."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, tone
from hypothesis import given, settings
from hypothesis import strategies as st

from codec_arena.audio import Audio, from_array, load_audio, map_channels, to_wav_bytes, write_wav
from codec_arena.errors import AudioInputError


def encode_with_pyav(samples: np.ndarray, rate: int, container: str, codec: str, layout: str = "mono") -> bytes:
    """A file as a browser or phone would make it (webm/opus from MediaRecorder, m4a/aac, mp3...)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32), format="fltp", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def wav_bytes(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples.T, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


@pytest.mark.parametrize(("container", "codec", "rate"), [
    ("webm", "libopus", 48_000),  # Chrome's MediaRecorder
    ("ogg", "libopus", 48_000),
    ("mp3", "libmp3lame", 44_100),
    ("ipod", "aac", 44_100),  # .m4a
    ("flac", "flac", 22_050),
])
def test_reads_compressed_formats(container, codec, rate):
    data = encode_with_pyav(tone(1.0, rate), rate, container, codec)
    audio = load_audio(data)
    assert audio.sample_rate == rate
    assert audio.channels == 1
    assert audio.samples.dtype == np.float32
    assert abs(audio.duration - 1.0) < 0.1
    assert 0.2 < np.abs(audio.samples).max() < 0.5  # the tone survived, at its level


def test_reads_wav_path_exactly(tmp_path):
    samples = tone(0.5, 16_000, channels=2)
    path = tmp_path / "clip.wav"
    sf.write(path, samples.T, 16_000, subtype="FLOAT")
    audio = load_audio(path)
    assert audio.samples.shape == (2, 8000)
    np.testing.assert_array_equal(audio.samples, samples)


def test_shipped_examples_load():
    for name in ["speech_arctic_a0007.wav", "music_morning_coffee.wav", "music_fluidsynth_44k.flac"]:
        audio = load_audio(ROOT / "assets" / name)
        assert audio.duration > 3 and np.abs(audio.samples).max() > 0.05


# --- bad input: each gets one clear sentence -------------------------------------------------

def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioInputError, match="empty"):
        load_audio(tmp_path / "empty.wav")


def test_missing_file(tmp_path):
    with pytest.raises(AudioInputError, match="No such audio file"):
        load_audio(tmp_path / "nope.wav")


def test_not_audio():
    with pytest.raises(AudioInputError, match="not audio|no audio stream"):
        load_audio(b"%PDF-1.4 this is a document, not a sound\n" * 50)


def test_truncated_flac():
    data = encode_with_pyav(tone(3.0, 16_000), 16_000, "flac", "flac")
    with pytest.raises(AudioInputError, match="truncated"):
        load_audio(data[: len(data) // 3])


def test_truncated_wav():
    data = wav_bytes(tone(3.0, 16_000), 16_000)
    with pytest.raises(AudioInputError, match="truncated"):
        load_audio(data[: len(data) // 2])


def test_truncated_mp3():
    data = encode_with_pyav(tone(4.0, 44_100), 44_100, "mp3", "libmp3lame")
    with pytest.raises(AudioInputError, match="truncated"):
        load_audio(data[: len(data) // 4])


def test_zero_samples():
    with pytest.raises(AudioInputError, match="no samples"):
        load_audio(wav_bytes(np.zeros((1, 0), np.float32), 16_000))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_samples(bad):
    samples = tone(0.2)
    samples[0, 100] = bad
    with pytest.raises(AudioInputError, match="NaN or infinite"):
        load_audio(wav_bytes(samples, 16_000, subtype="FLOAT"))


def test_too_many_channels():
    with pytest.raises(AudioInputError, match="9 channels"):
        load_audio(wav_bytes(tone(0.1, channels=9), 16_000))


def test_eight_channels_accepted():
    assert load_audio(wav_bytes(tone(0.1, channels=8), 16_000)).channels == 8


@pytest.mark.parametrize("rate", [1, 3_999, 384_001])
def test_sample_rate_out_of_range(rate):
    samples = np.zeros((1, max(rate // 10, 8)), np.float32)
    with pytest.raises(AudioInputError, match="sample rate"):
        from_array(samples, rate)


def test_sample_rate_out_of_range_in_file_header():
    with pytest.raises(AudioInputError, match="sample rate is 1000 Hz"):
        load_audio(wav_bytes(tone(0.5, 1_000), 1_000))


def test_longer_than_cap_refused_from_header():
    with pytest.raises(AudioInputError, match=r"2\.0 s long; the limit is 1\.5 s"):
        load_audio(wav_bytes(tone(2.0), 16_000), max_seconds=1.5)


def test_hour_long_file_refused_before_decoding():
    """An hour of 48 kHz stereo float would be 1.4 GB decoded: the header alone refuses it."""
    header = io.BytesIO()
    rate, channels, frames = 48_000, 2, 48_000 * 3600
    data_bytes = frames * channels * 2
    header.write(b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt ")
    header.write(struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16))
    header.write(b"data" + struct.pack("<I", data_bytes))
    data = header.getvalue() + bytes(4 * 48_000)  # only 1 s of it is really there
    with pytest.raises(AudioInputError, match="3600.0 s long; the limit is 300 s"):
        load_audio(data, max_seconds=300)


def test_cap_from_environment(monkeypatch):
    monkeypatch.setenv("CODEC_ARENA_MAX_SECONDS", "0.5")
    with pytest.raises(AudioInputError, match="limit is 0.5 s"):
        load_audio(wav_bytes(tone(1.0), 16_000))


def test_long_compressed_stream_refused_while_decoding():
    data = encode_with_pyav(tone(3.0, 16_000), 16_000, "ogg", "libopus")
    with pytest.raises(AudioInputError, match="limit is 1 s"):
        load_audio(data, max_seconds=1)


def test_silence_and_clipping_are_accepted():
    silence = load_audio(wav_bytes(np.zeros((1, 1600), np.float32), 16_000))
    assert not silence.samples.any()
    clipped = from_array(np.full((1, 1600), 1.7, np.float32), 16_000)
    assert clipped.samples.max() == pytest.approx(1.7)


# --- conforming to a codec -------------------------------------------------------------------

def test_resample_keeps_a_tone():
    audio = Audio(tone(1.0, 44_100, freq=1000), 44_100).to(16_000, 1)
    assert audio.samples.shape == (1, 16_000)
    spectrum = np.abs(np.fft.rfft(audio.samples[0]))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=1)


def test_downmix_and_upmix():
    stereo = np.stack([np.ones(4), -np.ones(4)]).astype(np.float32)
    np.testing.assert_array_equal(map_channels(stereo, 1), np.zeros((1, 4)))
    mono = np.arange(4, dtype=np.float32)[None]
    np.testing.assert_array_equal(map_channels(mono, 2), np.stack([mono[0], mono[0]]))


@settings(max_examples=40, deadline=None)
@given(channels=st.integers(1, 8), target=st.integers(1, 2), frames=st.integers(480, 3000),
       rate=st.sampled_from([8_000, 16_000, 22_050, 44_100, 48_000]),
       to_rate=st.sampled_from([16_000, 24_000, 44_100, 48_000]))
def test_conform_shape_property(channels, target, frames, rate, to_rate):
    audio = from_array(np.random.default_rng(frames).uniform(-1, 1, (channels, frames)).astype(np.float32), rate)
    out = audio.to(to_rate, target)
    assert out.channels == target
    assert out.samples.dtype == np.float32
    assert abs(out.frames - frames * to_rate / rate) <= 2
    assert np.isfinite(out.samples).all()


def test_wav_roundtrip(tmp_path):
    audio = Audio(tone(0.25, 24_000, channels=2), 24_000)
    back = load_audio(write_wav(audio, tmp_path / "out" / "x.wav"))
    assert back.sample_rate == 24_000 and back.samples.shape == audio.samples.shape
    np.testing.assert_allclose(back.samples, audio.samples, atol=1 / 32767)
    assert to_wav_bytes(Audio(np.full((1, 10), 3.0, np.float32), 8_000))  # clipping writes, not fails


def test_mp3_without_xing_header_is_not_called_truncated():
    """libsndfile only estimates an MP3's length without a Xing/LAME header: a frame off is not truncation."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3", options={"write_xing": "0"}) as out:
        stream = out.add_stream("libmp3lame", rate=44_100, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone(3.0, 44_100), format="fltp", layout="mono")
        frame.sample_rate = 44_100
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    assert abs(load_audio(buffer.getvalue()).duration - 3.0) < 0.1


def test_a_click_of_a_clip_is_refused_clearly():
    with pytest.raises(AudioInputError, match=r"only 0.1 ms long; at least 10 ms"):
        from_array(np.zeros((1, 5), np.float32), 48_000)
    with pytest.raises(AudioInputError, match="too short to resample"):
        Audio(np.zeros((1, 1), np.float32), 48_000).to(16_000, 1)


def test_surround_downmix_keeps_every_channel():
    six = np.zeros((6, 10), np.float32)
    six[2] = 1.0  # the centre channel of 5.1 carries the dialogue
    stereo = map_channels(six, 2)
    assert stereo.shape == (2, 10) and np.all(stereo > 0)

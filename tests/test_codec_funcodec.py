"""FunCodec through the official package's `Speech2Token` and our streaming engine, on random-weight
checkpoints laid out as the hub cache holds the released ones."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import ROOT, tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import OperatingPoint, codec_info, get_codec, stream
from codec_arena.codecs import funcodec as fc
from codec_arena.codecs.chunked import receptive_field
from codec_arena.errors import WeightsUnavailable
from codec_arena.roundtrip import roundtrip

TIME, FREQ = "funcodec_en_16k_nq32ds320", "funcodec_freq_16k_gr8nq32ds320"


def test_facts_follow_the_release_names():
    for codec_id, (repo, hop, kind) in fc.MODELS.items():
        info = codec_info(codec_id)
        assert info.hub_id == repo and f"ds{hop}" in repo and info.frame_rate == 16_000 / hop
        assert ("freqcodec" in repo) == (kind != "time") and (kind == "time" or f"gr{kind}nq32" in repo)
        assert info.bitrates_kbps[-1] == 32 * 10 * info.frame_rate / 1000
        # the codebook counts the recipe trains with: ds640 never trains a single codebook
        trained = [1, 2, 4, 8, 16, 32] if hop == 320 else [2, 4, 8, 16, 32]
        assert [info.codebooks_for(kbps) for kbps in info.bitrates_kbps] == trained


def test_checkpoint_sits_in_the_hub_snapshot_with_its_config(cache_env):
    repo = fc.MODELS[FREQ][0]
    path = fc.weight_spec(FREQ).path
    snapshot = path.parent
    assert path.name == "model.pth" and path.exists() and (snapshot / "config.yaml").exists()
    repo_dir = snapshot.parent.parent
    assert repo_dir == weights.hub_repo_dir(repo) and snapshot.parent.name == "snapshots"
    assert repo_dir.parent == Path(cache_env["HF_HOME"]) / "hub"
    assert repo_dir.name == "models--alibaba-damo--audio_codec-freqcodec_magphase-en-libritts-16k-gr8nq32ds320-pytorch"
    assert (repo_dir / "refs" / "main").read_text() == snapshot.name
    config = yaml.safe_load((snapshot / "config.yaml").read_text())
    assert config["model"] == "freq_codec" and config["encoder"] == "encodec_seanet_encoder_2d"
    assert config["quantizer_conf"]["encoder_hop_length"] == 320
    assert config["quantizer_conf"]["num_quantizers"] == 32 and config["quantizer_conf"]["codebook_size"] == 1024
    # like a trained model.pth: generator, discriminator and the training-loss mel filters
    state = torch.load(path, map_location="cpu")
    assert {key.split(".")[0] for key in state} >= {"encoder", "quantizer", "decoder", "discriminator",
                                                    "mel_spec_transforms"}


def test_loaded_through_speech2token_without_training_parts(cache_env, caplog):
    from funcodec.bin.codec_inference import Speech2Token
    from funcodec.models.codec_basic import Encodec
    from funcodec.models.codec_freq import FreqCodec

    with caplog.at_level("WARNING"):
        time_codec = fc.load(codec_info(TIME), "cpu")
        freq_codec = fc.load(codec_info(FREQ), "cpu")
    assert isinstance(time_codec.speech2token, Speech2Token) and isinstance(time_codec.model, Encodec)
    assert isinstance(freq_codec.model, FreqCodec)
    for codec in (time_codec, freq_codec):
        assert codec.model.discriminator is None and len(codec.model.mel_spec_transforms) == 0
        assert not codec.model.training and bool(codec.model.quantizer.rq.model.inited.all())
    assert "Filter out mel_spec_transforms" not in caplog.text  # the expected skips stay quiet


@pytest.mark.parametrize("codec_id", [TIME, FREQ])
def test_roundtrip_equals_the_package_one_pass_inference(cache_env, codec_id):
    """decode(encode(x)) is the package's `inference` (scale applied) and the codes are its codes (a
    length that is no multiple of the hop: see the next test)."""
    codec = get_codec(codec_id)
    clip = Audio(tone(1.1, 16_000, freq=300.0)[:, :16_080], 16_000)
    codes = codec.encode(clip, 2.0)
    scales = codes.extras["scales"]
    assert codes.codebooks == 4 and scales[0] == pytest.approx(np.sqrt(np.mean(clip.samples**2)))
    assert scales.shape == (codes.frames,) == (51,) and np.all(scales == scales[0])  # one window, one scale
    with torch.inference_mode():
        indices, _, recon, _ = codec.speech2token(torch.from_numpy(clip.samples), run_mod="inference",
                                                  bit_width=codec.bit_width(4))
    np.testing.assert_array_equal(codes.tokens, indices[0][:, 0].numpy())
    np.testing.assert_allclose(codec.decode(codes).samples, recon[0].numpy(), atol=1e-6)


def test_bit_width_selects_exactly_that_many_codebooks(cache_env):
    for codec_id in (TIME, "funcodec_en_16k_nq32ds640"):
        codec = get_codec(codec_id)
        rvq = codec.model.quantizer.rq
        for n in (1, 2, 4, 8, 16, 32):
            assert rvq.get_num_quantizers_for_bandwidth(16_000, codec.bit_width(n)) == n


def test_frequency_model_drops_the_frame_centred_on_the_end(cache_env):
    """Its centred STFT gives n / hop + 1 frames when n is a multiple of the hop; we keep ceil(n / hop),
    the package's first ones, so the last half hop decodes as silence."""
    codec = get_codec(FREQ)
    clip = Audio(tone(1.0, 16_000, freq=300.0), 16_000)
    codes = codec.encode(clip, 2.0)
    with torch.inference_mode():
        indices = codec.speech2token(torch.from_numpy(clip.samples), run_mod="encode", bit_width=codec.bit_width(4))[0]
    assert indices[0].shape[-1] == 51 and codes.frames == 50
    np.testing.assert_array_equal(codes.tokens, indices[0][:, 0, :50].numpy())
    out = codec.decode(codes).samples
    assert out.shape == (1, 16_000) and out[:, -400:-160].any() and not out[:, -160:].any()


def test_contexts_are_a_second_at_least_the_convolutions_reach(cache_env):
    for codec_id, frames in ((TIME, 50), ("funcodec_en_16k_nq32ds640", 25), (FREQ, 50)):
        codec = get_codec(codec_id)
        reach, stride = receptive_field(codec.model.encoder)  # samples (STFT frames): stride of them a frame
        assert codec.context_units == codec.decode_context_units == frames >= math.ceil(reach / stride) + 2
        assert not codec.exact and codec.batchable and not codec.pads_to_frames


@pytest.mark.parametrize("codec_id", [TIME, FREQ])
def test_windows_approximate_one_pass(cache_env, codec_id):
    """LSTMs and whole-input GroupNorms: the seams are approximate; the figures are computed, and the
    windowed codes and audio have the one-pass shapes (3 s in 4 and in 3 windows)."""
    codec = get_codec(codec_id)
    point = OperatingPoint.of(codec.info, 2.0)
    samples = tone(3.1, 16_000, freq=300.0)[:, :48_123] * np.linspace(0.2, 1.5, 48_123, dtype=np.float32)
    for window_units, windows in ((40, 4), (60, 3)):
        figures = stream.exactness(codec, samples, point, window_units)
        assert figures.windows == windows and 0 <= figures.equal_codes <= 1
        assert np.isfinite([figures.max_latent_delta, figures.max_audio_delta]).all()
    windowed = fc.load(codec.info, "cpu")
    windowed.window_units = 40
    codes = windowed.encode(Audio(samples, 16_000), point)
    assert codes.tokens.shape == (4, 151) and codes.extras["scales"].shape == (151,)
    assert len(np.unique(codes.extras["scales"])) == 4  # each window's RMS, context included
    assert windowed.decode(codes).samples.shape == (1, 48_123)


@pytest.mark.parametrize("codec_id", [TIME, FREQ])
@pytest.mark.parametrize("samples", [1, 321, 16_001])
def test_odd_and_sub_frame_lengths_keep_their_length(cache_env, codec_id, samples):
    codec = get_codec(codec_id)
    codes = codec.encode(Audio(tone(1.1, 16_000)[:, :samples], 16_000), 2.0)
    assert codes.tokens.shape == (4, math.ceil(samples / 320))
    assert codec.decode(codes).samples.shape == (1, samples)


@pytest.mark.parametrize("codec_id", [TIME, FREQ])
def test_batches_of_equal_lengths_equal_one_at_a_time(cache_env, codec_id):
    codec = get_codec(codec_id)
    base = tone(0.6, 16_000) * np.linspace(0.2, 1.5, 9_600, dtype=np.float32)
    clips = [Audio(base[:, :8_000].copy(), 16_000), Audio(base[:, 1_000:9_000].copy(), 16_000),
             Audio(base[:, :7_000].copy(), 16_000)]  # two of equal length go through together
    batched = codec.encode_batch(clips, 2.0)
    for clip, codes in zip(clips, batched, strict=True):
        alone = codec.encode(clip, 2.0)
        np.testing.assert_array_equal(codes.tokens, alone.tokens)
        np.testing.assert_allclose(codes.extras["scales"], alone.extras["scales"], rtol=1e-6)
    for codes, audio in zip(batched, codec.decode_batch(batched), strict=True):
        np.testing.assert_allclose(audio.samples, codec.decode(codes).samples, rtol=0, atol=1e-4)


def test_long_input_keeps_its_length_and_each_window_its_loudness(cache_env):
    # 20.6 s: three windows of 172 frames with 25 of context each side; the second half is 8 times louder,
    # so the first window sees only the quiet half and the last only the loud one
    quiet, loud = tone(10.4, 16_000)[:, :165_120], 8 * tone(10.4, 16_000, freq=200.0)[:, :164_480]
    clip = Audio(np.concatenate([quiet, loud], axis=1), 16_000)
    result = roundtrip(clip, "funcodec_en_16k_nq32ds640", 1.0)
    codes = result.codes
    scales = codes.extras["scales"]
    assert codes.frames == scales.shape[0] == math.ceil(clip.frames / 640) == 515
    assert len(np.unique(scales)) == 3 and np.all(scales[:172] == scales[0]) and np.all(scales[344:] == scales[-1])
    assert scales[-1] / scales[0] == pytest.approx(8, rel=0.01)
    assert result.output.frames == clip.frames and np.isfinite(result.output.samples).all()
    assert result.bitrate_kbps == pytest.approx(1.0, rel=0.01)


def test_shortest_input_is_padded_for_the_stft(cache_env):
    result = roundtrip(Audio(tone(0.01, 16_000), 16_000), FREQ, 0.5)  # 160 samples < n_fft / 2
    assert result.output.frames == 160 and result.codes.frames >= 1


def test_missing_weights_or_config_name_the_path(empty_cache_env, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--alibaba-damo--audio_codec-encodec-en-libritts-16k-"
                                                 r"nq32ds320-pytorch.snapshots.*model\.pth"):
        fc.load(codec_info(TIME), "cpu")
    from codec_arena.weights import hub_snapshot

    hub_snapshot(fc.MODELS[TIME][0], files={"model.pth": b"not a checkpoint"})
    with pytest.raises(WeightsUnavailable, match=r"config\.yaml is missing.*snapshots.*config\.yaml"):
        fc.load(codec_info(TIME), "cpu")


def test_loading_and_coding_leave_global_state_alone(cache_env):
    """In a fresh interpreter: importing the package and loading and running a model change no
    logging configuration, warnings filter, default dtype or print option."""
    code = """
import json, logging, warnings, numpy, scipy.signal, scipy.special, librosa, torch
from codec_arena.audio import Audio
from codec_arena.roundtrip import roundtrip
def state():
    root = logging.getLogger()
    return [repr(root.handlers), root.level, repr(root.filters), repr(warnings.filters), str(torch.get_default_dtype()),
            repr(numpy.get_printoptions()), logging.root.manager.disable]
before = state()
import funcodec.bin.codec_inference
after_import = state()
roundtrip(Audio(numpy.random.default_rng(0).standard_normal((1, 8000)).astype('float32') * 0.1, 16000),
          'funcodec_en_16k_nq32ds320', 4.0)
print(json.dumps([before, after_import, state()]))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **cache_env},
                         capture_output=True, text=True, check=True)
    before, after_import, after_use = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == after_import == after_use

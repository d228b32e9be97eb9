"""FunCodec through the official package's `Speech2Token`, on random-weight checkpoints laid out as
the hub cache holds the released ones."""

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
from codec_arena.codecs import codec_info, get_codec
from codec_arena.codecs import funcodec as fc
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
    """decode(encode(x)) is the package's `inference` (scale applied) and the codes are its codes."""
    codec = get_codec(codec_id)
    clip = Audio(tone(1.0, 16_000, freq=300.0), 16_000)
    codes = codec.encode(clip, 2.0)
    assert codes.codebooks == 4 and codes.extras["scales"][0] == pytest.approx(np.sqrt(np.mean(clip.samples**2)))
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


def test_windows_are_equal_whole_frames_and_cover_the_clip(cache_env):
    codec = get_codec("funcodec_en_16k_nq32ds640")
    assert codec.windows(20 * 16_000) == [(0, 320_000)]  # up to 20 s: one pass, as the package runs it
    for seconds in (20.01, 45.3, 300.0):
        frames = round(seconds * 16_000)
        spans = codec.windows(frames)
        assert len(spans) == math.ceil(seconds / fc.WINDOW_SECONDS) and spans[0][0] == 0 and spans[-1][1] == frames
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
        sizes = [end - start for start, end in spans]
        assert all(size % 640 == 0 and size <= 20 * 16_000 for size in sizes[:-1])
        assert sizes[0] - sizes[-1] < 640 * len(spans)


def test_long_input_keeps_its_length_and_each_window_its_loudness(cache_env):
    # 20.6 s: two windows, of 258 and 257 frames; the second is 8 times louder
    quiet, loud = tone(10.4, 16_000)[:, :165_120], 8 * tone(10.4, 16_000, freq=200.0)[:, :164_480]
    clip = Audio(np.concatenate([quiet, loud], axis=1), 16_000)
    result = roundtrip(clip, "funcodec_en_16k_nq32ds640", 1.0)
    codes = result.codes
    assert codes.extras["window_samples"].tolist() == [165_120, 164_480]
    assert codes.extras["window_frames"].tolist() == [258, 257]
    assert codes.frames == codes.extras["window_frames"].sum() == math.ceil(clip.frames / 640)
    assert codes.extras["scales"][1] / codes.extras["scales"][0] == pytest.approx(8, rel=0.01)
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
    from codec_arena.testing import hub_snapshot

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

"""The codecs transformers ships (EnCodec 32 kHz, Mimi, X-Codec, X-Codec2, WavTokenizer, NeuCodec,
Higgs Audio v2 tokenizer): hub-cache layout, the transformers loader, config facts, bitrate mapping,
and the streaming engine (windows, exactness figures, shapes, batches)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info, get_codec, list_codecs, stream
from codec_arena.codecs.registry import family_module
from codec_arena.errors import WeightsMismatch, WeightsUnavailable
from codec_arena.roundtrip import roundtrip

FAMILIES = {"encodec_hf", "mimi", "xcodec", "xcodec2", "wavtokenizer", "neucodec", "higgs_audio_tokenizer"}
IDS = [info.id for info in list_codecs() if family_module(info.id).__name__.rsplit(".", 1)[-1] in FAMILIES]
HUB_IDS = {  # from the installed transformers' docs, docstrings and conversion scripts
    "encodec_32khz": "facebook/encodec_32khz",
    "mimi": "kyutai/mimi",
    "xcodec_hubert_librispeech": "hf-audio/xcodec-hubert-librispeech",
    "xcodec_wavlm_mls": "hf-audio/xcodec-wavlm-mls",
    "xcodec_hubert_general": "hf-audio/xcodec-hubert-general",
    "xcodec2": "HKUSTAudio/xcodec2-hf",
    "wavtokenizer_small_speech_40": "swiss-ai/wavtokenizer-small-speech-40token",
    "wavtokenizer_large_40": "swiss-ai/wavtokenizer-large-unify-40token",
    "wavtokenizer_medium_speech_75": "swiss-ai/wavtokenizer-medium-speech-75token-v2",
    "wavtokenizer_large_speech_75": "swiss-ai/wavtokenizer-large-speech-75token-v2",
    "wavtokenizer_medium_music_audio_75": "swiss-ai/wavtokenizer-medium-music-audio-75token-v2",
    "neucodec": "neuphonic/neucodec",
    "higgs_audio_v2_tokenizer": "eustlb/higgs-audio-v2-tokenizer",
}
ONE_PER_CLASS = ["encodec_32khz", "mimi", "xcodec_wavlm_mls", "xcodec2", "wavtokenizer_large_speech_75", "neucodec",
                 "higgs_audio_v2_tokenizer"]  # variants of a family share every code path
MODEL_CLASSES = {"encodec": "EncodecModel", "mimi": "MimiModel",
                 "xcodec": "XcodecModel", "xcodec2": "Xcodec2Model", "neucodec": "NeuCodecModel",
                 "wavtokenizer": "WavTokenizerModel", "higgs": "HiggsAudioV2TokenizerModel"}


def test_all_six_families_are_registered():
    assert sorted(IDS) == sorted(HUB_IDS)
    assert {i: codec_info(i).hub_id for i in IDS} == HUB_IDS


@pytest.mark.parametrize("codec_id", IDS)
def test_weights_sit_in_the_hub_cache_layout(cache_env, codec_id):
    """What `huggingface_hub.snapshot_download(hub_id)` leaves: refs/main -> snapshots/<sha>/ with the
    config, the safetensors weights and the feature extractor's config."""
    hub_id = HUB_IDS[codec_id]
    repo = weights.hub_repo_dir(hub_id)
    assert repo.parent == Path(cache_env["HF_HOME"]) / "hub"
    assert repo.name == "models--" + hub_id.replace("/", "--")
    snapshot = repo / "snapshots" / (repo / "refs" / "main").read_text()
    assert family_module(codec_id).weight_spec(codec_id).path == snapshot / "model.safetensors"
    assert {"config.json", "model.safetensors", "preprocessor_config.json"} <= {p.name for p in snapshot.iterdir()}
    config = json.loads((snapshot / "config.json").read_text())
    assert config["architectures"] == [MODEL_CLASSES[codec_id.split("_")[0]]]


@pytest.mark.parametrize("codec_id", IDS)
def test_loaded_by_from_pretrained_with_the_advertised_facts(cache_env, codec_id):
    import transformers

    codec = get_codec(codec_id, "cpu")
    info = codec.info
    assert type(codec.model) is getattr(transformers, codec.family.model_class)
    assert codec.model.name_or_path == info.hub_id  # from_pretrained(hub_id), not a local folder
    assert weights.is_random(codec.checkpoint)
    facts = codec.config_facts()  # read from the loaded config.json
    assert (facts["sample_rate"], facts["frame_rate"], facts["codebook_size"]) == (
        info.sample_rate, info.frame_rate, info.codebook_size)
    assert facts["codebooks"] == info.max_codebooks
    if codec.family.uses_feature_extractor:  # X-Codec2, NeuCodec: mel features for w2v-BERT
        assert type(codec.feature_extractor).__name__ == type(codec.model).__name__.replace("Model", "FeatureExtractor")
    # a checkpoint that disagrees with the facts we show is refused, not mislabelled
    wrong = dataclasses.replace(info, frame_rate=info.frame_rate * 2)
    with pytest.raises(WeightsMismatch, match=f"{info.hub_id} does not match .*frame_rate"):
        type(codec)(wrong, codec.model, "cpu", codec.feature_extractor).check_config()


def test_bitrates_map_to_the_codebooks_the_models_take():
    def codebooks(codec_id):
        info = codec_info(codec_id)
        return [info.codebooks_for(b) for b in info.bitrates_kbps]

    assert codebooks("mimi") == [1, 2, 4, 8, 16, 32]  # num_quantizers; 12.5 Hz x 11 bits each
    assert codec_info("mimi").bitrates_kbps == pytest.approx((0.1375, 0.275, 0.55, 1.1, 2.2, 4.4))
    assert codec_info("mimi").default_bitrate == pytest.approx(1.1)  # Moshi's 8 codebooks
    assert codebooks("xcodec_hubert_librispeech") == [1, 2, 3, 4, 8]  # target_bandwidths 0.5 ... 4
    assert codebooks("higgs_audio_v2_tokenizer") == [2, 4, 6, 8]  # 25 Hz x 10 bits: 0.25 kbps each
    assert codec_info("xcodec2").bitrates_kbps == codec_info("neucodec").bitrates_kbps == (0.8,)  # 50 Hz x 16 bits
    assert codec_info("wavtokenizer_large_40").bitrates_kbps == (0.48,)  # 40 Hz x 12 bits
    assert codec_info("wavtokenizer_large_speech_75").bitrates_kbps == (0.9,)  # 75 Hz x 12 bits


@pytest.mark.parametrize("codec_id", ["mimi", "higgs_audio_v2_tokenizer"])
def test_rvq_depth_follows_the_bitrate_and_prefixes_decode(cache_env, codec_id):
    info = codec_info(codec_id)
    codec = get_codec(codec_id, "cpu")
    clip = Audio(tone(0.3, info.sample_rate), info.sample_rate)
    deep, shallow = codec.encode(clip, info.bitrates_kbps[-1]), codec.encode(clip, info.bitrates_kbps[0])
    assert deep.codebooks == info.max_codebooks and shallow.codebooks == info.codebooks_for(info.bitrates_kbps[0])
    np.testing.assert_array_equal(deep.tokens[: shallow.codebooks], shallow.tokens)  # residual stages are a prefix
    assert codec.decode(deep.first(shallow.codebooks)).frames == clip.frames


@pytest.mark.parametrize("codec_id", ONE_PER_CLASS)
def test_ten_milliseconds_round_trip(cache_env, codec_id):
    info = codec_info(codec_id)
    result = roundtrip(Audio(tone(0.01, info.sample_rate), info.sample_rate), codec_id)
    assert result.output.frames == result.input.frames == round(0.01 * info.sample_rate)
    assert result.codes.frames == 1 and np.isfinite(result.output.samples).all()


def test_long_input_goes_through_the_engine_in_windows(cache_env):
    """12 s of Mimi runs as two 6 s windows (the engine's 10 s default) with 1 s of context: every frame
    is coded once, the length comes back exactly, and (Mimi being causal) the first window's codes are
    those of one pass."""
    import torch

    codec = get_codec("mimi", "cpu")
    clip = Audio(tone(12.0, 24_000, freq=220.0) * np.linspace(0.2, 1.0, 12 * 24_000, dtype=np.float32), 24_000)
    windows = stream.plan(150, codec.window_units, codec.context_units)
    assert [(w.start, w.stop, w.lo, w.hi) for w in windows] == [(0, 75, 0, 88), (75, 150, 62, 150)]
    codes = codec.encode(clip, 1.1)
    assert codes.tokens.shape == (8, math.ceil(clip.frames / codec.hop)) == (8, 150)
    assert codes.bitrate_kbps == pytest.approx(1.1)
    with torch.inference_mode():  # the library call on the whole clip at once
        one_pass = codec.model.encode(torch.from_numpy(clip.samples)[None], num_quantizers=8).audio_codes[0].numpy()
    np.testing.assert_array_equal(codes.tokens[:, :75], one_pass[:, :75])
    assert codec.decode(codes).frames == 12 * 24_000


def fresh(codec_id: str):
    """A codec instance of its own (window settings changed here stay here), on the shared model."""
    codec = get_codec(codec_id, "cpu")
    return type(codec)(codec.info, codec.model, "cpu", codec.feature_extractor)


@pytest.mark.parametrize("codec_id", ONE_PER_CLASS)
def test_chunked_against_one_pass(cache_env, codec_id):
    """None of these families is exact (whole-input attention, LSTMs, Mimi's 80 s attention span), so the
    context is 1 s each side. A 0.4 s clip in windows of a third: every window's context still covers the
    clip, so each computes the one-pass input and keeps its own frames: one-pass codes, latent and audio.
    With a one-frame context the seams are real: the figures are computed over the same frames."""
    codec = fresh(codec_id)
    info = codec.info
    assert not codec.exact and codec.context_units == codec.decode_context_units == math.ceil(info.frame_rate)
    samples = tone(0.4, info.sample_rate)
    units = stream.units_for(codec, samples.shape[1])
    point = codec.point(None)
    covered = stream.exactness(codec, samples, point, window_units=math.ceil(units / 3))
    assert covered.windows == 3 and covered.equal_codes == 1.0
    assert covered.max_latent_delta < 1e-5 and covered.max_audio_delta < 1e-5
    codec.context_units = codec.decode_context_units = 1
    seams = stream.exactness(codec, samples, point, window_units=math.ceil(units / 4))
    assert seams.windows >= 3 and 0.0 <= seams.equal_codes <= 1.0
    assert np.isfinite(seams.max_latent_delta) and np.isfinite(seams.max_audio_delta)


@pytest.mark.parametrize("codec_id", ONE_PER_CLASS)
def test_codes_have_a_frame_per_hop_and_audio_the_input_length(cache_env, codec_id):
    codec = get_codec(codec_id, "cpu")
    info, hop = codec.info, codec.hop
    point = codec.point(None)
    for n in (3 * hop + 7, hop // 3):  # an odd length; less than one frame
        clip = Audio(tone(n / info.sample_rate, info.sample_rate)[:, :n], info.sample_rate)
        codes = codec.encode(clip, point)
        assert codes.tokens.shape == (point.codebooks, math.ceil(n / hop)) and codes.num_samples == n
        out = codec.decode(codes)
        assert out.samples.shape == (1, n) and np.isfinite(out.samples).all()


@pytest.mark.parametrize("codec_id", ONE_PER_CLASS)
def test_batches_equal_one_at_a_time(cache_env, codec_id):
    """Two clips of 4 frames go through the model as one batch of 2 (padded to whole frames), a 7-frame
    clip alone: codes equal encoding each alone, audio equal decoding each alone."""
    codec = fresh(codec_id)
    assert codec.batchable and codec.pads_to_frames
    info, hop = codec.info, codec.hop
    rng = np.random.default_rng(1)
    clips = [Audio((0.1 * rng.standard_normal((1, n))).astype(np.float32), info.sample_rate)
             for n in (4 * hop, 4 * hop - hop // 3, 7 * hop + 5)]
    point = codec.point(None)
    encode_chunk, batch_sizes = codec.encode_chunk, []
    codec.encode_chunk = lambda x, p: batch_sizes.append(x.shape[0]) or encode_chunk(x, p)
    batched = codec.encode_batch(clips, point)
    assert sorted(batch_sizes) == [1, 2]  # the model took B = 2
    del codec.encode_chunk
    alone = [codec.encode(clip, point) for clip in clips]
    for a, b in zip(batched, alone, strict=True):
        np.testing.assert_array_equal(a.tokens, b.tokens)
        assert a.num_samples == b.num_samples
    decode_chunk, batch_sizes = codec.decode_chunk, []
    codec.decode_chunk = lambda tokens, side: batch_sizes.append(tokens.shape[0]) or decode_chunk(tokens, side)
    batched_audio = codec.decode_batch(alone)
    assert sorted(batch_sizes) == [1, 2]
    del codec.decode_chunk
    for a, b in zip(batched_audio, [codec.decode(c) for c in alone], strict=True):
        assert a.samples.shape == b.samples.shape and np.max(np.abs(a.samples - b.samples)) < 1e-4


def test_neucodec_encodes_16_khz_and_decodes_24_khz(cache_env):
    codec = get_codec("neucodec", "cpu")
    assert codec.family.encoder_rate == codec.model.config.input_sampling_rate == 16_000
    assert codec.info.sample_rate == codec.model.config.output_sampling_rate == 24_000
    result = roundtrip(Audio(tone(0.6, 44_100), 44_100), "neucodec")
    assert result.codes.frames == 30 and result.output.frames == 14_400 and result.output.sample_rate == 24_000


def test_missing_weights_offline_name_the_hub_cache_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for codec_id in ("mimi", "xcodec2"):
        info = codec_info(codec_id)
        with pytest.raises(WeightsUnavailable) as caught:
            family_module(codec_id).load(info, "cpu")
        repo = tmp_path / "hf" / "hub" / f"models--{info.hub_id.replace('/', '--')}"
        assert caught.value.looked_at == str(repo / "snapshots" / "<revision>" / "model.safetensors")
        assert f"codec-arena download {codec_id}" in str(caught.value)

"""BiCodec (Spark-TTS): the official hub layout (config.yaml, BiCodec/, wav2vec2-large-xlsr-53/) read by our
port, the two token streams (semantic tokens as codes, 32 global tokens in the extras), the official
frame count, the reference clip, lengths, windows and files. Parity with the official code itself is
`benchmarks/parity/bicodec.py` (it needs the official checkout or mirror)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import soundfile as sf
import torch

from codec_arena import files, weights
from codec_arena.audio import Audio
from codec_arena.codecs import Codes, codec_info, get_codec, stream, weight_spec
from codec_arena.codecs import bicodec as bc
from codec_arena.codecs.chunked import inference
from codec_arena.errors import RequestError, WeightsUnavailable

KBPS = 0.65


def speech_like(n: int, seed: int = 0) -> np.ndarray:
    """A gliding tone with bursts of noise, [1, n], whose level changes along the clip."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16_000
    signal = 0.3 * np.sin(2 * np.pi * (150 + 50 * np.sin(2 * np.pi * 0.7 * t)) * t) * np.linspace(0.3, 1.0, n)
    return (signal + 0.05 * rng.standard_normal(n) * (np.sin(2 * np.pi * 1.3 * t) > 0.5))[None].astype(np.float32)


def windowed(units: int) -> bc.BiCodecCodec:
    """Another adapter on the loaded model and wav2vec 2.0, with its own window size."""
    codec = copy.copy(get_codec("bicodec"))
    codec.window_units = units
    return codec


def test_facts_count_the_semantic_stream():
    info = codec_info("bicodec")
    assert (info.sample_rate, info.channels, info.frame_rate, info.codebook_size) == (16_000, 1, 50.0, 8192)
    assert info.bitrates_kbps == (KBPS,) and info.codebooks_for(KBPS) == info.max_codebooks == 1
    assert 50 * np.log2(info.codebook_size) == 650  # 13 bits, 50 a second
    assert "32 global tokens per utterance" in info.notes and "CC BY-NC-SA 4.0" in info.licence
    assert info.hub_id == "SparkAudio/Spark-TTS-0.5B" and len(info.sources) >= 4


def test_random_weights_have_the_official_hub_layout(cache_env):
    from safetensors.torch import load_file

    path = weight_spec("bicodec").path
    repo = weights.hub_repo_dir(bc.HUB_ID)
    snapshot = repo / "snapshots" / (repo / "refs" / "main").read_text()
    assert path == snapshot / "BiCodec" / "model.safetensors"
    for name in ("config.yaml", "BiCodec/config.yaml", "wav2vec2-large-xlsr-53/config.json",
                 "wav2vec2-large-xlsr-53/preprocessor_config.json"):
        assert (snapshot / name).is_file(), name
    state = load_file(path)
    # weight norm on the wave generator's convolutions and the quantizer's projections, as weight_g / weight_v
    assert {"decoder.model.0.weight_g", "decoder.model.1.block.1.weight_v", "quantizer.in_project.weight_g",
            "quantizer.out_project.weight_v"} <= set(state)
    assert not any(k.endswith(".weight") and k.startswith(("decoder.model.0.", "quantizer.in_project.")) for k in state)
    assert state["decoder.model.1.block.1.weight_g"].shape == (32, 1, 1)  # ConvTranspose: norm per input channel
    assert state["quantizer.codebook.weight"].shape == (8192, 8) and "quantizer.cluster_size" in state
    # the speaker encoder's ECAPA-TDNN keeps the official 512 channels; the postnet is in the file, no mel buffers
    assert state["speaker_encoder.speaker_encoder.layer2.se_res2block.1.convs.6.weight"].shape == (64, 64, 3)
    assert state["speaker_encoder.perceiver_sampler.proj_context.weight"].shape == (16, 1536)
    assert any(k.startswith("postnet.") for k in state) and not any(k.startswith("mel_transformer.") for k in state)


def test_loader_reads_the_files_and_folds_weight_norm(cache_env):
    from safetensors.torch import load_file

    codec = get_codec("bicodec")
    state = load_file(weight_spec("bicodec").path)
    assert torch.equal(codec.model.quantizer.codebook.weight, state["quantizer.codebook.weight"])
    g, v = state["decoder.model.1.block.1.weight_g"], state["decoder.model.1.block.1.weight_v"]
    torch.testing.assert_close(codec.model.decoder.model[1].block[1].weight,
                               v * g / v.pow(2).sum((1, 2), keepdim=True).sqrt())
    assert not hasattr(codec.model, "postnet")  # training only
    assert len(codec.ssl.encoder.layers) == max(bc.SEMANTIC_LAYERS) + 1  # nothing after hidden state 16 runs
    assert (codec.hop, codec.ref_samples, codec.volume_normalize, codec.do_normalize) == (320, 96_000, True, True)
    assert not codec.exact and codec.whole_input_pass and codec.read_ahead == 80


def test_contexts_of_the_released_size():
    """The released widths (156.3 M parameters with the postnet: 625 MB in float32, the hub's model.safetensors
    is 626 MB): encoder windows get wav2vec 2.0's positional convolution (64 frames) + the semantic encoder's
    reach (57) + 2 each side, decoder windows the prenet's (57) + the wave generator's (9.9) + 2."""
    from types import SimpleNamespace

    from codec_arena.codecs._bicodec_nets import BiCodec, Decoder

    config = bc.full_config()
    model = BiCodec(config)
    postnet = Decoder(**config["postnet"])
    count = sum(p.numel() for part in (model, postnet) for p in part.parameters())
    assert count == pytest.approx(156.3e6, rel=1e-3)
    processor = SimpleNamespace(sampling_rate=16_000, do_normalize=True, padding_value=0.0)
    codec = bc.BiCodecCodec(codec_info("bicodec"), model, SimpleNamespace(config=bc.ssl_config(False)), processor,
                            bc.SETTINGS, "cpu", weight_spec("bicodec").path)
    assert (codec.context_units, codec.decode_context_units) == (123, 69)


def test_two_token_streams_at_the_facts_rates(cache_env):
    info, codec = codec_info("bicodec"), get_codec("bicodec")
    codes = codec.encode(Audio(speech_like(16_000), 16_000), KBPS)
    assert codes.tokens.shape == (1, 50) and codes.frame_rate == info.frame_rate
    assert codes.tokens.max() < 8192 and len(np.unique(codes.tokens)) > 5
    assert codes.bitrate_kbps == pytest.approx(KBPS)
    global_tokens = codes.extras["global_tokens"]
    assert global_tokens.shape == (1, 32) and global_tokens.dtype == np.int64
    assert global_tokens.min() >= 0 and global_tokens.max() < 4096 and len(np.unique(global_tokens)) > 1
    assert codes.extras["volume_gain"].shape == (1,)
    assert codec.decode(codes).samples.shape == (1, 16_000)


def test_the_official_frames_are_the_official_tokens(cache_env):
    """The official tokenizer runs wav2vec 2.0 on the clip as it is ((n - 400) // 320 + 1 frames, no mask);
    our padded, masked pass gives those frames the same tokens and adds the frames that reach the end."""
    codec = get_codec("bicodec")
    x = speech_like(2 * 16_000 + 123, seed=3)
    codes = codec.encode(Audio(x, 16_000), KBPS)
    official = (x.shape[1] - 400) // 320 + 1
    assert (official, codes.frames) == (100, 101)
    with inference():  # `tokenize` by hand: volume-normalised clip, feature extractor, wav2vec 2.0 unpadded
        prepared = codec.first_pass(stream.ArrayReader(x))
        audio = codec._normalised(x[0], prepared["volume"]).astype(np.float32)
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
        hidden = codec.ssl(torch.from_numpy(audio)[None], output_hidden_states=True).hidden_states
        features = (hidden[11] + hidden[14] + hidden[16]) / 3
        tokens = codec.model.quantizer.tokenize(codec.model.semantic_latent(features))[0].numpy()
        global_tokens = torch.from_numpy(codes.extras["global_tokens"])[None]
        decoded = codec.model.detokenize(torch.from_numpy(tokens)[None], global_tokens)
    assert tokens.shape == (official,)
    np.testing.assert_array_equal(codes.tokens[0, :official], tokens)
    # decoding those tokens (the official output level: no volume gain) equals `detokenize`
    extras = {"global_tokens": codes.extras["global_tokens"]}
    ours = codec.decode(Codes.of(codec.info, tokens[None], official * 320, extras))
    np.testing.assert_allclose(ours.samples, decoded[0].numpy(), atol=1e-6)


def test_global_tokens_come_from_the_reference_segment(cache_env):
    """The first 6 s (96000 samples) of the volume-normalised clip, tiled when the clip is shorter; what follows
    does not change them (quiet samples, under 0.01, do not move the volume gain either)."""
    codec = get_codec("bicodec")
    short = speech_like(2 * 16_000 + 7, seed=1)
    with inference():
        prepared = codec.first_pass(stream.ArrayReader(short))
        normalised = codec._normalised(short[0], prepared["volume"])
        ref = torch.from_numpy(np.tile(normalised, 3)[:96_000]).float()[None]
        np.testing.assert_array_equal(prepared["global_tokens"], codec.model.global_tokens(ref)[0].numpy())
    loud = speech_like(96_000, seed=2)
    quiet_tail = [np.zeros((1, 8_000), np.float32), 0.005 * np.ones((1, 8_000), np.float32)]
    first, second = (codec.encode(Audio(np.concatenate([loud, tail], axis=1), 16_000), KBPS) for tail in quiet_tail)
    np.testing.assert_array_equal(first.extras["global_tokens"], second.extras["global_tokens"])
    assert first.extras["volume_gain"] == second.extras["volume_gain"]


def test_global_tokens_survive_the_codes_file_and_decode_identically(cache_env):
    codec = get_codec("bicodec")
    codes = codec.encode(Audio(speech_like(12_345), 16_000), KBPS)
    again = Codes.from_npz(codes.to_npz(codec.weights_id))
    np.testing.assert_array_equal(again.tokens, codes.tokens)
    assert again.extras.keys() == codes.extras.keys() == {"global_tokens", "volume_gain"}
    np.testing.assert_array_equal(again.extras["global_tokens"], codes.extras["global_tokens"])
    np.testing.assert_array_equal(codec.decode(again).samples, codec.decode(codes).samples)


def test_decoding_restores_the_input_level(cache_env):
    """Decoded x volume gain = the official output (the decoder at the normalised level)."""
    codec = get_codec("bicodec")
    codes = codec.encode(Audio(0.02 * speech_like(8_000), 16_000), KBPS)  # a quiet clip: a large gain
    gain = float(codes.extras["volume_gain"][0])
    assert gain > 2
    extras = {"global_tokens": codes.extras["global_tokens"]}
    official_level = Codes.of(codec.info, codes.tokens, codes.num_samples, extras)
    np.testing.assert_allclose(codec.decode(codes).samples * gain, codec.decode(official_level).samples, atol=1e-6)


def test_codes_without_global_tokens_are_refused(cache_env):
    codec = get_codec("bicodec")
    with pytest.raises(RequestError, match="32 global tokens"):
        codec.decode(Codes.of(codec.info, np.zeros((1, 10), np.int64), 3_200))


@pytest.mark.parametrize("n", [1, 100, 399, 400, 401, 8_887])
def test_tiny_and_odd_lengths(cache_env, n):
    """ceil(n / 320) tokens (a clip under 400 samples is one frame), decoded back to n samples."""
    codec = get_codec("bicodec")
    codes = codec.encode(Audio(speech_like(n), 16_000), KBPS)
    assert codes.tokens.shape == (1, max(1, -(-n // 320))) and codes.extras["global_tokens"].shape == (1, 32)
    out = codec.decode(codes)
    assert out.samples.shape == (1, n) and np.isfinite(out.samples).all()


def test_long_input_in_windows_shares_the_global_tokens(cache_env):
    """Windows of 34 frames with 90 of context (the tiny model's): one token per frame, the global tokens and
    the gain computed once for the clip; wav2vec 2.0 attends over its window, so the codes only approximate
    one pass, and decoding is exact in windows (convolutions and per-frame layers)."""
    one_pass, codec = get_codec("bicodec"), windowed(34)
    samples = speech_like(2 * 16_000 + 51, seed=4)
    assert codec.context_units == 90 and len(stream.plan(101, 34, codec.context_units)) == 3
    figures = stream.exactness(codec, samples, codec.point(KBPS), window_units=34)
    assert figures.windows == 3 and 0.5 < figures.equal_codes <= 1 and figures.max_audio_delta < 1e-5
    chunked, whole = codec.encode(Audio(samples, 16_000), KBPS), one_pass.encode(Audio(samples, 16_000), KBPS)
    assert chunked.tokens.shape == whole.tokens.shape == (1, 101)
    assert chunked.extras.keys() == {"global_tokens", "volume_gain"}  # once, not per frame
    np.testing.assert_array_equal(chunked.extras["global_tokens"], whole.extras["global_tokens"])
    np.testing.assert_allclose(chunked.extras["volume_gain"], whole.extras["volume_gain"], rtol=1e-12)
    assert codec.decode(chunked).frames == samples.shape[1]


def test_files_carry_the_global_tokens(cache_env, tmp_path):
    codec, samples = windowed(20), speech_like(16_100, seed=5)
    sf.write(tmp_path / "in.wav", samples[0], 16_000, subtype="FLOAT")
    encoded = files.encode_file(codec, codec.point(KBPS), tmp_path / "in.wav", tmp_path / "codes.npz")
    codes = Codes.from_npz((tmp_path / "codes.npz").read_bytes())
    assert encoded.codes.frames == codes.frames == 51 and codes.extras["global_tokens"].shape == (1, 32)
    np.testing.assert_array_equal(codes.tokens, codec.encode(Audio(samples, 16_000), KBPS).tokens)
    files.decode_file(codec, tmp_path / "codes.npz", tmp_path / "out.wav")
    out, rate = sf.read(tmp_path / "out.wav")
    assert rate == 16_000 and out.shape == (16_100,)
    assert np.max(np.abs(out - np.clip(codec.decode(codes).samples[0], -1, 1))) < 2 / 32768  # 16-bit output


def test_missing_weights_name_the_hub_path(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"bicodec.*models--SparkAudio--Spark-TTS-0\.5B/snapshots/.*/BiCodec/"
                                                 r"model\.safetensors.*codec-arena download bicodec"):
        get_codec("bicodec")


def test_a_partial_download_names_the_missing_part(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    weights.hub_snapshot(bc.HUB_ID, files={bc.CHECKPOINT: b"", "config.yaml": b"sample_rate: 16000\n"})
    assert weights.presence(weight_spec("bicodec").path) == "missing"
    with pytest.raises(WeightsUnavailable, match=r"Spark-TTS-0\.5B/snapshots/[0-9a-f]+/BiCodec/config\.yaml"):
        bc.load(codec_info("bicodec"), "cpu")

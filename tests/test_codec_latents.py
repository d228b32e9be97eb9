"""The continuous tokenizers transformers 5.24 ships (VibeVoice's acoustic tokenizer, the Pocket TTS audio
tokenizer): random-weight checkpoints in the hub-cache layout, `from_pretrained(hub_id)`, latents and audio
equal to the models' own encode/decode calls, windows equal to one pass, and what the app does with float
latents (a round trip with a storage bitrate; no tokens, no codes files)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from conftest import tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.cli import main
from codec_arena.codecs import Latents, codec_info, get_codec, pocket_tts_tokenizer, stream, vibevoice_tokenizer
from codec_arena.compare import compare, parse_point
from codec_arena.errors import RequestError, WeightsMismatch, WeightsUnavailable
from codec_arena.roundtrip import roundtrip

MODULES = {"vibevoice_acoustic": vibevoice_tokenizer, "pocket_tts_audio": pocket_tts_tokenizer}
IDS = list(MODULES)
FACTS = {  # id: (hub id, transformers class, hop, frame rate, latent size), from the modules' sources
    "vibevoice_acoustic": ("microsoft/VibeVoice-AcousticTokenizer", "VibeVoiceAcousticTokenizerModel", 3200, 7.5, 64),
    "pocket_tts_audio": ("eustlb/pocket-tts-audio-tokenizer", "PocketTTSAudioTokenizerModel", 1920, 12.5, 32),
}


def clip(seconds: float = 0.45, level: float = 1.0) -> Audio:
    """Mono 24 kHz, not a whole number of frames for either tokenizer."""
    return Audio(tone(seconds, 24_000) * np.float32(level), 24_000)


def swell(seconds: float) -> Audio:
    """A tone whose level and pitch move, so every frame's latent differs."""
    t = np.arange(int(seconds * 24_000)) / 24_000
    wave = np.sin(2 * np.pi * np.cumsum(200 + 80 * np.sin(2 * np.pi * 0.5 * t)) / 24_000)
    return Audio((0.3 * wave * (0.3 + 0.7 * (1 + np.sin(2 * np.pi * 0.9 * t)) / 2))[None].astype(np.float32), 24_000)


@pytest.mark.parametrize("codec_id", IDS)
def test_facts_are_continuous_and_sourced(codec_id):
    hub_id, _, hop, frame_rate, dim = FACTS[codec_id]
    info = codec_info(codec_id)
    assert (info.hub_id, info.sample_rate / info.frame_rate, info.frame_rate, info.latent_dim) == \
        (hub_id, hop, frame_rate, dim)
    assert info.continuous and info.neural and not info.progressive and not info.encode_only
    assert info.codebook_size is None and info.max_codebooks is None
    assert info.bitrates_kbps == (pytest.approx(dim * 32 * frame_rate / 1000),) == (info.float32_kbps,)
    assert info.bitrate_summary().endswith("as float32 (continuous)")
    assert parse_point(codec_id).codebooks is None and parse_point(codec_id).token_rate is None
    assert len(info.sources) >= 3 and info.paper and info.licence and info.weights and info.code_url


def test_transformers_says_they_are_continuous():
    """Neither model has a quantizer to take codes from."""
    import transformers

    with pytest.raises(AttributeError, match="continuous latents, not codebooks"):
        _ = transformers.PocketTTSAudioTokenizerConfig().num_codebooks
    for module, model in ((vibevoice_tokenizer, transformers.VibeVoiceAcousticTokenizerModel),
                          (pocket_tts_tokenizer, transformers.PocketTTSAudioTokenizerModel)):
        names = " ".join(model(module.FAMILY.config(module.INFOS[0], True)).state_dict())
        assert "quantizer" not in names and "codebook" not in names


@pytest.mark.parametrize("codec_id", IDS)
def test_loaded_by_from_pretrained_from_the_hub_cache(cache_env, codec_id):
    import transformers

    hub_id, model_class, _, frame_rate, dim = FACTS[codec_id]
    repo = weights.hub_repo_dir(hub_id)
    snapshot = repo / "snapshots" / (repo / "refs" / "main").read_text()
    assert {"config.json", "model.safetensors", "preprocessor_config.json"} <= {p.name for p in snapshot.iterdir()}
    assert json.loads((snapshot / "config.json").read_text())["architectures"] == [model_class]
    codec = get_codec(codec_id, "cpu")
    assert type(codec.model) is getattr(transformers, model_class)
    assert codec.config_facts() == {"sample_rate": 24_000, "frame_rate": frame_rate, "latent_dim": dim}
    assert codec.checkpoint == snapshot / "model.safetensors" and weights.is_random(codec.checkpoint)


@pytest.mark.parametrize("codec_id", IDS)
def test_latents_and_audio_are_the_models_own_calls(cache_env, codec_id):
    """Latents [D, ceil(n / hop)] and audio [1, n]: exactly what the model's encode and decode give for the
    padded clip (VibeVoice: normalised by its feature extractor), the gain undone."""
    import torch

    codec, (_, _, hop, frame_rate, dim) = get_codec(codec_id, "cpu"), FACTS[codec_id]
    audio = clip()
    result = roundtrip(audio, codec_id)
    z, out = result.encoded, result.output
    frames = math.ceil(audio.frames / hop)
    assert isinstance(z, Latents) and z.values.shape == (dim, frames) and z.values.dtype == np.float32
    assert (z.frame_rate, z.sample_rate, z.num_samples, z.codec_id) == (frame_rate, 24_000, audio.frames, codec_id)
    assert np.isfinite(z.values).all() and z.values.std() > 0.1, "random weights must carry signal"
    assert not np.allclose(z.values[:, 0], z.values[:, 1]), "frames must differ"
    assert result.bitrate_kbps == pytest.approx(dim * 32 * frames / audio.duration / 1000) and result.codes is None
    assert out.samples.shape == (1, audio.frames) and np.isfinite(out.samples).all()

    gain = float(z.extras.get("input_gain", 1.0))
    if codec_id == "vibevoice_acoustic":  # what its feature extractor feeds the model, and the gain in it
        fed = codec.feature_extractor([audio.samples[0]], sampling_rate=24_000, return_tensors="pt",
                                      pad_to_multiple_of=hop)["input_values"]
        rms = math.sqrt(float(np.mean(audio.samples[0].astype(np.float64) ** 2)))
        assert gain == pytest.approx(10 ** (-25 / 20) / (rms + 1e-6), rel=1e-4)
        with torch.inference_mode():
            own = codec.model.encode(fed, sample=False).latents
            own_audio = codec.model.decode(own).audio
    else:
        assert not z.extras
        padded = np.zeros((1, 1, frames * hop), np.float32)
        padded[0, 0, : audio.frames] = audio.samples[0]
        with torch.inference_mode():
            own = codec.model.encode(torch.from_numpy(padded)).latents
            own_audio = codec.model.decode(own).audio_values
    np.testing.assert_allclose(z.values, own[0].T.numpy(), rtol=1e-5, atol=1e-5)
    expected = own_audio[0, :, : audio.frames].numpy() / gain  # our gain is float64 arithmetic, theirs float32
    np.testing.assert_allclose(out.samples, expected, rtol=1e-4, atol=2e-5 * np.abs(expected).max())


def test_vibevoice_gives_the_input_level_back_and_caps_the_peak(cache_env):
    """The normalisation is one gain per clip: a quieter copy encodes to the same latents and decodes as quiet
    as it came in; a clip whose normalised peak would pass 1 is divided by that peak, as the extractor does."""
    codec = get_codec("vibevoice_acoustic", "cpu")
    loud, quiet = codec.encode(clip()), codec.encode(clip(level=0.1))
    np.testing.assert_allclose(quiet.values, loud.values, rtol=1e-4, atol=1e-4)
    assert float(quiet.extras["input_gain"]) == pytest.approx(10 * float(loud.extras["input_gain"]), rel=1e-4)
    loud_out = codec.decode(loud).samples
    np.testing.assert_allclose(codec.decode(quiet).samples, 0.1 * loud_out, atol=1e-4 * 0.1 * np.abs(loud_out).max())
    spiky = np.zeros((1, 24_000), np.float32)
    spiky[0, 100] = 0.9  # one click: -25 dB FS RMS would put it far above 1
    fed = codec.feature_extractor([spiky[0]], sampling_rate=24_000, return_tensors="pt")["input_values"]
    z = codec.encode(Audio(spiky, 24_000))
    assert float(z.extras["input_gain"]) == pytest.approx(float(fed[0, 0, 100]) / 0.9, rel=1e-5)


@pytest.mark.parametrize("codec_id", IDS)
def test_windows_give_the_one_pass_latents_and_audio(cache_env, codec_id):
    """Causal networks with context over their reach: windowed latents and audio equal one pass."""
    codec = get_codec(codec_id, "cpu")
    other = type(codec)(codec.info, codec.model, "cpu", codec.feature_extractor)
    other.window_units = 4
    audio = swell(12.0)
    whole, windowed = codec.encode(audio), other.encode(audio)
    assert len(stream.plan(whole.frames, 4, other.context_units)) >= 3 and whole.extras.keys() == windowed.extras.keys()
    np.testing.assert_allclose(windowed.values, whole.values, rtol=1e-4, atol=1e-4 * np.abs(whole.values).max())
    one, parts = codec.decode(whole).samples, other.decode(whole).samples
    np.testing.assert_allclose(parts, one, rtol=1e-4, atol=1e-4 * np.abs(one).max())


@pytest.mark.parametrize("codec_id", IDS)
def test_the_context_covers_the_full_size_networks_reach(codec_id):
    """On the released configs (built on the meta device: no weights), each window's context is at least what
    one latent frame of the encoder, and one sample of the decoder, reach back (convolutions; Pocket TTS adds
    two attention layers of 250 steps at 200 Hz)."""
    import torch
    import transformers

    from codec_arena.codecs.chunked import receptive_field

    module = MODULES[codec_id]
    with torch.device("meta"):
        model = getattr(transformers, module.FAMILY.model_class)(module.FAMILY.config(module.INFOS[0], False))
    hop, context = FACTS[codec_id][2], module.FAMILY.context_seconds * 24_000
    encoder_reach, step = receptive_field(model.encoder)
    decoder_reach, _ = receptive_field(model.decoder)  # in latent frames
    attention = 2 * 250 * 120 if codec_id == "pocket_tts_audio" else 0  # samples: 2 layers x 250 steps x 120
    assert step == hop and encoder_reach + attention <= context
    assert decoder_reach * hop + attention <= context


def test_the_app_round_trips_them_without_tokens(cache_env, tmp_path, capsys):
    """Compare runs them (the token rate n/a with the reason), the Tokens tab leaves them out, codes files
    refuse them and `codec-arena roundtrip` takes them in memory."""
    import soundfile as sf

    from codec_arena.ui import overview, tokens

    state = compare(swell(1.0), [parse_point("pocket_tts_audio"), parse_point("dac_16khz@6")])
    row = next(e.row() for e in state.entries if e.point.codec == "pocket_tts_audio")
    assert row["token_rate"] is None and "continuous latents" in row["notes"]["token_rate"]
    assert [str(s.point) for s in tokens.sources(state)] == ["dac_16khz@6"]
    rows = {r["Codec"]: r for r in overview.rows()}
    assert rows["vibevoice_acoustic"]["Codebooks"] == "none (64 floats per frame)"
    assert overview.group(rows["pocket_tts_audio"]) == "Continuous tokenizers (float latents, no codebooks)"
    sf.write(tmp_path / "a.wav", swell(1.0).samples[0], 24_000)
    assert main(["encode", str(tmp_path / "a.wav"), "--codec", "vibevoice_acoustic", "--out",
                 str(tmp_path / "a.npz")]) == 2
    assert "continuous tokenizer: it makes float latents" in capsys.readouterr().err
    assert main(["roundtrip", str(tmp_path / "a.wav"), "--codec", "vibevoice_acoustic", "--out",
                 str(tmp_path / "b.wav"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["codebooks"] is None and out["bitrate_kbps"] == pytest.approx(8 * 64 * 32 / 1000)  # 8 frames of 7.5
    assert sf.info(tmp_path / "b.wav").frames == 24_000


def test_clear_errors_for_unconformed_audio_and_foreign_latents(cache_env):
    vibe, pocket = get_codec("vibevoice_acoustic", "cpu"), get_codec("pocket_tts_audio", "cpu")
    stereo = Audio(tone(0.3, 22_050, channels=2), 22_050)
    with pytest.raises(RequestError, match=r"1-channel audio at 24000 Hz; got 2 at 22050 Hz: conform it first"):
        pocket.encode(stereo)
    result = roundtrip(stereo, "pocket_tts_audio")  # conformed on the way, as for every codec
    assert result.encoded.values.shape == (32, math.ceil(round(0.3 * 24_000) / 1920))
    with pytest.raises(RequestError, match="decodes 32-d latents; got 64-d latents .from vibevoice_acoustic"):
        pocket.decode(vibe.encode(clip()))


def test_a_checkpoint_that_disagrees_with_the_facts_fails_loudly(cache_env):
    wrong = dataclasses.replace(codec_info("pocket_tts_audio"), latent_dim=16)
    with pytest.raises(WeightsMismatch, match="latent_dim: checkpoint 32, expected 16"):
        pocket_tts_tokenizer.load(wrong, "cpu")


@pytest.mark.parametrize("codec_id", IDS)
def test_missing_weights_offline_name_the_hub_cache_path(empty_cache_env, codec_id):
    info = codec_info(codec_id)
    with pytest.raises(WeightsUnavailable) as caught:
        get_codec(codec_id)
    repo = empty_cache_env / "hf" / "hub" / f"models--{info.hub_id.replace('/', '--')}"
    assert caught.value.looked_at == str(repo / "snapshots" / "<revision>" / "model.safetensors")
    assert codec_id in str(caught.value)

"""MusicGen through transformers: the hub snapshots the real loaders read, EnCodec 32 kHz codes with the
delay pattern undone, the continuation's prompt going into the model, the melody's chroma, seeds,
progress, and the errors a user can meet."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info, get_codec
from codec_arena.errors import RequestError, WeightsMismatch, WeightsUnavailable
from codec_arena.lms import GenerationRequest, generate, lm_info
from codec_arena.lms.musicgen import HOP, INFOS
from codec_arena.lms.registry import get_lm

IDS = [info.id for info in INFOS]
TEXT = "lo-fi hip hop beat with warm piano"


def clip(seconds: float = 2.0, freq: float = 440.0) -> Audio:
    return Audio(tone(seconds, 32_000, freq=freq), 32_000)


def ask(task: str = "music", seconds: float = 0.5, seed: int = 0, **changes) -> GenerationRequest:
    return GenerationRequest(**({"task": task, "text": TEXT, "max_seconds": seconds, "seed": seed} | changes))


def snapshot(hub_id: str):
    repo = weights.hub_repo_dir(hub_id)
    return repo / "snapshots" / (repo / "refs" / "main").read_text()


@pytest.mark.parametrize("lm_id", IDS)
def test_snapshot_is_a_musicgen_repo_speaking_encodec_32khz(cache_env, lm_id):
    folder = snapshot(lm_info(lm_id).hub_id)
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json"} <= {p.name for p in folder.iterdir()}
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == ("musicgen_melody" if lm_id == "musicgen_melody" else "musicgen")
    assert config["decoder"]["num_codebooks"] == 4 and config["decoder"]["vocab_size"] == 2048
    audio = config["audio_encoder"]
    assert (audio["sampling_rate"], audio["codebook_size"], audio["target_bandwidths"]) == (32_000, 2048, [2.2])
    assert np.prod(audio["upsampling_ratios"]) == HOP == 640
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["decoder_start_token_id"] == generation["pad_token_id"] == 2048
    assert generation["guidance_scale"] == 3.0


def test_loaded_through_the_real_classes(cache_env):
    from transformers import (
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
        MusicgenMelodyProcessor,
        MusicgenProcessor,
    )

    small, melody = get_lm("musicgen_small", "cpu"), get_lm("musicgen_melody", "cpu")
    assert type(small.model) is MusicgenForConditionalGeneration and type(small.processor) is MusicgenProcessor
    assert type(melody.model) is MusicgenMelodyForConditionalGeneration
    assert type(melody.processor) is MusicgenMelodyProcessor
    assert small.model.name_or_path == "facebook/musicgen-small" and weights.is_random(small.checkpoint)


@pytest.mark.parametrize("lm_id", IDS)
def test_music_is_encodec_32khz_codes_and_the_audio_decoded_from_them(cache_env, lm_id):
    import torch

    steps = []
    result = generate(lm_id, ask(seconds=0.5), progress=lambda f, m: steps.append((f, m)))
    codes = result.codes
    assert codes.codec_id == "encodec_32khz" and codes.tokens.shape == (4, 25) and codes.frame_rate == 50
    assert codes.tokens.min() >= 0 and codes.tokens.max() < 2048 and len(np.unique(codes.tokens)) > 4
    assert result.audio.sample_rate == 32_000 and result.audio.samples.shape == (1, 25 * HOP)
    assert result.generate_s > 0 and result.decode_s > 0 and result.random_weights
    # the audio is the model's own EnCodec applied to exactly these codes (delay pattern undone)
    lm = get_lm(lm_id, "cpu")
    with torch.inference_mode():
        again = lm.model.audio_encoder.decode(torch.from_numpy(codes.tokens)[None, None], [None]).audio_values
    np.testing.assert_allclose(result.audio.samples[0], again[0, 0].numpy(), atol=1e-5)
    messages = [m for _, m in steps]
    assert any(m.startswith("Generating: step 25/28") and "steps/s)" in m for m in messages)
    assert [f for f, _ in steps] == sorted(f for f, _ in steps) and steps[-1] == (1.0, "Done")
    assert "guidance scale 3" in result.notes[0]


def test_codes_decode_with_our_encodec_32khz_codec(cache_env):
    codes = generate("musicgen_small", ask()).codes
    audio = get_codec("encodec_32khz", "cpu").decode(codes)
    assert audio.sample_rate == 32_000 and audio.frames == codes.frames * HOP


def test_length_follows_max_seconds(cache_env):
    assert [generate("musicgen_small", ask(seconds=s)).codes.frames for s in (0.5, 1.0)] == [25, 50]


def test_seed_text_and_sampling_steer_the_tokens(cache_env):
    first = generate("musicgen_small", ask(seed=3)).codes.tokens
    assert np.array_equal(first, generate("musicgen_small", ask(seed=3)).codes.tokens)
    for other in (ask(seed=4), ask(seed=3, text="heavy metal with screaming guitars"), ask(seed=3, temperature=0.3),
                  ask(seed=3, top_k=0, top_p=0.5)):
        assert not np.array_equal(first, generate("musicgen_small", other).codes.tokens), other


def test_continuation_encodes_the_clip_and_returns_only_the_new_part(cache_env, monkeypatch):
    lm = get_lm("musicgen_medium", "cpu")
    encoder, seen = lm.model.audio_encoder, []

    def spy(input_values, *args, **kwargs):  # generate encodes the prompt with EnCodec to seed the decoder
        seen.append(tuple(input_values.shape))
        return type(encoder).encode(encoder, input_values, *args, **kwargs)

    monkeypatch.setattr(encoder, "encode", spy)
    result = generate("musicgen_medium", ask("continuation", prompt=clip(2.0)))
    assert seen == [(1, 1, 64_000)]
    assert result.codes.tokens.shape == (4, 25) and result.audio.frames == 25 * HOP  # the prompt's 100 frames left out
    assert "new part only" in result.notes[1]
    for other in (ask("continuation", prompt=clip(2.0, 330.0)), ask("continuation", prompt=clip(2.0), text="")):
        assert not np.array_equal(result.codes.tokens, generate("musicgen_medium", other).codes.tokens), other


@pytest.mark.parametrize(("lm_id", "task", "prompt"), [("musicgen_small", "music", None),
                                                    ("musicgen_medium", "continuation", 1.0),
                                                    ("musicgen_melody", "melody", 2.0)])
def test_live_audio_arrives_while_generating_and_adds_up_to_the_result(cache_env, lm_id, task, prompt):
    """The Codec LM tab's live player: pieces come before the last step, and laid end to end they are the
    returned audio (prefix decodes agree with the final decode away from their ends); the tokens are
    those of a generation without the live decoding."""
    steps, pieces = [], []
    request = ask(task, seconds=2.0, seed=5, prompt=clip(prompt) if prompt else None)
    result = generate(lm_id, request, progress=lambda f, m: steps.append(m),
                      on_audio=lambda piece: pieces.append((len(steps), piece)))
    assert lm_info(lm_id).streams and len(pieces) >= 3
    total_steps = 100 + 3
    assert pieces[0][0] < 100 // 5 and pieces[-2][0] < total_steps // 5  # reported every 5 steps
    assert all(p.dtype == np.float32 and p.ndim == 1 and p.size for _, p in pieces)
    np.testing.assert_allclose(np.concatenate([p for _, p in pieces]), result.audio.samples[0], atol=1e-4)
    assert np.array_equal(result.codes.tokens, generate(lm_id, request).codes.tokens)


def test_models_that_do_not_stream_ignore_the_sink(cache_env):
    pieces = []
    result = generate("bark", GenerationRequest(task="speech", text="Hello.", max_seconds=0.5),
                      on_audio=pieces.append)
    assert not lm_info("bark").streams and pieces == [] and result.audio.frames > 0


def test_continuation_must_fit_in_thirty_seconds(cache_env):
    with pytest.raises(RequestError, match=r"clip \(29.0 s\) plus the length asked \(2 s\) is over the 30 s"):
        generate("musicgen_small", ask("continuation", seconds=2.0, prompt=clip(29.0)))


def test_melody_becomes_a_chromagram_that_steers_the_tokens(cache_env):
    lm = get_lm("musicgen_melody", "cpu")
    features = lm.inputs(ask("melody", prompt=clip(2.0, 440.0)))["input_features"]
    assert features.shape[-1] == 12 and (features.argmax(-1) == 9).all()  # A: chroma bin 9 (C = 0)
    melody = generate("musicgen_melody", ask("melody", prompt=clip(2.0, 440.0))).codes.tokens
    assert melody.shape == (4, 25)
    assert not np.array_equal(melody, generate("musicgen_melody", ask("music")).codes.tokens)
    assert not np.array_equal(melody, generate("musicgen_melody", ask("melody", prompt=clip(2.0, 330.0))).codes.tokens)


@pytest.mark.parametrize("lm_id, request_, message", [
    ("musicgen_small", ask("melody", prompt=clip()), "does not do 'Music from text and a melody'. "
                                                     "Models that do: musicgen_melody"),
    ("musicgen_melody", ask("continuation", prompt=clip()), "does not do 'Continue a clip'"),
    ("musicgen_small", ask(text=" "), "enter some text"),
    ("musicgen_small", ask(text="x" * 501), "takes at most 500"),
    ("musicgen_small", ask(seconds=31), "between 0.5 and 30 s"),
    ("musicgen_melody", ask("melody"), "needs a melody clip"),
    ("musicgen_medium", ask("continuation", prompt=clip(0.5)), "takes 1–30 s"),
])
def test_bad_requests_get_a_clear_message(lm_id, request_, message):
    with pytest.raises(RequestError, match=message):
        generate(lm_id, request_)


def test_a_checkpoint_that_speaks_another_codec_is_refused(cache_env, monkeypatch):
    lm = get_lm("musicgen_small", "cpu")
    monkeypatch.setattr(lm.model.config.decoder, "num_codebooks", 8)
    with pytest.raises(WeightsMismatch, match="codebooks: checkpoint 8, expected 4"):
        lm.check_config()


def test_facts_name_the_codec_operating_point():
    for info in INFOS:
        codec = codec_info(info.codec_id)
        assert (info.codec_id, info.codec_kbps, info.codebooks) == ("encodec_32khz", 2.2, 4)
        assert codec.check_bitrate(info.codec_kbps) == 2.2 and codec.codebooks_for(2.2) == 4
        assert info.sample_rate == codec.sample_rate and info.survey and info.max_seconds == 30
    assert lm_info("musicgen_melody").tasks == ("music", "melody")


@pytest.mark.parametrize("lm_id", IDS)
def test_missing_weights_are_weights_unavailable(empty_cache_env, lm_id):
    with pytest.raises(WeightsUnavailable, match=lm_id):
        generate(lm_id, ask())

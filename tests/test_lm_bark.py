"""Bark through transformers: the hub snapshot the real loaders read, the three stages run one by one,
speaker presets, the length cap, seeds, progress per stage, and errors a user can meet."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from codec_arena import weights
from codec_arena.codecs import get_codec
from codec_arena.errors import RequestError, WeightsUnavailable
from codec_arena.lms import GenerationRequest, generate, lm_info
from codec_arena.lms.bark import HOP, SPEAKERS
from codec_arena.lms.registry import get_lm

IDS = ["bark_small", "bark"]
TEXT = "Hello world, my dog is cute."


def ask(seconds: float = 0.5, speaker: str = "", seed: int = 0, **changes) -> GenerationRequest:
    return GenerationRequest(task="speech", text=TEXT, speaker=speaker, max_seconds=seconds, seed=seed, **changes)


def expected_frames(seconds: float) -> int:
    """Semantic tokens at 49.9 Hz, capped by the request; coarse/fine frames follow at 75 Hz."""
    return math.floor(round(seconds * 49.9) * 75 / 49.9)


@pytest.mark.parametrize("lm_id", IDS)
def test_snapshot_has_what_the_hub_repo_has(cache_env, lm_id):
    info = lm_info(lm_id)
    repo = weights.hub_repo_dir(info.hub_id)
    snapshot = repo / "snapshots" / (repo / "refs" / "main").read_text()
    names = {p.name for p in snapshot.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer_config.json",
            "speaker_embeddings_path.json"} <= names
    generation = json.loads((snapshot / "generation_config.json").read_text())
    assert generation["semantic_config"]["semantic_rate_hz"] == 49.9
    assert generation["coarse_acoustics_config"]["n_coarse_codebooks"] == 2
    assert generation["fine_acoustics_config"]["n_fine_codebooks"] == 8 and generation["codebook_size"] == 1024
    presets = json.loads((snapshot / "speaker_embeddings_path.json").read_text())
    assert set(SPEAKERS) <= set(presets)
    parts = {part: np.load(snapshot / path) for part, path in presets["v2/en_speaker_6"].items()}
    assert parts["semantic_prompt"].ndim == 1 and parts["semantic_prompt"].max() < 10_000
    assert parts["coarse_prompt"].shape[0] == 2 and parts["fine_prompt"].shape[0] == 8
    assert parts["fine_prompt"].max() < 1024


def test_loaded_through_the_real_classes(cache_env):
    from transformers import BarkModel, BarkProcessor

    lm = get_lm("bark_small", "cpu")
    assert type(lm.model) is BarkModel and type(lm.processor) is BarkProcessor
    assert lm.model.name_or_path == "suno/bark-small" and weights.is_random(lm.checkpoint)
    assert set(SPEAKERS) <= set(lm.processor.available_voice_presets)
    codec = lm.model.config.codec_config  # EnCodec 24 kHz: our codec's frames and codebooks
    assert codec.sampling_rate == 24_000 and codec.hop_length == HOP and codec.codebook_size == 1024


@pytest.mark.parametrize("speaker", ["v2/en_speaker_6", ""])
def test_speaks_encodec_24khz_tokens_with_and_without_a_preset(cache_env, speaker):
    steps = []
    result = generate("bark_small", ask(1.0, speaker), progress=lambda f, m: steps.append((f, m)))
    codes = result.codes
    assert codes.codec_id == "encodec_24khz" and codes.tokens.shape == (8, expected_frames(1.0))
    assert codes.tokens.min() >= 0 and codes.tokens.max() < 1024 and codes.frame_rate == 75
    assert result.audio.sample_rate == 24_000 and result.audio.samples.shape == (1, codes.frames * HOP)
    assert np.isfinite(result.audio.samples).all() and result.generate_s > 0 and result.decode_s > 0
    assert any(speaker in note for note in result.notes) if speaker else "no voice preset" in result.notes[0]
    messages = [m for _, m in steps]
    for stage in ("Semantic tokens", "Coarse codebooks 1–2", "Fine codebooks 3–8"):
        assert any(m.startswith(stage) and "/s)" in m for m in messages), stage
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and steps[-1] == (1.0, "Done")


def test_the_codes_decode_with_our_encodec_codec(cache_env):
    codes = generate("bark_small", ask(0.5)).codes
    audio = get_codec("encodec_24khz", "cpu").decode(codes)
    assert audio.sample_rate == 24_000 and audio.frames == codes.frames * HOP


def test_length_follows_max_seconds(cache_env):
    """Also met above: 0.5 s -> 37 frames, 1 s -> 75 frames."""
    assert generate("bark_small", ask(0.7)).codes.frames == expected_frames(0.7) == 52


def test_seed_preset_and_temperature_steer_the_tokens(cache_env):
    first = generate("bark_small", ask(seed=3, speaker="v2/en_speaker_1")).codes.tokens
    again = generate("bark_small", ask(seed=3, speaker="v2/en_speaker_1")).codes.tokens
    assert np.array_equal(first, again)
    for other in (ask(seed=4, speaker="v2/en_speaker_1"), ask(seed=3, speaker="v2/de_speaker_0"),
                  ask(seed=3, speaker="v2/en_speaker_1", temperature=0.3)):
        assert not np.array_equal(first, generate("bark_small", other).codes.tokens), other


def test_unknown_or_missing_preset_is_a_request_error(cache_env, monkeypatch):
    with pytest.raises(RequestError, match="Unknown voice 'v2/xx_speaker_0'"):
        generate("bark_small", ask(speaker="v2/xx_speaker_0"))
    lm = get_lm("bark_small", "cpu")
    monkeypatch.delitem(lm.processor.speaker_embeddings, "v2/en_speaker_9")
    with pytest.raises(RequestError, match="not in the downloaded suno/bark-small snapshot"):
        generate("bark_small", ask(speaker="v2/en_speaker_9"))


def test_an_immediate_end_token_is_a_request_error(cache_env, monkeypatch):
    import torch

    lm = get_lm("bark_small", "cpu")
    monkeypatch.setattr(lm.model.semantic, "generate", lambda *a, **k: torch.tensor([[10_000]]))
    with pytest.raises(RequestError, match="ended the utterance before saying anything"):
        generate("bark_small", ask())


@pytest.mark.parametrize("lm_id", IDS)
def test_missing_weights_are_weights_unavailable(empty_cache_env, lm_id):
    with pytest.raises(WeightsUnavailable, match=lm_id):
        generate(lm_id, ask())

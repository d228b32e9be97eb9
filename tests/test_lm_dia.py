"""Dia 1.6B through transformers: the two hub snapshots the real loaders read (the model with its
processor, and DAC 44.1 kHz), the delay pattern undone, the voice prompt's transcript before the text,
the frame cap, seeds, progress and the errors a user can meet."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import spy_on, tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info
from codec_arena.errors import RequestError, WeightsUnavailable
from codec_arena.lms import GenerationRequest, generate, lm_info
from codec_arena.lms.dia import HOP, tagged
from codec_arena.lms.registry import get_lm

TEXT = "Hello there."
FRAMES = 43  # 0.5 s at 86.13 frames/s, rounded


def voice(seconds: float = 1.0, freq: float = 220.0) -> Audio:
    return Audio(tone(seconds, 44_100, freq=freq), 44_100)


def ask(task: str = "tts", seconds: float = 0.5, seed: int = 0, prompt: Audio | None = None, text: str = TEXT,
        **changes) -> GenerationRequest:
    if task == "tts" and prompt is None:
        prompt = voice()
    changes.setdefault("prompt_text", "A low hum." if prompt else "")
    return GenerationRequest(task=task, text=text, prompt=prompt, max_seconds=seconds, seed=seed, **changes)


def capture_generate(monkeypatch, lm) -> list:
    return spy_on(monkeypatch, lm.dia, "generate")


def test_facts_name_dac_44khz_at_its_full_bitrate():
    info, dac = lm_info("dia_1_6b"), codec_info("dac_44khz")
    assert info.codec_id == "dac_44khz" and info.codebooks == 9 == dac.max_codebooks
    assert dac.check_bitrate(info.codec_kbps) == pytest.approx(7.752) and info.sample_rate == 44_100
    assert info.needs_prompt_text and set(info.tasks) == {"tts", "speech"} and info.survey == ""


def test_loaded_through_the_real_classes_with_dac_from_its_own_repository(cache_env):
    from transformers import DacModel, DiaForConditionalGeneration, DiaProcessor

    lm = get_lm("dia_1_6b", "cpu")
    assert type(lm.dia) is DiaForConditionalGeneration and type(lm.processor) is DiaProcessor
    assert type(lm.processor.audio_tokenizer) is DacModel and lm.processor.audio_tokenizer.name_or_path == \
        "descript/dac_44khz"
    assert lm.dia.name_or_path == "nari-labs/Dia-1.6B-0626" and weights.is_random(lm.checkpoint)
    dac = lm.processor.audio_tokenizer.config
    assert dac.sampling_rate == 44_100 and dac.hop_length == HOP and (dac.n_codebooks, dac.codebook_size) == (9, 1024)
    assert lm.dia.config.delay_pattern == [0, 8, 9, 10, 11, 12, 13, 14, 15]


def test_texts_start_with_a_speaker_tag():
    assert tagged("hello") == "[S1] hello" and tagged(" [S2] hi [S1] yo") == "[S2] hi [S1] yo"


def test_undoes_the_delay_pattern_and_decodes_as_the_processor_does(cache_env, monkeypatch):
    lm = get_lm("dia_1_6b", "cpu")
    seen = capture_generate(monkeypatch, lm)
    steps = []
    result = generate("dia_1_6b", ask("speech"), progress=lambda f, m: steps.append((f, m)))
    codes = result.codes
    assert codes.codec_id == "dac_44khz" and codes.tokens.shape == (9, FRAMES)
    assert codes.tokens.min() >= 0 and codes.tokens.max() < 1024
    kwargs, out = seen[0]
    assert kwargs["guidance_scale"] == 3.0 and kwargs["max_new_tokens"] == FRAMES + 16
    delayed = out[0].numpy()  # step s of codebook c holds frame s - 1 - delay[c] (after one BOS step)
    for c, delay in enumerate([0, 8, 9, 10, 11, 12, 13, 14, 15]):
        assert np.array_equal(delayed[1 + delay: 1 + delay + FRAMES, c], codes.tokens[c])
    official = lm.processor.batch_decode(out, audio_prompt_len=1)[0].numpy()  # the docs' decode
    assert result.audio.samples.shape == (1, FRAMES * HOP) and official.shape == (FRAMES * HOP,)
    assert np.allclose(result.audio.samples[0], official, atol=1e-5)
    assert any(f"step {FRAMES + 16}/{FRAMES + 16}" in m for _, m in steps) and steps[-1] == (1.0, "Done")
    assert "Text given to the model: [S1] Hello there." in result.notes


def test_the_prompt_transcript_comes_first_and_the_prompt_frames_change_the_output(cache_env, monkeypatch):
    lm = get_lm("dia_1_6b", "cpu")
    seen = capture_generate(monkeypatch, lm)
    low = generate("dia_1_6b", ask(prompt=voice(1.0, 220.0)))
    high = generate("dia_1_6b", ask(prompt=voice(1.0, 880.0)))
    assert "Text given to the model: [S1] A low hum. [S1] Hello there." in low.notes
    kwargs, out = seen[0]
    prompt_frames = -(-44_100 // HOP)  # 1 s padded to whole frames
    assert kwargs["decoder_input_ids"].shape[1] == 1 + prompt_frames + 15  # BOS + prompt + the delay's tail
    assert out.shape[1] == 1 + prompt_frames + FRAMES + 16  # generated frames follow the prompt's
    assert low.codes.tokens.shape == (9, FRAMES) and not np.array_equal(low.codes.tokens, high.codes.tokens)


def test_seeds_repeat_and_differ_and_low_temperatures_are_noted(cache_env):
    first = generate("dia_1_6b", ask("speech", seed=3))
    assert np.array_equal(first.codes.tokens, generate("dia_1_6b", ask("speech", seed=3)).codes.tokens)
    cooler = generate("dia_1_6b", ask("speech", seed=4, temperature=0.7))
    assert not np.array_equal(first.codes.tokens, cooler.codes.tokens)
    assert "Dia clamps temperatures below 1 to 1." in cooler.notes


@pytest.mark.parametrize("request_, message", [
    (ask(prompt_text=""), "transcript"),
    (ask(prompt_text="x" * 600, text="y" * 600), "bytes"),
    (ask(prompt=voice(11.0)), "takes 1–10 s"),
    (ask("speech", seconds=21), "between 0.5 and 20"),
])
def test_bad_requests_get_a_clear_message(cache_env, request_, message):
    with pytest.raises(RequestError, match=message):
        generate("dia_1_6b", request_)


def test_missing_weights_point_at_the_dac_repository_too(empty_cache_env):
    with pytest.raises(WeightsUnavailable) as caught:
        generate("dia_1_6b", ask("speech"))
    assert "dia_1_6b" in str(caught.value) and "models--descript--dac_44khz" in str(caught.value)

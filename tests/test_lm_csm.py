"""CSM 1B through transformers: the hub snapshot the real loaders read (model, processor, Llama-3-style
tokenizer, chat template), Mimi tokens at 4.4 kbps, the voice prompt as a previous turn, the frame cap,
seeds, progress and the errors a user can meet."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import spy_on, tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info
from codec_arena.errors import RequestError, WeightsUnavailable
from codec_arena.lms import GenerationRequest, generate, lm_info
from codec_arena.lms.csm import HOP
from codec_arena.lms.registry import get_lm

TEXT = "Hello there."


def voice(seconds: float = 2.0, freq: float = 220.0) -> Audio:
    return Audio(tone(seconds, 24_000, freq=freq), 24_000)


def ask(task: str = "tts", seconds: float = 0.5, seed: int = 0, prompt: Audio | None = None, **changes):
    if task == "tts" and prompt is None:
        prompt = voice()
    return GenerationRequest(task=task, text=TEXT, prompt=prompt, prompt_text="A low hum." if prompt else "",
                             max_seconds=seconds, seed=seed, **changes)


def capture_generate(monkeypatch, lm) -> list:
    return spy_on(monkeypatch, lm.model, "generate")


def test_facts_name_mimi_at_4_4_kbps():
    info, mimi = lm_info("csm_1b"), codec_info("mimi")
    assert info.codec_id == "mimi" and info.codebooks == 32 and info.codec_kbps == pytest.approx(4.4)
    assert mimi.check_bitrate(info.codec_kbps) == pytest.approx(4.4) and info.sample_rate == mimi.sample_rate
    assert info.needs_prompt_text and set(info.tasks) == {"tts", "speech"} and info.survey == ""
    assert "gated" in info.notes and "log in" in info.notes


def test_loaded_through_the_real_classes_with_the_hub_chat_template(cache_env):
    from transformers import CsmForConditionalGeneration, CsmProcessor

    lm = get_lm("csm_1b", "cpu")
    assert type(lm.model) is CsmForConditionalGeneration and type(lm.processor) is CsmProcessor
    assert lm.model.name_or_path == "sesame/csm-1b" and weights.is_random(lm.checkpoint)
    codec = lm.model.config.codec_config
    assert codec.sampling_rate == 24_000 and codec.frame_rate == 12.5 and codec.codebook_size == 2048
    # the byte tokens keep Llama-3's ids ("[0]" is 58 15 60), as transformers' CSM processor test expects
    messages = [{"role": "0", "content": [{"type": "text", "text": "This is a test sentence."},
                                          {"type": "audio", "audio": np.zeros(4096)}]}]
    ids = lm.processor.apply_chat_template(messages, tokenize=True)[0].tolist()
    bos, eos = lm.processor.tokenizer.bos_token_id, lm.processor.tokenizer.eos_token_id
    audio, audio_eos = lm.processor.audio_token_id, lm.processor.audio_eos_token_id
    assert ids[:4] == [bos, 58, 15, 60] and ids[-5:] == [eos, audio, audio, audio, audio_eos]  # 4096 samples: 3 frames
    assert (audio, audio_eos) == (lm.model.config.audio_token_id, lm.model.config.audio_eos_token_id)


def test_the_voice_prompt_is_the_previous_turn_of_speaker_0(cache_env):
    lm = get_lm("csm_1b", "cpu")
    rendered = lm.processor.apply_chat_template(lm.conversation(ask()), tokenize=False)
    assert rendered == ("<|begin_of_text|>[0]A low hum.<|end_of_text|><|AUDIO|><|audio_eos|>"
                        "<|begin_of_text|>[0]Hello there.<|end_of_text|>")
    plain = lm.processor.apply_chat_template(lm.conversation(ask("speech")), tokenize=False)
    assert plain == "<|begin_of_text|>[0]Hello there.<|end_of_text|>"


def test_speaks_mimi_tokens_decoded_by_its_own_codec(cache_env, monkeypatch):
    lm = get_lm("csm_1b", "cpu")
    seen = capture_generate(monkeypatch, lm)
    steps = []
    result = generate("csm_1b", ask(seconds=0.5, top_k=20, top_p=0.9), progress=lambda f, m: steps.append((f, m)))
    codes = result.codes
    assert codes.codec_id == "mimi" and codes.tokens.shape == (32, 6)  # 0.5 s at 12.5 frames/s, rounded
    assert codes.tokens.min() >= 0 and codes.tokens.max() < 2048 and result.codes.num_samples == 6 * HOP
    kwargs, out = seen[0]
    assert np.array_equal(out[0].T.numpy(), codes.tokens)  # column t is frame t; no prompt frames
    import torch

    with torch.inference_mode():
        expected = lm.model.codec_model.decode(torch.from_numpy(codes.tokens)[None]).audio_values[0, 0].numpy()
    assert result.audio.samples.shape == (1, 6 * HOP)
    assert np.allclose(result.audio.samples[0], expected[: 6 * HOP], atol=1e-5)
    # the request's sampling reaches the backbone and, prefixed, the depth decoder
    assert kwargs["top_k"] == 20 and kwargs["depth_decoder_top_k"] == 20 and kwargs["depth_decoder_top_p"] == 0.9
    assert lm.model.depth_decoder.generation_config.top_k == 20
    assert any("step 6/6" in m for _, m in steps) and steps[-1] == (1.0, "Done")
    assert result.generate_s > 0 and result.decode_s > 0
    # "off" is sent as transformers' own off values, never as None (which would mean its default top-k 50)
    generate("csm_1b", ask(seconds=0.5, top_k=0, top_p=1.0))
    kwargs = seen[-1][0]
    assert kwargs["depth_decoder_top_k"] == 0 and kwargs["top_k"] == 0 and kwargs["depth_decoder_top_p"] == 1.0


def test_the_prompt_frames_go_into_the_model_and_change_the_output(cache_env, monkeypatch):
    lm = get_lm("csm_1b", "cpu")
    seen = capture_generate(monkeypatch, lm)
    low = generate("csm_1b", ask(prompt=voice(2.0, 220.0))).codes.tokens
    high = generate("csm_1b", ask(prompt=voice(2.0, 880.0))).codes.tokens
    kwargs = seen[0][0]
    frames = int((kwargs["input_ids"] == lm.model.config.audio_token_id).sum())
    assert frames == 25 and kwargs["input_values"].shape[-1] == 48_000  # 2 s of 24 kHz: 25 Mimi frames
    assert not np.array_equal(low, high)
    plain = generate("csm_1b", ask("speech")).codes.tokens
    assert "input_values" not in seen[-1][0] and plain.shape == (32, 6)


def test_seeds_repeat_and_differ(cache_env):
    first = generate("csm_1b", ask("speech", seed=3)).codes.tokens
    assert np.array_equal(first, generate("csm_1b", ask("speech", seed=3)).codes.tokens)
    assert not np.array_equal(first, generate("csm_1b", ask("speech", seed=4)).codes.tokens)


@pytest.mark.parametrize("request_, message", [
    (GenerationRequest(task="tts", text=TEXT, prompt=voice()), "transcript"),
    (GenerationRequest(task="tts", text=TEXT, prompt_text="x"), "voice prompt"),
    (GenerationRequest(task="music", text=TEXT), "does not do"),
    (GenerationRequest(task="speech", text=TEXT, max_seconds=31), "between 0.5 and 30"),
])
def test_bad_requests_get_a_clear_message(cache_env, request_, message):
    with pytest.raises(RequestError, match=message):
        generate("csm_1b", request_)


def test_missing_weights_name_the_gated_repository(empty_cache_env):
    with pytest.raises(WeightsUnavailable) as caught:
        generate("csm_1b", ask("speech"))
    assert "csm_1b" in str(caught.value) and "models--sesame--csm-1b" in str(caught.value)

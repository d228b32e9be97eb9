"""Llasa through transformers: the hub snapshot the real loaders read (LlamaForCausalLM, a tokenizer with
Llasa's token layout and Llama-3's chat template), the model cards' chat, X-Codec2 tokens at 0.8 kbps
decoded by our registry's codec, the voice prompt as the speech's first tokens, speech-token parsing,
the length caps, seeds and the errors a user can meet."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import spy_on, tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info, get_codec
from codec_arena.codecs.base import Codes
from codec_arena.errors import RequestError, WeightsUnavailable
from codec_arena.lms import GenerationRequest, generate, llasa, lm_info
from codec_arena.lms.registry import get_lm

LM = "llasa_1b"
TEXT = "Hello there."
HEADER = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
          "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n")


def voice(seconds: float = 2.0, freq: float = 220.0) -> Audio:
    return Audio(tone(seconds, 16_000, freq=freq), 16_000)


def ask(task: str = "speech", seconds: float = 0.5, seed: int = 0, prompt: Audio | None = None, **changes):
    if task == "tts" and prompt is None:
        prompt = voice()
    return GenerationRequest(task=task, text=TEXT, prompt=prompt, prompt_text="A low hum." if prompt else "",
                             max_seconds=seconds, seed=seed, **changes)


def speech_base(lm) -> int:
    return lm.tokenizer.convert_tokens_to_ids("<|s_0|>")


def test_facts_name_xcodec2_at_0_8_kbps():
    xcodec2 = codec_info("xcodec2")
    assert (xcodec2.frame_rate, xcodec2.codebook_size) == (llasa.FRAME_RATE, llasa.CODEBOOK_SIZE) == (50.0, 65_536)
    assert llasa.HOP == xcodec2.sample_rate / xcodec2.frame_rate == 320 and llasa.MAX_LENGTH == 2048
    hubs = {"llasa_1b": "HKUSTAudio/Llasa-1B", "llasa_3b": "HKUSTAudio/Llasa-3B", "llasa_8b": "HKUSTAudio/Llasa-8B"}
    for lm_id, hub_id in hubs.items():
        info = lm_info(lm_id)
        assert info.hub_id == hub_id and info.codec_id == "xcodec2" and info.codebooks == 1
        assert xcodec2.check_bitrate(info.codec_kbps) == pytest.approx(0.8) and info.sample_rate == 16_000
        assert set(info.tasks) == {"tts", "speech"} and info.needs_prompt_text and info.survey == ""
        assert "CC-BY-NC-4.0" in info.licence and "2502.04128" in info.paper


@pytest.mark.parametrize("lm_id, parameters, gigabytes", [
    ("llasa_1b", 1.370e9, 2.74), ("llasa_3b", 4.009e9, 4.97 + 3.05), ("llasa_8b", 8.567e9, 4.96 + 5 + 4.92 + 2.26)])
def test_full_size_configs_give_the_hub_checkpoints_sizes(lm_id, parameters, gigabytes):
    """The base models' sizes over Llasa's 193,800 tokens hold exactly what the hub's bf16 files hold."""
    import torch
    from transformers import LlamaForCausalLM

    config = llasa.llama_config(lm_id, small=False)
    with torch.device("meta"):
        count = sum(p.numel() for p in LlamaForCausalLM(config).parameters())
    assert config.vocab_size == 128_256 + 8 + 65_536
    assert count == pytest.approx(parameters, rel=1e-3) and 2 * count / 1e9 == pytest.approx(gigabytes, rel=2e-3)
    assert f"{parameters / 1e9:.2f}B" in lm_info(lm_id).parameters


def test_loaded_through_the_auto_classes_with_llasa_token_layout(cache_env):
    from transformers import LlamaForCausalLM

    lm = get_lm(LM, "cpu")
    assert type(lm.model) is LlamaForCausalLM and lm.model.name_or_path == "HKUSTAudio/Llasa-1B"
    assert weights.is_random(lm.checkpoint) and lm.checkpoint.name == "model.safetensors"
    tok = lm.tokenizer
    # train_tts.py: add_tokens(8 task markers + <|s_0|>..<|s_65535|>) right after the Llama-3 vocabulary
    ids = tok.convert_tokens_to_ids([*llasa.TASK_TOKENS, "<|s_0|>", "<|s_65535|>"])
    first = tok.convert_tokens_to_ids("<|reserved_special_token_247|>") + 1
    assert ids == [*range(first, first + 8), first + 8, first + 8 + 65_535]
    assert lm.model.config.vocab_size == len(tok) == first + 8 + 65_536
    assert lm.speech_end == tok.convert_tokens_to_ids("<|SPEECH_GENERATION_END|>")
    # the speech tokens in a prompt's text are single tokens, as the cards' voice prompts need
    assert tok("<|s_12|><|s_65535|>", add_special_tokens=False)["input_ids"] == [first + 20, first + 8 + 65_535]


def test_the_prompt_is_the_model_cards_chat(cache_env):
    lm = get_lm(LM, "cpu")
    plain = lm.tokenizer.decode(lm.input_ids(ask(), np.zeros(0, np.int64))[0])
    assert plain == (HEADER + "Convert the text to speech:<|TEXT_UNDERSTANDING_START|>Hello there."
                     "<|TEXT_UNDERSTANDING_END|><|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                     "<|SPEECH_GENERATION_START|>")
    ids = lm.input_ids(ask("tts"), np.array([3, 65_535]))[0]
    cloned = lm.tokenizer.decode(ids)
    assert cloned == (HEADER + "Convert the text to speech:<|TEXT_UNDERSTANDING_START|>A low hum. Hello there."
                      "<|TEXT_UNDERSTANDING_END|><|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                      "<|SPEECH_GENERATION_START|><|s_3|><|s_65535|>")
    start = lm.tokenizer.convert_tokens_to_ids("<|SPEECH_GENERATION_START|>")
    assert ids[-3:].tolist() == [start, speech_base(lm) + 3, speech_base(lm) + 65_535]


def test_speech_tokens_are_parsed_and_everything_else_dropped(cache_env):
    lm = get_lm(LM, "cpu")
    s0, eot, byte = speech_base(lm), lm.tokenizer.convert_tokens_to_ids("<|eot_id|>"), 72
    codes, dropped, ended = lm.speech_codes([s0 + 5, byte, s0 + 65_535, eot, lm.speech_end, s0 + 1])
    assert codes.tolist() == [5, 65_535] and dropped == 2 and ended  # nothing after the end token counts
    codes, dropped, ended = lm.speech_codes([s0, s0 + 7])
    assert codes.tolist() == [0, 7] and dropped == 0 and not ended


def test_speaks_xcodec2_tokens_decoded_by_our_codec(cache_env, monkeypatch):
    lm = get_lm(LM, "cpu")
    seen = spy_on(monkeypatch, lm.model, "generate")
    steps = []
    result = generate(LM, ask(top_k=20, top_p=0.9, temperature=0.8), progress=lambda f, m: steps.append((f, m)))
    kwargs, out = seen[0]
    assert kwargs["max_new_tokens"] == 25 and kwargs["eos_token_id"] == lm.speech_end  # 0.5 s at 50 tokens/s
    assert (kwargs["do_sample"], kwargs["temperature"], kwargs["top_k"], kwargs["top_p"]) == (True, 0.8, 20, 0.9)
    expected, dropped, _ = lm.speech_codes(out[0, kwargs["input_ids"].shape[1]:].tolist())
    codes = result.codes
    assert codes.codec_id == "xcodec2" and codes.tokens.shape == (1, expected.size) and 1 <= expected.size <= 25
    assert np.array_equal(codes.tokens[0], expected) and codes.tokens.max() < 65_536
    assert codes.num_samples == expected.size * 320 and result.audio.samples.shape == (1, expected.size * 320)
    decoded = get_codec("xcodec2", "cpu").decode(codes).samples
    assert result.audio.sample_rate == 16_000 and np.allclose(result.audio.samples, decoded, atol=1e-5)
    assert any("step 25/25" in m for _, m in steps) and steps[-1] == (1.0, "Done")
    assert result.generate_s > 0 and result.decode_s > 0 and any("Hello there." in n for n in result.notes)


def test_the_voice_prompt_is_encoded_by_xcodec2_and_starts_the_speech(cache_env, monkeypatch):
    lm, codec = get_lm(LM, "cpu"), get_codec("xcodec2", "cpu")
    seen = spy_on(monkeypatch, lm.model, "generate")
    low = generate(LM, ask("tts", prompt=voice(2.0, 220.0)))
    prompt_codes = codec.encode(voice(2.0, 220.0), 0.8).tokens[0]
    assert prompt_codes.size == 100  # 2 s at 50 tokens/s
    ids = seen[0][0]["input_ids"][0].tolist()
    assert ids[-100:] == (speech_base(lm) + prompt_codes).tolist()
    # the prompt and the new tokens are decoded together; the audio after the prompt is kept
    whole = np.concatenate([prompt_codes, low.codes.tokens[0]])
    decoded = codec.decode(Codes.of(codec.info, whole[None], whole.size * 320)).samples[0, 100 * 320:]
    assert low.audio.samples.shape == (1, low.codes.frames * 320)
    assert np.allclose(low.audio.samples[0], decoded[: low.codes.frames * 320], atol=1e-5)
    assert any("100 X-Codec2 tokens" in n for n in low.notes)
    high = generate(LM, ask("tts", prompt=voice(2.0, 880.0)))
    assert seen[1][0]["input_ids"][0, -100:].tolist() != ids[-100:]
    assert not np.array_equal(low.codes.tokens, high.codes.tokens)


def test_length_is_capped_by_the_request_and_by_the_context(cache_env, monkeypatch):
    lm = get_lm(LM, "cpu")
    seen = spy_on(monkeypatch, lm.model, "generate")
    assert generate(LM, ask(seconds=1.0)).codes.frames <= 50 and seen[-1][0]["max_new_tokens"] == 50
    used = lm.input_ids(ask(), np.zeros(0, np.int64)).shape[1]
    monkeypatch.setattr(llasa, "MAX_LENGTH", used + 5)  # as if the text and prompt filled the 2048 tokens
    capped = generate(LM, ask(seconds=1.0))
    assert seen[-1][0]["max_new_tokens"] == 5 and capped.codes.frames <= 5
    assert any("Capped at 5 tokens" in n for n in capped.notes)
    monkeypatch.setattr(llasa, "MAX_LENGTH", used)
    with pytest.raises(RequestError, match=f"take {used} tokens.*at most {used}"):
        generate(LM, ask())


def test_seeds_repeat_and_differ(cache_env):
    first = generate(LM, ask(seed=3)).codes.tokens
    assert np.array_equal(first, generate(LM, ask(seed=3)).codes.tokens)
    assert not np.array_equal(first, generate(LM, ask(seed=4)).codes.tokens)


@pytest.mark.parametrize("request_, message", [
    (GenerationRequest(task="tts", text=TEXT, prompt=voice()), "transcript"),
    (GenerationRequest(task="tts", text=TEXT, prompt_text="x"), "voice prompt"),
    (GenerationRequest(task="tts", text=TEXT, prompt=voice(16.0), prompt_text="x"), "takes 1–15 s"),
    (GenerationRequest(task="music", text=TEXT), "does not do"),
    (GenerationRequest(task="speech", text=TEXT, max_seconds=31), "between 0.5 and 30"),
    (GenerationRequest(task="speech", text="x" * 301), "at most 300"),
])
def test_bad_requests_get_a_clear_message(cache_env, request_, message):
    with pytest.raises(RequestError, match=message):
        generate(LM, request_)


def test_missing_weights_name_xcodec2_then_llasa(empty_cache_env):
    with pytest.raises(WeightsUnavailable) as caught:
        generate(LM, ask())
    assert "llasa_1b" in str(caught.value) and "models--HKUSTAudio--xcodec2-hf" in str(caught.value)
    # with X-Codec2 downloaded (a file where its loader looks), the message names Llasa's repository
    weights.hub_snapshot("HKUSTAudio/xcodec2-hf", files={"model.safetensors": b""})
    assert weights.hub_file("HKUSTAudio/xcodec2-hf", "model.safetensors").exists()
    with pytest.raises(WeightsUnavailable) as caught:
        generate(LM, ask())
    assert "models--HKUSTAudio--Llasa-1B" in str(caught.value) and "codec-arena download llasa_1b" in str(caught.value)
    assert "HKUSTAudio/Llasa-1B" in llasa.weight_spec(LM).source and "xcodec2-hf" in llasa.weight_spec(LM).source

"""Higgs Audio v2 through transformers: the hub snapshots the real loaders read (the model with its
processor, and the Higgs Audio v2 tokenizer our codec registry uses), the docs' conversation, the delay
pattern undone as `batch_decode` does, the voice prompt as an earlier assistant turn, the frame cap,
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
from codec_arena.lms.higgs_audio import CODEC_HUB_ID, HOP, HUB_ID
from codec_arena.lms.registry import get_lm

LM = "higgs_audio_v2_3b"
TEXT = "Hello there."
FRAMES = 12  # 0.5 s at 25 frames/s, rounded half to even


def voice(seconds: float = 2.0, freq: float = 220.0) -> Audio:
    return Audio(tone(seconds, 24_000, freq=freq), 24_000)


def ask(task: str = "tts", seconds: float = 0.5, seed: int = 0, prompt: Audio | None = None, **changes):
    if task == "tts" and prompt is None:
        prompt = voice()
    changes.setdefault("prompt_text", "A low hum." if prompt else "")
    return GenerationRequest(task=task, text=TEXT, prompt=prompt, max_seconds=seconds, seed=seed, **changes)


def capture_generate(monkeypatch, lm) -> list:
    return spy_on(monkeypatch, lm.higgs, "generate")


def test_facts_name_the_higgs_tokenizer_at_its_full_2_kbps():
    info, codec = lm_info(LM), codec_info("higgs_audio_v2_tokenizer")
    assert info.codec_id == "higgs_audio_v2_tokenizer" and info.codebooks == 8 == codec.max_codebooks
    assert codec.check_bitrate(info.codec_kbps) == pytest.approx(2.0) and info.sample_rate == codec.sample_rate
    assert codec.frame_rate * HOP == info.sample_rate
    assert info.needs_prompt_text and set(info.tasks) == {"tts", "speech"} and info.survey == ""
    assert info.hub_id == HUB_ID and "Community License" in info.licence


def test_the_full_size_config_is_the_conversions_and_has_the_stated_size():
    """`model_config(small=False)` is what convert_higgs_audio_v2_to_hf.py builds (the config's defaults but
    codebook_size 1026), the random tokenizer's special ids are the config's token ids, and the parameter
    count in the facts is this model's (built on the meta device: no memory) plus the codec's."""
    import torch
    from transformers import HiggsAudioV2Config, HiggsAudioV2ForConditionalGeneration, HiggsAudioV2TokenizerModel

    from codec_arena.codecs import higgs_audio_tokenizer
    from codec_arena.lms.higgs_audio import byte_level_tokenizer, model_config, special_tokens

    config, default = model_config(small=False).to_dict(), HiggsAudioV2Config(codebook_size=1026).to_dict()
    assert config == default and default["hidden_size"] == 3072 and default["num_hidden_layers"] == 28
    ids = byte_level_tokenizer(special_tokens(small=False)).convert_tokens_to_ids
    assert [ids(t) for t in ("<|eot_id|>", "<|end_of_text|>", "<|AUDIO_OUT|>", "<|audio_out_bos|>",
                             "<|reserved_special_token_6|>")] == \
        [default[k] for k in ("eos_token_id", "pad_token_id", "audio_token_id", "audio_bos_token_id",
                              "audio_delay_token_id")]
    with torch.device("meta"):
        model = HiggsAudioV2ForConditionalGeneration(model_config(small=False))
        codec = HiggsAudioV2TokenizerModel(higgs_audio_tokenizer.config(codec_info("higgs_audio_v2_tokenizer"), False))
    audio = sum(p.numel() for name, p in model.named_parameters() if "audio" in name)
    total = sum(p.numel() for p in model.parameters())
    assert round((total - audio) / 1e9, 2) == 3.21 and round(audio / 1e9, 2) == 2.16
    assert round(sum(p.numel() for p in codec.parameters()) / 1e6) == 200
    assert lm_info(LM).parameters.startswith(f"{(total + sum(p.numel() for p in codec.parameters())) / 1e9:.2f}B")


def test_loaded_through_the_real_classes_with_the_tokenizer_from_its_own_repository(cache_env):
    from transformers import HiggsAudioV2ForConditionalGeneration, HiggsAudioV2Processor, HiggsAudioV2TokenizerModel

    lm = get_lm(LM, "cpu")
    assert type(lm.higgs) is HiggsAudioV2ForConditionalGeneration and type(lm.processor) is HiggsAudioV2Processor
    tokenizer = lm.processor.audio_tokenizer
    assert type(tokenizer) is HiggsAudioV2TokenizerModel and tokenizer.name_or_path == CODEC_HUB_ID
    assert codec_info("higgs_audio_v2_tokenizer").hub_id == CODEC_HUB_ID  # the codec our registry decodes with
    assert lm.higgs.name_or_path == HUB_ID and weights.is_random(lm.checkpoint)
    config = lm.higgs.config
    assert (config.num_codebooks, config.codebook_size) == (8, 1026)  # 1024 codes + stream BOS and EOS
    assert (tokenizer.config.num_quantizers, tokenizer.config.frame_rate, tokenizer.config.hop_length) == (8, 25, HOP)
    assert lm.higgs.generation_config.ras_win_len == 7 and lm.higgs.generation_config.ras_win_max_num_repeat == 2
    ids = lm.processor.tokenizer.convert_tokens_to_ids
    assert (lm.processor.audio_token_id, lm.processor.audio_bos_token_id, lm.processor.audio_delay_token_id) == \
        (config.audio_token_id, config.audio_bos_token_id, config.audio_delay_token_id)
    assert ids("<|eot_id|>") == config.eos_token_id and ids("<|end_of_text|>") == config.pad_token_id


def test_the_conversation_is_the_docs_with_the_voice_prompt_as_an_earlier_answer(cache_env):
    lm = get_lm(LM, "cpu")
    head = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nGenerate audio following instruction."
            "\n\n<|scene_desc_start|>\nAudio is recorded from a quiet room.\n<|scene_desc_end|><|eot_id|>")
    tail = "<|start_header_id|>user<|end_header_id|>\n\nHello there.<|eot_id|>" \
           "<|start_header_id|>assistant<|end_header_id|>\n\n<|audio_out_bos|>"

    def render(request):
        return lm.processor.apply_chat_template(lm.conversation(request), add_generation_prompt=True, tokenize=False)

    assert render(ask("speech")) == head + tail
    assert render(ask()) == (head + "<|start_header_id|>user<|end_header_id|>\n\nA low hum.<|eot_id|>"
                             "<|start_header_id|>assistant<|end_header_id|>\n\n<|audio_out_bos|><|AUDIO_OUT|>"
                             "<|audio_eos|><|eot_id|>" + tail)


def test_speaks_higgs_tokenizer_codes_decoded_as_batch_decode_does(cache_env, monkeypatch):
    import torch

    from codec_arena.codecs import get_codec

    lm = get_lm(LM, "cpu")
    seen = capture_generate(monkeypatch, lm)
    steps = []
    result = generate(LM, ask("speech", top_k=20, top_p=0.9, temperature=0.7),
                      progress=lambda f, m: steps.append((f, m)))
    codes = result.codes
    assert codes.codec_id == "higgs_audio_v2_tokenizer" and codes.tokens.shape == (8, FRAMES)
    assert codes.tokens.min() >= 0 and codes.tokens.max() < 1024 and codes.num_samples == FRAMES * HOP
    assert len(np.unique(codes.tokens)) > 20  # random weights sample all over the codebooks
    kwargs, out = seen[0]
    assert out.shape == (1, FRAMES + 8, 8) and bool((out[0, 0] == 1024).all())  # all-BOS row, frames, delay tail
    for k in range(8):  # codebook k lags k rows behind codebook 0
        assert np.array_equal(out[0, 1 + k: 1 + k + FRAMES, k].clip(0, 1023).numpy(), codes.tokens[k])
    # the same audio as the processor's own batch_decode of what generate returned
    expected = lm.processor.batch_decode(out)[0].numpy()
    assert result.audio.samples.shape == (1, FRAMES * HOP)
    assert np.allclose(result.audio.samples[0], expected[: FRAMES * HOP], atol=1e-5)
    # and our codec registry's Higgs Audio v2 tokenizer decodes the codes to that audio too
    with torch.inference_mode():
        ours = get_codec("higgs_audio_v2_tokenizer", "cpu").decode(codes).samples[0]
    assert np.allclose(ours, result.audio.samples[0], atol=1e-4)
    # the request's sampling reaches generate; progress counts the steps
    assert (kwargs["top_k"], kwargs["top_p"], kwargs["temperature"], kwargs["do_sample"]) == (20, 0.9, 0.7, True)
    assert kwargs["max_new_tokens"] == FRAMES + 8
    assert any(f"step {FRAMES + 8}/{FRAMES + 8}" in m for _, m in steps) and steps[-1] == (1.0, "Done")
    assert result.generate_s > 0 and result.decode_s > 0 and result.random_weights


def test_the_delay_pattern_is_undone_exactly(cache_env):
    """`frames_of` inverts the processor's `build_delay_pattern` (the layout the model is trained on):
    codes wrapped in stream BOS / EOS and delayed come back as they were, and the all-EOS row ends them."""
    import torch

    lm = get_lm(LM, "cpu")
    codes = torch.randint(0, 1024, (1, 8, 10))
    wrapped = torch.cat([torch.full((1, 8, 1), 1024), codes, torch.full((1, 8, 1), 1025)], dim=2)
    rows = lm.processor.build_delay_pattern(wrapped)[0].T  # (10 + 2 + 7, 8)
    back, ended, clipped = lm.frames_of(torch.cat([rows, torch.full((3, 8), 1025)]))  # padding after the end
    assert torch.equal(back, codes[0]) and ended and clipped == 0
    cut, ended, _ = lm.frames_of(rows[:-3])  # capped before the end: the whole frames so far
    assert torch.equal(cut, codes[0, :, :8]) and not ended
    with pytest.raises(RequestError, match="before its first frame"):
        lm.frames_of(torch.cat([rows[:5], torch.full((1, 8), 1025)]))


def test_the_prompt_frames_go_into_the_model_and_change_the_output(cache_env, monkeypatch):
    lm = get_lm(LM, "cpu")
    seen = capture_generate(monkeypatch, lm)
    low = generate(LM, ask(prompt=voice(2.0, 220.0))).codes.tokens
    high = generate(LM, ask(prompt=voice(2.0, 880.0))).codes.tokens
    kwargs = seen[0][0]
    rows = 50 + 2 + 7  # 2 s at 25 frames/s, stream BOS and EOS, the delay tail
    assert kwargs["audio_input_ids"].shape == (1, rows, 8)
    placeholders = (kwargs["input_ids"] == lm.higgs.config.audio_token_id) | \
        (kwargs["input_ids"] == lm.higgs.config.audio_delay_token_id)
    assert int(placeholders.sum()) == rows
    assert not np.array_equal(low, high) and low.shape == high.shape == (8, FRAMES)
    generate(LM, ask("speech"))
    assert "audio_input_ids" not in seen[-1][0]


def test_the_length_follows_max_seconds(cache_env):
    assert generate(LM, ask("speech", seconds=1.0)).codes.tokens.shape == (8, 25)
    result = generate(LM, ask("speech", seconds=0.7))
    assert result.codes.tokens.shape == (8, 18) and result.audio.frames == 18 * HOP


def test_seeds_repeat_and_differ(cache_env):
    first = generate(LM, ask("speech", seed=3)).codes.tokens
    assert np.array_equal(first, generate(LM, ask("speech", seed=3)).codes.tokens)
    assert not np.array_equal(first, generate(LM, ask("speech", seed=4)).codes.tokens)
    cloned = generate(LM, ask(seed=3)).codes.tokens
    assert np.array_equal(cloned, generate(LM, ask(seed=3)).codes.tokens)


@pytest.mark.parametrize("request_, message", [
    (GenerationRequest(task="tts", text=TEXT, prompt=voice()), "transcript"),
    (GenerationRequest(task="tts", text=TEXT, prompt_text="x"), "voice prompt"),
    (GenerationRequest(task="tts", text=TEXT, prompt=voice(0.5), prompt_text="x"), "takes 1–30 s"),
    (GenerationRequest(task="music", text=TEXT), "does not do"),
    (GenerationRequest(task="speech", text="  "), "enter some text"),
    (GenerationRequest(task="speech", text="x" * 601), "at most 600"),
    (GenerationRequest(task="speech", text=TEXT, max_seconds=31), "between 0.5 and 30"),
])
def test_bad_requests_get_a_clear_message(cache_env, request_, message):
    with pytest.raises(RequestError, match=message):
        generate(LM, request_)


def test_missing_weights_name_the_model_and_the_hub_folder(empty_cache_env):
    with pytest.raises(WeightsUnavailable) as caught:
        generate(LM, ask("speech"))
    message = str(caught.value)
    # the audio tokenizer is looked for first: the model is not usable without it
    assert LM in message and "models--eustlb--higgs-audio-v2-tokenizer" in message
    assert "codec-arena download higgs_audio_v2_3b" in message


def test_cli_generates_speech_in_the_prompts_voice(cache_env, tmp_path, capsys):
    import json

    from codec_arena.audio import load_audio, write_wav
    from codec_arena.cli import main
    from codec_arena.codecs.base import Codes

    write_wav(voice(), tmp_path / "voice.wav")
    assert main(["generate", LM, "--task", "tts", "--text", TEXT, "--prompt", str(tmp_path / "voice.wav"),
                 "--prompt-text", "A low hum.", "--seconds", "0.5", "--out", str(tmp_path / "out.wav"),
                 "--tokens", str(tmp_path / "t.npz"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    codes = Codes.from_npz((tmp_path / "t.npz").read_bytes())
    assert summary["frames"] == codes.frames == FRAMES and summary["codebooks"] == 8
    assert codes.codec_id == "higgs_audio_v2_tokenizer" and load_audio(tmp_path / "out.wav").frames == FRAMES * HOP
    assert main(["generate", LM, "--task", "tts", "--text", TEXT, "--prompt", str(tmp_path / "voice.wav"),
                 "--out", str(tmp_path / "x.wav")]) == 2
    assert "transcript" in capsys.readouterr().err


def test_the_tab_generates_with_the_prompt_through_the_same_codec(cache_env, tmp_path):
    """The Codec LM tab's own functions behind `/generate` (no server): the model is offered for both
    tasks, takes a transcript, and a generation comes with its token grid and the prompt through the codec."""
    from codec_arena.audio import write_wav
    from codec_arena.ui import lm as tab

    for task in ("tts", "speech"):
        assert LM in [value for _, value in tab.model_choices(task)]
    _card, _details, _prompt, transcript, _voice, slider, example_row, prompt_box, _live = tab.on_model("tts", LM, 5.0)
    assert transcript.visible and prompt_box.visible and example_row.visible and slider.maximum == 30.0
    write_wav(Audio(tone(2.0, 16_000), 16_000), tmp_path / "voice.wav")
    request = tab._request("tts", TEXT, str(tmp_path / "voice.wav"), "A low hum.", None, 0.5, 1.0, 50, 1.0, 0)
    audio, grid, resynth, summary, files, resynth_box, _ = tab._generate(LM, request, lambda f, desc="": None)
    rate, samples = audio
    assert rate == 24_000 and samples.shape[0] == FRAMES * HOP and grid is not None
    assert resynth is not None and resynth_box.visible and "higgs_audio_v2_tokenizer" in summary
    assert f"8 codebooks × {FRAMES} frames" in summary and any(f.endswith(".npz") for f in files)

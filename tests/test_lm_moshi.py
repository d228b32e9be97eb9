"""Moshi through transformers: the hub snapshot the real loaders read (model with its embedded Mimi,
tokenizer, feature extractor, generation config), the user's clip as the user stream, Moshi's reply as
Mimi tokens at 1.1 kbps that our `mimi` codec decodes, the frame cap, seeds, progress, the CLI and the
tab, and the errors a user can meet."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import spy_on, tone

from codec_arena import weights
from codec_arena.audio import Audio, write_wav
from codec_arena.codecs import codec_info, get_codec
from codec_arena.errors import RequestError, WeightsUnavailable
from codec_arena.lms import GenerationRequest, generate, lm_info
from codec_arena.lms.moshi import HOP, HUB_IDS, weight_spec
from codec_arena.lms.registry import get_lm

IDS = ("moshiko", "moshika")


def clip(seconds: float = 1.0, freq: float = 220.0, rate: int = 24_000) -> Audio:
    return Audio(tone(seconds, rate, freq=freq), rate)


def ask(seconds: float = 0.5, seed: int = 0, prompt: Audio | None = None, **changes) -> GenerationRequest:
    return GenerationRequest(task="dialogue", prompt=clip() if prompt is None else prompt, max_seconds=seconds,
                             seed=seed, **changes)


@pytest.mark.parametrize("lm_id", IDS)
def test_facts_name_mimi_at_8_codebooks_and_their_sources(lm_id):
    info, mimi = lm_info(lm_id), codec_info("mimi")
    assert info.codec_id == "mimi" and info.codebooks == 8 and info.codec_kbps == pytest.approx(1.1)
    assert mimi.check_bitrate(info.codec_kbps) == pytest.approx(1.1) and mimi.codebooks_for(1.1) == 8
    assert info.sample_rate == mimi.sample_rate == 24_000 and mimi.frame_rate == 12.5
    assert info.tasks == ("dialogue",) and info.survey == "" and info.hub_id == HUB_IDS[lm_id]
    assert "arXiv:2410.00037" in info.paper and info.parameters.startswith("7.77B")
    assert "loaders.py" in info.notes and "model_doc/moshi" in info.notes  # where the numbers were read


def test_loaded_through_the_real_classes_from_the_hub_id(cache_env):
    from transformers import EncodecFeatureExtractor, MoshiForConditionalGeneration

    lm = get_lm("moshiko", "cpu")
    assert type(lm.model) is MoshiForConditionalGeneration and lm.model.name_or_path == "kmhf/hf-moshiko"
    assert type(lm.feature_extractor) is EncodecFeatureExtractor and lm.feature_extractor.sampling_rate == 24_000
    assert weights.is_random(lm.checkpoint) and lm.checkpoint.name == "model.safetensors"
    config = lm.model.config
    assert config.num_codebooks == 8 and config.audio_vocab_size == 2048
    assert config.audio_encoder_config.frame_rate == 12.5 and config.audio_encoder_config.num_quantizers == 32
    assert lm.model.depth_decoder.config.num_codebooks == 8
    # Kyutai's text ids (existing_text_padding_id 3, <unk> 0 before a word) and no BOS added, so the integration
    # test's 9-frame text prompt is 9 tokens
    tokens = lm.tokenizer.encode("<pad><pad><pad><pad><unk> Hello,<pad><unk>")
    assert lm.pad_id == 3 and tokens[:5] == [3, 3, 3, 3, 0] and tokens[-2:] == [3, 0]
    generation = lm.model.generation_config
    assert generation.do_sample and generation.top_k == 25 and generation.bos_token_id == config.vocab_size


def test_the_clip_is_the_user_stream_and_moshi_is_silent_meanwhile(cache_env, monkeypatch):
    lm = get_lm("moshiko", "cpu")
    seen = spy_on(monkeypatch, lm.model, "generate")
    generate("moshiko", ask(prompt=clip(2.0)))
    kwargs, out = seen[0]
    assert kwargs["user_input_values"].shape == (1, 1, 48_000)  # 2 s at 24 kHz: 25 Mimi frames
    assert torch.equal(kwargs["user_input_values"][0, 0], torch.from_numpy(clip(2.0).samples[0]))
    assert not kwargs["moshi_input_values"].any() and kwargs["input_ids"].tolist() == [[3] * 25]
    # the returned stream is Moshi's: the clip's 25 frames are Mimi's codes of silence, then the reply
    with torch.inference_mode():
        silence = lm.model.audio_encoder.encode(kwargs["moshi_input_values"], num_quantizers=8).audio_codes[0]
    assert torch.equal(out.audio_codes[0, :, :25], silence) and out.audio_codes.shape == (1, 8, 25 + 6)


def test_replies_in_mimi_tokens_decoded_by_its_own_mimi(cache_env, monkeypatch):
    lm = get_lm("moshika", "cpu")
    seen = spy_on(monkeypatch, lm.model, "generate")
    steps = []
    result = generate("moshika", ask(top_k=20, top_p=0.9), progress=lambda f, m: steps.append((f, m)))
    codes = result.codes
    assert codes.codec_id == "mimi" and codes.tokens.shape == (8, 6)  # 0.5 s at 12.5 frames/s, rounded
    assert codes.tokens.min() >= 0 and codes.tokens.max() < 2048 and codes.num_samples == 6 * HOP
    kwargs, out = seen[0]
    assert np.array_equal(out.audio_codes[0, :, -6:].numpy(), codes.tokens)  # column t is reply frame t
    with torch.inference_mode():
        expected = lm.model.audio_encoder.decode(torch.from_numpy(codes.tokens)[None]).audio_values[0, 0].numpy()
    assert result.audio.samples.shape == (1, 6 * HOP)
    assert np.allclose(result.audio.samples[0], expected[: 6 * HOP], atol=1e-5)
    # the request's sampling reaches the text stream and, prefixed, the depth decoder (explicit, never None)
    assert kwargs["top_k"] == 20 and kwargs["depth_decoder_top_k"] == 20 and kwargs["depth_decoder_top_p"] == 0.9
    assert kwargs["max_new_tokens"] == 7 and kwargs["depth_decoder_max_length"] == 9
    assert any("step 7/7" in m for _, m in steps) and steps[-1] == (1.0, "Done")
    assert result.generate_s > 0 and result.decode_s > 0 and any("text stream" in n for n in result.notes)


def test_the_codes_decode_through_our_mimi_codec(cache_env):
    result = generate("moshiko", ask())
    audio = get_codec("mimi", "cpu").decode(result.codes)
    assert audio.sample_rate == 24_000 and audio.frames == result.codes.frames * HOP
    assert np.isfinite(audio.samples).all()


@pytest.mark.parametrize(("seconds", "frames"), [(0.5, 6), (1.0, 12), (2.0, 25)])
def test_the_reply_is_capped_at_max_seconds(cache_env, seconds, frames):
    result = generate("moshiko", ask(seconds=seconds))
    assert result.codes.frames == frames == round(seconds * 12.5)
    assert result.audio.frames == frames * HOP and result.audio.duration <= seconds + 0.04


def test_the_reply_depends_on_the_clip(cache_env):
    low = generate("moshiko", ask(prompt=clip(2.0, 220.0))).codes.tokens
    high = generate("moshiko", ask(prompt=clip(2.0, 880.0))).codes.tokens
    resampled = generate("moshiko", ask(prompt=clip(1.5, 220.0, rate=16_000))).codes.tokens  # conformed to 24 kHz
    assert not np.array_equal(low, high) and resampled.shape == (8, 6)


def test_seeds_repeat_and_differ(cache_env):
    first = generate("moshiko", ask(seed=3)).codes.tokens
    assert np.array_equal(first, generate("moshiko", ask(seed=3)).codes.tokens)
    assert not np.array_equal(first, generate("moshiko", ask(seed=4)).codes.tokens)


@pytest.mark.parametrize(("request_", "message"), [
    (GenerationRequest(task="dialogue"), "needs a clip of someone talking to it"),
    (GenerationRequest(task="dialogue", prompt=clip(31.0)), "takes 1–30 s"),
    (GenerationRequest(task="dialogue", prompt=clip(0.5)), "takes 1–30 s"),
    (GenerationRequest(task="dialogue", prompt=Audio(np.zeros((1, 48_000), np.float32), 24_000)), "silent"),
    (GenerationRequest(task="dialogue", prompt=clip(), max_seconds=31), "between 0.5 and 30"),
    (GenerationRequest(task="tts", text="Hello", prompt=clip(), prompt_text="a tone"), "does not do"),
])
def test_bad_requests_get_a_clear_message(cache_env, request_, message):
    with pytest.raises(RequestError, match=message):
        generate("moshiko", request_)


def test_text_is_not_used_and_says_so(cache_env):
    plain = generate("moshiko", ask(seed=5))
    texted = generate("moshiko", ask(seed=5, text="What is the weather like?"))
    assert np.array_equal(plain.codes.tokens, texted.codes.tokens)
    assert any("text box is not used" in n for n in texted.notes)


def test_missing_weights_name_the_repository(empty_cache_env):
    with pytest.raises(WeightsUnavailable) as caught:
        generate("moshiko", ask())
    assert "moshiko" in str(caught.value) and "models--kmhf--hf-moshiko" in str(caught.value)


def test_download_takes_only_the_shards_the_index_names(tmp_path, monkeypatch):
    """The kmhf repositories hold a bf16 and a float32 shard set; only the indexed one is fetched."""
    import huggingface_hub

    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "model-00001-of-00004.safetensors",
                                                "b": "model-00002-of-00004.safetensors",
                                                "c": "model-00001-of-00004.safetensors"}}))
    calls = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo, name: calls.append((repo, name)) or index)
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo, allow_patterns: calls.append((repo, allow_patterns)))
    weight_spec("moshika").fetch()
    assert calls == [("kmhf/hf-moshika", "model.safetensors.index.json"),
                     ("kmhf/hf-moshika", ["*.json", "model-00001-of-00004.safetensors",
                                          "model-00002-of-00004.safetensors"])]


def test_cli_generates_a_reply_to_a_clip(cache_env, tmp_path, capsys):
    from codec_arena.cli import main
    from codec_arena.codecs.base import Codes

    write_wav(clip(2.0), tmp_path / "me.wav")
    assert main(["generate", "moshiko", "--task", "dialogue", "--prompt", str(tmp_path / "me.wav"), "--seconds",
                 "0.5", "--out", str(tmp_path / "reply.wav"), "--tokens", str(tmp_path / "t.npz"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    codes = Codes.from_npz((tmp_path / "t.npz").read_bytes())
    assert summary["frames"] == codes.frames == 6 and codes.codec_id == "mimi" and summary["codebooks"] == 8
    assert main(["generate", "moshiko", "--task", "dialogue", "--out", str(tmp_path / "x.wav")]) == 2
    assert "needs a clip" in capsys.readouterr().err


def test_the_tab_offers_the_task_and_takes_the_clip(cache_env, tmp_path):
    """The Codec LM tab's own functions (no server): the task, its models and inputs, and a generation
    with its token grid, the clip through Mimi and the downloads."""
    from codec_arena.ui import lm as tab

    assert "dialogue" in tab.tasks_here() and [v for _, v in tab.model_choices("dialogue")] == list(IDS)
    _card, _details, prompt, transcript, _voice, _slider, example_row, prompt_box, _live = \
        tab.on_model("dialogue", "moshiko", 5.0)
    assert prompt.label == "What you say to it" and prompt_box.visible and not transcript.visible
    assert not example_row.visible
    path = tmp_path / "me.wav"
    write_wav(clip(2.0, rate=16_000), path)
    request = tab._request("dialogue", "", str(path), "", None, 0.5, 1.0, 50, 1.0, 0)
    assert request.prompt is not None and request.prompt.duration == pytest.approx(2.0)
    audio, grid, resynth, summary, files, resynth_box, _ = tab._generate("moshiko", request, lambda f, desc="": None)
    rate, samples = audio
    assert rate == 24_000 and samples.shape[0] == 6 * HOP and grid is not None and resynth is not None
    assert resynth_box.visible and "8 codebooks × 6 frames" in summary and "mimi" in summary
    assert any(f.endswith(".npz") for f in files)

"""VALL-E X (our port of Plachtaa/VALL-E-X): the English front end and its token ids, the release's
checkpoint format loaded strictly, zero-shot TTS end to end on small random weights, seeds, sampling
settings, the length caps, and the errors a user can meet."""

from __future__ import annotations

import numpy as np
import pytest

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import get_codec
from codec_arena.errors import RequestError, WeightsUnavailable
from codec_arena.lms import GenerationRequest, generate, lm_info, vallex
from codec_arena.lms import _vallex_text as front
from codec_arena.lms.registry import get_lm

RATE = 24_000


def voice(seconds: float = 1.0, freq: float = 180.0) -> Audio:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * k * freq * t) / k for k in range(1, 6)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return Audio((0.2 * wave).astype(np.float32)[None], RATE)


def ask(seconds: float = 0.5, seed: int = 0, **changes) -> GenerationRequest:
    fields = dict(task="tts", text="Hello world.", prompt=voice(), prompt_text="This is my voice.",
                  max_seconds=seconds, seed=seed)
    return GenerationRequest(**{**fields, **changes})


def test_front_end_gives_the_release_phonemes_and_ids(cache_env):
    """Ids as the release's bpe_69.json gives them (checked against it by benchmarks/parity/vallex.py)."""
    tokenizer = front.PhonemeTokenizer(front.tokenizer_path())
    assert front.phonemes("Hello world") == "hɛˈloʊ_wəɹɫd."  # a full stop is added, spaces become _
    assert tokenizer.encode("Hello world.") == ([24, 49, 62, 28, 31, 58, 16, 37, 48, 55, 52, 20, 10], ["en"] * 13)
    assert front.phonemes("Dr. Smith paid $3.50 in 1995") == (
        "ˈdɔktəɹ_smɪθ_peɪd_θɹi_ˈdɔləɹz,_ˈfɪfti_sɛnts_ɪn_ˈnaɪnˈtin_ninety-five*.")
    assert front.phonemes("Café, 1st!") == "kəˈfeɪ,_fəɹst!"  # unidecode, ordinals, punctuation kept
    ids, _ = tokenizer.encode("qwrt")  # eng_to_ipa marks unknown words with *; q is outside the alphabet
    assert ids == [0, 37, 55, 34, 7, 10]
    assert tokenizer.tokenizer.get_vocab_size() == 70


@pytest.mark.parametrize("text", ["你好", "こんにちは", "Привет"])
def test_other_scripts_are_refused_clearly(cache_env, text):
    with pytest.raises(RequestError, match="English only.*jieba"):
        generate("vallex", ask(text=text))
    with pytest.raises(RequestError, match="transcript"):
        generate("vallex", ask(prompt_text=text))


def test_checkpoint_is_the_release_format_and_loads_strictly(cache_env):
    import torch

    from codec_arena.lms import _vallex_nets as nets

    path = vallex.weight_spec("vallex").path
    assert path == weights.hub_file("Plachta/VALL-E-X", "vallex-checkpoint.pt") and weights.is_random(path)
    state = torch.load(path, map_location="cpu", weights_only=True)["model"]
    assert len(state) == 94  # 374 at full size: 12 layers per stack instead of 2
    model = vallex.build_model(state, path)
    assert model.config == nets.Config(width=128, layers=2) and model.config.heads == 2
    assert set(model.state_dict()) == set(state)
    # the release ties NAR output layers 0-5 to audio embeddings 2-7, in the file and in the model
    tied = state["nar_audio_embeddings.2.word_embeddings.weight"]
    assert state["nar_predict_layers.0.weight"].data_ptr() == tied.data_ptr()
    assert model.nar_predict_layers[5].weight is model.nar_audio_embeddings[7].word_embeddings.weight
    assert state["ar_audio_embedding.word_embeddings.weight"].shape == (1026, 128)  # codes + EOS + BOS
    assert state["ar_predict_layer.weight"].shape == (1025, 128)
    assert state["ar_language_embedding.word_embeddings.weight"].shape == (3, 128)
    lm = get_lm("vallex", "cpu")
    assert lm.vocos.feature_extractor.encodec.sample_rate == RATE and lm.vocos.head.istft.hop_length == vallex.HOP


def test_zero_shot_tts_writes_encodec_tokens_and_vocos_audio(cache_env):
    steps = []
    result = generate("vallex", ask(0.5), progress=lambda f, m: steps.append((f, m)))
    codes = result.codes
    assert codes.codec_id == "encodec_24khz" and codes.frame_rate == 75 and codes.codebooks == 8
    assert codes.frames == 37 and codes.tokens.min() >= 0 and codes.tokens.max() < 1024
    assert result.audio.sample_rate == RATE and result.audio.samples.shape == (1, codes.frames * 320)
    assert np.isfinite(result.audio.samples).all() and result.random_weights
    assert result.generate_s > 0 and result.decode_s > 0 and len(np.unique(codes.tokens)) > 8
    messages = [m for _, m in steps]
    assert messages[1].startswith("Encoding the voice prompt")
    assert any(m.startswith("AR (codebook 1)") and "frames/s" in m for m in messages)
    assert [m for m in messages if m.startswith("NAR")] == [f"NAR: codebook {k}/8" for k in range(2, 9)]
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and steps[-1] == (1.0, "Done")
    assert "transcript + " in result.notes[1]
    # the tokens are our codec's: its decoder reads them as they are
    decoded = get_codec("encodec_24khz", "cpu").decode(codes)
    assert decoded.samples.shape == (1, codes.frames * 320)


def test_the_prompt_goes_into_the_model(cache_env):
    """The prompt's EnCodec tokens (our codec's, 6 kbps) are the AR's prefix and the NAR's: other prompt
    tokens, another prompt length or another transcript change what is generated."""
    import torch

    lm = get_lm("vallex", "cpu")
    with torch.inference_mode():
        codes = lm.prompt_codes(voice())
        assert codes.shape == (1, 75, 8)
        assert np.array_equal(codes[0].T.numpy(), get_codec("encodec_24khz", "cpu").encode(voice(), 6.0).tokens)
        text, languages = torch.tensor([[20, 21, 22, 23, 24, 25]]), torch.zeros(3, dtype=torch.long)
        prompts = [torch.randint(0, 1024, (1, 30, 8), generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
        firsts = []
        for prompt in prompts:
            torch.manual_seed(0)
            firsts.append(lm.valle.generate_first(text, 3, prompt, 0, languages, lambda x: x.argmax(-1, True), 20))
        assert not torch.equal(*firsts)  # greedy: only the prompt differs
        rests = [lm.valle.generate_rest(text, 3, prompt, 0, languages, firsts[0]) for prompt in prompts]
        assert not torch.equal(*rests)
    base = generate("vallex", ask(seed=3)).codes.tokens
    longer_prompt = generate("vallex", ask(seed=3, prompt=voice(1.5))).codes.tokens
    other_transcript = generate("vallex", ask(seed=3, prompt_text="Something else entirely.")).codes.tokens
    assert not np.array_equal(base, longer_prompt) and not np.array_equal(base, other_transcript)


def test_seeds_and_sampling_settings(cache_env):
    from codec_arena.runtime import cache

    first = generate("vallex", ask(seed=5)).codes.tokens
    cache._entries.pop(("encodec_24khz", "cpu"), None)  # the prompt encoder reloads (random init) mid-generation
    again = generate("vallex", ask(seed=5)).codes.tokens
    other = generate("vallex", ask(seed=6)).codes.tokens
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    greedy = [generate("vallex", ask(seed=seed, top_k=1)).codes.tokens for seed in (1, 2)]
    assert np.array_equal(*greedy)  # top-k 1 leaves one token to sample: the seed no longer matters
    nucleus = generate("vallex", ask(seed=3, top_p=1e-6)).codes.tokens  # top-p that small keeps the top token
    assert np.array_equal(nucleus, greedy[0])


def test_length_caps(cache_env):
    """max_seconds caps the frames; so does the release's 16 frames per phoneme token."""
    capped = generate("vallex", ask(0.6, seed=1))  # random weights practically never emit end of speech
    assert capped.codes.frames == 45 and "reached the 0.6 s limit" in capped.notes[0]
    short = generate("vallex", ask(3.0, seed=1, text="Hi.", prompt_text="Hey."))  # 4 + 4 tokens: at most 128
    assert short.codes.frames == 128 and "16 frames per phoneme token" in short.notes[0]


def test_bad_requests_say_what_to_fix(cache_env):
    with pytest.raises(RequestError, match="transcript of the voice prompt"):
        generate("vallex", ask(prompt_text=""))
    with pytest.raises(RequestError, match="needs a voice prompt"):
        generate("vallex", ask(prompt=None))
    with pytest.raises(RequestError, match="does not do"):
        generate("vallex", GenerationRequest(task="continuation", prompt=voice()))
    with pytest.raises(RequestError, match="takes 1–10 s"):
        generate("vallex", ask(prompt=voice(12.0)))
    info = lm_info("vallex")
    assert info.needs_prompt_text and info.tasks == ("tts",) and info.codec_kbps == 6.0


def test_missing_weights_name_what_is_missing(empty_cache_env):
    with pytest.raises(WeightsUnavailable, match="VALL-E X checkpoint.*Vocos decoder.*bpe_69.json"):
        generate("vallex", ask())
    vallex.write_random_weights("vallex", small=True)  # everything, then take Vocos away
    for name in vallex.VOCOS_FILES:
        weights.hub_file(vallex.VOCOS_ID, name).unlink()
    with pytest.raises(WeightsUnavailable, match="missing: the Vocos decoder \\(charactr/vocos-encodec-24khz") as info:
        generate("vallex", ask())
    assert "vocos-encodec-24khz" in str(info.value) and "VALL-E X checkpoint" not in str(info.value)

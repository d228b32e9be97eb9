"""The codec-LM registry, request checks, cards and the generic end-to-end run of every runnable model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT, tone

from codec_arena.audio import Audio
from codec_arena.cli import TASK_KEYS, main
from codec_arena.codecs import codec_info
from codec_arena.errors import RequestError, WeightsUnavailable
from codec_arena.lms import TASKS, GenerationRequest, generate, list_lms, lm_info, weight_spec
from codec_arena.lms.base import LMInfo
from codec_arena.lms.cards import CARDS
from codec_arena.lms.registry import check_request

LM_IDS = [info.id for info in list_lms()]
# the survey's codec-based LMs (Wu et al. 2024, §III): each runs here or has a card
SURVEY_LMS = {"AudioLM", "VALL-E", "VALL-E X", "SpeechX", "VioLA", "AudioPaLM", "LauraGPT", "UniAudio", "MusicGen",
              "AudioGen", "SpeechGPT"}


# what a card may point to when no runnable model does its exact task
NEAREST_TASKS = {"tts": ("speech",), "sound": ("music",), "continuation": ("speech", "music")}


def toy_info(**changes) -> LMInfo:
    fields = dict(id="toy", name="Toy", tasks=("tts", "music"), codec_id="encodec_24khz", codec_kbps=6, codebooks=8,
                  parameters="1M", licence="MIT", hub_id="x/y", paper="p", code_url="u", conditioning="text",
                  architecture="AR", sample_rate=24_000, max_seconds=10, max_text_chars=20, prompt_seconds=(1, 5),
                  needs_prompt_text=True)
    return LMInfo(**(fields | changes))


def speech(seconds: float, rate: int = 16_000) -> Audio:
    return Audio(tone(seconds, rate), rate)


@pytest.mark.parametrize("request_, message", [
    (GenerationRequest(task="continuation"), "does not do"),
    (GenerationRequest(task="music", text="   "), "enter some text"),
    (GenerationRequest(task="music", text="x" * 21), "at most 20"),
    (GenerationRequest(task="music", text="ok", max_seconds=11), "between 0.5 and 10"),
    (GenerationRequest(task="music", text="ok", temperature=0), "Temperature"),
    (GenerationRequest(task="music", text="ok", temperature=float("nan")), "Temperature"),
    (GenerationRequest(task="music", text="ok", temperature=float("inf")), "Temperature"),
    (GenerationRequest(task="music", text="ok", top_k=10**9), "top-k in 0–1000"),
    (GenerationRequest(task="music", text="ok", seed=2**63), "seed"),
    (GenerationRequest(task="music", text="ok", seed=-1), "seed"),
    (GenerationRequest(task="tts", text="ok", prompt=Audio(np.full((1, 32_000), np.nan, np.float32), 16_000)),
     "invalid samples"),
    (GenerationRequest(task="tts", text="ok", prompt=speech(2), prompt_text="x" * 21), "transcript is 21"),
    (GenerationRequest(task="tts", text="ok"), "voice prompt"),
    (GenerationRequest(task="tts", text="ok", prompt=speech(0.5)), "takes 1–5 s"),
    (GenerationRequest(task="tts", text="ok", prompt=speech(6)), "takes 1–5 s"),
    (GenerationRequest(task="tts", text="ok", prompt=Audio(np.zeros((1, 32_000), np.float32), 16_000)), "silent"),
    (GenerationRequest(task="tts", text="ok", prompt=speech(2)), "transcript"),
])
def test_bad_requests_get_a_clear_message(request_, message):
    with pytest.raises(RequestError, match=message):
        check_request(toy_info(), request_)


def test_a_good_prompt_is_conformed_to_mono_at_the_model_rate():
    stereo = Audio(np.repeat(tone(2, 16_000), 2, axis=0), 16_000)
    checked = check_request(toy_info(), GenerationRequest(task="tts", text=" hi ", prompt=stereo, prompt_text="a"))
    assert checked.prompt.sample_rate == 24_000 and checked.prompt.channels == 1
    assert checked.prompt.duration == pytest.approx(2, abs=1e-3) and checked.text == "hi"


def test_a_prompt_sent_with_a_task_that_takes_none_is_dropped():
    checked = check_request(toy_info(), GenerationRequest(task="music", text="ok", prompt=speech(9), prompt_text="t"))
    assert checked.prompt is None and checked.prompt_text == ""


def test_the_same_seed_gives_the_same_tokens_when_requests_run_concurrently(cache_env):
    """The app serves two requests at once; seeding and sampling use torch's global RNG."""
    from concurrent.futures import ThreadPoolExecutor

    infos = list_lms()[:2]
    alone = {info.id: generate(info.id, request_for(info, seed=7)).codes.tokens for info in infos}
    with ThreadPoolExecutor(4) as pool:
        futures = [(info.id, pool.submit(generate, info.id, request_for(info, seed=7))) for info in infos * 2]
        for lm_id, future in futures:
            assert np.array_equal(future.result().codes.tokens, alone[lm_id]), lm_id


def test_task_keys_of_the_cli_match_the_tasks():
    assert tuple(TASKS) == TASK_KEYS


def test_every_survey_lm_runs_here_or_has_a_card():
    names = {info.name for info in list_lms() if info.survey} | {card.name for card in CARDS}
    missing = [s for s in SURVEY_LMS if not any(n == s or n.startswith(f"{s} (") or n.startswith(f"{s} ")
                                                for n in names if n != "VALL-E X" or s == "VALL-E X")]
    assert not missing, f"survey LMs with neither a runnable model nor a card: {missing}"


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.id)
def test_cards_point_to_models_that_do_the_same_task(card):
    assert card.why_not_here and card.paper and card.codec and card.tasks
    for model_id in card.try_instead:
        nearest = set(card.tasks) | {near for task in card.tasks for near in NEAREST_TASKS.get(task, ())}
        assert nearest & set(lm_info(model_id).tasks), (card.id, model_id)
    if card.codec_id:
        codec_info(card.codec_id)


@pytest.mark.parametrize("lm_id", LM_IDS)
def test_facts_are_complete_and_name_a_codec_operating_point(lm_id):
    info = lm_info(lm_id)
    for name in ("name", "parameters", "licence", "hub_id", "paper", "code_url", "conditioning", "architecture",
                 "hardware"):
        assert getattr(info, name), f"{lm_id}: {name} is empty"
    codec = codec_info(info.codec_id)
    assert codec.check_bitrate(info.codec_kbps) == pytest.approx(info.codec_kbps, rel=0.02)
    assert info.sample_rate == codec.sample_rate and set(info.tasks) <= set(TASKS)


def request_for(info: LMInfo, seconds: float = 0.5, seed: int = 0) -> GenerationRequest:
    task = info.tasks[0]
    prompt = speech(max(info.prompt_seconds[0], 2.0), info.sample_rate) if task in ("tts", "continuation",
                                                                                     "melody", "dialogue") else None
    return GenerationRequest(task=task, text="hello there", prompt=prompt, prompt_text="a tone",
                             max_seconds=seconds, seed=seed, speaker="")


@pytest.mark.parametrize("lm_id", LM_IDS)
def test_generates_codec_tokens_and_audio_end_to_end(cache_env, lm_id):
    info = lm_info(lm_id)
    steps = []
    result = generate(lm_id, request_for(info), progress=lambda f, m: steps.append((f, m)))
    codes, codec = result.codes, codec_info(info.codec_id)
    assert codes.codec_id == info.codec_id and codes.codebooks == info.codebooks and codes.frames >= 1
    assert codes.tokens.min() >= 0 and codes.tokens.max() < codec.codebook_size
    assert codes.frames <= 0.5 * codec.frame_rate + 4  # capped by max_seconds (random weights never stop)
    per_frame = codec.sample_rate / codec.frame_rate
    assert result.audio.sample_rate == codec.sample_rate and result.audio.channels == 1
    assert abs(result.audio.frames - codes.frames * per_frame) <= per_frame
    assert np.isfinite(result.audio.samples).all()
    assert result.random_weights and result.tokens_per_s > 0 and result.generate_s > 0
    assert steps[0][0] == 0.0 and steps[-1] == (1.0, "Done") and len(steps) >= 3


@pytest.mark.parametrize("lm_id", LM_IDS)
def test_same_seed_same_tokens_other_seed_other_tokens(cache_env, lm_id):
    info = lm_info(lm_id)
    first = generate(lm_id, request_for(info, seed=1)).codes.tokens
    again = generate(lm_id, request_for(info, seed=1)).codes.tokens
    other = generate(lm_id, request_for(info, seed=2)).codes.tokens
    assert np.array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


@pytest.mark.parametrize("lm_id", LM_IDS)
def test_missing_weights_say_which_model_and_where(empty_cache_env, lm_id):
    info = lm_info(lm_id)
    with pytest.raises(WeightsUnavailable) as caught:
        generate(lm_id, request_for(info))
    assert lm_id in str(caught.value) or info.hub_id in str(caught.value)
    assert str(weight_spec(lm_id).path.parent.parent.parent) in str(caught.value) or "looked" in str(caught.value)


def test_cli_lists_models_and_cards(capsys):
    assert main(["lms", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows if r["runnable"]} == set(LM_IDS)
    assert {r["id"] for r in rows if not r["runnable"]} == {c.id for c in CARDS}


def test_readme_lm_table_is_generated_from_the_facts(capsys):
    assert main(["lms", "--markdown"]) == 0
    table = capsys.readouterr().out.strip()
    assert table in (ROOT / "README.md").read_text(), "README's LM table is stale: paste `codec-arena lms --markdown`"


@pytest.mark.parametrize("lm_id", LM_IDS[:1])
def test_cli_generate_writes_audio_and_tokens(cache_env, tmp_path, capsys, lm_id):
    from codec_arena.audio import load_audio, write_wav
    from codec_arena.codecs.base import Codes

    info = lm_info(lm_id)
    req = request_for(info)
    args = ["generate", lm_id, "--task", req.task, "--text", req.text, "--seconds", "0.5",
            "--out", str(tmp_path / "out.wav"), "--tokens", str(tmp_path / "t.npz"), "--json"]
    if req.prompt is not None:
        write_wav(req.prompt, tmp_path / "prompt.wav")
        args += ["--prompt", str(tmp_path / "prompt.wav"), "--prompt-text", req.prompt_text]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    codes = Codes.from_npz((tmp_path / "t.npz").read_bytes())
    assert summary["frames"] == codes.frames and load_audio(tmp_path / "out.wav").sample_rate == info.sample_rate


def test_cli_generate_refuses_an_empty_text_in_one_line(capsys, tmp_path):
    if not LM_IDS:
        pytest.skip("no runnable model registered")
    info = next(i for i in list_lms() if set(i.tasks) & {"music", "speech"})
    task = "music" if info.does("music") else "speech"
    assert main(["generate", info.id, "--task", task, "--text", " ", "--out", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "enter some text" in err


def test_overview_lm_table_renders_every_model_and_card():
    from html import escape

    from codec_arena.lms import catalogue
    from codec_arena.ui.overview import lm_table_html

    html = lm_table_html(catalogue.rows(with_weights=False))
    for card in CARDS:
        assert f'data-lm="{card.id}"' in html and escape(card.why_not_here) in html
        for model_id in card.try_instead:  # each card offers the runnable models that do its task
            assert f'data-lm="{model_id}">▶ {model_id}</button>' in html
    for info in list_lms():
        assert f'<button class="ca-open" data-lm="{info.id}"' in html and escape(info.licence) in html

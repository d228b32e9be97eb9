"""VALL-E X's fast decoding path (preallocated AR cache, NAR last layer on the generated rows only)
gives exactly the reference path's tokens, greedy and sampled with a seed, and CODEC_ARENA_LM_FAST=0
selects the reference path. No timings are asserted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_lm_vallex import ask as ask_vallex
from test_lm_vallex import voice

from codec_arena.lms import GenerationRequest, generate
from codec_arena.lms._common import fast_enabled
from codec_arena.lms.registry import get_lm


def tokens_of(lm, request: GenerationRequest, fast: bool) -> np.ndarray:
    torch.manual_seed(request.seed)
    return lm.generate(request, lambda fraction, message: None, fast=fast).codes.tokens


@pytest.mark.parametrize("changes", [dict(top_k=1), dict(seed=4, top_k=50, temperature=0.9, top_p=0.95)],
                         ids=["greedy", "sampled"])
def test_vallex_fast_path_gives_the_reference_tokens(cache_env, changes):
    lm = get_lm("vallex", "cpu")
    request = ask_vallex(0.6, **changes)
    fast, reference = tokens_of(lm, request, True), tokens_of(lm, request, False)
    assert fast.shape == (8, 45) and np.array_equal(fast, reference)


def test_vallex_ar_and_nar_match_step_by_step(cache_env):
    """The AR's logits are the same bits on both caches; the NAR's tokens are the same."""
    lm = get_lm("vallex", "cpu")
    g = torch.Generator().manual_seed(0)
    text, languages = torch.randint(0, 70, (1, 12), generator=g), torch.zeros(6, dtype=torch.long)
    prompt = torch.randint(0, 1024, (1, 30, 8), generator=g)
    logits: dict[bool, list[torch.Tensor]] = {True: [], False: []}
    firsts = {}
    with torch.inference_mode():
        for fast in (True, False):
            def greedy(x: torch.Tensor, fast: bool = fast) -> torch.Tensor:
                logits[fast].append(x.clone())
                return x.argmax(-1, keepdim=True)

            firsts[fast] = lm.valle.generate_first(text, 6, prompt, 0, languages, greedy, 40, fast=fast)
        assert len(logits[True]) == 40
        assert all(torch.equal(a, b) for a, b in zip(logits[True], logits[False], strict=True))
        rests = [lm.valle.generate_rest(text, 6, prompt, 0, languages, firsts[True], fast=fast)
                 for fast in (True, False)]
    assert torch.equal(*rests) and rests[0].shape == (40, 8)


def test_the_switch_selects_the_reference_path(cache_env, monkeypatch):
    assert fast_enabled()
    for off in ("0", "false", "off"):
        monkeypatch.setenv("CODEC_ARENA_LM_FAST", off)
        assert not fast_enabled()
    monkeypatch.setenv("CODEC_ARENA_LM_FAST", "0")
    lm = get_lm("vallex", "cpu")
    seen = []
    original = type(lm.valle).generate_first
    monkeypatch.setattr(type(lm.valle), "generate_first",
                        lambda self, *a, fast=True, **k: seen.append(fast) or original(self, *a, fast=fast, **k))
    reference = generate("vallex", ask_vallex(0.5, top_k=1, prompt=voice())).codes.tokens
    monkeypatch.setenv("CODEC_ARENA_LM_FAST", "1")
    fast = generate("vallex", ask_vallex(0.5, top_k=1, prompt=voice())).codes.tokens
    assert seen == [False, True] and np.array_equal(reference, fast)

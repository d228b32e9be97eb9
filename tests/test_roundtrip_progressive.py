"""Progressive decoding (the first k codebooks, k = 1 … n) as a library call: labels, lengths, what each
stage changes, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tone

from codec_arena.audio import Audio
from codec_arena.codecs import Codes, get_codec, list_codecs
from codec_arena.errors import RequestError
from codec_arena.roundtrip import MAX_STAGES, progressive_decode, progressive_stages, roundtrip


def test_stages_are_every_k_up_to_nine_then_nine_spread():
    assert progressive_stages(1) == [1]
    assert progressive_stages(8) == list(range(1, 9))
    spread = progressive_stages(32)
    assert len(spread) == MAX_STAGES and spread[0] == 1 and spread[-1] == 32 and spread == sorted(set(spread))


def test_encodec_decodes_with_each_prefix_of_its_codebooks(cache_env):
    result = roundtrip(Audio(tone(0.5, 24_000), 24_000), "encodec_24khz", bitrate_kbps=3)
    codes = result.codes
    n = codes.codebooks
    assert n == 4
    calls = []
    decoded = progressive_decode("encodec_24khz", codes, progress=lambda fraction, message: calls.append(
        (fraction, message)))
    assert [label for label, _ in decoded] == [f"first {k} of {n}" for k in range(1, n + 1)]
    assert calls == [(k / n, f"decoding with the first {k + 1} of {n} codebooks") for k in range(n)]
    for _, audio in decoded:
        assert audio.sample_rate == result.input.sample_rate and audio.samples.shape == result.input.samples.shape
    assert not np.allclose(decoded[0][1].samples, decoded[-1][1].samples)  # k = 1 misses the residual stages
    np.testing.assert_allclose(decoded[-1][1].samples, result.output.samples, atol=1e-5)  # k = n: the round trip

    chosen = progressive_decode(get_codec("encodec_24khz"), codes, ks=[1, n])  # a loaded codec, chosen k
    assert [label for label, _ in chosen] == [f"first 1 of {n}", f"first {n} of {n}"]
    with pytest.raises(RequestError, match="uses one codebook"):
        progressive_decode("encodec_24khz", codes.first(1))
    with pytest.raises(RequestError, match=f"takes 1 to {n} codebooks"):
        progressive_decode("encodec_24khz", codes, ks=[n + 1])


def test_a_codec_without_a_residual_stack_is_refused_before_loading():
    flat = [info.id for info in list_codecs() if info.neural and not info.progressive]
    assert flat, "expected a neural codec whose codes only decode together"
    codes = Codes(tokens=np.zeros((2, 10), np.int64), frame_rate=50.0, codebook_size=1024, sample_rate=16_000,
                  num_samples=3200, codec_id=flat[0])
    with pytest.raises(RequestError, match="has no residual stack to peel"):
        progressive_decode(flat[0], codes)  # no cache_env: it must refuse without looking for weights

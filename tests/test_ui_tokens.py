"""The Tokens tab's handlers: an empty state is guidance (not an error), and progressive decoding reports a
step per decoded k."""

from __future__ import annotations

from conftest import tone

from codec_arena.audio import Audio
from codec_arena.compare import compare, parse_point


class Progress:
    def __init__(self):
        self.calls = []

    def __call__(self, fraction, desc=None, **_):
        self.calls.append((fraction, desc))


def test_no_comparison_is_guidance_with_the_buttons_off():
    from codec_arena.ui import tokens

    for state in (None, compare(Audio(tone(0.3, 16_000), 16_000), [parse_point("opus@24")])):
        dropdown, usage, progressive, note = tokens.choices(state)
        assert usage.interactive is False and progressive.interactive is False
        assert "Compare" in note.value and "neural codec" in note.value
    shown = tokens.show_usage(None, None)  # an API caller without a comparison: the same guidance, no error
    assert "neural codec" in shown[4] and shown[5].visible is False


def test_progressive_decoding_reports_each_k(cache_env):
    from codec_arena.ui import tokens

    state = compare(Audio(tone(0.5, 16_000), 16_000), [parse_point("dac_16khz@3")])
    dropdown, usage, progressive, _note = tokens.choices(state)
    assert usage.interactive is True and progressive.interactive is True and dropdown.value == "dac_16khz@3"
    progress = Progress()
    tokens.progressive(state, "dac_16khz@3", progress=progress)
    steps = [desc for _, desc in progress.calls if desc]
    assert steps[:6] == [f"decoding with the first {k} of 6 codebooks" for k in range(1, 7)]
    assert [f for f, _ in progress.calls][:6] == [k / 6 for k in range(6)]

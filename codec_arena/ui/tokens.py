"""Tokens tab: how a reconstruction used its codebooks, and progressive decoding (the first k
codebooks of a residual stack, k = 1 … n) to hear what each stage adds. Encode-only tokenizers
(S3Tokenizer) chosen in Compare have tokens and no reconstruction: they are here too."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ..audio import Audio
from ..codecs import Codes
from ..codecs.base import OperatingPoint
from ..compare import Comparison
from ..player import PLAYER_CSS, PLAYER_JS, player_html
from ..roundtrip import progressive_decode
from ..runtime import gpu
from .errors import show_reason, user_errors
from .text import code

EMPTY = ("Nothing to show yet: run a comparison with a neural codec (EnCodec, DAC, …) in the **Compare** tab, then "
         "come back here.")
READY = "Pick a reconstruction, then **Show token usage** or **Progressive decoding**."
EMPTY_HTML = "<p>Nothing to decode yet: run a comparison with a neural codec in the Compare tab first.</p>"


@dataclass(frozen=True)
class Source:
    """Tokens from the last comparison: a reconstruction's, or an encode-only tokenizer's."""

    point: OperatingPoint
    codes: Codes
    random_weights: bool
    original: Audio  # the clip as the codec saw it


def sources(state: Comparison | None) -> list[Source]:
    if state is None:
        return []
    found = [Source(e.point, e.result.codes, e.result.random_weights, e.result.input)
             for e in state.entries if e.result.codes is not None]
    return found + [Source(t.point, t.codes, t.random_weights, t.input) for t in state.tokenized]


def choices(state: Comparison | None):
    """The reconstructions to pick from, and the buttons on only when there is one: an empty state says what
    to do instead of failing."""
    names = [str(s.point) for s in sources(state)]
    ready = bool(names)
    return (gr.Dropdown(choices=names, value=names[0] if names else None, interactive=ready),
            gr.Button(interactive=ready), gr.Button(interactive=ready), gr.Markdown(READY if ready else EMPTY))


def _source(state: Comparison | None, name: str | None) -> Source | None:
    found = sources(state)
    return next((s for s in found if str(s.point) == name), found[0]) if found else None


@user_errors("analysing tokens")
def show_usage(state: Comparison | None, name: str | None):
    from ..analysis.plots import codebook_usage_figure, token_heatmap, utilisation_figure
    from ..analysis.tokens import usage

    entry = _source(state, name)
    if entry is None:  # only an API caller gets here: the page keeps the button off until there is an entry
        return None, None, None, [], EMPTY, gr.Column(visible=False)
    codes = entry.codes
    report = usage(codes)
    rows = [[r["codebook"], r["used"], r["utilisation"], r["entropy_bits"], r["perplexity"]] for r in report.summary()]
    text = (f"{code(entry.point)}: {codes.codebooks} codebooks of {codes.codebook_size} codes × {codes.frames} "
            f"frames · {report.tokens_per_second:.0f} tokens/s · {codes.bitrate_kbps:.3g} kbps")
    if entry.point.info.encode_only:
        text += " · encode only: no decoder, so no reconstruction"
    if entry.random_weights:
        text = ("> ⚠️ **Random test weights**: these tokens come from an untrained model; the plots show how the "
                "tools work, not how the codec uses its codebooks.\n\n" + text)
    return (codebook_usage_figure(report), utilisation_figure(report),
            token_heatmap(codes.tokens, codes.frame_rate), rows, text, gr.Column(visible=True))


@user_errors("decoding progressively")
@gpu(duration=180)
def progressive(state: Comparison | None, name: str | None, progress=gr.Progress()):
    """Decode with the first k codebooks, k = 1 … n, a progress step per k (each is a full decode)."""
    from ..analysis.plots import spectrogram_grid

    entry = _source(state, name)
    if entry is None:  # only an API caller gets here, as in show_usage
        return EMPTY_HTML, None, gr.Column(visible=False)
    decoded = progressive_decode(entry.point.codec, entry.codes,
                                 progress=lambda fraction, message: progress(fraction, desc=message))
    original = entry.original
    return (player_html([("original", original)] + decoded, title="Progressive decoding"),
            spectrogram_grid(original, decoded), gr.Column(visible=True))


def build(state) -> None:
    """Before a comparison with a neural codec the tab says what to do and its buttons are off; the results
    appear when they hold something."""
    gr.Markdown("Pick a reconstruction from your last comparison (neural codecs only: classical codecs make "
                "bytes, not tokens). Encode-only tokenizers (S3Tokenizer) chosen there are here too, without audio.")
    with gr.Row():
        which = gr.Dropdown(label="Reconstruction", choices=[], allow_custom_value=True, interactive=False)
        refresh = gr.Button("Show token usage", variant="primary", interactive=False)
        prog = gr.Button("Progressive decoding", interactive=False)
    summary = gr.Markdown(EMPTY, elem_id="ca-tokens-notes")  # the tab's notes: guidance, summaries, refusals
    with gr.Column(visible=False) as usage_box:
        with gr.Row():
            usage_plot = gr.Plot(label="Code usage")
            util_plot = gr.Plot(label="Utilisation and entropy")
        heatmap = gr.Plot(label="Token heatmap")
        stats = gr.Dataframe(headers=["codebook", "codes used", "utilisation", "entropy (bits)", "perplexity"],
                             interactive=False)
    player = gr.HTML(value="", js_on_load=PLAYER_JS, css_template=PLAYER_CSS)
    with gr.Column(visible=False) as stages_box:
        gr.Markdown("**What each residual stage adds** (spectrograms, and differences from the original)")
        grid = gr.Plot(show_label=False)
    state.change(choices, inputs=state, outputs=[which, refresh, prog, summary], api_visibility="private")
    shown = refresh.click(show_usage, inputs=[state, which],
                          outputs=[usage_plot, util_plot, heatmap, stats, summary, usage_box], api_name="tokens")
    show_reason(shown, summary, [usage_plot, util_plot, heatmap, stats])
    decoded = prog.click(progressive, inputs=[state, which], outputs=[player, grid, stages_box], api_name="progressive")
    show_reason(decoded, summary, [player, grid])

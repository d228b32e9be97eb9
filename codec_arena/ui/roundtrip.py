"""Round trip tab: one clip through one codec, heard and seen next to the original."""

from __future__ import annotations

import numpy as np

from ..audio import Audio
from ..codecs import CodecInfo, Latents, codec_info, list_codecs
from ..errors import RequestError
from ..roundtrip import RoundTrip, roundtrip
from ..runtime import gpu
from .errors import show_reason, user_errors
from .inputs import clip_input, load_clip
from .text import code, md

DEFAULT_CODEC = "encodec_24khz"


def bitrate_choices(info: CodecInfo) -> list[tuple[str, float]]:
    def label(kbps: float) -> str:
        if info.continuous:
            return f"{kbps:g} kbps as float32 (continuous latents)"
        if info.neural:
            return f"{kbps:g} kbps ({info.codebooks_for(kbps)} codebooks)"
        return f"{kbps:g} kbps"

    return [(label(kbps), float(kbps)) for kbps in info.bitrates_kbps]


def as_gradio_audio(audio: Audio) -> tuple[int, np.ndarray]:
    pcm = (np.clip(audio.samples, -1, 1) * 32767).astype(np.int16)
    return audio.sample_rate, pcm[0] if audio.channels == 1 else pcm.T


def describe(result: RoundTrip) -> str:
    s = result.summary()
    lines = []
    if result.random_weights:
        lines.append("> ⚠️ **Random test weights.** This codec's checkpoint was written by the test helper: the "
                     "reconstruction is noise, not a quality result. Timings and memory are real.\n")
    codes, encoded = result.codes, result.encoded
    if codes:
        tokens = (f"{codes.codebooks} codebooks × {codes.frames} frames at {result.info.frame_rate:.2f} Hz "
                  f"(operating point {codes.nominal_kbps:.3g} kbps)")
    elif isinstance(encoded, Latents):
        tokens = (f"continuous latents: {encoded.dim} floats × {encoded.frames} frames at "
                  f"{result.info.frame_rate:g} Hz (the bitrate is their float32 storage, not a codec bitrate)")
    else:
        tokens = "byte payload (classical codec)"
    lines += [
        f"**{md(result.info.family)}** {code(result.info.id)} · measured bitrate **{s['bitrate_kbps']:g} kbps** · "
        f"{tokens}",
        "",
        "| load | encode | decode | real-time factor | memory used (peak) | device |",
        "|---|---|---|---|---|---|",
        f"| {s['load_s']:.3f} s | {s['encode_s']:.3f} s | {s['decode_s']:.3f} s | {s['real_time_factor']:.3f} "
        f"| +{s['peak_memory_mb']:.0f} MB ({s['peak_process_mb']:.0f} MB) | {s['device']} |",
    ]
    return "\n".join(lines)


def parse_bitrate(value: float | str | None) -> float | None:
    """None (or empty) means the codec's default; anything else must be a number of kbps."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RequestError(f"The bitrate must be a number of kbps; got {value!r}.") from None


@user_errors("running the round trip")
@gpu(duration=120)
def run(audio_path: str | None, codec_id: str, bitrate_kbps: float | None):
    """Returns original audio, reconstruction, spectrograms and a summary."""
    from ..analysis.plots import spectrogram_figure

    original = load_clip(audio_path)
    result = roundtrip(original, codec_id, parse_bitrate(bitrate_kbps))
    figure = spectrogram_figure([
        (f"original ({original.sample_rate} Hz)", original),
        (f"{codec_id} at {result.bitrate_kbps:.3g} kbps", result.output),
    ])
    return as_gradio_audio(original), as_gradio_audio(result.output), figure, describe(result)


def on_codec_change(codec_id: str):
    import gradio as gr

    info = codec_info(codec_id)
    return gr.Dropdown(choices=bitrate_choices(info), value=float(info.default_bitrate))


def build():
    """The tab's widgets; returns its clip input (the app shares one clip across tabs)."""
    import gradio as gr

    infos = [info for info in list_codecs() if not info.encode_only]  # a round trip needs a decoder
    default = codec_info(DEFAULT_CODEC)
    with gr.Row():
        with gr.Column(scale=1):
            clip = clip_input()
            codec = gr.Dropdown(label="Codec", value=DEFAULT_CODEC,
                                choices=[(f"{i.family} · {i.id}", i.id) for i in infos])
            # choices follow the codec in the page; API callers may send any bitrate, which
            # `CodecInfo.check_bitrate` validates with a clear message
            bitrate = gr.Dropdown(label="Bitrate", choices=bitrate_choices(default),
                                  value=float(default.default_bitrate), allow_custom_value=True)
            go = gr.Button("Encode → decode", variant="primary")
        with gr.Column(scale=2):
            with gr.Row():
                original = gr.Audio(label="Original", interactive=False, buttons=["download"])
                reconstruction = gr.Audio(label="Reconstruction", interactive=False, buttons=["download"])
            summary = gr.Markdown()
            gr.Markdown("**Spectrograms** (log frequency, one colour scale for both)")
            spectrograms = gr.Plot(show_label=False)
    codec.change(on_codec_change, inputs=codec, outputs=bitrate, api_visibility="private")
    event = go.click(run, inputs=[clip, codec, bitrate], outputs=[original, reconstruction, spectrograms, summary],
                     api_name="roundtrip")
    show_reason(event, summary, [original, reconstruction, spectrograms])
    return clip

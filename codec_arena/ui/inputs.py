"""The clip input every tab starts from: upload, record, or an example from assets/."""

from __future__ import annotations

from pathlib import Path

from ..audio import Audio, load_audio
from ..errors import AudioInputError

ASSETS = Path(__file__).resolve().parents[2] / "assets"
EXAMPLES = ["speech_arctic_a0007.wav", "music_morning_coffee.wav", "music_fluidsynth_44k.flac"]


def clip_input():
    """An audio input with the shipped examples under it (those present)."""
    import gradio as gr

    clip = gr.Audio(label="Your clip", sources=["upload", "microphone"], type="filepath")
    examples = [[str(ASSETS / name)] for name in EXAMPLES if (ASSETS / name).exists()]
    if examples:
        gr.Examples(examples=examples, inputs=[clip], label="Examples (see assets/LICENSES.md)")
    return clip


def load_clip(path: str | None) -> Audio:
    if not path:
        raise AudioInputError("Upload or record a clip first (or click an example).")
    return load_audio(path)

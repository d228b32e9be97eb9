"""The clip input every tab starts from: upload any file, record, or pick an example from assets/.

Gradio's audio box accepts only files whose browser type is `audio/*`, so a browser recording saved as
`.webm`, a phone video (`.mp4`) or a file without an extension is stopped before it is sent, although
our decoder (libsndfile, then FFmpeg) reads all three. Uploads therefore go through a plain file box
that takes anything; the decoder decides, with its clear refusals shown under the box. A file it
reads becomes the clip (16-bit wav, so every browser plays it back). The clip is one for the whole app
(`share_clip`): chosen in Compare, it is there in Round trip, and the other way round.
"""

from __future__ import annotations

from pathlib import Path

from ..audio import Audio, load_audio, write_wav
from ..errors import AudioInputError, CodecArenaError
from .errors import reason_markdown
from .outputs import output_dir
from .text import md

ASSETS = Path(__file__).resolve().parents[2] / "assets"
EXAMPLES = ["speech_arctic_a0007.wav", "music_morning_coffee.wav", "music_fluidsynth_44k.flac"]
EXAMPLE_LABELS = {"speech_arctic_a0007.wav": "speech", "music_morning_coffee.wav": "music",
                  "music_fluidsynth_44k.flac": "piano (44.1 kHz)"}


def describe(audio: Audio) -> str:
    layout = {1: "mono", 2: "stereo"}.get(audio.channels, f"{audio.channels} channels")
    return f"{audio.duration:.2f} s · {audio.sample_rate / 1000:g} kHz · {layout}"


def take_upload(path: str | None, current: str | None):
    """A file from the upload box as the clip, or the decoder's reason for refusing it (the clip in use
    stays, and the note says so). Returns (clip, note, the emptied upload box)."""
    import gradio as gr

    if not path:
        return gr.update(), gr.update(), gr.update()
    name = Path(path).name
    try:
        audio = load_audio(path)
    except CodecArenaError as refused:
        kept = " The clip below is still your previous one." if current else ""
        return gr.update(), reason_markdown(f"{name} was not loaded: {refused}{kept}"), None
    wav = write_wav(audio, output_dir("upload-") / f"{Path(name).stem or 'clip'}.wav")  # removed after an hour
    return str(wav), f"Loaded **{md(name)}**: {describe(audio)}.", None


def clip_input(label: str = "Your clip (or record one)", examples: bool = True, compact: bool = False):
    """The upload box (a one-line button when `compact`), the clip (record here, or hear what was loaded),
    its note and the examples; returns the clip component the tab's runs read."""
    import gradio as gr

    if compact:
        upload = gr.UploadButton("Upload a file (any audio or video)", file_types=None, file_count="single",
                                 type="filepath", size="sm", elem_classes="ca-upload")
    else:
        upload = gr.File(label="Upload any audio or video file", file_types=None, file_count="single",
                         type="filepath", height=120, elem_classes="ca-upload")
    clip = gr.Audio(label=label, sources=["microphone"], type="filepath", elem_classes="ca-clip")
    note = gr.Markdown(elem_classes="ca-clip-note")
    shipped = [name for name in EXAMPLES if (ASSETS / name).exists()] if examples else []
    if shipped:
        gr.Examples(examples=[[str(ASSETS / name)] for name in shipped], inputs=[clip],
                    example_labels=[EXAMPLE_LABELS[name] for name in shipped],
                    label="Examples (see assets/LICENSES.md)")
    upload.upload(take_upload, [upload, clip], [clip, note, upload], api_visibility="private")
    clip.stop_recording(lambda: "", None, note, api_visibility="private")
    return clip


def share_clip(shared, clip, tab) -> None:
    """One clip for the whole app: `clip` writes to `shared`, and opening `tab` shows the shared clip
    (unless it is the same already)."""
    import gradio as gr

    clip.change(lambda path: path, clip, shared, api_visibility="private", show_progress="hidden")
    tab.select(lambda wanted, here: gr.update() if wanted == here else wanted, [shared, clip], clip,
               api_visibility="private", show_progress="hidden")


def load_clip(path: str | None) -> Audio:
    if not path:
        raise AudioInputError("Upload or record a clip first (or click an example).")
    return load_audio(path)

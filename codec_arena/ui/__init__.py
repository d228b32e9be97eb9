"""The Gradio app: one module per tab, assembled here."""

from __future__ import annotations

import os

from .. import quiet_library_warnings

TITLE = "Codec Arena"
INTRO = (
    "Hear what neural audio codecs keep and lose. Upload or record a clip (or pick an example), choose a "
    "codec and a bitrate, and compare the reconstruction with the original. "
    "Codecs follow the survey *Towards Audio Language Modeling – An Overview* (Wu et al., 2024)."
)
MAX_UPLOAD = "200mb"


def build_app():
    import gradio as gr

    from . import roundtrip

    quiet_library_warnings()
    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Tabs(), gr.Tab("Round trip", id="roundtrip"):
            roundtrip.build()
    return app


def launch(host: str | None = None, port: int | None = None, share: bool = False) -> None:
    import gradio as gr

    app = build_app()
    app.queue(default_concurrency_limit=int(os.environ.get("CODEC_ARENA_CONCURRENCY", "2")))
    app.launch(
        server_name=host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=port or int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=share, max_file_size=MAX_UPLOAD, theme=gr.themes.Soft(), show_error=False,
    )

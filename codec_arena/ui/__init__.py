"""The Gradio app: one module per tab, assembled here."""

from __future__ import annotations

import os

from .. import quiet_library_warnings

TITLE = "Codec Arena"
INTRO = (
    "Hear what neural audio codecs keep and lose. Upload or record a clip (or pick an example), choose codecs "
    "and bitrates, and switch between the original and each reconstruction at the same moment. Try the language "
    "models that speak codec tokens (zero-shot TTS, text-to-music, continuation) in the Codec LM tab, and run a "
    "listening test (MUSHRA, A/B, ABX, MOS) with a class in the Listening test tab. "
    "Codecs follow the survey *Towards Audio Language Modeling – An Overview* (Wu et al., 2024)."
)
MAX_UPLOAD = "200mb"


def build_app():
    import gradio as gr

    from . import compare, leaderboard, listening, lm, overview, roundtrip, tokens
    from .inputs import share_clip

    quiet_library_warnings()
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as app:  # Gradio's copies of outputs: 1 h
        gr.Markdown(f"# {TITLE}")
        gr.Markdown(INTRO, elem_classes="ca-intro")
        last_comparison = gr.State(None)
        listening_tokens = listening.saved_tokens()
        with gr.Tabs() as tabs:
            with gr.Tab("Compare", id="compare", elem_id="tab-compare") as compare_tab:
                clip, points, run_compare_after = compare.build(last_comparison)
            with gr.Tab("Tokens", id="tokens", elem_id="tab-tokens"):
                tokens.build(last_comparison)
            with gr.Tab("Round trip", id="roundtrip", elem_id="tab-roundtrip") as roundtrip_tab:
                roundtrip_clip = roundtrip.build()
            with gr.Tab("Codec LM", id="lm", elem_id="tab-codeclm"):
                open_lm = lm.build(tabs)
            with gr.Tab("Listening test", id="listening", elem_id="tab-listeningtest"):
                listening.build(app, tabs, listening_tokens)
            with gr.Tab("Overview", id="overview", elem_id="tab-overview") as overview_tab:
                overview.build(overview_tab, clip, points, tabs, run_compare_after, open_lm)
            with gr.Tab("Leaderboard", id="leaderboard", elem_id="tab-leaderboard") as leaderboard_tab:
                leaderboard.build(leaderboard_tab, clip, points, tabs, run_compare_after)
        shared_clip = gr.State(None)  # one clip for the whole app, until the user changes it
        share_clip(shared_clip, clip, compare_tab)
        share_clip(shared_clip, roundtrip_clip, roundtrip_tab)
    return app


def log_to_console() -> None:
    """One line per event from our own loggers (a refused upload is an INFO line, not a traceback)."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("codec_arena")
    if not logger.handlers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def launch(host: str | None = None, port: int | None = None, share: bool = False) -> None:
    import gradio as gr

    from ..listening import http, media
    from . import listening, sharing

    log_to_console()
    app = build_app()
    app.queue(default_concurrency_limit=int(os.environ.get("CODEC_ARENA_CONCURRENCY", "2")))
    sharing.served_on["host"] = host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    sharing.served_on["port"] = port or int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    app.launch(
        server_name=sharing.served_on["host"], server_port=sharing.served_on["port"],
        share=share, max_file_size=MAX_UPLOAD, theme=gr.themes.Soft(), show_error=False,
        js=listening.PARTICIPANT_JS, css=listening.PARTICIPANT_CSS,
        app_kwargs={"routes": [media.route(), *http.routes()]},  # test audio as files; participants' JSON calls
    )

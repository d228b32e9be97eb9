"""Hugging Face Space entry point (also `python app.py` locally): serves the Codec Arena app."""

from codec_arena.ui import launch

if __name__ == "__main__":
    launch()

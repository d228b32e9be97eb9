"""Folders for the files the app hands to the browser (uploads turned into clips, downloads, generated
audio): one fresh folder per use under one root, and every folder older than an hour is removed when
the next one is made, so a long-running Space does not fill its disk. Gradio keeps its own copies of
what it serves (`delete_cache` in `ui.build_app`)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(tempfile.gettempdir()) / "codec-arena"
KEEP_S = 3600.0


def output_dir(prefix: str) -> Path:
    """A new empty folder named `prefix…` under ROOT; folders older than KEEP_S go first."""
    ROOT.mkdir(parents=True, exist_ok=True)
    for old in ROOT.iterdir():
        try:
            if time.time() - old.stat().st_mtime > KEEP_S:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:  # another request removed it first
            continue
    return Path(tempfile.mkdtemp(prefix=prefix, dir=ROOT))

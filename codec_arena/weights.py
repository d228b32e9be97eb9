"""Where each model's weights live, and getting them.

Every model loads through its official loader, which reads a standard cache (torch hub's
checkpoints folder, `~/.cache/descript/dac`, the Hugging Face hub cache). Before loading we check
that path ourselves, so that with weights absent and no network the user gets one clear message
(`WeightsUnavailable`) instead of a download stack trace. `CODEC_ARENA_OFFLINE=1` or
`HF_HUB_OFFLINE=1` mean: never touch the network.

A checkpoint written by the test helper (random weights, see `codec_arena.testing`) has a marker
file beside it, so the app can say loudly that its output is not a quality result.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import CodecArenaError, WeightsUnavailable

RANDOM_MARKER_SUFFIX = ".random-weights"


@dataclass(frozen=True)
class WeightSpec:
    """One model's checkpoint: the path its official loader reads and how to fetch it."""

    model_id: str
    source: str  # the official origin, for messages and the README
    location: Callable[[], Path]
    fetch: Callable[[], object]  # downloads through the official loader

    @property
    def path(self) -> Path:
        return self.location()


def offline() -> bool:
    truthy = {"1", "true", "yes", "on"}
    return any(os.environ.get(name, "").lower() in truthy for name in ("CODEC_ARENA_OFFLINE", "HF_HUB_OFFLINE"))


def download(spec: WeightSpec) -> Path:
    """The checkpoint path, fetched first through the official loader when it is missing and we may go
    online; offline, or on any network failure, `WeightsUnavailable`."""
    path = spec.path
    if path.exists():
        return path
    if offline():
        raise WeightsUnavailable(spec.model_id, path, "CODEC_ARENA_OFFLINE or HF_HUB_OFFLINE is set")
    try:
        spec.fetch()
    except CodecArenaError:
        raise
    except Exception as exc:  # network errors come in many types (URLError, HTTPError, OSError, ...)
        raise WeightsUnavailable(spec.model_id, path, f"download from {spec.source} failed: "
                                 f"{type(exc).__name__}") from exc
    if not path.exists():
        raise WeightsUnavailable(spec.model_id, path, f"download from {spec.source} left no file there")
    return path


def is_random(path: Path) -> bool:
    """True when the checkpoint was written by the random-weight helper (tests, demos)."""
    return Path(str(path) + RANDOM_MARKER_SUFFIX).exists()


def presence(path: Path) -> str:
    """"random" (test weights), "downloaded" or "missing": stat calls only, no model import."""
    if not path.exists():
        return "missing"
    return "random" if is_random(path) else "downloaded"


def mark_random(path: Path) -> None:
    Path(str(path) + RANDOM_MARKER_SUFFIX).write_text(
        "Random weights written by codec_arena.testing: outputs are noise; timings are real.\n")


def torch_hub_checkpoint(name: str) -> Path:
    """Where `torch.hub.load_state_dict_from_url` keeps `name`: the rule of torch.hub.get_dir(),
    written out so that listing paths does not import torch."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints" / name


def hub_repo_dir(repo_id: str) -> Path:
    """The Hugging Face hub cache folder of a model repository (huggingface_hub's layout, written out
    so that listing paths imports nothing heavy)."""
    home = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface"), "hub")
    return Path(home).expanduser() / f"models--{repo_id.replace('/', '--')}"


def hub_snapshot(repo_id: str, files: dict[str, Path | bytes] | None = None, source: Path | None = None) -> Path:
    """Lay files out as the Hugging Face hub cache does (`$HF_HOME/hub/models--org--name/snapshots/<sha>/`,
    `refs/main`), so `from_pretrained(repo_id)` and `hf_hub_download` find them offline. `source` is a
    folder (e.g. from `save_pretrained`) whose files are copied in; `files` adds or overrides by name."""
    import hashlib
    import shutil

    repo = hub_repo_dir(repo_id)
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    if source is not None:
        for item in Path(source).iterdir():
            if item.is_file():
                shutil.copyfile(item, snapshot / item.name)
    for name, content in (files or {}).items():
        target = snapshot / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            shutil.copyfile(content, target)
    return snapshot


def hub_file(repo_id: str, filename: str, revision: str = "main") -> Path:
    """Where a hub file lives once downloaded: the snapshot `refs/<revision>` points at. Before that,
    the path it will have under a placeholder snapshot, so messages can still say where we looked."""
    repo = hub_repo_dir(repo_id)
    ref = repo / "refs" / revision
    commit = ref.read_text().strip() if ref.exists() else "<revision>"
    return repo / "snapshots" / commit / filename


def hub_spec(model_id: str, repo_id: str, filename: str, allow_patterns: list[str] | None = None) -> WeightSpec:
    """A checkpoint from the Hugging Face hub: present when `filename` is in the cached snapshot;
    fetched with `snapshot_download` (only `allow_patterns` when given)."""

    def fetch() -> None:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id, allow_patterns=allow_patterns)

    return WeightSpec(model_id=model_id, source=f"the Hugging Face hub ({repo_id})",
                      location=lambda: hub_file(repo_id, filename), fetch=fetch)


def fingerprint(path: Path) -> str:
    """Which weights (by content, not by path): sha256 of the size and the first and last MiB. Two
    checkpoints that differ anywhere near their ends, or in size, differ here. Read once per file
    version (path, size, modification time), since every round trip records it."""
    path = Path(path)
    if not path.is_file():
        return ""
    stat = path.stat()
    return _fingerprint(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _fingerprint(path: str, size: int, mtime_ns: int) -> str:
    import hashlib

    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
        if size > 2 << 20:
            handle.seek(size - (1 << 20))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]

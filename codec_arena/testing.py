"""Random-weight checkpoints written exactly where and how the official loaders read them.

No machine in our CI reaches a model hub, so tests (and demos on such machines) build the real
architecture with random weights and save it at the real cache path; the real loader then loads it
as it would a download. A marker file beside each checkpoint lets the app warn that its output is
noise. Run by hand to fill a cache for a demo:

    python -m codec_arena.testing dac_44khz encodec_24khz     # full size, in the standard caches
    python -m codec_arena.testing --small --all                # tiny configs where the loader allows
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import quiet_library_warnings, weights
from .codecs import registry


def write_random_weights(model_id: str, small: bool = False, seed: int = 0) -> Path:
    """Save a random-weight checkpoint for a codec or codec LM where its official loader looks, and
    mark it."""
    import torch

    from .lms import registry as lm_registry

    torch.manual_seed(seed)
    if model_id in lm_ids():
        module = lm_registry.family_module(model_id)
    elif registry.weight_spec(model_id) is None:
        raise ValueError(f"{model_id} has no weights")
    else:
        module = registry.family_module(model_id)
    path = module.write_random_weights(model_id, small=small)
    weights.mark_random(path)
    return path


def neural_codec_ids() -> list[str]:
    return [info.id for info in registry.list_codecs() if registry.weight_spec(info.id) is not None]


def lm_ids() -> list[str]:
    from .lms import list_lms

    return [info.id for info in list_lms()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write RANDOM-weight checkpoints (tests and demos only).")
    parser.add_argument("models", nargs="*", help="codec or codec-LM ids")
    parser.add_argument("--all", action="store_true", help="every codec with weights and every codec LM")
    parser.add_argument("--small", action="store_true", help="tiny configs where the loader allows")
    args = parser.parse_args(argv)
    quiet_library_warnings()
    ids = neural_codec_ids() + lm_ids() if args.all else args.models
    if not ids:
        parser.error("name codecs or models, or pass --all")
    for model_id in ids:
        print(f"{model_id}: random weights at {write_random_weights(model_id, small=args.small)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

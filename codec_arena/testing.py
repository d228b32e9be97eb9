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

from . import weights
from .codecs import registry

# DAC stores its constructor arguments in the checkpoint, so tiny configs load through the same
# loader; EnCodec's loader builds the full-size model, so its checkpoints are always full size.
DAC_CONFIGS = {
    "dac_44khz": dict(sample_rate=44_100, encoder_rates=[2, 4, 8, 8], decoder_rates=[8, 8, 4, 2], n_codebooks=9),
    "dac_24khz": dict(sample_rate=24_000, encoder_rates=[2, 4, 5, 8], decoder_rates=[8, 5, 4, 2], n_codebooks=32),
    "dac_16khz": dict(sample_rate=16_000, encoder_rates=[2, 4, 5, 8], decoder_rates=[8, 5, 4, 2], n_codebooks=12),
}
DAC_SMALL = dict(encoder_dim=4, decoder_dim=32)


def write_random_weights(codec_id: str, small: bool = False, seed: int = 0) -> Path:
    """Save a random-weight checkpoint for `codec_id` where its official loader looks."""
    import torch

    torch.manual_seed(seed)
    spec = registry.weight_spec(codec_id)
    if spec is None:
        raise ValueError(f"{codec_id} has no weights")
    path = spec.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if codec_id.startswith("encodec_"):
        _save_encodec(codec_id, path)
    elif codec_id in DAC_CONFIGS:
        import dac

        dac.model.DAC(**DAC_CONFIGS[codec_id], **(DAC_SMALL if small else {})).save(str(path))
    else:
        raise ValueError(f"no random-weight recipe for {codec_id}")
    weights.mark_random(path)
    return path


def _save_encodec(codec_id: str, path: Path) -> None:
    import torch

    from .codecs.encodec import build

    model = build(codec_id, pretrained=False)
    # A fresh model's codebooks are zeros until k-means init; random codes make usage plots real.
    for layer in model.quantizer.vq.layers:
        layer._codebook.embed.normal_()
        layer._codebook.inited.fill_(1)
    torch.save(model.state_dict(), path)


def neural_codec_ids() -> list[str]:
    return [info.id for info in registry.list_codecs() if registry.weight_spec(info.id) is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write RANDOM-weight checkpoints (tests and demos only).")
    parser.add_argument("codecs", nargs="*")
    parser.add_argument("--all", action="store_true", help="every codec with weights")
    parser.add_argument("--small", action="store_true", help="tiny configs where the loader allows")
    args = parser.parse_args(argv)
    ids = neural_codec_ids() if args.all else args.codecs
    if not ids:
        parser.error("name codecs or pass --all")
    for codec_id in ids:
        print(f"{codec_id}: random weights at {write_random_weights(codec_id, small=args.small)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

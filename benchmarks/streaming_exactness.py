"""Chunked against one pass, for every neural codec: equal codes (%), max |Δ latent| (the encoder output
before quantization), max |Δ audio| (decoding the same codes in windows and in one window).

    python benchmarks/streaming_exactness.py [--seconds 6] [--window 1.0] [--full] [--codecs dac_16khz ...]

Each codec encodes a speech clip (assets/speech_arctic_a0007.wav, looped to `--seconds`, at the codec's
rate) in windows of `--window` seconds with its declared context, and in one window. Codecs declared
exact (no recurrent state, no attention over the whole input) must give 100 % and Δ latent < 1e-4;
the others are reported as they are. Weights are random (real architecture, written to a temporary
cache: small configs by default, full size with `--full`): exactness is a property of the network's
shape, not of its training, but recurrent codecs' figures do depend on the weights.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--window", type=float, default=1.0, help="seconds per window")
    parser.add_argument("--full", action="store_true", help="full-size random weights (slow on a CPU)")
    parser.add_argument("--codecs", nargs="*")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="codec-arena-exactness-")
    os.environ.update(HOME=cache, TORCH_HOME=f"{cache}/torch", HF_HOME=f"{cache}/hf", HF_HUB_OFFLINE="1",
                      CODEC_ARENA_OFFLINE="1")

    import numpy as np

    from codec_arena import quiet_library_warnings
    from codec_arena.audio import load_audio
    from codec_arena.codecs import get_codec, stream
    from codec_arena.codecs.chunked import ChunkedCodec
    from codec_arena.testing import neural_codec_ids, write_random_weights

    quiet_library_warnings()
    speech = load_audio(ROOT / "assets" / "speech_arctic_a0007.wav")
    print(f"{args.seconds:g} s of speech, windows of {args.window:g} s, "
          f"{'full-size' if args.full else 'small'} random weights\n")
    print("| codec | declared exact | windows | equal codes (%) | max \\|Δ latent\\| | max \\|Δ audio\\| |")
    print("|---|---|---|---|---|---|")
    for codec_id in args.codecs or neural_codec_ids():
        write_random_weights(codec_id, small=not args.full)
        codec = get_codec(codec_id, "cpu")
        if not isinstance(codec, ChunkedCodec):
            print(f"| `{codec_id}` | not on the engine | | | | |")
            continue
        if codec.info.encode_only:  # no decoder, and its ONNX graph gives no latent: nothing to measure
            print(f"| `{codec_id}` | {'yes' if codec.exact else 'no'} | | encode only | | |")
            continue
        info = codec.info
        clip = speech.to(info.sample_rate, info.channels).samples
        clip = np.tile(clip, (1, math.ceil(args.seconds * info.sample_rate / clip.shape[1])))
        clip = clip[:, : int(args.seconds * info.sample_rate)]
        units = max(1, round(args.window * info.sample_rate / codec.hop))
        try:
            figures = stream.exactness(codec, clip, codec.point(info.default_bitrate), units)
        except NotImplementedError as exc:
            print(f"| `{codec_id}` | {'yes' if codec.exact else 'no'} | | {exc} | | |")
            continue
        row = figures.row()
        if info.continuous:  # float latents: the latent column says how close they are
            row["equal codes (%)"] = "— (float latents)"
        print(f"| `{codec_id}` | {'yes' if codec.exact else 'no'} | {row['windows']} | {row['equal codes (%)']} | "
              f"{row['max |Δ latent|']:.2g} | {row['max |Δ audio|']:.2g} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

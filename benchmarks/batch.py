"""Throughput of `encode_batch`/`decode_batch` against one clip at a time, measured in one run.

    python benchmarks/batch.py [--clips 16] [--seconds 2] [--repeats 3] [--codecs encodec_24khz dac_16khz mimi]

Both paths get the same clips (equal lengths, as a dataset cut into fixed segments gives) and run
alternately; the ratio is median(one by one) / median(batch), so above 1 means the batch is faster. The
batch's codes are checked equal to one at a time before timing. Random weights at the sizes the tests
use (EnCodec's loader is always full size), on the device `CODEC_ARENA_DEVICE` or the best available.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(codec, clips, point, codes, repeats: int) -> dict[str, float]:
    """Median seconds of each path, the four run alternately."""
    runs = {"enc1": lambda: [codec.encode(c, point) for c in clips], "encB": lambda: codec.encode_batch(clips, point),
            "dec1": lambda: [codec.decode(c) for c in codes], "decB": lambda: codec.decode_batch(codes)}
    timings: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            started = time.perf_counter()
            run()
            timings[key].append(time.perf_counter() - started)
    return {k: statistics.median(v) for k, v in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="full-size random weights")
    parser.add_argument("--codecs", nargs="*", default=["encodec_24khz", "dac_16khz", "mimi"])
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="codec-arena-batch-")
    os.environ.update(HOME=cache, TORCH_HOME=f"{cache}/torch", HF_HOME=f"{cache}/hf", HF_HUB_OFFLINE="1",
                      CODEC_ARENA_OFFLINE="1")

    import numpy as np

    from codec_arena import quiet_library_warnings
    from codec_arena.audio import Audio
    from codec_arena.codecs import get_codec
    from codec_arena.testing import write_random_weights

    quiet_library_warnings()
    rng = np.random.default_rng(0)
    print(f"{args.clips} clips of {args.seconds:g} s, {args.repeats} repeats; ratio = one by one / batch")
    print(f"{'codec':15} {'device':6} {'encode ratio':>12} {'decode ratio':>12} {'one-by-one s':>12} {'batch s':>8}")
    for codec_id in args.codecs:
        write_random_weights(codec_id, small=not args.full)
        codec = get_codec(codec_id)
        info = codec.info
        clips = [Audio((0.1 * rng.standard_normal((info.channels, int(args.seconds * info.sample_rate))))
                       .astype(np.float32), info.sample_rate) for _ in range(args.clips)]
        point = codec.point(info.default_bitrate)
        batch_codes = codec.encode_batch(clips, point)
        alone_codes = [codec.encode(clip, point) for clip in clips]
        assert all(np.array_equal(a.tokens, b.tokens) for a, b in zip(batch_codes, alone_codes, strict=True))
        med = timed(codec, clips, point, alone_codes, args.repeats)
        print(f"{codec_id:15} {codec.device:6} {med['enc1'] / med['encB']:12.2f} {med['dec1'] / med['decB']:12.2f} "
              f"{med['enc1'] + med['dec1']:12.2f} {med['encB'] + med['decB']:8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

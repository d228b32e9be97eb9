"""The fast CPU path (`codec_arena.codecs.accel`, OpenVINO) against the official package's call and
against our torch path, in one run, with the codes and audio compared.

    python benchmarks/codec_speed.py [--seconds 10] [--repeats 3] [--codecs dac_44khz dac_24khz dac_16khz bigcodec
                                      snac_24khz snac_32khz snac_44khz]

For each codec: full-size random weights in a temporary cache (timings are real, the audio is not a
quality result; SNAC's decoder noise gains at zero, so its audio compares), a speech-like clip of
`--seconds`, then, alternating so load drifts hit every variant
alike, median wall time of:
- official (DAC): the package's `compress` + `decompress` with their defaults (1 s windows, loudness
  normalised to -16 LUFS and back), what `python -m dac encode` / `decode` run;
- official one pass: `compress(win_duration=None)` (one window: the codes the engine reproduces), then
  the package's `quantizer.from_codes` + `decode` (its `decompress` of a one-window file fails on most
  lengths: a reshape off by a few samples);
- ours torch: `codec_arena.roundtrip` with `CODEC_ARENA_ACCEL=off`;
- ours fast: `codec_arena.roundtrip` on the OpenVINO path (converted once before timing, as a
  machine does on its first request).
Printed: each time, the ratios, whether the fast codes equal the official one-pass codes and our
torch codes, and max |Δ| of the fast audio against our torch audio.
Threads: torch's default (all cores), as the app runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def official_calls(model, samples: np.ndarray, rate: int):
    """The package's own calls on a clip: (defaults, one pass) -> (codes, audio) of the one pass."""
    import torch
    from audiotools import AudioSignal

    def signal():
        return AudioSignal(torch.from_numpy(samples[None].copy()), rate)

    def default():
        compressed = model.compress(signal())
        return compressed.codes[0].numpy(), model.decompress(compressed).audio_data[0, 0].numpy()

    def one_pass():  # `decompress` of a one-window file fails on most lengths (a reshape off by 8 samples)
        codes = model.compress(signal(), win_duration=None).codes
        with torch.inference_mode():
            return codes[0].numpy(), model.decode(model.quantizer.from_codes(codes)[0])[0, 0].numpy()

    return default, one_pass


def measure(codec_id: str, seconds: float, repeats: int) -> None:
    import dac

    from codec_arena.audio import Audio
    from codec_arena.codecs import accel, codec_info, get_codec
    from codec_arena.codecs import dac as dac_adapter
    from codec_arena.roundtrip import roundtrip
    from codec_arena.runtime import cache
    from codec_arena.signals import seeded_audio
    from codec_arena.testing import write_random_weights

    info = codec_info(codec_id)
    write_random_weights(codec_id)
    if codec_id.startswith("snac_"):  # no decoder noise, so the two paths' audio compare sample by sample
        from codec_arena.codecs import snac

        snac.write_random_weights(codec_id, noise=False)
    samples = seeded_audio(info.sample_rate, seconds).astype(np.float32)
    audio = Audio(samples[None], info.sample_rate)
    kbps = info.default_bitrate_kbps

    def ours(mode: str):
        def run():
            os.environ[accel.ENV] = mode
            result = roundtrip(audio, codec_id, kbps)
            return result.encoded.tokens, result.output.samples[0]
        return run

    ours("on")()  # converts and caches the network (once per machine), loads the torch model
    variants = {}
    if codec_id.startswith("dac_"):  # the package's own calls, beside ours
        model_type = codec_id.removeprefix("dac_")
        official_model = dac.utils.load_model(model_type=model_type, model_bitrate="8kbps",
                                              tag=dac_adapter.TAGS[model_type]).eval()
        variants["official"], variants["official one pass"] = official_calls(official_model, samples, info.sample_rate)
    variants.update({"ours torch": ours("off"), "ours fast": ours("on")})
    times: dict[str, list[float]] = {name: [] for name in variants}
    outputs = {}
    for _ in range(repeats):
        for name, run in variants.items():
            started = time.perf_counter()
            outputs[name] = run()
            times[name].append(time.perf_counter() - started)
    median = {name: statistics.median(values) for name, values in times.items()}
    fast_codes, fast_audio = outputs["ours fast"]
    torch_codes, torch_audio = outputs["ours torch"]
    official_codes = outputs["official one pass"][0] if "official one pass" in outputs else None
    print(f"\n{codec_id}: {seconds:g} s at {info.sample_rate} Hz, {kbps:g} kbps, median of {repeats} "
          f"(OpenVINO {accel.backend_version()}, {cache.loaded()[0][1] if cache.loaded() else 'cpu'})")
    for name, value in median.items():
        print(f"  {name:<18} {value:7.2f} s   fast is {value / median['ours fast']:.2f}x faster")
    if official_codes is not None:
        print(f"  codes: fast = official one pass: {np.array_equal(fast_codes, official_codes[: fast_codes.shape[0]])}")
    print(f"  codes: fast = ours torch: {np.array_equal(fast_codes, torch_codes)} "
          f"(on the fast path: {', '.join(get_codec(codec_id).fast.active())})")
    print(f"  max |Δ audio| fast vs ours torch: {np.abs(fast_audio - torch_audio).max():.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--codecs", nargs="+", default=["dac_44khz", "dac_24khz", "dac_16khz", "bigcodec", "snac_24khz",
                                                        "snac_32khz", "snac_44khz"])
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="codec-arena-speed-")
    os.environ.update(HOME=f"{tmp}/home", TORCH_HOME=f"{tmp}/torch", HF_HOME=f"{tmp}/hf", HF_HUB_OFFLINE="1")
    from codec_arena import quiet_library_warnings
    from codec_arena.codecs import accel

    quiet_library_warnings()
    if accel.backend_version() is None:
        sys.exit("OpenVINO is not installed: pip install -r requirements.txt (the fast path needs it).")
    for codec_id in args.codecs:
        measure(codec_id, args.seconds, args.repeats)


if __name__ == "__main__":
    main()

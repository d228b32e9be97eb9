"""DAC, the Descript Audio Codec (Kumar et al., 2023), through `descript-audio-codec`.

The package's `compress` (what `python -m dac encode` runs) cuts long files into windows that each
re-encode their receptive field, so its codes change with the window length (descript-audio-codec
issue #39) and the overlap inflates the bitrate. We run the package's own network calls through
our streaming engine instead: windows with `model.delay` of context on both sides, computed and
dropped, so chunked codes equal one pass at the nominal bitrate and memory stays flat. `compress`'s
whole-file loudness normalisation comes from the engine's first pass (`input_gain`), and
`decompress`'s return to the input loudness from a pass over the output (`output_gain`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import weights
from . import accel
from .base import CodecInfo, Codes, OperatingPoint
from .chunked import ChunkedCodec

NORMALIZE_DB = -16.0  # DAC.compress's normalize_db
TAGS = {"44khz": "0.0.1", "24khz": "0.0.4", "16khz": "0.0.5"}  # dac.utils.__MODEL_LATEST_TAGS__, 8 kbps
_COMMON = dict(
    family="DAC", codebook_size=1024, quantizer="RVQ (factorised, L2-normalised codes)", domain="general",
    paper="Kumar et al., High-Fidelity Audio Compression with Improved RVQGAN, 2023 (arXiv:2306.06546)",
    code_url="https://github.com/descriptinc/descript-audio-codec", licence="MIT (code and weights)",
    discriminators="multi-period (MPD) + multi-band multi-scale STFT",
    training_data="DAPS, DNS Challenge 4, Common Voice, VCTK (speech); MUSDB, Jamendo (music); AudioSet (general)",
    sources=("paper §3.3 (discriminators), §4.1 (data)", "https://github.com/descriptinc/descript-audio-codec"),
)


def _info(model_type: str, sample_rate: int, hop: int, codebooks: int, default: int) -> CodecInfo:
    frame_rate = sample_rate / hop
    return CodecInfo(
        id=f"dac_{model_type}", sample_rate=sample_rate, channels=1, frame_rate=frame_rate,
        max_codebooks=codebooks,
        bitrates_kbps=tuple(round(n * 10 * frame_rate / 1000, 3) for n in range(1, codebooks + 1)),
        default_bitrate_kbps=round(default * 10 * frame_rate / 1000, 3),
        hub_id=f"github.com/descriptinc/descript-audio-codec releases {TAGS[model_type]} "
               f"(transformers copy: descript/dac_{model_type})",
        weights=f"descript-audio-codec release {TAGS[model_type]}: weights_{model_type}_8kbps_{TAGS[model_type]}.pth",
        **_COMMON,
    )


INFOS = [
    _info("16khz", 16_000, 320, 12, 12),
    _info("24khz", 24_000, 320, 32, 32),
    _info("44khz", 44_100, 512, 9, 9),
]


def checkpoint_path(model_type: str) -> Path:
    """Where `dac.utils.download` keeps the weights."""
    return Path.home() / ".cache" / "descript" / "dac" / f"weights_{model_type}_8kbps_{TAGS[model_type]}.pth"


def weight_spec(codec_id: str) -> weights.WeightSpec:
    model_type = codec_id.removeprefix("dac_")

    def fetch() -> None:
        import dac

        dac.utils.download(model_type=model_type, model_bitrate="8kbps", tag=TAGS[model_type])

    return weights.WeightSpec(model_id=codec_id, source="the descript-audio-codec GitHub release",
                              location=lambda: checkpoint_path(model_type), fetch=fetch)


def load(info: CodecInfo, device: str) -> DacCodec:
    import dac

    model_type = info.id.removeprefix("dac_")
    weights.download(weight_spec(info.id))
    model = dac.utils.load_model(model_type=model_type, model_bitrate="8kbps", tag=TAGS[model_type])
    return DacCodec(info, model.eval().to(device), device, checkpoint_path(model_type))


class DacCodec(ChunkedCodec):
    """DAC through the engine: the package's own `preprocess`/`encode`/`quantizer.from_codes`/`decode`
    per window, with the receptive field (`model.delay`) as context, so chunked codes equal one pass.
    `compress`'s whole-file steps are the engine's first pass: loudness normalised to -16 LUFS (and
    the peak kept under 1) before encoding, the output brought back to the input's loudness after."""

    batchable = True
    whole_file_gain = True
    side_keys = ()

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.hop = int(model.hop_length)
        self.context_units = self.decode_context_units = math.ceil(model.delay / self.hop) + 2
        self.fast = accel.FastParts(checkpoint, device)

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, K, ceil(n / hop)]: `DAC.encode`, the encoder on the fast path."""
        codes = self.model.quantizer(self._latent(x), point.codebooks)[1]
        return codes[:, : point.codebooks].cpu().numpy()

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        return self._latent(x).cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] -> [B, 1, T x hop - 8 or so] (the engine pads the few missing samples)."""
        import torch

        z = self.model.quantizer.from_codes(torch.from_numpy(tokens).to(self.device))[0]
        fast = self._fast("decoder")
        if fast is not None:
            return fast(z.numpy())
        return self.model.decode(z).float().cpu().numpy()

    def _latent(self, x: np.ndarray):
        """[B, 1, n] -> z [B, D, ceil(n / hop)], the encoder's output before quantising."""
        import torch

        audio = self._audio(x)
        fast = self._fast("encoder")
        return torch.from_numpy(fast(audio.numpy())) if fast is not None else self.model.encoder(audio)

    def _fast(self, part: str):
        """`model.encoder` or `model.decoder` on the OpenVINO CPU path (`accel`), or None (torch)."""
        import torch

        channels = 1 if part == "encoder" else int(self.model.latent_dim)
        length = self.hop * 8 if part == "encoder" else 8
        return self.fast.get(part, lambda: getattr(self.model, part), lambda: torch.zeros(1, channels, length),
                             (None, channels, None))

    def input_gain(self, stats) -> tuple[float, dict[str, np.ndarray]]:
        """`compress`: normalise to NORMALIZE_DB, then `ensure_max_of_audio` (peak at most 1)."""
        input_db = stats.loudness()
        gain = 10 ** ((NORMALIZE_DB - input_db) / 20)
        if stats.peak * gain > 1.0:
            gain = 1.0 / stats.peak
        return gain, {"input_db": np.array([input_db], np.float32)}

    def output_gain(self, codes: Codes, stats) -> float:
        """`decompress`: the reconstruction brought to the input's loudness."""
        return float(10 ** ((float(np.asarray(codes.extras["input_db"]).reshape(-1)[0]) - stats.loudness()) / 20))

    def _audio(self, x: np.ndarray):
        import torch

        return self.model.preprocess(torch.from_numpy(x).to(self.device), self.info.sample_rate)


# DAC stores its constructor arguments in the checkpoint, so tiny configs load through the same loader.
CONFIGS = {
    "dac_44khz": dict(sample_rate=44_100, encoder_rates=[2, 4, 8, 8], decoder_rates=[8, 8, 4, 2], n_codebooks=9),
    "dac_24khz": dict(sample_rate=24_000, encoder_rates=[2, 4, 5, 8], decoder_rates=[8, 5, 4, 2], n_codebooks=32),
    "dac_16khz": dict(sample_rate=16_000, encoder_rates=[2, 4, 5, 8], decoder_rates=[8, 5, 4, 2], n_codebooks=12),
}
SMALL = dict(encoder_dim=4, decoder_dim=32)


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    import dac

    path = weight_spec(codec_id).path
    path.parent.mkdir(parents=True, exist_ok=True)
    dac.model.DAC(**CONFIGS[codec_id], **(SMALL if small else {})).save(str(path))
    return path

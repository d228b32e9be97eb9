"""DAC, the Descript Audio Codec (Kumar et al., 2023), through `descript-audio-codec`.

We call the package's own `compress` (what `python -m dac encode` runs): it encodes clips up to the
window in one pass and longer files window by window, so memory stays flat (about 2.2 GB peak for the
16 kHz model at 20 s and at 60 s alike). Each window re-encodes its receptive field on both sides and
the last one is padded to a full window, so the package's 1 s default nearly triples the tokens of
the 16 kHz model, and a fixed 10 s window nearly doubles them for a 10.1 s clip. We split long clips
into equal windows of at most 10 s instead (`window_seconds`): the overhead stays a few per cent,
and the measured bitrate reports it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .. import weights
from ..audio import Audio
from .base import CodecInfo, Codes

WINDOW_SECONDS = 10.0
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


class DacCodec:
    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self._lock = threading.Lock()  # compress/decompress switch `model.padding` while they run

    def encode(self, audio: Audio, bitrate_kbps: float) -> Codes:
        import torch
        from audiotools import AudioSignal

        n = self.info.codebooks_for(self.info.check_bitrate(bitrate_kbps))
        signal = AudioSignal(torch.from_numpy(audio.samples)[None], audio.sample_rate)
        with self._lock, torch.inference_mode():
            packed = self.model.compress(signal, win_duration=self.window_seconds(audio.frames), n_quantizers=n)
        tokens = packed.codes[0, :n].cpu().numpy().astype(np.int64)
        extras = {"chunk_length": np.int64(packed.chunk_length), "padding": np.bool_(packed.padding),
                  "input_db": packed.input_db.reshape(-1).cpu().numpy().astype(np.float32)}
        return Codes(tokens=tokens, frame_rate=self.info.frame_rate, codebook_size=1024,
                     sample_rate=audio.sample_rate, num_samples=audio.frames, codec_id=self.info.id,
                     extras=extras)

    def window_seconds(self, frames: int) -> float:
        """The shortest window (a multiple of the hop) that covers `frames` in as few windows as 10 s
        windows would, so the windows come out equal instead of one full and one nearly empty."""
        import math

        model, limit = self.model, int(WINDOW_SECONDS * self.info.sample_rate)
        if frames <= limit:
            return WINDOW_SECONDS
        padded = frames + 2 * model.delay  # compress() pads the delay on both sides
        hop = model.hop_length
        count = math.ceil(padded / model.get_output_length(math.ceil(limit / hop) * hop))
        window = math.ceil((padded / count + 2 * model.delay) / hop) * hop
        while math.ceil(padded / model.get_output_length(window)) > count:
            window += hop
        return (window + 0.5) / self.info.sample_rate

    def decode(self, codes: Codes) -> Audio:
        """`DAC.decompress`, step for step, except the end: the 16 and 24 kHz decoders return 8
        samples fewer than frames x hop, so `decompress` crashes when the input length is within 8
        samples of a frame boundary (4 s at 24 kHz, say). We pad those samples back instead."""
        import torch
        from audiotools import AudioSignal

        tokens = torch.from_numpy(codes.tokens)[None].to(self.device)
        chunk = int(codes.extras["chunk_length"])
        with self._lock, torch.inference_mode():
            saved, self.model.padding = self.model.padding, bool(codes.extras["padding"])
            try:
                pieces = [self.model.decode(self.model.quantizer.from_codes(tokens[..., i:i + chunk])[0])
                          for i in range(0, tokens.shape[-1], chunk)]
            finally:
                self.model.padding = saved
        signal = AudioSignal(torch.cat(pieces, dim=-1).float().cpu(), self.info.sample_rate)
        signal.normalize(torch.from_numpy(np.asarray(codes.extras["input_db"])))
        samples = signal.audio_data[0].numpy()[:, : codes.num_samples]
        samples = np.pad(samples, ((0, 0), (0, codes.num_samples - samples.shape[1])))
        return Audio(np.ascontiguousarray(samples, dtype=np.float32), self.info.sample_rate)


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

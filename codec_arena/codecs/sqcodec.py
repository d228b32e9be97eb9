"""SQCodec (Zhai et al., 2025), through the official `sq_codec` package: one scalar quantizer per frame.

`sq_codec.get_model(name)` builds the network from the package's TOML config (`sq_codec/configs/`)
and loads five state dicts, `{encoder,quantizer,decoder,en_encoder,en_decoder}.pt`, from
`~/.cache/sq_codec/<name>.v0/`, downloading missing ones from the Hugging Face repo zhai-lw/SQCodec
(`weights/<name>.v0/<module>.pt`) with `requests`. We pass `model_dir` (the package's own default,
`Path.home() / ".cache" / "sq_codec"`, read at call time rather than when the package was imported)
and the network config with the widths the files hold (for the official files, the TOML's own), so
tiny random-weight files load through the same call.

Each model is one checkpoint at one bitrate: a convolutional encoder, a causal local transformer
(`en_encoder`, attention within windows of `en_coder_window_size` frames and the window before),
one finite scalar quantizer (TAAE-style FSQ; six dimensions with levels 7^6 = 117,649 or
9^3 x 7^3 = 250,047 codes), and the mirror image to decode. `preprocess` zero-pads the input to
whole attention windows (`fill_length` = hop x window samples: 4.5 s at 0.75 kbps, 0.45 s at
24 kbps), and the local attention needs whole windows to decode, so codes cover the padded length
and short clips cost more than the nominal rate.

Long clips go through the streaming engine (`stream`) with one unit = one attention window, so
every window edge is an attention-window edge, as in one pass. Each attention layer looks one
window back, so a window needs `en_coder_depth` + 1 windows of real signal before it (the + 1 for
the convolutions' reach across its edge; the engine takes the same on both sides): with that the
encoder's output, and so the codes, equal one pass. The decoder's enhance blocks normalise over
time (`InstanceNorm1d` over the whole decoded window), so chunked audio is close to one pass, not
equal to it (`exact = False`). The context is large for the low-rate models (6 windows of 4.5 s
at 0.75 kbps), so long clips there cost several passes.

`sq_codec/configs/12kbps_24khz.toml` says `sample_rate = 16000`; its hop (36) gives the README's
666.67 tokens/s and 11.95 kbps only at 24 kHz, which the README's table and the name state, so we
run it at 24 kHz (Codec-SUPERB's loader takes the TOML's 16 kHz for it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import WeightsUnavailable
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

HUB_ID = "zhai-lw/SQCodec"
VERSION = "v0"  # `model_version` in every shipped TOML
MODULES = ("encoder", "quantizer", "decoder", "en_encoder", "en_decoder")  # `EnCodec.trainable_modules`, in order


@dataclass(frozen=True)
class Model:
    """One shipped configuration: the facts its TOML (and the README's table) give."""

    name: str  # the package's config name
    sample_rate: int
    hop: int  # samples per token: prod(compress_rates) x en_coder_compress_rate
    window: int  # en_coder_window_size: tokens per attention window (the padding unit)
    depth: int  # en_coder_depth: attention layers, each looking one window back
    levels: tuple[int, ...]  # FSQ levels (`vq_config.codebook_dim`)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)

    @property
    def kbps(self) -> float:
        return round(math.log2(self.codebook_size) * self.frame_rate / 1000, 3)


_7 = (7,) * 6
_97 = (9, 9, 9, 7, 7, 7)
MODELS = {
    "sqcodec_16khz_0k75bps": Model("0k75bps", 16_000, 360, 200, 5, _7),
    "sqcodec_16khz_1k5bps": Model("1k5bps", 16_000, 180, 300, 5, _7),
    "sqcodec_16khz_3kbps": Model("3kbps", 16_000, 90, 400, 3, _7),
    "sqcodec_16khz_6kbps": Model("6kbps", 16_000, 45, 300, 3, _7),
    "sqcodec_16khz_12kbps": Model("12kbps", 16_000, 24, 400, 3, _97),
    "sqcodec_24khz_12kbps": Model("12kbps_24khz", 24_000, 36, 400, 3, _97),
    "sqcodec_24khz_24kbps": Model("24kbps_24khz", 24_000, 18, 600, 3, _97),
}


def _info(codec_id: str) -> CodecInfo:
    m = MODELS[codec_id]
    unit_ms = m.window * m.hop / m.sample_rate * 1000
    return CodecInfo(
        id=codec_id, family="SQCodec", sample_rate=m.sample_rate, channels=1, frame_rate=m.frame_rate,
        codebook_size=m.codebook_size, max_codebooks=1, bitrates_kbps=(m.kbps,), default_bitrate_kbps=m.kbps,
        frame_multiple=m.window,
        quantizer=f"single FSQ (TAAE-style; levels {list(m.levels)}, {m.codebook_size:,} codes)",
        domain="general",
        paper="Zhai et al., One Quantizer is Enough: Toward a Lightweight Audio Codec, 2025 (arXiv:2504.04949)",
        code_url="https://github.com/zhai-lw/SQCodec",
        weights=f"Hugging Face {HUB_ID}: weights/{m.name}.{VERSION}/{{{','.join(MODULES)}}}.pt, "
                f"kept in ~/.cache/sq_codec/{m.name}.{VERSION}/ by `sq_codec.get_model('{m.name}')`",
        licence="MIT (code, sq_codec package)",
        discriminators="not published with SQCodec; the authors' successor L3AC trains against DAC's "
                       "discriminator (multi-period, periods 2–11, and multi-band complex STFT)",
        training_data="not stated in the SQCodec package or README (the paper reports experiments across diverse "
                      "datasets); the authors' successor L3AC trains on LibriSpeech, Common Voice, MTG-Jamendo "
                      "and FSD50K",
        hub_id=HUB_ID,
        sources=(f"sq_codec 0.0.1 (PyPI): configs/{m.name}.toml (rates, window, depth, FSQ levels), __init__.py "
                 "(weight URLs, cache dir), codec.py / en_codec.py (preprocess padding, fill_length)",
                 "https://github.com/zhai-lw/SQCodec README (available models: sample rate, tokens/s, codebook "
                 "size, bitrate; MIT licence; arXiv:2504.04949)",
                 "https://github.com/voidful/Codec-SUPERB SoundCodec/base_codec/sqcodec.py (the same calls)",
                 "https://github.com/zhai-lw/L3AC train branch (successor's data and discriminator only)"),
        notes=f"{m.frame_rate:.2f} tokens/s from one {m.codebook_size:,}-code scalar quantizer; clips are padded to "
              f"whole {m.window}-token attention windows ({unit_ms:.0f} ms), so short clips cost more than the "
              "nominal rate.",
    )


INFOS = [_info(codec_id) for codec_id in MODELS]


def model_dir() -> Path:
    """`SQCodecConfig.model_dir`'s default, `Path.home() / ".cache" / "sq_codec"`, read now."""
    return Path.home() / ".cache" / "sq_codec"


def checkpoint_dir(codec_id: str) -> Path:
    """`SQCodecConfig.model_path`: where `get_model` reads (and downloads) the five state dicts."""
    return model_dir() / f"{MODELS[codec_id].name}.{VERSION}"


def weight_spec(codec_id: str) -> weights.WeightSpec:
    """Present when the last file `download_weights` writes is there (it writes them in `MODULES` order)."""

    def fetch() -> None:
        _package_codec(codec_id, load_weights=False).download_weights()

    return weights.WeightSpec(model_id=codec_id, source=f"the Hugging Face hub ({HUB_ID}, via sq_codec)",
                              location=lambda: checkpoint_dir(codec_id) / f"{MODULES[-1]}.pt", fetch=fetch)


def _network_config(codec_id: str, widths: dict | None = None) -> dict:
    """The TOML's network config, with `widths` (feature_dim, encoder_dims, decoder_dims) over it."""
    from sq_codec import CONFIG_DIR, SQCodecConfig

    config = SQCodecConfig(config_file=CONFIG_DIR / f"{MODELS[codec_id].name}.toml", model_dir=model_dir())
    return {**config.network_config.model_dump(exclude={"hop_length"}), **(widths or {})}


def _package_codec(codec_id: str, widths: dict | None = None, load_weights: bool = True):
    """`sq_codec.get_model(name)` (or, for downloading and writing, the same `SQCodec` unloaded)."""
    import sq_codec

    name = MODELS[codec_id].name
    kwargs = {"model_dir": model_dir(), "network_config": _network_config(codec_id, widths)}
    if load_weights:
        return sq_codec.get_model(name, **kwargs)
    return sq_codec.SQCodec(sq_codec.SQCodecConfig(config_file=sq_codec.CONFIG_DIR / f"{name}.toml", **kwargs))


def widths_of(folder: Path) -> dict:
    """feature_dim, encoder_dims and decoder_dims read from the state dicts' tensor shapes (the official
    files give the TOML's; tiny random-weight files their own). Convolutions are weight-normed
    (`parametrizations.weight.original1`, shaped (out, in, kernel)): the encoder's first block ends in
    `blocks.0.conv_2`, its stage i downsamples in `blocks.{2 + 2i}.0`; the decoder opens with `blocks.0`
    (feature_dim in) and stage i upsamples after `blocks.{3 + 3i}.0`."""
    import torch

    def shapes(module: str) -> dict:
        state = torch.load(folder / f"{module}.pt", map_location="cpu", weights_only=True, mmap=True)
        return {k.removesuffix(".parametrizations.weight.original1"): tuple(v.shape)
                for k, v in state.items() if k.endswith(".parametrizations.weight.original1")}

    enc, dec = shapes("encoder"), shapes("decoder")
    encoder_dims = [enc["blocks.0.conv_2"][0]]
    while f"blocks.{2 * len(encoder_dims)}.0" in enc:
        encoder_dims.append(enc[f"blocks.{2 * len(encoder_dims)}.0"][0])
    decoder_dims = [dec["blocks.0"][0]]
    while f"blocks.{3 * len(decoder_dims)}.0" in dec:
        decoder_dims.append(dec[f"blocks.{3 * len(decoder_dims)}.0"][0])
    return {"feature_dim": dec["blocks.0"][1], "encoder_dims": tuple(encoder_dims), "decoder_dims": tuple(decoder_dims)}


def load(info: CodecInfo, device: str) -> SQCodecCodec:
    checkpoint = weights.download(weight_spec(info.id))
    folder = checkpoint_dir(info.id)
    for module in MODULES:  # get_model would fetch a missing one, or only warn and keep random weights
        if not (folder / f"{module}.pt").is_file():
            raise WeightsUnavailable(info.id, folder / f"{module}.pt", "an interrupted download left it out")
    sq = _package_codec(info.id, widths_of(folder))
    sq.network.eval().to(device)
    return SQCodecCodec(info, sq, device, checkpoint)


class SQCodecCodec(ChunkedCodec):
    """The package's `encode_audio` / `decode_audio(indices=...)` per window of the engine, one unit being
    one attention window (`fill_length` samples, `en_coder_window_size` tokens). Codes [1, T]."""

    exact = False  # the decoder's InstanceNorm1d normalises over the whole decoded window
    batchable = True  # preprocess, convolutions, GRN/InstanceNorm (per item), attention and FSQ all take B
    pads_to_frames = True  # preprocess zero-pads to whole units, as a batch is padded

    def __init__(self, info: CodecInfo, sq, device: str, checkpoint: Path) -> None:
        self.info, self.sq, self.model, self.device, self.checkpoint = info, sq, sq.network, device, checkpoint
        mc = sq.network.mc
        self.unit_frames = int(mc.en_coder_window_size)
        self.hop = int(sq.network.fill_length)  # samples per unit = hop_length x window
        self.context_units = self.decode_context_units = int(mc.en_coder_depth) + 1

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, 1, ceil(n / hop) x unit_frames] (`encode_audio` pads to whole units)."""
        import torch

        _, indices = self.sq.encode_audio(torch.from_numpy(x[:, 0]).to(self.device))  # (B, T)
        return indices[:, None].cpu().numpy().astype(np.int64)

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 1, n] -> the local transformer's output before the quantizer, [B, D, frames]."""
        import torch

        net = self.sq.network
        audio, _ = net.preprocess(torch.from_numpy(x[:, 0]).to(self.device))
        return net.en_encoder(net.encoder(audio.unsqueeze(1))).transpose(1, 2).float().cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, 1, T] -> [B, 1, T / unit_frames x hop]."""
        import torch

        indices = torch.from_numpy(np.ascontiguousarray(tokens[:, 0])).to(self.device)
        return self.sq.decode_audio(indices=indices)[:, None].float().cpu().numpy()


def small_widths(codec_id: str) -> dict:
    """Tiny widths with the real rates, depths, windows and FSQ levels (heads need feature_dim % 4 == 0)."""
    config = _network_config(codec_id)
    return {"feature_dim": 16, "encoder_dims": tuple(4 for _ in config["encoder_dims"]),
            "decoder_dims": tuple(4 for _ in config["decoder_dims"])}


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """The five state dicts as the package's own `save_model` writes them, where `get_model` reads them."""
    import torch

    sq = _package_codec(codec_id, small_widths(codec_id) if small else None, load_weights=False)
    with torch.no_grad():  # spread the FSQ's input so random latents reach more than the central levels
        sq.network.quantizer.project_in.weight.mul_(8.0)
    folder = sq.config.model_path
    folder.parent.mkdir(parents=True, exist_ok=True)
    sq.network.save_model(model_path=folder)
    return weight_spec(codec_id).path

"""DualCodec (Li et al., Interspeech 2025), the Amphion low-frame-rate speech codec, through the official
`dualcodec` package (0.3.3): `dualcodec.get_model(model_id, folder)` + `dualcodec.Inference(...)`.

Two encoding streams, one residual stack. The semantic stream runs w2v-BERT 2.0
(`facebook/w2v-bert-2.0`, transformers' `Wav2Vec2BertModel` on `SeamlessM4TFeatureExtractor`
filterbanks of the input resampled to 16 kHz), takes hidden state 17, normalises it with the
published Emilia mean/variance (`w2vbert2_mean_var_stats_emilia.pt`), average-pools it to the frame
rate and quantizes it, through ConvNeXt blocks, with one 16384-entry VQ: codebook 1. The waveform
stream is a DAC encoder at 24 kHz whose latent, minus the decoded semantic latent, goes through the
acoustic RVQ: codebooks 2.. (7 of 4096 entries at 12.5 Hz, 11 of 1024 at 25 Hz). The decoder is
DAC's, on the sum. The files are on the hub (`amphion/dualcodec`: both checkpoints and the statistics;
`facebook/w2v-bert-2.0`); the package's README downloads them with `huggingface-cli` and passes the
folders to `get_model` and `Inference`, which is what `load` does with the hub-cache snapshot folders.
`Inference` autocasts to fp16 on CUDA (its default); on the CPU we turn that off for the codec (fp16
convolutions take a slow path there), while its w2v-BERT pass is always autocast, as the package does.

Mixed codebook sizes: a frame costs log2(16384) + (k - 1) log2(acoustic size) bits, so the operating
points are 14 + 12 (k - 1) bits x 12.5 Hz and 14 + 10 (k - 1) bits x 25 Hz. `CodecInfo.codebook_sizes`
holds the per-codebook sizes (an operating point picks the right number of codebooks; `Codes` count each
codebook's own bits) and the codes carry them in `extras["codebook_sizes"]`; `codebook_size` is the
largest, so every token lies below it.

Frames: w2v-BERT's filterbank (25 ms windows every 10 ms, not centred) yields k frames only from k
frames of audio plus 15 ms, so the package's call on a clip of exactly k frames gives k - 1 codes and
drops the last frame. We zero-pad a clip to ceil(n / hop) frames plus those 15 ms (360 samples), run
the package's `Inference.encode` on that, and keep ceil(n / hop) codes; decoding gives hop samples per
code (the decoder's odd stride loses 4 at the end, which the engine pads).

Not exact over long inputs (`exact = False`): w2v-BERT attends over the whole window and the feature
extractor normalises its filterbanks over it. Long clips go through the engine in 10 s windows with the
convolutions' reach of real signal either side (DAC encoder, causal ConvNeXt blocks; 48 frames for both
official models), so the waveform stream's latent equals one pass and only the semantic stream differs
at seams; decoding in windows with the decoder's reach either side (52 / 35 frames) equals one pass.

Tests use tiny random weights: the package fixes the semantic width at 1024, so the test w2v-BERT is
1024 wide with one layer, and `load` reads its last hidden state where the real (24-layer) model's
17th is read.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import WeightsMismatch
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

HUB_ID = "amphion/dualcodec"
W2V_ID = "facebook/w2v-bert-2.0"
W2V_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
STATS = "w2vbert2_mean_var_stats_emilia.pt"  # `_build_semantic_model`'s meanvar_fname
SAMPLE_RATE = 24_000
SEMANTIC_RATE = 16_000  # `Inference.encode` resamples 24 kHz -> 16 kHz for w2v-BERT
FRONT_END_TAIL = 360  # (400 - 160) samples at 16 kHz: one filterbank window past its last shift, at 24 kHz


@dataclass(frozen=True)
class Model:
    """One official DualCodec model: the package's id, config and file, and its codebooks."""

    package_id: str  # `dualcodec.get_model`'s model_id
    config: str  # the package's conf/model/*.yaml (`model_id_to_cfgname`)
    checkpoint: str  # the file in amphion/dualcodec (`model_id_to_fname`)
    frame_rate: float
    acoustic_size: int
    acoustic_codebooks: int
    official: dict  # the yaml's widths as `shape_of` reads them back from a checkpoint


SEMANTIC_SIZE = 16_384
COMMON = dict(latent_dim=1024, convnext_dim=768, convnext_layers=4, codebook_dim=8, semantic_codebook_size=16_384,
              semantic_codebook_dim=8, decoder_dim=1536)
MODELS = {
    "dualcodec_12hz": Model("12hz_v1", "dualcodec_12hz_16384_4096_8vq.yaml", "dualcodec_12hz_16384_4096.safetensors",
                            12.5, 4096, 7, dict(COMMON, encoder_dim=32, n_codebooks=7, codebook_size=4096)),
    "dualcodec_25hz": Model("25hz_v1", "dualcodec_25hz_16384_1024_12vq.yaml", "dualcodec_25hz_16384_1024.safetensors",
                            25.0, 1024, 11, dict(COMMON, encoder_dim=64, n_codebooks=11, codebook_size=1024)),
}
# Tiny widths (tests). The 1024-wide semantic path is fixed in the package's code (ConvNeXt input and
# output convolutions), so the DAC latent stays 1024 wide; rates, codebooks and their sizes stay.
SMALL = dict(encoder_dim=4, decoder_dim=32, convnext_dim=16, convnext_layers=1)
# A 1-layer w2v-BERT 2.0: its width (1024) is what DualCodec reads; everything else shrunk.
SMALL_W2V = dict(num_hidden_layers=1, num_attention_heads=16, intermediate_size=16, conv_depthwise_kernel_size=3)
# facebook/w2v-bert-2.0's preprocessor_config.json.
W2V_PREPROCESSOR = dict(feature_size=80, num_mel_bins=80, sampling_rate=16_000, stride=2, padding_value=1,
                        padding_side="right", return_attention_mask=True)


def _info(codec_id: str) -> CodecInfo:
    m = MODELS[codec_id]
    sizes = (SEMANTIC_SIZE,) + (m.acoustic_size,) * m.acoustic_codebooks
    rates = tuple(round(sum(math.log2(s) for s in sizes[:k]) * m.frame_rate / 1000, 4)
                  for k in range(1, len(sizes) + 1))
    bits = int(math.log2(m.acoustic_size))
    return CodecInfo(
        id=codec_id, family="DualCodec", sample_rate=SAMPLE_RATE, channels=1, frame_rate=m.frame_rate,
        codebook_size=SEMANTIC_SIZE, codebook_sizes=sizes, max_codebooks=len(sizes), bitrates_kbps=rates,
        default_bitrate_kbps=rates[7],  # the README's example: 8 quantizers
        quantizer=f"RVQ: 1 semantic VQ ({SEMANTIC_SIZE} codes, on w2v-BERT 2.0 features) + {m.acoustic_codebooks} "
                  f"acoustic ({m.acoustic_size} codes each); DAC-style factorised 8-dim, L2-normalised codes",
        domain="speech",
        paper="Li et al., DualCodec: A Low-Frame-Rate, Semantically-Enhanced Neural Audio Codec for Speech "
              "Generation, Interspeech 2025 (arXiv:2505.13000)",
        code_url="https://github.com/jiaqili3/DualCodec",
        weights=f"Hugging Face {HUB_ID}: {m.checkpoint} + {STATS}, and {W2V_ID} (semantic features); "
                "read by the package's get_model and Inference",
        licence="code MIT (dualcodec package, LICENSE); weights: not stated in the sources read here "
                f"(see the {HUB_ID} and {W2V_ID} model cards)",
        discriminators="DAC's: multi-period (periods 2, 3, 5, 7, 11) + multi-band multi-resolution STFT "
                       "(FFT 2048, 1024, 512)",
        training_data="100K hours of Emilia (README, 'Available models')",
        hub_id=HUB_ID,
        sources=(f"dualcodec 0.3.3 on PyPI: conf/model/{m.config} (rates, codebooks, sizes, causal ConvNeXt, "
                 "discriminator), codec_model/get_model.py (model ids, file names), codec_model/"
                 "inference_with_semantic.py (w2v-BERT 2.0 hidden state 17, mean/variance file, 16 kHz), "
                 "codec_model/dual_model.py, codec_model/discriminator.py (Discriminator defaults)",
                 "GitHub jiaqili3/DualCodec README (models table: frame rates, 1-8 / 1-12 quantizers, 16384 / "
                 "4096 / 1024 codes, 100K hours Emilia; hub files; Interspeech 2025) and LICENSE (MIT)",
                 "arXiv:2505.13000 (abstract); dualcodec.github.io"),
        notes=f"Codebook 1 is semantic (16384 codes from w2v-BERT 2.0 features), codebooks 2-{len(sizes)} "
              f"acoustic ({m.acoustic_size} codes): a frame of k codebooks costs 14 + {bits}(k - 1) bits at "
              f"{m.frame_rate:g} Hz. "
              "Encoding needs the 2.3 GB w2v-BERT 2.0 beside the codec.",
    )


INFOS = [_info(codec_id) for codec_id in MODELS]


# --- weights ------------------------------------------------------------------------------------------

def w2v_folder() -> Path:
    """The w2v-BERT 2.0 snapshot folder (the README's `w2v_path`), in the hub cache."""
    return weights.hub_file(W2V_ID, W2V_FILES[0]).parent


def _parts(codec_id: str) -> list[Path]:
    """Every file the package reads, the codec's checkpoint last."""
    return [weights.hub_file(W2V_ID, name) for name in W2V_FILES] + \
        [weights.hub_file(HUB_ID, STATS), weights.hub_file(HUB_ID, MODELS[codec_id].checkpoint)]


def weight_spec(codec_id: str) -> weights.WeightSpec:
    """Present once w2v-BERT 2.0, the mean/variance file and the checkpoint are all there; until then the
    location is the first missing file (so messages say what is missing and `download` fetches it)."""

    def location() -> Path:
        return next((path for path in _parts(codec_id) if not path.exists()), _parts(codec_id)[-1])

    def fetch() -> None:
        from huggingface_hub import snapshot_download

        snapshot_download(W2V_ID, allow_patterns=list(W2V_FILES))
        snapshot_download(HUB_ID, allow_patterns=[MODELS[codec_id].checkpoint, STATS])

    return weights.WeightSpec(model_id=codec_id, source=f"the Hugging Face hub ({HUB_ID}, {W2V_ID})",
                              location=location, fetch=fetch)


# --- building ----------------------------------------------------------------------------------------

_HYDRA = threading.Lock()  # hydra's config store is global: one composition at a time


def compose(codec_id: str, widths: dict | None = None):
    """`hydra.utils.instantiate` of the package's model yaml (as `get_model` does), with `widths` over it."""
    from importlib.resources import files

    import hydra
    from hydra import initialize_config_dir

    overrides = [f"++model.{key}={value}" for key, value in (widths or {}).items()]
    with _HYDRA, initialize_config_dir(version_base="1.3", config_dir=str(files("dualcodec") / "conf" / "model")):
        cfg = hydra.compose(config_name=MODELS[codec_id].config, overrides=overrides)
    return hydra.utils.instantiate(cfg.model)


def shape_of(checkpoint: Path) -> dict[str, int]:
    """The yaml's widths read back from a checkpoint's tensor shapes (its header only)."""
    from safetensors import safe_open

    with safe_open(str(checkpoint), "pt") as f:
        names = list(f.keys())  # a safe_open handle is not a mapping
        return widths_of({key: list(f.get_slice(key).get_shape()) for key in names})


def widths_of(shapes: dict[str, list[int]]) -> dict[str, int]:
    """The yaml's widths (keys as `Model.official`) from a state dict's tensor shapes (weight-normed
    convolutions keep `weight_v` shaped (out, in, kernel))."""

    def count(prefix: str, suffix: str) -> int:
        return sum(key.startswith(prefix) and key.endswith(suffix) for key in shapes)

    codebook = shapes["dac.quantizer.quantizers.0.codebook.weight"]
    semantic = shapes["semantic_vq.quantizers.0.codebook.weight"]
    return dict(latent_dim=shapes["dac.quantizer.quantizers.0.in_proj.weight_v"][1],
                convnext_dim=shapes["convnext_encoder.0.weight_v"][0],
                convnext_layers=count("convnext_encoder.", ".dwconv.weight"),
                codebook_dim=codebook[1], semantic_codebook_size=semantic[0], semantic_codebook_dim=semantic[1],
                decoder_dim=shapes["dac.decoder.model.0.weight_v"][0],
                encoder_dim=shapes["dac.encoder.block.0.weight_v"][0],
                n_codebooks=count("dac.quantizer.quantizers.", ".codebook.weight"), codebook_size=codebook[0])


def build_model(codec_id: str, checkpoint: Path):
    """The official file through `dualcodec.get_model(model_id, folder)`; a checkpoint of other widths
    (tiny random-weight tests) through the same yaml with those widths and the same
    `safetensors.torch.load_model` call."""
    import dualcodec
    import safetensors.torch

    m = MODELS[codec_id]
    try:
        widths = shape_of(checkpoint)
    except Exception as exc:  # a damaged or foreign file: safetensors' and our key errors alike
        raise WeightsMismatch(codec_id, checkpoint, f"its tensors are not DualCodec's ({type(exc).__name__}: "
                                                    f"{str(exc)[:200]})") from exc
    if widths == m.official:
        # the package prints its progress: keep stdout for our own output (`codec-arena list --json`)
        with _HYDRA, contextlib.redirect_stdout(sys.stderr):
            return dualcodec.get_model(m.package_id, str(checkpoint.parent))
    model = compose(codec_id, widths)
    safetensors.torch.load_model(model, str(checkpoint))
    return model.eval()


def load(info: CodecInfo, device: str) -> DualCodecCodec:
    import dualcodec
    import torch

    checkpoint = weights.download(weight_spec(info.id))
    model = build_model(info.id, checkpoint)
    kind = torch.device(device).type  # Inference uses its device as autocast's device_type
    # autocast: the package's fp16 default on CUDA; on the CPU fp16 convolutions take a slow path
    with contextlib.redirect_stdout(sys.stderr):
        inference = dualcodec.Inference(dualcodec_model=model, dualcodec_path=str(checkpoint.parent),
                                        w2v_path=str(w2v_folder()), device=kind, autocast=kind == "cuda")
    semantic = inference.semantic_cfg
    layers = semantic.semantic_model.config.num_hidden_layers
    if layers < semantic.output_idx:  # the real w2v-BERT 2.0 has 24 layers; tiny random ones (tests) fewer
        if not weights.is_random(checkpoint):
            raise WeightsMismatch(info.id, w2v_folder(), f"its w2v-BERT has {layers} layers, and DualCodec reads "
                                                         f"hidden state {semantic.output_idx}")
        semantic.output_idx = layers
    return DualCodecCodec(info, inference, checkpoint)


# --- the adapter -------------------------------------------------------------------------------------

class DualCodecCodec(ChunkedCodec):
    """The package's `Inference.encode(audio, n_quantizers)` and `Inference.decode(semantic, acoustic)`
    per window of the engine; tokens [K, T] are the semantic codes then the acoustic ones."""

    exact = False  # w2v-BERT attends over the whole window; its filterbanks are normalised over it

    def __init__(self, info: CodecInfo, inference, checkpoint: Path) -> None:
        import torch

        from .chunked import receptive_field

        self.info, self.inference, self.checkpoint, self.device = info, inference, checkpoint, inference.device
        self.codec = inference.model  # the package's DualCodec module
        # both networks, so the model cache counts w2v-BERT's memory too
        self.model = torch.nn.ModuleDict({"dualcodec": self.codec, "w2v_bert": inference.semantic_cfg.semantic_model})
        dac = self.codec.dac
        self.hop = int(dac.hop_length)
        convnext = round(receptive_field(self.codec.convnext_encoder)[0]) - 1  # causal: frames to the left
        # The DAC halves are symmetric: half their reach each side (+ 1 for the strided layers' offsets).
        # Encoding, the acoustic stream sees the DAC encoder's reach and the semantic latent, which passes
        # the causal ConvNeXt encoder and decoder (twice their reach, to the left); decoding, the ConvNeXt
        # decoder feeds the DAC decoder (the reaches add).
        self.context_units = max(math.ceil(receptive_field(dac.encoder)[0] / self.hop / 2) + 1, 2 * convnext)
        self.decode_context_units = math.ceil(receptive_field(dac.decoder)[0] / 2) + 1 + convnext

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[1, 1, n] -> codes [1, K, ceil(n / hop)]."""
        import torch

        semantic, acoustic = self.inference.encode(self._padded(x), n_quantizers=point.codebooks)
        tokens = semantic if acoustic is None else torch.cat([semantic, acoustic], dim=1)
        return tokens[..., : self._frames(x)].cpu().numpy().astype(np.int64)

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[1, 1, n] -> both streams before quantization, [1, D_semantic + 1024, ceil(n / hop)]: the
        ConvNeXt encoder's output (what the semantic VQ takes) over the DAC encoder's."""
        import torch

        seen = {}
        hooks = [module.register_forward_hook(lambda m, args, out, name=name: seen.__setitem__(name, out))
                 for name, module in (("semantic", self.codec.convnext_encoder), ("acoustic", self.codec.dac.encoder))]
        try:
            self.inference.encode(self._padded(x), n_quantizers=self.info.max_codebooks)
        finally:
            for hook in hooks:
                hook.remove()
        frames = self._frames(x)
        latent = torch.cat([seen["semantic"][..., :frames].float(), seen["acoustic"][..., :frames].float()], dim=1)
        return latent.cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[1, K, T] -> [1, 1, about T x hop]."""
        import torch

        codes = torch.from_numpy(np.ascontiguousarray(tokens)).to(self.device)
        acoustic = codes[:, 1:] if codes.shape[1] > 1 else None
        return self.inference.decode(codes[:, :1], acoustic).float().cpu().numpy()

    def _frames(self, x: np.ndarray) -> int:
        return max(1, -(-x.shape[-1] // self.hop))

    def _padded(self, x: np.ndarray):
        """[1, 1, n] -> [1, 1, ceil(n / hop) x hop + 360]: zeros after the signal, so w2v-BERT's filterbank
        gives exactly ceil(n / hop) frames."""
        import torch
        import torch.nn.functional as F

        return F.pad(torch.from_numpy(x), (0, self._frames(x) * self.hop + FRONT_END_TAIL - x.shape[-1]))


# --- random weights (tests, demos) ---------------------------------------------------------------------

def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """The three downloads in the hub-cache layout, random: w2v-BERT 2.0 (`save_pretrained` + its
    preprocessor config), the mean/variance file (measured on noise through that w2v-BERT, as the
    official one was measured on Emilia) and the DualCodec checkpoint (`safetensors.torch.save_model` of
    the package's model built from its yaml, tiny widths if `small`)."""
    import tempfile

    import safetensors.torch
    import torch
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    w2v = Wav2Vec2BertModel(Wav2Vec2BertConfig(**(SMALL_W2V if small else {}))).eval()
    extractor = SeamlessM4TFeatureExtractor(**W2V_PREPROCESSOR)
    with tempfile.TemporaryDirectory() as folder:
        w2v.save_pretrained(folder)
        extractor.save_pretrained(folder)
        weights.hub_snapshot(W2V_ID, source=Path(folder))
    mean, var = _feature_stats(w2v, extractor)
    snapshot = weights.hub_snapshot(HUB_ID)
    torch.save({"mean": mean, "var": var}, snapshot / STATS)
    model = compose(codec_id, {**MODELS[codec_id].official, **(SMALL if small else {})}).eval()
    safetensors.torch.save_model(model, str(snapshot / MODELS[codec_id].checkpoint))
    return weight_spec(codec_id).path


def _feature_stats(w2v, extractor):
    """Mean and variance over frames of the hidden state `Inference` reads (17, or the last of a shallower
    model), on 2 s of noise: what the published file holds for Emilia."""
    import torch

    noise = torch.randn(1, 2 * SEMANTIC_RATE, generator=torch.Generator().manual_seed(0)) * 0.1
    inputs = extractor(noise, sampling_rate=SEMANTIC_RATE, return_tensors="pt")
    with torch.inference_mode():
        hidden = w2v(**inputs, output_hidden_states=True).hidden_states
    feat = hidden[min(17, len(hidden) - 1)][0]  # (T, 1024)
    return feat.mean(0), feat.var(0)

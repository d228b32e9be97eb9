"""FunCodec (Du et al., 2023): Alibaba DAMO's released 16 kHz speech codecs, through the official
`funcodec` package (PyPI `ms-funcodec`, the same code as the GitHub repository).

Loading is the package's inference entry, `funcodec.bin.codec_inference.Speech2Token`, built from the
hub repository's `config.yaml` and `model.pth`, with one change to the config it is handed: the
time-domain (EnCodec-style) model class builds its training-loss mel filters with an unconditional
`.cuda()` (`funcodec.models.codec_basic.Audio2Mel`), so the official builder crashes on a machine
without CUDA. We pass it a copy of `config.yaml` with `multi_spectral_window_powers_of_two: []`; those
filters only serve the training loss, and the package's own state-dict filter skips their buffers in
`model.pth`. The discriminator, also training-only, is dropped after loading. The package logs with
`logging.info(...)`, which would install a stderr handler on the root logger for the whole process;
we keep a NullHandler there while package code runs (`_package_call`).

Loudness: the models divide their input by its RMS before encoding and multiply the decoder output
back by it (`inference(use_scale=True)`), but the package's token-only decode leaves that scale out.
We keep it in `Codes.extras["scales"]`, one float per frame (side data, not counted in the bitrate;
equal over a window), so `decode(encode(x))` equals the package's one-pass `inference` output.

Long input: the released models encode a whole file in one pass (`segment_dur: null`), so memory
grows with length. We run the package's calls through our streaming engine (`stream`) instead:
clips up to a window (10 s) are one pass, exactly as the package runs them; longer ones go in equal
windows with about 1 s of real signal each side, computed and dropped, so every frame is coded once
(no bitrate overhead). The seams only approximate one pass (`exact = False`): the encoder and the
decoder each hold an LSTM that carries state over the whole input, every convolution is followed by a
GroupNorm over the whole input's time (`norm: time_group_norm`), and each window is scaled by the
RMS of what it sees (context included). One pass always emits ceil(n / hop) frames here: the
frequency-domain models' centred STFT gives one frame more when n is a multiple of the hop (centred
on the clip's end), which we drop, so their last 10 ms decode as silence for those lengths, as they
do for the package itself when n / hop has a remainder over half a hop.

Bitrate: n codebooks of 1024 entries at 16000/ds frames per second; we pass the package
`bit_width = n x 10 x 16000/ds`, for which its quantizer uses exactly n codebooks.
"""

from __future__ import annotations

import copy
import logging
import math
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import RequestError, WeightsUnavailable
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec, receptive_field

SAMPLE_RATE = 16_000
CODEBOOK_SIZE = 1024
MAX_CODEBOOKS = 32
CONTEXT_SECONDS = 1.0  # context each side of a window: LSTMs and GroupNorms over time, so be generous
MIN_SAMPLES = 320  # the frequency-domain models' centred STFT (n_fft 512) needs more than 256 samples
DEFAULT_KBPS = 2.0  # egs/LibriTTS/codec/encoding_decoding.sh: bit_width=2000
CODE_URL = "https://github.com/alibaba-damo-academy/FunCodec"

# id: (hub repository, encoder hop in samples, "time" or conv_group_ratio of the frequency-domain model)
MODELS: dict[str, tuple[str, int, str | int]] = {
    "funcodec_en_16k_nq32ds320": ("alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds320-pytorch", 320, "time"),
    "funcodec_en_16k_nq32ds640": ("alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds640-pytorch", 640, "time"),
    "funcodec_zh_en_16k_nq32ds320": (
        "alibaba-damo/audio_codec-encodec-zh_en-general-16k-nq32ds320-pytorch", 320, "time"),
    "funcodec_zh_en_16k_nq32ds640": (
        "alibaba-damo/audio_codec-encodec-zh_en-general-16k-nq32ds640-pytorch", 640, "time"),
    "funcodec_freq_16k_gr8nq32ds320": (
        "alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr8nq32ds320-pytorch", 320, 8),
    "funcodec_freq_16k_gr1nq32ds320": (
        "alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr1nq32ds320-pytorch", 320, 1),
}

_COMMON = dict(
    family="FunCodec", sample_rate=SAMPLE_RATE, channels=1, codebook_size=CODEBOOK_SIZE,
    max_codebooks=MAX_CODEBOOKS, default_bitrate_kbps=DEFAULT_KBPS, domain="speech",
    quantizer="RVQ (k-means init, EMA codebooks, structured quantizer dropout)",
    paper="Du et al., FunCodec: A Fundamental, Reproducible and Integrable Open-source Toolkit for "
          "Neural Speech Codec, 2023 (arXiv:2309.07405)",
    code_url=CODE_URL, licence="MIT (code; the model cards say MIT for the weights)",
    discriminators="multi-scale STFT (EnCodec's MS-STFT; the recipes' encodec_multi_scale_stft_discriminator)",
)


def _info(codec_id: str, training_data: str, notes: str) -> CodecInfo:
    repo, hop, _ = MODELS[codec_id]
    frame_rate = SAMPLE_RATE / hop
    per_codebook = math.log2(CODEBOOK_SIZE) * frame_rate / 1000
    return CodecInfo(
        id=codec_id, frame_rate=frame_rate,
        # the codebook counts its recipe trains with (quantizer dropout); ds640 never trains one alone
        bitrates_kbps=tuple(n * per_codebook for n in ((1, 2, 4, 8, 16, 32) if hop == 320 else (2, 4, 8, 16, 32))),
        weights=f"Hugging Face hub {repo} (model.pth + config.yaml; also on ModelScope as damo/{repo.split('/')[1]})",
        training_data=training_data, hub_id=repo, notes=notes,
        sources=(f"{CODE_URL} README (Available models)", f"https://huggingface.co/{repo}",
                 "egs/LibriTTS/codec/conf/*.yaml (recipe configs)", "arXiv:2309.07405"),
        **_COMMON,
    )


INFOS = [
    _info("funcodec_en_16k_nq32ds320", "LibriTTS",
          "Time-domain SEANet (EnCodec-style) model, 14.85M parameters, 50 frames/s."),
    _info("funcodec_en_16k_nq32ds640", "LibriTTS",
          "Time-domain SEANet (EnCodec-style) model, 57.83M parameters, 25 frames/s."),
    _info("funcodec_zh_en_16k_nq32ds320", "LibriTTS, AISHELL, 3D-Speaker and in-house data (model card)",
          "Time-domain model for English and Chinese, 14.85M parameters, 50 frames/s."),
    _info("funcodec_zh_en_16k_nq32ds640", "LibriTTS, AISHELL, 3D-Speaker and in-house data (model card)",
          "Time-domain model for English and Chinese, 57.83M parameters, 25 frames/s."),
    _info("funcodec_freq_16k_gr8nq32ds320", "LibriTTS",
          "FreqCodec: codes the STFT magnitude and phase with 2-D convolutions; 4.50M parameters."),
    _info("funcodec_freq_16k_gr1nq32ds320", "LibriTTS",
          "FreqCodec with the most grouped convolutions: 0.52M parameters, 0.34 GFLOPs."),
]


def weight_spec(codec_id: str) -> weights.WeightSpec:
    repo = MODELS[codec_id][0]
    return weights.hub_spec(codec_id, repo, "model.pth", allow_patterns=["model.pth", "config.yaml"])


class _SkipLossFilters(logging.Filter):
    """Drops the package's notes that the training-loss mel filters in model.pth were skipped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Filter out mel_spec_transforms.")


# One package call at a time: the guard below changes the root logger while package code runs.
_PACKAGE_LOCK = threading.RLock()


@contextmanager
def _package_call() -> Iterator[None]:
    """Run package code without changing the process's logging setup. The package logs through the
    module-level `logging.info`/`logging.warning`, which call `logging.basicConfig()` (a stderr handler
    on the root logger, for good) when the root logger has no handler; a NullHandler on the root while
    the package runs prevents that. The expected notes about skipped loss-filter buffers are dropped."""
    root, guard, skip_notes = logging.getLogger(), logging.NullHandler(), _SkipLossFilters()
    with _PACKAGE_LOCK:
        added = not root.handlers
        if added:
            root.addHandler(guard)
        root.addFilter(skip_notes)
        try:
            yield
        finally:
            root.removeFilter(skip_notes)
            if added:
                root.removeHandler(guard)


def _inference_config(config: dict) -> dict:
    """The released config, without the training-loss mel filters (built with `.cuda()`, see above)."""
    config = copy.deepcopy(config)
    config.setdefault("model_conf", {})["multi_spectral_window_powers_of_two"] = []
    return config


def build_speech2token(config_path: Path, model_path: Path, device: str):
    """`Speech2Token` from config.yaml and model.pth, as the package's own inference script builds it."""
    import yaml
    from funcodec.bin.codec_inference import Speech2Token

    config = _inference_config(yaml.safe_load(config_path.read_text(encoding="utf-8")))
    with tempfile.TemporaryDirectory(prefix="funcodec-") as tmp, _package_call():
        patched = Path(tmp) / "config.yaml"
        patched.write_text(yaml.safe_dump(config), encoding="utf-8")
        speech2token = Speech2Token(config_file=patched, model_file=model_path, device=device)
    speech2token.model.discriminator = None  # training only
    return speech2token


def load(info: CodecInfo, device: str) -> FunCodec:
    checkpoint = weights.download(weight_spec(info.id))
    config = checkpoint.parent / "config.yaml"
    if not config.exists():
        raise WeightsUnavailable(info.id, config, "config.yaml is missing beside model.pth")
    return FunCodec(info, build_speech2token(config, checkpoint, device), device, checkpoint)


class FunCodec(ChunkedCodec):
    """FunCodec through the engine: the package's `Speech2Token` encode (RMS scale, encoder,
    quantizer at the bit width) and decode per window, about 1 s of context each side (its LSTMs
    and GroupNorms over time make the seams approximate); the window's scale rides along per frame."""

    exact = False  # LSTMs and whole-input GroupNorms in the encoder and the decoder
    batchable = True
    pads_to_frames = False  # the scale and the GroupNorms see every sample: only equal lengths batch
    side_keys = ("scales",)

    def __init__(self, info: CodecInfo, speech2token, device: str, checkpoint: Path) -> None:
        self.info, self.speech2token, self.device, self.checkpoint = info, speech2token, device, checkpoint
        self.model = speech2token.model
        self.hop = MODELS[info.id][1]
        second = math.ceil(CONTEXT_SECONDS * SAMPLE_RATE / self.hop)
        reach, stride = receptive_field(self.model.encoder)  # in samples or STFT frames: stride of them a frame
        self.context_units = max(second, math.ceil(reach / stride) + 2)
        self.decode_context_units = max(second, math.ceil(receptive_field(self.model.decoder)[0]) + 2)

    def bit_width(self, codebooks: int) -> int:
        """The package's bandwidth argument (bits/s) that selects exactly `codebooks` codebooks."""
        return codebooks * round(math.log2(CODEBOOK_SIZE) * SAMPLE_RATE / self.hop)

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint):
        """[B, 1, n] -> codes [B, K, ceil(n / hop)] and {"scales": [B, ceil(n / hop)]}, the window's RMS."""
        import torch

        frames = max(1, math.ceil(x.shape[-1] / self.hop))
        with _package_call():
            indices, embeddings, _, _ = self.speech2token(self._wav(x)[:, 0], run_mod="encode",
                                                          bit_width=self.bit_width(point.codebooks))
        tokens = indices[0].permute(1, 0, 2)[:, :, :frames]  # (codebooks, batch, frames) -> (batch, ...)
        scale = embeddings[0][1]
        scale = torch.ones(x.shape[0], 1) if scale is None else scale.reshape(-1, 1)
        return tokens.cpu().numpy(), {"scales": scale.float().cpu().numpy().repeat(frames, axis=1)}

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 1, n] -> the encoder output (of the RMS-scaled input) [B, D, ceil(n / hop)]."""
        frames = max(1, math.ceil(x.shape[-1] / self.hop))
        with _package_call():
            emb = self.model._encode(self._wav(x))[0][0]  # (batch, frames, dim)
        return emb.transpose(1, 2)[:, :, :frames].cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] and side["scales"] [B, T] -> [B, 1, T x hop] (frequency-domain: half a hop less),
        each frame's samples times its scale."""
        import torch

        scales = np.asarray(side.get("scales", np.zeros((0, 0))), np.float32)
        if scales.shape != tokens.shape[::2]:
            raise RequestError(f"These codes lack FunCodec's per-frame scales: encode with {self.info.id} in "
                               "Codec Arena, or keep the codes file it wrote.")
        with _package_call():
            # the package's decode takes (batch, frames, codebooks) and uses every codebook given
            wav = self.speech2token(torch.from_numpy(tokens).to(self.device).permute(0, 2, 1), run_mod="decode")[2]
        wav = wav.float().cpu().numpy()
        per_sample = scales.repeat(self.hop, axis=1)[:, : wav.shape[-1]]
        return wav * per_sample[:, None]

    def _wav(self, x: np.ndarray):
        """[B, 1, n] on the device, zero-padded to MIN_SAMPLES if shorter (the STFT's minimum)."""
        import torch

        wav = torch.from_numpy(x).to(self.device)
        if wav.shape[-1] < MIN_SAMPLES:
            wav = torch.nn.functional.pad(wav, (0, MIN_SAMPLES - wav.shape[-1]))
        return wav


# --- random weights for tests and demos --------------------------------------------------------
# The fields of the official recipes (egs/LibriTTS/codec/conf/) that build the model; the released
# config.yaml files carry these plus training settings the builder does not read.

def _time_config(hop: int) -> dict:
    """encodec_16k_n32_600k_step.yaml (hop 320) and encodec_16k_n32_600k_step_ds640.yaml (hop 640)."""
    seanet = dict(norm="time_group_norm", causal=False, **({"ratios": [8, 5, 4, 2, 2]} if hop == 640 else {}))
    return dict(
        input_size=1, sampling_rate=SAMPLE_RATE,
        encoder="encodec_seanet_encoder", encoder_conf=dict(seanet),
        quantizer="costume_quantizer", quantizer_conf=_quantizer_conf(hop),
        decoder="encodec_seanet_decoder", decoder_conf=dict(seanet),
        **_discriminator(32), model="encodec", model_conf=_model_conf(),
    )


def _freq_config(group_ratio: int) -> dict:
    """freqcodec_mag_phase_16k_n32_600k_step.yaml, with the released models' group ratio (the `grN` of
    their names) as `conv_group_ratio`. The released config.yaml files could not be read here, so this
    is the recipe's structure, not necessarily the released width (their cards say 4.50M and 0.52M)."""
    seanet2d = dict(ratios=[[4, 1], [4, 1], [4, 2], [4, 1]], norm="time_group_norm", norm_params=dict(num_groups=1),
                    causal=False, dilation_base=1, conv_group_ratio=group_ratio)
    return dict(
        input_size=3, sampling_rate=SAMPLE_RATE,
        encoder="encodec_seanet_encoder_2d", encoder_conf=dict(seanet2d),
        quantizer="costume_quantizer", quantizer_conf=_quantizer_conf(320),
        decoder="encodec_seanet_decoder_2d", decoder_conf=dict(seanet2d, channels=3),
        **_discriminator(32), model="freq_codec",
        model_conf=dict(_model_conf(), codec_domain=["mag_phase", "mag_phase"]),
    )


def _quantizer_conf(hop: int) -> dict:
    return dict(codebook_size=CODEBOOK_SIZE, num_quantizers=MAX_CODEBOOKS, ema_decay=0.99, kmeans_init=True,
                sampling_rate=SAMPLE_RATE, quantize_dropout=True,
                rand_num_quant=[1, 2, 4, 8, 16, 32] if hop == 320 else [2, 4, 8, 16, 32], use_ddp=True,
                encoder_hop_length=hop)


def _discriminator(filters: int) -> dict:
    return dict(discriminator="multiple_disc", discriminator_conf=dict(
        disc_conf_list=[dict(name="encodec_multi_scale_stft_discriminator", filters=filters)]))


def _model_conf() -> dict:
    return dict(odim=128, multi_spectral_window_powers_of_two=[5, 6, 7, 8, 9, 10], target_sample_hz=SAMPLE_RATE,
                audio_normalize=True, use_power_spec_loss=True, segment_dur=None, overlap_ratio=None)


def recipe_config(codec_id: str, small: bool = False) -> dict:
    """The config.yaml we write for random weights. `small` narrows the networks (and, for the
    frequency-domain models, groups every convolution pair, which narrow layers need)."""
    _, hop, kind = MODELS[codec_id]
    config = _time_config(hop) if kind == "time" else _freq_config(int(kind))
    if small:
        narrow = dict(n_filters=4 if kind == "time" else 8, seq_layer_num=1)
        if kind != "time":
            narrow["conv_group_ratio"] = 1
        config["encoder_conf"].update(narrow, dimension=16)
        config["decoder_conf"].update(narrow)
        config.update(_discriminator(4))
    return config


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """The real model (the package's builder) with random weights, saved as model.pth + config.yaml in
    the hub-cache snapshot the loader reads."""
    import argparse

    import torch
    import yaml
    from funcodec.models.codec_freq import Audio2Mel  # the CPU twin of the time-domain model's
    from funcodec.tasks.gan_speech_codec import GANSpeechCodecTask

    from ..weights import hub_snapshot

    config = recipe_config(codec_id, small)
    with _package_call():
        model = GANSpeechCodecTask.build_model(argparse.Namespace(**_inference_config(config))).eval()
    # The codebooks start as zeros marked un-initialised (training's first step would run k-means on
    # them). Random codebooks spread like the random encoder's output for noise (the first around its
    # mean, the residual ones around zero), marked initialised, give varied codes.
    with torch.no_grad(), _package_call():
        latent = model._encode(torch.randn(1, 1, SAMPLE_RATE))[0][0][0]  # (frames, dim)
    rvq = model.quantizer.rq.model
    rvq.embed.normal_().mul_(latent.std(0))
    rvq.embed[0] += latent.mean(0)
    rvq.embed_avg.copy_(rvq.embed)
    rvq.cluster_size.fill_(1.0)
    rvq.inited.fill_(1.0)
    state = model.state_dict()
    # A trained model.pth also holds the training-loss mel filters' buffers, which the loader skips.
    powers = config["model_conf"]["multi_spectral_window_powers_of_two"]
    for i, mel in enumerate(Audio2Mel(sampling_rate=SAMPLE_RATE, win_length=2**p, hop_length=2**p // 4,
                                      n_mel_channels=64) for p in powers):
        state.update({f"mel_spec_transforms.{i}.{name}": tensor for name, tensor in mel.state_dict().items()})
    with tempfile.TemporaryDirectory(prefix="funcodec-") as tmp:
        checkpoint = Path(tmp) / "model.pth"
        torch.save(state, checkpoint)
        snapshot = hub_snapshot(MODELS[codec_id][0], files={
            "model.pth": checkpoint, "config.yaml": yaml.safe_dump(config).encode()})
    return snapshot / "model.pth"

"""S3Tokenizer, CosyVoice's supervised semantic speech tokenizers (v1, v1 25 Hz, v2, v3): encode only.

They have no decoder. CosyVoice turns their tokens back into speech with a flow-matching model
conditioned on a speaker and a vocoder, so a token here has no audio of its own. They take part
wherever tokens are enough (the Tokens tab, `codec-arena encode`, the Overview), and Compare, the
round trip, listening tests and the benchmark refuse them with that reason (`CodecInfo.encode_only`).

The official weights are ONNX graphs in CosyVoice's model repositories on the Hugging Face hub
(`speech_tokenizer_v1.onnx`, `speech_tokenizer_v2.onnx`, `speech_tokenizer_v3.onnx`). We run them as
CosyVoice's frontend does (`cosyvoice/cli/frontend.py`, `_extract_speech_token`): a Whisper 128-band
log-mel of the 16 kHz clip (`whisper.log_mel_spectrogram(speech, n_mels=128)`: here transformers'
`WhisperFeatureExtractor`, the same features to 1e-7) into an ONNX Runtime session, inputs
(feats [1, 128, T], feats_length [T]), output tokens. The `s3tokenizer` package that Codec-SUPERB uses
converts the same files to torch, but it imports `onnx`, which needs protobuf >= 3.20.2 against
descript-audiotools' < 3.20; ONNX Runtime reads the graphs without it.

Frames: the log-mel has one frame per 160 samples (the last STFT frame dropped), the encoder halves
that once (v1, 50 Hz) or twice (25 Hz). We zero-pad a clip to whole tokens (320 or 640 samples) so
every token covers audio; on clips of whole tokens the codes are the official ones.

Long inputs: the models take at most 30 s (v1's position table has 1,500 entries; CosyVoice refuses
longer clips; the package cuts 30 s segments with 4 s of overlap and keeps the middle). The streaming
engine does the same with its own windows: at most 26 s kept, 2 s of context each side, so no call
sees more than 30 s. Attention is global and the log-mel is scaled to each call's loudest frame, so
windows approximate one pass (`exact = False`); clips up to 26 s are one pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import WeightsMismatch
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

SAMPLE_RATE, MEL_HOP, N_MELS = 16_000, 160, 128
MAX_SECONDS, CONTEXT_SECONDS = 30, 2  # the models' longest input; context each side of a window
FSQ_CODES = 3**8
_MODEL_FILES = {1: "model.py", 2: "model_v2.py", 3: "model_v3.py"}  # the package's network per version


@dataclass(frozen=True)
class Model:
    """One shipped tokenizer: where CosyVoice keeps it and the network it is."""

    hub_id: str
    filename: str
    version: int  # 1: cosine VQ, sinusoid positions; 2 / 3: FSQ, rotary positions and FSMN memory
    first_stride: int  # 1: 50 Hz; 2: 25 Hz
    layers: int
    paper: str
    card: str

    @property
    def hop(self) -> int:
        return MEL_HOP * self.first_stride * 2

    @property
    def frame_rate(self) -> float:
        return SAMPLE_RATE / self.hop

    @property
    def codebook_size(self) -> int:
        return 4096 if self.version == 1 else FSQ_CODES

    @property
    def kbps(self) -> float:
        return round(math.log2(self.codebook_size) * self.frame_rate / 1000, 3)


_COSYVOICE = ("Du et al., CosyVoice: A Scalable Multilingual Zero-shot Text-to-speech Synthesizer based on "
              "Supervised Semantic Tokens, 2024 (arXiv:2407.05407)")
MODELS = {
    "s3tokenizer_v1": Model(
        "FunAudioLLM/CosyVoice-300M", "speech_tokenizer_v1.onnx", 1, 1, 6, _COSYVOICE,
        "https://huggingface.co/FunAudioLLM/CosyVoice-300M"),
    "s3tokenizer_v1_25hz": Model(
        "FunAudioLLM/CosyVoice-300M-25Hz", "speech_tokenizer_v1.onnx", 1, 2, 6, _COSYVOICE,
        "https://huggingface.co/FunAudioLLM/CosyVoice-300M-25Hz"),
    "s3tokenizer_v2_25hz": Model(
        "FunAudioLLM/CosyVoice2-0.5B", "speech_tokenizer_v2.onnx", 2, 2, 6,
        "Du et al., CosyVoice 2: Scalable Streaming Speech Synthesis with Large Language Models, 2024 "
        "(arXiv:2412.10117)", "https://huggingface.co/FunAudioLLM/CosyVoice2-0.5B"),
    "s3tokenizer_v3_25hz": Model(
        "FunAudioLLM/Fun-CosyVoice3-0.5B-2512", "speech_tokenizer_v3.onnx", 3, 2, 12,
        "Du et al., CosyVoice 3: Towards In-the-wild Speech Generation via Scaling-up and Post-training, 2025 "
        "(arXiv:2505.17589)", "https://huggingface.co/FunAudioLLM/Fun-CosyVoice3-0.5B-2512"),
}


def _info(codec_id: str) -> CodecInfo:
    m = MODELS[codec_id]
    quantizer = ("single VQ (4,096 codes, cosine search)" if m.version == 1
                 else f"single FSQ (8 dims x 3 levels, {FSQ_CODES:,} codes)")
    return CodecInfo(
        id=codec_id, family="S3Tokenizer (CosyVoice)", sample_rate=SAMPLE_RATE, channels=1,
        frame_rate=m.frame_rate, codebook_size=m.codebook_size, max_codebooks=1, bitrates_kbps=(m.kbps,),
        default_bitrate_kbps=m.kbps, quantizer=quantizer, domain="speech", encode_only=True,
        paper=m.paper, code_url="https://github.com/xingchensong/S3Tokenizer",
        weights=f"Hugging Face {m.hub_id}: {m.filename} (an ONNX graph, run with ONNX Runtime as CosyVoice does)",
        licence="Apache-2.0 (CosyVoice and the s3tokenizer package)",
        discriminators="none: trained as part of an ASR model (supervised), with no decoder to criticise",
        training_data="CosyVoice's supervised multilingual ASR data (the papers give the hours; not checked here)",
        hub_id=m.hub_id,
        sources=(f"s3tokenizer 0.3.0 (PyPI): __init__.py (models, SHA-256), {_MODEL_FILES[m.version]} (network, "
                 "quantizer), utils.py (log_mel_spectrogram, 30 s segments)",
                 "https://github.com/FunAudioLLM/CosyVoice cosyvoice/cli/frontend.py (_extract_speech_token: "
                 "log-mel into ONNX Runtime, clips up to 30 s)", m.card,
                 f"https://github.com/voidful/Codec-SUPERB SoundCodec/codec/{codec_id}.py (encode only)"),
        notes=f"{m.frame_rate:g} tokens/s from one {m.codebook_size:,}-entry quantizer; encode only (CosyVoice's "
              "flow-matching model and vocoder, conditioned on a speaker, turn the tokens into speech).",
    )


INFOS = [_info(codec_id) for codec_id in MODELS]


def weight_spec(codec_id: str) -> weights.WeightSpec:
    m = MODELS[codec_id]
    return weights.hub_spec(codec_id, m.hub_id, m.filename, allow_patterns=[m.filename])


def load(info: CodecInfo, device: str) -> S3TokenizerCodec:
    import onnxruntime
    from transformers import WhisperFeatureExtractor

    path = weights.download(weight_spec(info.id))
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(device.partition(":")[2] or 0)}))
    else:
        device = "cpu"  # the onnxruntime wheel runs on the CPU
    try:
        session = onnxruntime.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf types
        raise WeightsMismatch(info.id, path, f"ONNX Runtime cannot read it ({str(exc)[:160]})") from exc
    if len(session.get_inputs()) != 2:
        raise WeightsMismatch(info.id, path, f"the graph takes {len(session.get_inputs())} inputs, not "
                              "(feats, feats_length)")
    features = WhisperFeatureExtractor(feature_size=N_MELS, sampling_rate=SAMPLE_RATE, hop_length=MEL_HOP, n_fft=400)
    return S3TokenizerCodec(info, OnnxModel(session, path), features, device, path)


@dataclass
class OnnxModel:
    """The session, with the size the model cache bounds memory by (the graph file's)."""

    session: object
    path: Path

    @property
    def size_mb(self) -> float:
        return self.path.stat().st_size / 2**20


class S3TokenizerCodec(ChunkedCodec):
    """Codes [1, T] from windows of at most 30 s; `decode` refuses (no decoder)."""

    exact = False  # global attention, and the log-mel is scaled to each call's loudest frame

    def __init__(self, info: CodecInfo, model: OnnxModel, features, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.features, self.device, self.checkpoint = info, model, features, device, checkpoint
        self.hop = MODELS[info.id].hop
        self.context_units = round(CONTEXT_SECONDS * info.frame_rate)
        self._window_units = round((MAX_SECONDS - 2 * CONTEXT_SECONDS) * info.frame_rate)

    def log_mel(self, x: np.ndarray) -> np.ndarray:
        """[B, n] at 16 kHz, n a whole number of tokens -> feats [B, 128, n / 160]."""
        return self.features(list(x), sampling_rate=SAMPLE_RATE, padding="longest", truncation=False,
                             return_tensors="np", device="cpu")["input_features"].astype(np.float32)

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[1, 1, n] -> codes [1, 1, ceil(n / hop)]: the clip zero-padded to whole tokens."""
        frames = max(1, math.ceil(x.shape[-1] / self.hop))
        padded = np.zeros((x.shape[0], frames * self.hop), np.float32)
        padded[:, : x.shape[-1]] = x[:, 0]
        feats = self.log_mel(padded)
        session = self.model.session
        names = [item.name for item in session.get_inputs()]
        lengths = np.full(x.shape[0], feats.shape[-1], np.int32)
        tokens = session.run(None, {names[0]: feats, names[1]: lengths})[0]
        return np.asarray(tokens, np.int64).reshape(x.shape[0], 1, -1)[:, :, :frames]

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        raise self.info.no_decoder()


def small_config(codec_id: str, small: bool):
    """The real network (`_s3tokenizer_nets`), or a tiny one with its rates, quantizer and layout (two
    blocks of 128 channels in two heads of 64, the rotary tables' width)."""
    from ._s3tokenizer_nets import Config

    m = MODELS[codec_id]
    codes = 4096 if m.version == 1 else FSQ_CODES
    if small:
        return Config(m.version, m.first_stride, n_state=128, n_head=2, n_layer=2, codebook_size=codes)
    return Config(m.version, m.first_stride, n_layer=m.layers, codebook_size=codes)


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """The ONNX graph of the real network with random weights, as `speech_tokenizer_v*.onnx` in the hub
    cache snapshot CosyVoice's repository would download to."""
    import tempfile

    import torch

    from ._s3tokenizer_nets import S3Tokenizer, export_onnx

    model = S3Tokenizer(small_config(codec_id, small))
    if MODELS[codec_id].version > 1:
        with torch.no_grad():  # spread the FSQ's input so random latents reach all three levels
            model.quantizer.project_down.weight.mul_(8.0)
    m = MODELS[codec_id]
    with tempfile.TemporaryDirectory() as folder:
        graph = Path(folder) / m.filename
        export_onnx(model, graph)
        weights.hub_snapshot(m.hub_id, {m.filename: graph})
    return weight_spec(codec_id).path

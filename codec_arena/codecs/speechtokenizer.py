"""SpeechTokenizer (Zhang et al., 2023) through the official `speechtokenizer` package.

The weights are the authors' `speechtokenizer_hubert_avg` files on the Hugging Face hub
(`fnlp/SpeechTokenizer`): a `config.json` and a state dict, read by the package's own
`SpeechTokenizer.load_from_checkpoint(config, checkpoint)`. An 8-layer RVQ (1024 codes each) at
50 Hz: n layers give n x 0.5 kbps; `encode(x, n_q=n)` runs the first n quantizers, which are the
first n of the full 8 (residual quantisation is greedy), and `decode` uses as many as it is given.

The encoder has a bidirectional LSTM (and the decoder a forward one), so it is not streaming and
no finite context reproduces one pass exactly: long clips go through the streaming engine
(`stream`) in equal windows (10 s unless set), each with 1 s of real signal either side computed and
dropped, which covers the convolutions (about 5 frames each side) ten times over and gives the LSTMs
a warm start; seams are close to one pass, not equal to it (`exact = False`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import weights
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

HUB_ID = "fnlp/SpeechTokenizer"
CONFIG = "speechtokenizer_hubert_avg/config.json"
CHECKPOINT = "speechtokenizer_hubert_avg/SpeechTokenizer.pt"
HOP = 320  # product of the config's strides 8, 5, 4, 2
CONTEXT_FRAMES = 50  # 1 s each side: the LSTMs have no finite receptive field; the convolutions reach ~5 frames

INFOS = [
    CodecInfo(
        id="speechtokenizer", family="SpeechTokenizer", sample_rate=16_000, channels=1, frame_rate=50.0,
        codebook_size=1024, max_codebooks=8, bitrates_kbps=tuple(n * 0.5 for n in range(1, 9)),
        default_bitrate_kbps=4.0, quantizer="RVQ", domain="speech",
        paper="Zhang et al., SpeechTokenizer: Unified Speech Tokenizer for Speech Large Language Models, 2023 "
              "(arXiv:2308.16692)",
        code_url="https://github.com/ZhangXInFD/SpeechTokenizer",
        weights=f"Hugging Face {HUB_ID}: {CONFIG} + {CHECKPOINT}",
        licence="code Apache-2.0; weights: see the fnlp/SpeechTokenizer model card",
        discriminators="multi-period (MPD) + multi-scale (MSD) + multi-scale STFT (MS-STFTD)",
        training_data="LibriSpeech (speechtokenizer_hubert_avg; HuBERT average-layer teacher for RVQ-1)",
        hub_id=HUB_ID,
        sources=("https://github.com/ZhangXInFD/SpeechTokenizer README (model list, training example)",
                 "config/spt_base_cfg.json (strides 8·5·4·2, 8 x 1024 RVQ, 16 kHz)", "paper §3"),
        notes="RVQ layer 1 carries semantic (HuBERT-distilled) content; layers 2–8 add the acoustic residual.",
    ),
]


def weight_spec(codec_id: str) -> weights.WeightSpec:
    return weights.hub_spec(codec_id, HUB_ID, CHECKPOINT, allow_patterns=["speechtokenizer_hubert_avg/*"])


def load(info: CodecInfo, device: str) -> SpeechTokenizerCodec:
    from huggingface_hub import hf_hub_download
    from speechtokenizer import SpeechTokenizer

    checkpoint = weights.download(weight_spec(info.id))
    model = SpeechTokenizer.load_from_checkpoint(hf_hub_download(HUB_ID, CONFIG, local_files_only=True),
                                                 hf_hub_download(HUB_ID, CHECKPOINT, local_files_only=True))
    return SpeechTokenizerCodec(info, model.eval().to(device), device, checkpoint)


class SpeechTokenizerCodec(ChunkedCodec):
    """The package's own `encode(x, n_q)` / `decode(codes)` per window of the engine. Its encoder
    pads a partial last frame by reflection inside each strided convolution (not with zeros), so a
    window gets the raw samples and clips batch together only at equal lengths."""

    exact = False  # bidirectional LSTM in the encoder, forward LSTM in the decoder
    batchable = True  # SEANet convolutions, SLSTM and the RVQ all take (B, C, T)
    pads_to_frames = False  # reflect padding of the last partial frame: zero-padded batches would differ

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.hop = int(model.downsample_rate)
        self.context_units = self.decode_context_units = CONTEXT_FRAMES

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, K, ceil(n / hop)] (the package returns (K, B, T))."""
        codes = self.model.encode(self._audio(x), n_q=point.codebooks)
        return codes.transpose(0, 1).cpu().numpy().astype(np.int64)

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 1, n] -> the encoder's output before the RVQ, [B, D, ceil(n / hop)]."""
        return self.model.encoder(self._audio(x)).float().cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] -> [B, 1, T x hop]; fewer than 8 codebooks decode the first K RVQ layers."""
        import torch

        codes = torch.from_numpy(np.ascontiguousarray(tokens.transpose(1, 0, 2))).to(self.device)
        return self.model.decode(codes).float().cpu().numpy()

    def _audio(self, x: np.ndarray):
        import torch

        return torch.from_numpy(x).to(self.device)


# The official config (config/spt_base_cfg.json, model part); SMALL shrinks only the widths.
CONFIG_FULL = dict(n_filters=64, strides=[8, 5, 4, 2], dimension=1024, semantic_dimension=768, bidirectional=True,
                   dilation_base=2, residual_kernel_size=3, n_residual_layers=1, lstm_layers=2, activation="ELU",
                   codebook_size=1024, n_q=8, sample_rate=16_000)
SMALL = dict(n_filters=4, dimension=32, semantic_dimension=16)


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """config.json + state dict in the hub-cache layout `load_from_checkpoint` reads after download."""
    import torch
    from speechtokenizer import SpeechTokenizer

    from ..weights import hub_snapshot

    config = {**CONFIG_FULL, **(SMALL if small else {})}
    model = SpeechTokenizer(config).eval()
    # The codebooks are zeros until training's first batch runs k-means on each layer's input. We
    # draw each from its input's statistics on noise instead (zeros, or a scale mismatch, would put
    # every frame on one code).
    with torch.no_grad():
        residual = model.encoder(torch.randn(1, 1, 8_000) * 0.1)
        for layer in model.quantizer.vq.layers:
            frames, book = residual.transpose(1, 2).reshape(-1, residual.shape[1]), layer._codebook
            book.embed.copy_(frames.mean(0) + frames.std(0) * torch.randn_like(book.embed))
            book.embed_avg.copy_(book.embed)
            book.inited.fill_(1)
            residual = residual - layer.decode(layer.encode(residual))
    snapshot = hub_snapshot(HUB_ID, files={CONFIG: json.dumps(config, indent=2).encode()})
    torch.save(model.state_dict(), snapshot / CHECKPOINT)
    return weight_spec(codec_id).path

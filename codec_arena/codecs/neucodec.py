"""NeuCodec (Neuphonic, 2025) through transformers' `NeuCodecModel.from_pretrained("neuphonic/neucodec")`
and its feature extractor.

An X-Codec2 derivative: the encoder takes 16 kHz (w2v-BERT 2.0 semantic + BigCodec acoustic), one
FSQ code per 20 ms (4^8 = 65536 codes, 0.8 kbps), and the decoder writes 24 kHz. Our `sample_rate` is
the output's, 24 kHz: the round trip hands us 24 kHz audio, which we resample to 16 kHz per chunk
(torchaudio) before the feature extractor, so one frame is 480 samples of the audio the user hears.
The feature extractor's mel front end needs 25 ms of audio, so chunks are at least two frames long.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import WeightsMismatch
from . import hf_codec
from .base import CodecInfo
from .xcodec2 import SMALL as XCODEC2_SMALL
from .xcodec2 import FsqCodec

INFOS = [
    CodecInfo(
        id="neucodec", family="NeuCodec", sample_rate=24_000, channels=1, frame_rate=50.0, codebook_size=65_536,
        max_codebooks=1, bitrates_kbps=(0.8,), default_bitrate_kbps=0.8,
        quantizer="FSQ (single codebook, 8 dims x 4 levels)", domain="speech",
        paper="Julian et al., Finite Scalar Quantization Enables Redundant and Transmission-Robust Neural Audio "
              "Compression at Low Bit-rates, 2025 (arXiv:2509.09550)",
        code_url="https://github.com/neuphonic/neucodec",
        weights="Hugging Face hub neuphonic/neucodec (transformers format)",
        licence="Apache-2.0 (code and weights)",
        discriminators="not described in the released code or model card (the training recipe extends X-Codec2's)",
        training_data="Emilia-YODAS, MLS, LibriTTS, Fleurs, CommonVoice, HUI (CC-BY-4.0 / CC0) + a proprietary set",
        hub_id="neuphonic/neucodec",
        sources=("https://github.com/neuphonic/neucodec README (0.8 kbps, 16 -> 24 kHz, data, Apache-2.0)",
                 "transformers docs model_doc/neucodec.md, NeuCodecConfig (ratios 2-2-4-4-5, levels 4^8)"),
        notes="Encodes 16 kHz and decodes 24 kHz: input above 8 kHz is not coded, the decoder re-synthesises it.",
    ),
]
SMALL = XCODEC2_SMALL  # same modules, same constraints


class NeuCodecCodec(FsqCodec):
    model_class = "NeuCodecModel"
    encoder_rate = 16_000
    min_frames = 2

    def config_facts(self) -> dict[str, float]:
        c = self.model.config
        if c.input_sampling_rate != self.encoder_rate:
            raise WeightsMismatch(self.info.id, self.checkpoint.parent,
                                  f"{self.info.hub_id} encodes {c.input_sampling_rate} Hz, not {self.encoder_rate}")
        return dict(sample_rate=c.output_sampling_rate, frame_rate=c.input_sampling_rate / c.encoder_hop_length,
                    codebook_size=math.prod(c.quantization_levels), codebooks=1)


def weight_spec(codec_id: str):
    return hf_codec.weight_spec(INFOS[0])


def load(info: CodecInfo, device: str) -> NeuCodecCodec:
    return NeuCodecCodec.load(info, device)


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    from transformers import NeuCodecConfig, NeuCodecFeatureExtractor

    config = NeuCodecConfig(**(SMALL if small else {}))
    return hf_codec.write_random_weights(NeuCodecCodec, INFOS[0], config, NeuCodecFeatureExtractor())

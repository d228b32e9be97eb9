"""NeuCodec (Neuphonic, 2025) through transformers' `NeuCodecModel.from_pretrained("neuphonic/neucodec")`
and its feature extractor.

An X-Codec2 derivative: the encoder takes 16 kHz (w2v-BERT 2.0 semantic + BigCodec acoustic), one
FSQ code per 20 ms (4^8 = 65536 codes, 0.8 kbps), and the decoder writes 24 kHz. Our `sample_rate` is
the output's, 24 kHz: the round trip hands us 24 kHz audio, which we resample to 16 kHz per chunk
(torchaudio) before the feature extractor, so one frame is 480 samples of the audio the user hears.
The feature extractor's mel front end needs 25 ms of audio, so chunks are at least two frames long.
Long clips go through the engine as in `hf_codec` (not exact: w2v-BERT and the decoder attend over
the whole chunk).
"""

from __future__ import annotations

import math
from dataclasses import replace

from . import hf_codec, xcodec2
from .base import CodecInfo

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
SMALL = xcodec2.SMALL  # same modules, same constraints


# X-Codec2's family (mel inputs, FSQ, not exact for the same reasons) with NeuCodec's classes and rates:
# the config names an input (encoder) rate and an output rate; a chunk is at least two frames.
FAMILY = replace(
    xcodec2.FAMILY, model_class="NeuCodecModel", encoder_rate=16_000, min_frames=2,
    facts=lambda c: dict(sample_rate=c.output_sampling_rate, frame_rate=c.input_sampling_rate / c.encoder_hop_length,
                         codebook_size=math.prod(c.quantization_levels), codebooks=1,
                         encoder_rate=c.input_sampling_rate),
    config=lambda info, small: hf_codec.make("NeuCodecConfig", **(SMALL if small else {})),
    feature_extractor=lambda config: hf_codec.make("NeuCodecFeatureExtractor"),
)
load, weight_spec, write_random_weights = hf_codec.declare(INFOS, FAMILY)

"""Mimi (Kyutai, the codec of Moshi) through transformers' `MimiModel.from_pretrained("kyutai/mimi")`.

24 kHz mono, 12.5 frames/s, split RVQ of up to 32 codebooks of 2048 entries: codebook 1 is trained to
match WavLM features (semantic), the rest are acoustic residuals. `MimiModel.encode(num_quantizers=k)`
takes any k from 1 to 32; we offer 1, 2, 4, 8 (what Moshi models, 1.1 kbps), 16 and 32 codebooks.
Mimi is causal, but its transformers attend over 10 s windows in 8 stacked layers (80 s of history),
so long clips go through the engine as in `hf_codec` (10 s windows, 1 s of context each side) and
seams only approximate one pass.
"""

from __future__ import annotations

from . import hf_codec
from .base import CodecInfo

FRAME_RATE, CODEBOOK_BITS = 12.5, 11  # 24 kHz / 1920 samples per frame; 2048 entries
CODEBOOK_CHOICES = (1, 2, 4, 8, 16, 32)
INFOS = [
    CodecInfo(
        id="mimi", family="Mimi", sample_rate=24_000, channels=1, frame_rate=FRAME_RATE, codebook_size=2048,
        max_codebooks=32, bitrates_kbps=tuple(n * CODEBOOK_BITS * FRAME_RATE / 1000 for n in CODEBOOK_CHOICES),
        default_bitrate_kbps=8 * CODEBOOK_BITS * FRAME_RATE / 1000,
        quantizer="RVQ (split: 1 semantic + 31 acoustic codebooks)", domain="speech",
        paper="Défossez et al., Moshi: a speech-text foundation model for real-time dialogue, 2024 (arXiv:2410.00037)",
        code_url="https://github.com/kyutai-labs/moshi",
        weights="Hugging Face hub kyutai/mimi (transformers format: config.json + model.safetensors)",
        licence="code MIT (Python) / Apache-2.0 (Rust); weights CC-BY 4.0",
        discriminators="adversarial and feature-matching losses only, no reconstruction loss (Moshi README, paper §3)",
        training_data="speech (the codec Moshi was trained with; corpus described in the Moshi paper)",
        hub_id="kyutai/mimi",
        sources=("https://github.com/kyutai-labs/moshi (README: 12.5 Hz, 1.1 kbps, WavLM distillation, CC-BY 4.0)",
                 "transformers MimiConfig (frame_size 1920, codebook_size 2048, num_quantizers 32)",
                 "https://github.com/kyutai-labs/moshi/issues/122 (32 levels released, Moshi uses the first 8)"),
        notes="Codebook 1 carries semantic (WavLM-distilled) content; Moshi uses the first 8 codebooks (1.1 kbps).",
    ),
]

SMALL = dict(hidden_size=32, num_filters=4, codebook_dim=16, vector_quantization_hidden_dimension=16,
             num_hidden_layers=1, intermediate_size=32, num_attention_heads=2, num_key_value_heads=2,
             upsample_groups=32)  # keeps rates, codebook size and count; upsample_groups must equal hidden_size


# Causal convs, but each transformer layer attends over `sliding_window` = 250 steps at 25 Hz (10 s), and
# 8 layers stack to 80 s of history in the encoder and the decoder: more than any window, so not exact.
FAMILY = hf_codec.HFFamily(
    model_class="MimiModel",
    encode=lambda model, inputs, point: model.encode(**inputs, num_quantizers=point.codebooks).audio_codes,
    latent=lambda model, inputs: model.encoder(**inputs).latents,
    facts=lambda c: dict(sample_rate=c.sampling_rate, frame_rate=c.frame_rate, codebook_size=c.codebook_size,
                         codebooks=c.num_quantizers),
    config=lambda info, small: hf_codec.make("MimiConfig", **(SMALL if small else {})),
    feature_extractor=lambda config: hf_codec.make(  # kyutai/mimi's preprocessor_config.json
        "EncodecFeatureExtractor", feature_size=1, sampling_rate=24_000, padding_value=0.0),
    exact=False, batchable=True,
)
load, weight_spec, write_random_weights = hf_codec.declare(INFOS, FAMILY)

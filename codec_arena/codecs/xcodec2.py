"""X-Codec2 (Ye et al., 2025, the codec of Llasa) through transformers'
`Xcodec2Model.from_pretrained("HKUSTAudio/xcodec2-hf")` and its feature extractor.

16 kHz mono speech, 50 frames/s, one FSQ code per frame from 8 dimensions of 4 levels (4^8 = 65536
codes, 16 bits): 0.8 kbps, the only operating point. The encoder fuses a w2v-BERT 2.0 semantic
encoder (fed the feature extractor's mel filterbanks, hence `AutoFeatureExtractor`) with a BigCodec
acoustic encoder; the decoder is a transformer + Vocos ISTFT head. The feature extractor pads a clip
by one sample before rounding up to whole frames, so a clip of exactly k frames yields k + 1 codes;
we keep k (the extra one covers only padding). Long clips go through the engine as in `hf_codec`.

NeuCodec (an X-Codec2 derivative with the same encoder and quantizer) declares itself as this family
with its own classes, facts and rates.
"""

from __future__ import annotations

import math

from . import hf_codec
from .base import CodecInfo

INFOS = [
    CodecInfo(
        id="xcodec2", family="X-Codec2", sample_rate=16_000, channels=1, frame_rate=50.0, codebook_size=65_536,
        max_codebooks=1, bitrates_kbps=(0.8,), default_bitrate_kbps=0.8,
        quantizer="FSQ (single codebook, 8 dims x 4 levels)", domain="speech",
        paper="Ye et al., Llasa: Scaling Train-Time and Inference-Time Compute for Llama-based Speech Synthesis, "
              "2025 (arXiv:2502.04128)",
        code_url="https://github.com/zhenye234/X-Codec-2.0",
        weights="Hugging Face hub HKUSTAudio/xcodec2-hf (transformers conversion of HKUSTAudio/xcodec2)",
        licence="code MIT; weights CC-BY-NC 4.0 (model card)",
        discriminators="multi-period (MPD) + multi-resolution spectrogram (STFT sizes 78-2296)",
        training_data="150k hours of multilingual speech: Emilia (En/Zh/De/Fr/Ja/Ko) and MLS (8 languages)",
        hub_id="HKUSTAudio/xcodec2-hf",
        sources=("https://github.com/zhenye234/X-Codec-2.0 README (codebook, data, discriminators) and "
                 "config/model/default.yaml (mpd, mstft)",
                 "transformers docs model_doc/xcodec2.md (hub id), Xcodec2Config (ratios 2-2-4-4-5, levels 4^8)"),
        notes="One token per 20 ms from a 65536-entry FSQ codebook; semantic features from w2v-BERT 2.0.",
    ),
]
# Shrunk everywhere except what fixes the token grid (ratios, levels). The decoder's GroupNorm has 32
# groups, so hidden_size stays a multiple of 64 (one-frame chunks need two channels per group);
# quantization_dim must equal hidden_size + the semantic hidden size.
SMALL = dict(hidden_size=64, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
             head_dim=32, encoder_hidden_size=4, quantization_dim=96,
             semantic_model_config=dict(model_type="wav2vec2-bert", hidden_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=32, output_hidden_size=32))


def mel_inputs(codec: hf_codec.HFCodec, x) -> dict:
    """The feature extractor on each row of a batch [B, 1, n]: the waveform it pads and the mel
    filterbanks (normalised over the chunk) that w2v-BERT reads."""
    extractor = codec.feature_extractor
    inputs = extractor(list(x[:, 0].cpu()), sampling_rate=extractor.sampling_rate, return_tensors="pt")
    return dict(inputs.to(codec.device))


def fit_projection(codec: hf_codec.HFCodec) -> None:
    """Random weights shrink activations layer by layer, so every frame would land on the same FSQ
    code; rescale the projection into the quantizer to unit variance on noise, as training would."""
    import torch

    project_in = codec.model.quantizer.project_in
    seen = hf_codec.captured(project_in, lambda: hf_codec.encode_noise(codec), what="input")
    seen = seen.reshape(-1, seen.shape[-1])
    with torch.no_grad():
        weight = torch.randn_like(project_in.weight) / seen.std(0).clamp_min(1e-8) / seen.shape[-1] ** 0.5
        project_in.weight.copy_(weight)
        project_in.bias.copy_(-weight @ seen.mean(0))


# Not exact: w2v-BERT attends over the whole chunk (and its mel features are normalised over it), and
# the decoder is a transformer over all frames. The latent is what `fc_encoder` hands to the FSQ.
FAMILY = hf_codec.HFFamily(
    model_class="Xcodec2Model",
    inputs=mel_inputs,
    encode=lambda model, inputs, point: model.encode(**inputs).audio_codes,
    latent=lambda model, inputs: hf_codec.output_of(model.fc_encoder, lambda: model.encode(**inputs)),
    facts=lambda c: dict(sample_rate=c.sampling_rate, frame_rate=c.sampling_rate / c.hop_length,
                         codebook_size=math.prod(c.quantization_levels), codebooks=1),
    config=lambda info, small: hf_codec.make("Xcodec2Config", **(SMALL if small else {})),
    feature_extractor=lambda config: hf_codec.make("Xcodec2FeatureExtractor"),
    make_codes_vary=fit_projection, uses_feature_extractor=True,
    exact=False, batchable=True,
)
load, weight_spec, write_random_weights = hf_codec.declare(INFOS, FAMILY)

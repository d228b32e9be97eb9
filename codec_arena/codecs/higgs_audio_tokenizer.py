"""The Higgs Audio v2 tokenizer (Boson AI, 2025) through transformers'
`HiggsAudioV2TokenizerModel.from_pretrained("eustlb/higgs-audio-v2-tokenizer")`.

An X-Codec-style codec at 24 kHz: HuBERT semantic features (computed at 16 kHz, every second frame
kept) joined with a DAC-style acoustic encoder of hop 960, so 25 frames/s, then RVQ of 8 codebooks
of 1024 entries (10 bits): 2 kbps at full depth. `encode(bandwidth=...)` takes the config's
`target_bandwidths` (0.5, 1, 1.5, 2 kbps = 2, 4, 6, 8 codebooks); those are our operating points.
The transformers conversion is published as eustlb/higgs-audio-v2-tokenizer (what the transformers
docs load); bosonai/higgs-audio-v2-tokenizer holds the original `model.pth` for Boson's own code.
Long clips go through the engine as in `hf_codec` (not exact: HuBERT attends over the whole chunk).
"""

from __future__ import annotations

from . import hf_codec
from .base import CodecInfo

BANDWIDTHS = (0.5, 1.0, 1.5, 2.0)
INFOS = [
    CodecInfo(
        id="higgs_audio_v2_tokenizer", family="Higgs Audio v2 tokenizer", sample_rate=24_000, channels=1,
        frame_rate=25.0, codebook_size=1024, max_codebooks=8, bitrates_kbps=BANDWIDTHS, default_bitrate_kbps=2.0,
        quantizer="RVQ (over joint semantic + acoustic features)", domain="general",
        paper="Boson AI, Higgs Audio tokenizer (technical blog, no paper), 2025",
        code_url="https://github.com/boson-ai/higgs-audio",
        weights="Hugging Face hub eustlb/higgs-audio-v2-tokenizer (transformers conversion of "
                "bosonai/higgs-audio-v2-tokenizer)",
        licence="code Apache-2.0; weights: bosonai/higgs-audio-v2-tokenizer model card",
        discriminators="not described in the release (tokenizer blog, repository)",
        training_data="speech, music and sound events at 24 kHz in one model (data not itemised)",
        hub_id="eustlb/higgs-audio-v2-tokenizer",
        sources=("https://github.com/boson-ai/higgs-audio tech_blogs/TOKENIZER_BLOG.md (25 fps, 24 kHz, 2 kbps)",
                 "transformers convert_higgs_audio_v2_tokenizer_to_hf.py (ratios 8-5-4-2-3, DAC 64/1024, D 256)",
                 "transformers docs model_doc/higgs_audio_v2_tokenizer.md (hub id, target_bandwidths 0.5-2)"),
        notes="The audio tokenizer of Higgs Audio v2: 25 frames/s with semantic (HuBERT) and acoustic content.",
    ),
]
RATIOS = [8, 5, 4, 2, 3]
ACOUSTIC = dict(encoder_hidden_size=64, downsampling_ratios=RATIOS, decoder_hidden_size=1024,
                upsampling_ratios=RATIOS, hidden_size=256)  # as convert_higgs_audio_v2_tokenizer_to_hf.py
# the acoustic decoder halves its width at each of its 5 stages, so it needs 2^5 channels or more
SMALL_ACOUSTIC = dict(ACOUSTIC, encoder_hidden_size=4, decoder_hidden_size=64, hidden_size=16)
SMALL_SEMANTIC = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                      conv_dim=(8,) * 7)


def config(info: CodecInfo, small: bool):
    return hf_codec.make(
        "HiggsAudioV2TokenizerConfig", target_bandwidths=list(BANDWIDTHS), sample_rate=24_000, codebook_size=1024,
        acoustic_model_config=hf_codec.make("DacConfig", **(SMALL_ACOUSTIC if small else ACOUSTIC)),
        semantic_model_config=hf_codec.make("HubertConfig", mask_time_prob=0.0, **(SMALL_SEMANTIC if small else {})))


# Not exact: HuBERT attends over the whole input (and group-normalises its first conv over it). The
# latent is the joint embedding `fc` hands to the RVQ.
FAMILY = hf_codec.HFFamily(
    model_class="HiggsAudioV2TokenizerModel",
    encode=lambda model, inputs, point: model.encode(**inputs, bandwidth=point.bitrate_kbps).audio_codes,
    latent=lambda model, inputs: hf_codec.output_of(model.fc, lambda: model.encode(**inputs)),
    config=config,
    feature_extractor=lambda config: hf_codec.make(
        "DacFeatureExtractor", feature_size=1, hop_length=960, padding_side="right", padding_value=0.0,
        return_attention_mask=True, sampling_rate=24_000),
    exact=False, batchable=True,
)
load, weight_spec, write_random_weights = hf_codec.declare(INFOS, FAMILY)

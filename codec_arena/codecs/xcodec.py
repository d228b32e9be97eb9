"""X-Codec (Ye et al., 2024) through transformers' `XcodecModel.from_pretrained("hf-audio/xcodec-...")`.

16 kHz mono, 50 frames/s, RVQ of 8 codebooks of 1024 entries over a joint semantic (HuBERT or WavLM,
averaged over layers) and acoustic (DAC-style) embedding. `XcodecModel.encode(bandwidth=...)` takes
the config's `target_bandwidths` (0.5, 1, 1.5, 2, 4 kbps = 1, 2, 3, 4, 8 codebooks); those are our
operating points. The hf-audio conversions of the five official checkpoints are what transformers
documents; we offer three that differ in what matters to a listener (semantic teacher, domain):
HuBERT/LibriSpeech (the paper's speech model), WavLM/MLS English, and HuBERT/general audio. The other
two (wavlm-more-data, hubert-general-balanced) are the same architectures trained on more data.
Long clips go through the engine as in `hf_codec` (not exact: the semantic model attends over the
whole chunk).
"""

from __future__ import annotations

from . import hf_codec
from .base import CodecInfo

BANDWIDTHS = (0.5, 1.0, 1.5, 2.0, 4.0)  # config.target_bandwidths of every hf-audio/xcodec-* checkpoint
_COMMON = dict(
    family="X-Codec", sample_rate=16_000, channels=1, frame_rate=50.0, codebook_size=1024, max_codebooks=8,
    bitrates_kbps=BANDWIDTHS, default_bitrate_kbps=4.0, quantizer="RVQ (over joint semantic + acoustic features)",
    paper="Ye et al., Codec Does Matter: Exploring the Semantic Shortcoming of Codec for Audio Language Model, "
          "2024 (arXiv:2408.17175)",
    code_url="https://github.com/zhenye234/xcodec",
    licence="not stated (no LICENSE file in zhenye234/xcodec; see the hf-audio model cards)",
    discriminators="multi-frequency (MFD; the repo's released training config)",
)
SOURCES = ("https://github.com/zhenye234/xcodec README (available models: semantic model, domain, data)",
           "zhenye234/xcodec config/codec_16k_6kbps_v3_vqdp.yaml (ratios 8-5-4-2, bins 1024, bandwidths, d_list mfd)",
           "transformers docs model_doc/xcodec.md and convert_xcodec_weights_to_hf.py (hub ids)")
INFOS = [
    CodecInfo(id="xcodec_hubert_librispeech", domain="speech", hub_id="hf-audio/xcodec-hubert-librispeech",
              weights="Hugging Face hub hf-audio/xcodec-hubert-librispeech (converted from ZhenYe234/xcodec)",
              training_data="LibriSpeech (semantic teacher HuBERT-base)", sources=SOURCES,
              notes="The paper's speech model; its semantic features come from HuBERT-base (English).", **_COMMON),
    CodecInfo(id="xcodec_wavlm_mls", domain="speech", hub_id="hf-audio/xcodec-wavlm-mls",
              weights="Hugging Face hub hf-audio/xcodec-wavlm-mls (converted from ZhenYe234/xcodec)",
              training_data="MLS English (semantic teacher WavLM-base-plus)", sources=SOURCES,
              notes="Not in the paper; released by the authors with a WavLM-base-plus semantic teacher.", **_COMMON),
    CodecInfo(id="xcodec_hubert_general", domain="general", hub_id="hf-audio/xcodec-hubert-general",
              weights="Hugging Face hub hf-audio/xcodec-hubert-general (converted from ZhenYe234/xcodec)",
              training_data="200k hours of internal general audio (semantic teacher: HuBERT trained on general audio)",
              sources=SOURCES, notes="The paper's general-audio model (speech, music, sound).", **_COMMON),
]
SEMANTIC = {"xcodec_hubert_librispeech": "HubertConfig", "xcodec_wavlm_mls": "WavLMConfig",
            "xcodec_hubert_general": "HubertConfig"}
# convert_xcodec_weights_to_hf.py: DAC encoder 64 / decoder 1024 channels, ratios 8-5-4-2, D = 256
ACOUSTIC = dict(encoder_hidden_size=64, decoder_hidden_size=1024, downsampling_ratios=[8, 5, 4, 2],
                upsampling_ratios=[8, 5, 4, 2], sampling_rate=16_000, hidden_size=256)
SMALL_ACOUSTIC = dict(ACOUSTIC, encoder_hidden_size=4, decoder_hidden_size=16, hidden_size=16)
SMALL_SEMANTIC = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                      conv_dim=(8,) * 7)  # keeps the 320-sample stride of the conv front end


def config(info: CodecInfo, small: bool):
    semantic = hf_codec.make(SEMANTIC[info.id], **(SMALL_SEMANTIC if small else {}))
    return hf_codec.make("XcodecConfig", target_bandwidths=list(BANDWIDTHS), sample_rate=16_000, codebook_size=1024,
                         acoustic_model_config=SMALL_ACOUSTIC if small else ACOUSTIC, semantic_model_config=semantic)


# Not exact: the semantic model (HuBERT / WavLM) attends over the whole input (and group-normalises its
# first conv over it). The latent is the joint embedding `fc` hands to the RVQ.
FAMILY = hf_codec.HFFamily(
    model_class="XcodecModel",
    encode=lambda model, inputs, point: model.encode(**inputs, bandwidth=point.bitrate_kbps).audio_codes,
    latent=lambda model, inputs: hf_codec.output_of(model.fc, lambda: model.encode(**inputs)),
    config=config,
    feature_extractor=lambda config: hf_codec.make("DacFeatureExtractor", sampling_rate=16_000, hop_length=320),
    exact=False, batchable=True,
)
load, weight_spec, write_random_weights = hf_codec.declare(INFOS, FAMILY)

"""VibeVoice's acoustic tokenizer (Microsoft, 2025) through transformers'
`VibeVoiceAcousticTokenizerModel.from_pretrained("microsoft/VibeVoice-AcousticTokenizer")`.

CONTINUOUS, not a codec with codes: a sigma-VAE whose encoder gives the mean of a 64-d latent per
frame (`encode(sample=False)`; `sample=True` adds the VAE's noise, with a per-item scale drawn from
N(0, vae_std = 0.625)), so it is declared through `latents`, not `hf_codec.HFFamily` (whose codes are
integers). 24 kHz mono, six causal strided stages of ratios 2-2-4-5-5-8 = 3200
samples per frame: 7.5 frames/s. Encoder and decoder are ConvNeXt-like stacks of depth-wise causal
convolutions (about 340M parameters each, 687M together), no attention and no normalisation over
time, so every latent frame depends only on the audio up to its end.

Its feature extractor normalises each clip to -25 dB FS (RMS), then under a peak of 1, before
encoding (the hub's preprocessor_config.json: normalize_audio, target_dB_FS = -25) and zero-pads to
whole frames. That is one gain per clip, computed here from the engine's first pass over the whole
clip with the extractor's own settings and formula; decoding divides by it, so the round trip gives
the input's level back.

Long clips: windows with 8 s of context each side (60 latent frames): the encoder reaches 188,762
samples (7.9 s) back, its depth-wise kernels of 7 stacked 3-8 deep at every stride, and the decoder
59 frames; so windows give the one-pass latents and audio.
"""

from __future__ import annotations

from . import hf_codec, latents, stream
from .base import CodecInfo

HOP, SAMPLE_RATE, LATENT_DIM = 3200, 24_000, 64  # prod(downsampling_ratios); config hidden_size
INFOS = [
    CodecInfo(
        id="vibevoice_acoustic", family="VibeVoice acoustic tokenizer", sample_rate=SAMPLE_RATE, channels=1,
        frame_rate=SAMPLE_RATE / HOP, codebook_size=None, max_codebooks=None,
        bitrates_kbps=(LATENT_DIM * 32 * SAMPLE_RATE / HOP / 1000,), latent_dim=LATENT_DIM,
        quantizer="none: continuous sigma-VAE latent (64 floats per frame)", domain="speech",
        paper="Peng et al., VibeVoice Technical Report, 2025 (arXiv:2508.19205)",
        code_url="https://github.com/microsoft/VibeVoice",
        weights="Hugging Face hub microsoft/VibeVoice-AcousticTokenizer (transformers format: config.json, "
                "model.safetensors, preprocessor_config.json)",
        licence="see the model card (VibeVoice README: research and development use only)",
        discriminators="as DAC: multi-period + multi-band multi-scale STFT discriminators and DAC's losses "
                       "(transformers docs: 'The training objective follows that of DAC')",
        training_data="not stated in the sources read (the tokenizer section of the technical report)",
        hub_id="microsoft/VibeVoice-AcousticTokenizer",
        sources=("transformers 5.24 docs model_doc/vibevoice_acoustic_tokenizer.md (checkpoint id, 3200x "
                 "downsampling from 24 kHz, 7.5 frames/s, about 340M parameters per half, DAC objective, "
                 "VAE with a fixed std; usage: encode(sample=False) -> latents [1, 70, 64] for 224000 samples)",
                 "transformers VibeVoiceAcousticTokenizerConfig defaults (hidden_size 64, downsampling_ratios "
                 "2-2-4-5-5-8, depths 3-3-3-3-3-3-8, num_filters 32, vae_std 0.625), matching the "
                 "acoustic_tokenizer_encoder_config of microsoft/VibeVoice-ASR-HF's config.json",
                 "microsoft/VibeVoice-AcousticTokenizer preprocessor_config.json (24000 Hz, normalize_audio, "
                 "target_dB_FS -25)",
                 "https://github.com/microsoft/VibeVoice README (continuous acoustic and semantic tokenizers at "
                 "7.5 Hz; research use)"),
        notes="Continuous: 64 floats per frame at 7.5 Hz, the targets of VibeVoice's next-token diffusion head. "
              "Stored as float32 that is 15.36 kbps, a storage figure, not a codec bitrate.",
    ),
]

SMALL = dict(num_filters=2, depths=[1] * 7, ffn_expansion=1)  # keeps the ratios (hop 3200) and the 64-d latent


def _gain(extractor, stats: stream.SignalStats) -> float:
    """The feature extractor's per-clip normalisation as one gain: to `target_dB_FS` RMS, then divided by
    the peak where that exceeds 1 (its `__call__`, on the whole clip)."""
    if not extractor.normalize_audio:
        return 1.0
    gain = 10 ** (extractor.target_dB_FS / 20) / (stats.rms + extractor.eps)
    peak = stats.peak * gain
    return gain / (peak + extractor.eps) if peak > 1.0 else gain


FAMILY = latents.LatentFamily(
    model_class="VibeVoiceAcousticTokenizerModel",
    encode=lambda model, wave: model.encode(wave, sample=False).latents,
    decode=lambda model, z: model.decode(z).audio,
    facts=lambda c: dict(sample_rate=SAMPLE_RATE, frame_rate=SAMPLE_RATE / c.hop_length, latent_dim=c.hidden_size),
    config=lambda info, small: hf_codec.make("VibeVoiceAcousticTokenizerConfig", **(SMALL if small else {})),
    feature_extractor=lambda config: hf_codec.make(  # microsoft/VibeVoice-AcousticTokenizer's preprocessor_config
        "VibeVoiceAcousticTokenizerFeatureExtractor", feature_size=1, sampling_rate=SAMPLE_RATE,
        normalize_audio=True, target_dB_FS=-25, eps=1e-6, pad_to_multiple_of=config.hop_length),
    context_seconds=8.0, gain=_gain, uses_feature_extractor=True,
    # transformers' init is the training start (N(0, 0.01) weights, 1e-6 layer scales): latents ~1e-10
    spread_random_weights=latents.fan_in_weights,
)
load, weight_spec, write_random_weights = latents.declare(INFOS, FAMILY)

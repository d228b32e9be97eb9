"""The Pocket TTS audio tokenizer (Kyutai, 2026) through transformers'
`PocketTTSAudioTokenizerModel.from_pretrained("eustlb/pocket-tts-audio-tokenizer")`.

CONTINUOUS, not a codec with codes: Mimi's architecture with its residual vector quantizer replaced
by a 32-d bottleneck (the VAE-GAN latent of Continuous Audio Language Models), so it is declared
through `latents`, not `hf_codec.HFFamily` (whose codes are integers). 24 kHz mono:
a causal SEANet encoder (ratios 4-5-6, 120 samples per step, 200 Hz), 2 causal transformer layers
attending over 250 steps (1.25 s), then a stride-16 convolution to 32 floats per frame: 1920
samples per frame, 12.5 frames/s. The decoder mirrors it (1x1 projection to 512, transposed
stride-16 convolution, 2 transformer layers, SEANet decoder); about 20M parameters in all.

The weights Kyutai publishes are the pocket_tts package's (`kyutai/pocket-tts`, gated: voice
cloning needs this encoder; `kyutai/pocket-tts-without-voice-cloning` ships without it). The
transformers-format checkpoint named by transformers 5.24 is `eustlb/pocket-tts-audio-tokenizer`
(a Hugging Face maintainer's conversion, not under the kyutai organisation): that is what
`from_pretrained` reads here. Clips are zero-padded to whole frames, as its feature extractor
(EncodecFeatureExtractor) and the original `encode_to_latent` pad. Long clips: windows with 3 s of
context each side: two causal attention layers over 250 steps at 200 Hz (2.5 s) and the convolutions'
reach (4,280 samples, 0.18 s), on both encoder and decoder; so windows give the one-pass latents and
audio.
"""

from __future__ import annotations

from . import hf_codec, latents
from .base import CodecInfo

SAMPLE_RATE, FRAME_SIZE, LATENT_DIM = 24_000, 1920, 32  # prod(6, 5, 4) x latent_stride 16
INFOS = [
    CodecInfo(
        id="pocket_tts_audio", family="Pocket TTS audio tokenizer", sample_rate=SAMPLE_RATE, channels=1,
        frame_rate=SAMPLE_RATE / FRAME_SIZE, codebook_size=None, max_codebooks=None,
        bitrates_kbps=(LATENT_DIM * 32 * SAMPLE_RATE / FRAME_SIZE / 1000,), latent_dim=LATENT_DIM,
        quantizer="none: continuous VAE latent (32 floats per frame)", domain="speech",
        paper="Rouard, Orsini et al., Continuous Audio Language Models, 2025 (arXiv:2509.06926); "
              "Pocket TTS tech report (kyutai.org/blog/2026-01-13-pocket-tts)",
        code_url="https://github.com/kyutai-labs/pocket-tts",
        weights="Hugging Face hub eustlb/pocket-tts-audio-tokenizer (transformers conversion; the original "
                "weights are the mimi part of kyutai/pocket-tts languages/<language>/model.safetensors, gated)",
        licence="code MIT (kyutai-labs/pocket-tts LICENSE); weights CC-BY 4.0 (Kyutai)",
        discriminators="VAE-GAN (adversarial training, CALM paper); the discriminators were not read here",
        training_data="not stated in the sources read",
        hub_id="eustlb/pocket-tts-audio-tokenizer",
        sources=("transformers 5.24 PocketTTSAudioTokenizerConfig (checkpoint eustlb/pocket-tts-audio-tokenizer; "
                 "sampling_rate 24000, upsampling_ratios 6-5-4, latent_stride 16, frame_size 1920, latent_dim 32, "
                 "hidden_size 512, 2 layers, sliding_window 250) and PocketTTSAudioTokenizerModel (encode -> "
                 "latents [B, frames, 32], decode(latents) -> audio_values)",
                 "kyutai-labs/pocket-tts pocket_tts/config/english_2026-04.yaml, mimi section (sample_rate 24000, "
                 "frame_rate 12.5, inner_dim 32, seanet ratios 6-5-4, n_filters 64, transformer d_model 512, "
                 "2 layers, context 250) and models/mimi.py (encode_to_latent / decode_from_latent)",
                 "kyutai-labs/pocket-tts models/tts_model.py (kyutai/pocket-tts gated; without-voice-cloning "
                 "fallback), LICENSE (MIT)",
                 "arXiv:2509.06926 abstract (CALM: the next continuous frame of an audio VAE; Pocket TTS)"),
        notes="Continuous: 32 floats per frame at 12.5 Hz, what Pocket TTS's flow head generates (it normalises "
              "them with its own emb_mean / emb_std, which belong to the TTS model, not to this tokenizer). "
              "Stored as float32 that is 12.8 kbps, a storage figure, not a codec bitrate.",
    ),
]

SMALL = dict(hidden_size=32, num_filters=4, upsample_groups=32, num_hidden_layers=1, intermediate_size=32,
             num_attention_heads=2, num_key_value_heads=2)  # keeps the rates and the 32-d latent

FAMILY = latents.LatentFamily(
    model_class="PocketTTSAudioTokenizerModel",
    encode=lambda model, wave: model.encode(wave).latents,
    decode=lambda model, z: model.decode(z).audio_values,
    facts=lambda c: dict(sample_rate=c.sampling_rate, frame_rate=c.frame_rate, latent_dim=c.latent_dim),
    config=lambda info, small: hf_codec.make("PocketTTSAudioTokenizerConfig", **(SMALL if small else {})),
    feature_extractor=lambda config: hf_codec.make(  # transformers maps this model type to EncodecFeatureExtractor
        "EncodecFeatureExtractor", feature_size=1, sampling_rate=config.sampling_rate, padding_value=0.0),
    context_seconds=3.0,
)
load, weight_spec, write_random_weights = latents.declare(INFOS, FAMILY)

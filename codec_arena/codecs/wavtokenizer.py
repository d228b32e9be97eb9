"""WavTokenizer (Ji et al., 2024) through transformers'
`WavTokenizerModel.from_pretrained("swiss-ai/wavtokenizer-...")`.

24 kHz mono, one VQ codebook of 4096 entries (12 bits) per frame; the frame rate is set by the
encoder's ratios: 40 frames/s (hop 600, 0.48 kbps) or 75 frames/s (hop 320, 0.9 kbps), one operating
point each. All releases are on the hub in transformers format (swiss-ai); we offer the large 40-token
unified model (speech, music, audio), the large 75-token speech v2 model, the medium 75-token speech
and music/audio v2 models, and the small LibriTTS-only 40-token model: the four WavTokenizer
configurations Codec-SUPERB runs, plus the music model. The other releases share the architecture.
The model pads clips itself (its feature extractor only batches), and long clips go through the engine
as in `hf_codec` (not exact: the encoder ends in an LSTM and the decoder attends over all frames).
"""

from __future__ import annotations

from . import hf_codec
from .base import CodecInfo

_COMMON = dict(
    family="WavTokenizer", sample_rate=24_000, channels=1, codebook_size=4096, max_codebooks=1, quantizer="single VQ",
    paper="Ji et al., WavTokenizer: an Efficient Acoustic Discrete Codec Tokenizer for Audio Language Modeling, "
          "2024 (arXiv:2408.16532, ICLR 2025)",
    code_url="https://github.com/jishengpeng/WavTokenizer",
    licence="code MIT; weights: novateur model cards (converted copies by swiss-ai)",
    discriminators="multi-period (MPD) + multi-resolution (MRD) + DAC's multi-band complex STFT",
    sources=("https://github.com/jishengpeng/WavTokenizer README (available models: corpus, tokens/s, domain) and "
             "decoder/experiment.py (discriminators)",
             "transformers docs model_doc/wavtokenizer.md (swiss-ai checkpoints, ratios 6-5-5-4 / 8-5-4-2)"),
)


def _info(codec_id: str, hub_id: str, frame_rate: float, domain: str, data: str, notes: str) -> CodecInfo:
    kbps = round(12 * frame_rate / 1000, 3)
    return CodecInfo(id=codec_id, frame_rate=frame_rate, bitrates_kbps=(kbps,), default_bitrate_kbps=kbps,
                     domain=domain, hub_id=hub_id, training_data=data, notes=notes,
                     weights=f"Hugging Face hub {hub_id} (transformers conversion of the novateur release)", **_COMMON)


INFOS = [
    _info("wavtokenizer_small_speech_40", "swiss-ai/wavtokenizer-small-speech-40token", 40.0, "speech",
          "LibriTTS (585 hours of English audiobook speech)",
          "40 tokens/s from one 4096-entry codebook; the authors' small model (WavTokenizer-small-600-24k-4096), "
          "trained on LibriTTS only."),
    _info("wavtokenizer_large_40", "swiss-ai/wavtokenizer-large-unify-40token", 40.0, "general",
          "80,000 hours of speech, audio and music",
          "40 tokens/s from one 4096-entry codebook; the tokenizer of Apertus 1.5."),
    _info("wavtokenizer_large_speech_75", "swiss-ai/wavtokenizer-large-speech-75token-v2", 75.0, "speech",
          "80,000 hours of speech (the authors' large speech model, v2 checkpoint)",
          "75 tokens/s from one 4096-entry codebook; the authors' v2 checkpoint for speech."),
    _info("wavtokenizer_medium_speech_75", "swiss-ai/wavtokenizer-medium-speech-75token-v2", 75.0, "speech",
          "10,000 hours (medium release, speech model, v2)",
          "75 tokens/s from one 4096-entry codebook; the medium speech v2 checkpoint, which Codec-SUPERB runs as "
          "wavtokenizer_24k_medium_600_4096."),
    _info("wavtokenizer_medium_music_audio_75", "swiss-ai/wavtokenizer-medium-music-audio-75token-v2", 75.0, "music",
          "10,000 hours (medium release, music and audio model, v2)",
          "75 tokens/s from one 4096-entry codebook, trained for music and general audio."),
]
RATIOS = {40.0: [6, 5, 5, 4], 75.0: [8, 5, 4, 2]}  # upsampling_ratios (hop 600 / 320)
SMALL = dict(num_filters=2, hidden_size=16, codebook_dim=16, decoder_hidden_size=32, decoder_intermediate_size=32,
             decoder_num_layers=1, decoder_attention_num_groups=8, num_lstm_layers=1)


def fit_codebook(codec: hf_codec.HFCodec) -> None:
    """Initialise the codebook from encoder outputs on noise (as k-means init does from data): with
    N(0, 1) entries far from the encoder's scale, every frame would pick the same code."""
    import torch

    latents = hf_codec.captured(codec.model.encoder_model.encoder, lambda: hf_codec.encode_noise(codec))
    latents = latents[0].T  # (frames, dim)
    codebook = codec.model.encoder_model.quantizer.codebook
    picks = latents[torch.randint(0, latents.shape[0], (codebook.embed.shape[0],))]
    with torch.no_grad():
        codebook.embed.copy_(picks + torch.randn_like(picks) * latents.std(0))
        codebook.embed_avg.copy_(codebook.embed)


# Not exact: an LSTM ends the encoder, and the decoder's Vocos backbone attends (and group-normalises)
# over all frames.
FAMILY = hf_codec.HFFamily(
    model_class="WavTokenizerModel",
    encode=lambda model, inputs, point: model.encode(**inputs).audio_codes,
    latent=lambda model, inputs: model.encoder_model.encoder(inputs["input_values"]),
    facts=lambda c: dict(sample_rate=c.sampling_rate, frame_rate=c.sampling_rate / c.hop_length,
                         codebook_size=c.codebook_size, codebooks=1),
    config=lambda info, small: hf_codec.make("WavTokenizerConfig", upsampling_ratios=RATIOS[info.frame_rate],
                                             **(SMALL if small else {})),
    feature_extractor=lambda config: hf_codec.make("WavTokenizerFeatureExtractor", sampling_rate=24_000,
                                                   hop_length=config.hop_length),
    make_codes_vary=fit_codebook, exact=False, batchable=True,
)
load, weight_spec, write_random_weights = hf_codec.declare(INFOS, FAMILY)

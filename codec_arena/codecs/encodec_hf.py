"""EnCodec 32 kHz, the tokenizer of MusicGen (Copet et al., 2023), through transformers'
`EncodecModel.from_pretrained("facebook/encodec_32khz")`.

Not one of the EnCodec paper's releases (those are `encodec_24khz` / `encodec_48khz`, through the
`encodec` package): audiocraft trained this variant for MusicGen (its §2.1 and §4.1; audiocraft's
`config/model/encodec/encodec_large_nq4_s640.yaml`): 32 kHz mono, non-causal SEANet with 64 base
filters and strides 8-5-4-4 (640 samples, 50 frames/s), RVQ of 4 codebooks of 2048 entries = 2.2 kbps.
It was trained at that one bandwidth (no quantizer dropout), so 2.2 kbps is its only operating point,
as `config.target_bandwidths` = [2.2] says. MusicGen's tokens are these codes, so a MusicGen prompt
resynthesised here is what the language model hears.

The model is non-causal, with LSTMs in its encoder and decoder, and transformers' encode/decode take
the whole clip, so long clips go through the engine as in `hf_codec` (10 s windows with 1 s of context
each side), and seams only approximate one pass.
"""

from __future__ import annotations

from . import hf_codec
from .base import CodecInfo

FRAME_RATE, CODEBOOK_BITS, CODEBOOKS = 50.0, 11, 4  # 32 kHz / 640; 2048 entries; 4 x 11 x 50 = 2.2 kbps
KBPS = CODEBOOKS * CODEBOOK_BITS * FRAME_RATE / 1000
INFOS = [
    CodecInfo(
        id="encodec_32khz", family="EnCodec", sample_rate=32_000, channels=1, frame_rate=FRAME_RATE,
        codebook_size=2048, max_codebooks=CODEBOOKS, bitrates_kbps=(KBPS,), default_bitrate_kbps=KBPS,
        quantizer="RVQ", domain="music",
        paper="Copet et al., Simple and Controllable Music Generation, 2023 (arXiv:2306.05284), §2.1 "
              "(the EnCodec variant MusicGen models: 32 kHz, 4 codebooks x 2048, 50 Hz)",
        code_url="https://github.com/facebookresearch/audiocraft",
        weights="Hugging Face hub facebook/encodec_32khz (transformers format: config.json + model.safetensors)",
        licence="code MIT (audiocraft); weights CC-BY-NC 4.0 (audiocraft LICENSE_weights)",
        discriminators="multi-scale STFT (MS-STFT), with EnCodec's loss balancer (audiocraft docs/ENCODEC.md)",
        training_data="MusicGen's 20K hours of licensed music: an internal set of 10K high-quality tracks, "
                      "ShutterStock and Pond5 (MusicGen paper §4.1; audiocraft docs/MUSICGEN.md)",
        hub_id="facebook/encodec_32khz",
        sources=("MusicGen paper §2.1 and §4.1 (non-causal EnCodec, stride 640, 50 Hz, 4 x 2048 RVQ)",
                 "audiocraft config/model/encodec/encodec_large_nq4_s640.yaml (ratios 8-5-4-4, 64 filters, "
                 "n_q 4, bins 2048, no quantizer dropout) and config/solver/compression/encodec_musicgen_32khz.yaml",
                 "transformers EncodecConfig of facebook/encodec_32khz (target_bandwidths [2.2], "
                 "use_causal_conv false)",
                 "audiocraft model_cards/MUSICGEN_MODEL_CARD.md (code MIT, weights CC-BY-NC 4.0)"),
        notes="The tokenizer of MusicGen (musicgen_small, musicgen_medium, musicgen_melody); trained at 2.2 kbps "
              "only, so fewer codebooks are not offered.",
    ),
]
# facebook/encodec_32khz's config.json (EncodecConfig defaults for the rest)
CONFIG = dict(sampling_rate=32_000, audio_channels=1, target_bandwidths=[KBPS], codebook_size=2048,
              upsampling_ratios=[8, 5, 4, 4], num_filters=64, hidden_size=128, use_causal_conv=False,
              use_conv_shortcut=False, normalize=False, norm_type="weight_norm", pad_mode="reflect",
              num_lstm_layers=2, chunk_length_s=None, overlap=None)
# keeps the rate, hop, codebook size and count; shrinks channels and the LSTM
SMALL = dict(CONFIG, num_filters=2, hidden_size=8, num_lstm_layers=1)


def fit_codebooks(model, run) -> None:
    """Random-weight helper: fill each RVQ level's codebook with that level's residuals on noise (plus
    jitter), as k-means init does from data. A fresh model's codebooks are zeros, and N(0, 1) entries far
    from the encoder's scale make every frame pick the same few codes. `run` encodes something."""
    import torch

    residual = hf_codec.captured(model.encoder, run)[0].T  # (frames, dim)
    with torch.no_grad():
        for layer in model.quantizer.layers:
            book = layer.codebook
            picks = residual[torch.randint(0, residual.shape[0], (book.embed.shape[0],))]
            book.embed.copy_(picks + 0.5 * torch.randn_like(picks) * residual.std(0))
            book.embed_avg.copy_(book.embed)
            residual = residual - book.decode(book.encode(residual))


def config(small: bool = False):
    """The `EncodecConfig` of facebook/encodec_32khz (or a tiny one with the same rates and codebooks);
    MusicGen's random weights use it for their audio encoder too."""
    from transformers import EncodecConfig

    return EncodecConfig(**(SMALL if small else CONFIG))


def feature_extractor():
    """facebook/encodec_32khz's preprocessor_config.json."""
    from transformers import EncodecFeatureExtractor

    return EncodecFeatureExtractor(feature_size=1, sampling_rate=32_000, padding_value=0.0)


# Not exact: two LSTM layers end the encoder and begin the decoder, so every frame depends on all before it.
FAMILY = hf_codec.HFFamily(
    model_class="EncodecModel",
    # (chunks = 1, batch, codebooks, frames): chunk_length_s is None, so the clip is one chunk
    encode=lambda model, inputs, point: model.encode(**inputs, bandwidth=point.bitrate_kbps).audio_codes[0],
    latent=lambda model, inputs: model.encoder(inputs["input_values"]),
    decode=lambda model, codes: model.decode(codes[None], audio_scales=[None]).audio_values,
    facts=lambda c: dict(sample_rate=c.sampling_rate, frame_rate=c.sampling_rate / c.hop_length,
                         codebook_size=c.codebook_size, codebooks=c.num_quantizers),
    config=lambda info, small: config(small),
    feature_extractor=lambda config: feature_extractor(),
    make_codes_vary=lambda codec: fit_codebooks(codec.model, lambda: hf_codec.encode_noise(codec)),
    exact=False, batchable=True,
)
load, weight_spec, write_random_weights = hf_codec.declare(INFOS, FAMILY)

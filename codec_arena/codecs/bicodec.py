"""BiCodec (Wang et al., 2025), the tokenizer of Spark-TTS: our port of the official inference path
(`sparktts/models/audio_tokenizer.py`, `BiCodecTokenizer`), reading the official files unchanged.

There is no package on PyPI: the authors ship the code on GitHub (SparkAudio/Spark-TTS) and the
weights inside the hub repository `SparkAudio/Spark-TTS-0.5B`, which `BiCodecTokenizer(model_dir)`
reads: `config.yaml` (sample rate, `ref_segment_duration`, `latent_hop_length`,
`volume_normalize`), `BiCodec/config.yaml` + `BiCodec/model.safetensors` (the codec), and
`wav2vec2-large-xlsr-53/` (a transformers Wav2Vec2Model + Wav2Vec2FeatureExtractor, whose hidden
states 11, 14 and 16, averaged, are the semantic features). We download those three parts (not
the 2 GB language model), load wav2vec 2.0 with transformers' `from_pretrained` as the official code
does, and the codec with our port (`_bicodec_nets.py`, the official state-dict keys, strict).
`benchmarks/parity/bicodec.py` checks codes and audio against the official code.

Two token streams. Semantic tokens: one 8192-entry codebook, one token per 320 samples (50 a second,
13 bits: 0.65 kbps), `Codes.tokens` [1, T]. Global tokens: 32 per utterance from a 4^6 = 4096-level
FSQ (12 bits each, 384 bits a clip, not counted in the bitrate), computed from a reference clip,
carried in `Codes.extras["global_tokens"]` [1, 32] (the official [q, 32], q = 1 stage); decoding
needs both (a language model that speaks BiCodec, Spark-TTS, predicts both).

What `tokenize` does, and we do: the clip is volume-normalised (`audio_volume_normalize`: a gain
from the loud percentiles of the whole clip, peak kept under 1); the reference clip is its first
`ref_segment_duration` (6 s) rounded down to whole hops, tiled first when the clip is shorter; the
mel spectrogram of that gives the global tokens; wav2vec 2.0 on the whole clip (zero-mean,
unit-variance normalised by its feature extractor) gives the semantic features. The official
decoder output stays at the normalised level; we keep the gain in the codes (`extras["volume_gain"]`)
and divide the decoded audio by it, so the reconstruction comes back at the input's level (decoded
x gain = the official output).

Lengths. wav2vec 2.0 gives a frame per 320 samples once 400 are there: (n - 400) // 320 + 1 frames,
so the official drops the last 80-399 samples and its decoder returns that much less. We keep
ceil(n / 320) frames, so the decoder covers the whole clip: the input is zero-padded (after the
feature extractor's normalisation, masked out of wav2vec 2.0's attention, as transformers pads a
batch) to that many frames, clips under 400 samples to one frame. The official frames' features
are the official ones (the padded frames are masked; float rounding aside), and their latents are
computed without the extra frames, as the official encoder sees them; the 1-2 extra frames' tokens
come from the same pass with them. So our first (n - 400) // 320 + 1 tokens are the official tokens.

Long inputs go through the streaming engine (`stream`): windows (10 s unless set), each reading 80
samples past its last frame (so its frames are whole) with context each side: wav2vec 2.0's
positional convolution (64 frames) plus the semantic encoder's reach (57 frames) plus two (123
frames, 2.5 s); decoder windows the prenet's and the wave generator's reach plus two (69). wav2vec
2.0 attends over its whole window, so windows only approximate one pass (`exact = False`). The
whole-clip steps come from a first pass (`first_pass`): the volume gain, wav2vec 2.0's
normalisation statistics over the whole clip, and the global tokens, computed once from the
clip's reference segment and shared by every window. Decoding is exact in windows: the prenet and
the wave generator are convolutions and per-frame layers conditioned on the one speaker embedding.
Chunks hand the clip's global tokens and gain on as per-frame side data (broadcast views), so anything
that decodes the engine's output has them (the exactness figures too); the codes keep them once.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import weights
from ..errors import RequestError, WeightsMismatch, WeightsUnavailable
from . import stream
from .base import CodecInfo, Codes, OperatingPoint
from .chunked import ChunkedCodec

HUB_ID = "SparkAudio/Spark-TTS-0.5B"
CODEC_DIR, SSL_DIR = "BiCodec", "wav2vec2-large-xlsr-53"
CHECKPOINT = f"{CODEC_DIR}/model.safetensors"
SEMANTIC_LAYERS = (11, 14, 16)  # `extract_wav2vec2_features`: the mean of these hidden states
SSL_FRAME = 400  # samples one wav2vec 2.0 frame reads (its convolutions' receptive field)
CODEBOOK_SIZE, GLOBAL_TOKENS, GLOBAL_LEVELS = 8192, 32, 4096
KBPS = round(50 * math.log2(CODEBOOK_SIZE) / 1000, 3)  # 0.65

INFOS = [
    CodecInfo(
        id="bicodec", family="BiCodec (Spark-TTS)", sample_rate=16_000, channels=1, frame_rate=50.0,
        codebook_size=CODEBOOK_SIZE, max_codebooks=1, bitrates_kbps=(KBPS,), default_bitrate_kbps=KBPS,
        quantizer="single VQ (factorised to 8 dims, cosine search) + 32 global FSQ tokens per utterance",
        domain="speech",
        paper="Wang et al., Spark-TTS: An Efficient LLM-Based Text-to-Speech Model with Single-Stream Decoupled "
              "Speech Tokens, 2025 (arXiv:2503.01710)",
        code_url="https://github.com/SparkAudio/Spark-TTS",
        weights=f"Hugging Face {HUB_ID}: config.yaml, {CODEC_DIR}/ (config.yaml, model.safetensors) and {SSL_DIR}/ "
                "(the wav2vec 2.0 model the semantic features come from)",
        licence="weights CC BY-NC-SA 4.0 (the SparkAudio/Spark-TTS-0.5B model card); code Apache-2.0 (repository)",
        discriminators="GAN-trained with L1 feature matching through the MelGAN/DAC discriminators (paper §3, "
                       "citing Kumar et al. 2019, 2024); SparkVox's recipe: multi-period (periods 2, 3, 5, 7, 11) + "
                       "multi-band multi-resolution STFT",
        training_data="speech (English and Chinese); the codec's corpora are given in the paper's experiments, not "
                      "in the sources read here; the Spark-TTS language model is trained on VoxBox, 100k hours "
                      "(abstract)",
        hub_id=HUB_ID,
        sources=(
            "SparkAudio/Spark-TTS sparktts/models/audio_tokenizer.py (BiCodecTokenizer: files read, reference clip, "
            "wav2vec 2.0 layers 11/14/16, 16 kHz), sparktts/models/bicodec.py and sparktts/modules/ (networks)",
            "SparkAudio/Spark-TTS runtime/triton_trtllm/model_repo/audio_tokenizer/1/model.py (16 kHz, reference "
            "segment 6 s, latent hop 320)",
            "BiCodec/config.yaml values (codebook 8192 x 8, FSQ levels 4^6, 32 tokens, rates 8-5-4-2) as "
            "latentforge/VoiceStudio's SparkTTSBiCodecConfig reproduces them; our loader reads the hub file itself",
            f"https://huggingface.co/{HUB_ID} (model card: licence cc-by-nc-sa-4.0; files)",
            "arXiv:2503.01710 abstract (semantic + global tokens, VoxBox 100k h) and §3 (GAN, feature matching; "
            "quoted in unslothai/unsloth issue 3866)",
            "latentforge/VoiceStudio voicestudio/models/spark_tts/README.md (SparkVox discriminators)",
        ),
        notes="50 semantic tokens a second (0.65 kbps) plus 32 global tokens per utterance (12 bits each, 384 bits "
              "a clip), kept in the codes' extras; decoded at the input's level (the official output is "
              "volume-normalised).",
    ),
]


# What `BiCodecTokenizer` reads, the checkpoint first (the file messages name when nothing is there).
REQUIRED = (CHECKPOINT, "config.yaml", f"{CODEC_DIR}/config.yaml", f"{SSL_DIR}/config.json",
            f"{SSL_DIR}/preprocessor_config.json")
SSL_WEIGHTS = (f"{SSL_DIR}/pytorch_model.bin", f"{SSL_DIR}/model.safetensors")  # the release has the .bin


def _location() -> Path:
    """The checkpoint once every file the tokenizer reads is in the snapshot; before that the first one
    missing, so a partial download counts as missing, is fetched again and is named in the message."""
    for name in REQUIRED:
        if not weights.hub_file(HUB_ID, name).exists():
            return weights.hub_file(HUB_ID, name)
    if not any(weights.hub_file(HUB_ID, name).exists() for name in SSL_WEIGHTS):
        return weights.hub_file(HUB_ID, SSL_WEIGHTS[0])
    return weights.hub_file(HUB_ID, CHECKPOINT)


def weight_spec(codec_id: str) -> weights.WeightSpec:
    spec = weights.hub_spec(codec_id, HUB_ID, CHECKPOINT,
                            allow_patterns=["config.yaml", f"{CODEC_DIR}/*", f"{SSL_DIR}/*"])
    return replace(spec, location=_location)


def _snapshot_files(codec_id: str) -> Path:
    """The snapshot folder, once the codec's checkpoint and the other files `BiCodecTokenizer` reads are there."""
    weights.download(weight_spec(codec_id))
    path = _location()
    if path != weights.hub_file(HUB_ID, CHECKPOINT):  # the download left a part out
        raise WeightsUnavailable(codec_id, path, "part of the download is missing")
    return path.parent.parent


def load(info: CodecInfo, device: str) -> BiCodecCodec:
    import yaml
    from safetensors.torch import load_file
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    from ._bicodec_nets import load_official

    snapshot = _snapshot_files(info.id)
    settings = yaml.safe_load((snapshot / "config.yaml").read_text())
    config = yaml.safe_load((snapshot / CODEC_DIR / "config.yaml").read_text())["audio_tokenizer"]
    checkpoint = snapshot / CHECKPOINT
    if settings.get("sample_rate") != info.sample_rate:
        raise WeightsMismatch(info.id, snapshot / "config.yaml", f"sample_rate {settings.get('sample_rate')}, "
                              f"expected {info.sample_rate}")
    try:
        model = load_official(config, load_file(checkpoint))
    except RuntimeError as exc:
        raise WeightsMismatch(info.id, checkpoint, str(exc)) from exc
    processor = Wav2Vec2FeatureExtractor.from_pretrained(snapshot / SSL_DIR)
    ssl = Wav2Vec2Model.from_pretrained(snapshot / SSL_DIR).eval()
    reach, stride = 1, 1  # wav2vec 2.0's frames: the receptive field and stride of its convolutions
    for kernel, step in zip(ssl.config.conv_kernel, ssl.config.conv_stride, strict=True):
        reach, stride = reach + (kernel - 1) * stride, stride * step
    hop = settings.get("latent_hop_length")
    if (reach, stride) != (SSL_FRAME, hop) or math.prod(config["decoder"]["rates"]) != hop:
        raise WeightsMismatch(info.id, snapshot, f"wav2vec 2.0 frames of {reach} samples every {stride}, decoder "
                              f"rates {config['decoder']['rates']} and latent_hop_length {hop} do not agree")
    keep = max(SEMANTIC_LAYERS) + 1  # later layers cannot change hidden state 16: drop them (7 of 24)
    if len(ssl.encoder.layers) > keep:
        ssl.encoder.layers = ssl.encoder.layers[:keep]
        ssl.config.num_hidden_layers = keep
    return BiCodecCodec(info, model.to(device), ssl.to(device), processor, settings, device, checkpoint)


class BiCodecCodec(ChunkedCodec):
    """`BiCodecTokenizer.tokenize` / `detokenize` per window of the engine, with the whole-clip steps (volume
    gain, wav2vec 2.0 normalisation, global tokens) from a first pass."""

    exact = False  # wav2vec 2.0 attends over its whole window
    whole_input_pass = True
    read_ahead = SSL_FRAME - 320  # a window's last frame reads 80 samples past it

    def __init__(self, info: CodecInfo, model, ssl, processor, settings: dict, device: str, checkpoint: Path) -> None:
        from ._bicodec_nets import receptive_frames

        self.info, self.model, self.ssl, self.device, self.checkpoint = info, model, ssl, device, checkpoint
        self.hop = int(settings["latent_hop_length"])
        self.volume_normalize = bool(settings.get("volume_normalize", False))
        self.ref_samples = int(settings["sample_rate"] * settings["ref_segment_duration"]) // self.hop * self.hop
        if processor.sampling_rate != info.sample_rate:
            raise WeightsMismatch(info.id, checkpoint.parent.parent / SSL_DIR,
                                  f"the feature extractor runs at {processor.sampling_rate} Hz")
        self.do_normalize, self.padding_value = bool(processor.do_normalize), float(processor.padding_value)
        positional = ssl.config.num_conv_pos_embeddings // 2  # frames the positional convolution sees each side
        self.context_units = positional + math.ceil(receptive_frames(model.encoder)) + 2
        self.decode_context_units = math.ceil(receptive_frames(model.prenet) + receptive_frames(model.decoder)) + 2

    # --- the whole-clip steps ------------------------------------------------------------------------

    def first_pass(self, reader: stream.Reader, window_units: int | None = None) -> dict[str, np.ndarray]:
        """What `process_audio` and the feature extractor compute over the whole clip: the volume
        normalisation's steps (`volume`: divisor before x 0.1, factor, final divisor; 0 = skipped),
        its overall gain, wav2vec 2.0's normalisation statistics (`norm`: mean, variance of the
        normalised clip; exactly the feature extractor's when the clip is one window) and the global
        tokens [q, 32] of the reference clip."""
        import torch

        block = int(stream.BLOCK_SECONDS * self.info.sample_rate)
        volume = self._volume_steps(reader, block)
        gain = (0.1 / volume[0] if volume[0] else 1.0) * (volume[1] or 1.0) / (volume[2] or 1.0)
        if stream.units_for(self, reader.frames) <= (window_units or self.window_units):
            clip = self._normalised(reader.read(0, reader.frames)[0], volume).astype(np.float32)
            norm = np.array([clip.mean(), clip.var()], np.float32)  # as the feature extractor computes them
        else:
            total = squares = 0.0
            for piece in stream.blocks(reader, block):
                values = self._normalised(piece[0], volume).astype(np.float32).astype(np.float64)
                total, squares = total + values.sum(), squares + (values**2).sum()
            mean = total / reader.frames
            norm = np.array([mean, max(squares / reader.frames - mean**2, 0.0)], np.float32)
        ref = self._normalised(reader.read(0, min(reader.frames, self.ref_samples))[0], volume)
        if self.ref_samples > ref.shape[0]:  # `get_ref_clip`: repeat and truncate
            ref = np.tile(ref, self.ref_samples // ref.shape[0] + 1)
        ref = torch.from_numpy(ref[: self.ref_samples]).unsqueeze(0).float().to(self.device)
        global_tokens = self.model.global_tokens(ref)[0].cpu().numpy().astype(np.int64)
        return {"volume": volume, "gain": np.array([gain]), "norm": norm, "global_tokens": global_tokens}

    def _volume_steps(self, reader: stream.Reader, block: int) -> np.ndarray:
        """`audio_volume_normalize(audio, coeff=0.2)`'s decisions on the whole clip, so every window can
        apply the same float64 steps: [divisor s of `audio / s * 0.1` (when the peak is under 0.1),
        the clipped factor 0.2 / volume, the final peak divisor]; 0 where a step does not apply."""
        steps = np.zeros(3)
        if not self.volume_normalize:
            return steps
        magnitudes = np.concatenate([np.abs(piece[0]) for piece in stream.blocks(reader, block)])
        magnitudes.sort()  # float32 values, sorted as the official float64 copies would be
        peak = float(magnitudes[-1])
        if peak < 0.1:
            steps[0] = max(peak, 1e-3)
        audible = magnitudes[int(np.count_nonzero(magnitudes <= np.float64(0.01))):]
        if audible.shape[0] <= 10:
            return steps
        count = audible.shape[0]
        volume = np.mean(audible[int(0.9 * count): int(0.99 * count)].astype(np.float64))
        steps[1] = np.clip(0.2 / volume, a_min=0.1, a_max=10)
        top = max(float(np.max(np.abs(self._normalised(piece[0], steps)))) for piece in stream.blocks(reader, block))
        if top > 1:
            steps[2] = top
        return steps

    @staticmethod
    def _normalised(samples: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Samples [n] with the volume normalisation's steps, in float64 and in the official order."""
        audio = samples.astype(np.float64)
        if steps[0]:
            audio = audio / steps[0] * 0.1
        if steps[1]:
            audio = audio * steps[1]
        if steps[2]:
            audio = audio / steps[2]
        return audio

    def encode_into(self, reader: stream.Reader, point: OperatingPoint, sink: stream.TokenSink,
                    progress: stream.Progress | None = None) -> dict[str, np.ndarray]:
        """The first pass, then the windows; the codes carry the global tokens and the volume gain once (the
        chunks' per-frame copies of them stop here)."""
        prepared = self.first_pass(reader, self.window_units)
        stream.encode(self, reader, point, _TokensOnly(sink), progress=progress, prepared=prepared)
        return {"global_tokens": prepared["global_tokens"], "volume_gain": prepared["gain"]}

    # --- chunk functions -------------------------------------------------------------------------------

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint, prepared: dict[str, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """[1, 1, n] -> semantic tokens [1, 1, ceil(n / hop)], with the clip's global tokens and volume gain as
        per-frame side data (broadcast views), so whatever decodes these chunks' tokens has them."""
        prepared = prepared or self.first_pass(stream.ArrayReader(x[0]), None)
        tokens = self.model.quantizer.tokenize(self._latent(x, prepared))[:, None].cpu().numpy()
        side = per_frame(prepared["global_tokens"], prepared["gain"], tokens.shape[-1])
        return tokens, {key: value[None] for key, value in side.items()}

    def latent_chunk(self, x: np.ndarray, prepared: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """[1, 1, n] -> the semantic encoder's output [1, 1024, ceil(n / hop)] (before the quantizer)."""
        return self._latent(x, prepared or self.first_pass(stream.ArrayReader(x[0]), None)).float().cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[1, 1, T] and the clip's global tokens -> [1, 1, T x hop], at the input's level."""
        import torch

        if "global_tokens" not in side:
            raise RequestError(MISSING_GLOBAL.format(self.info.id))
        global_tokens = torch.from_numpy(np.array(side["global_tokens"][0, 0])).to(self.device)  # a copy of the view
        semantic = torch.from_numpy(np.ascontiguousarray(tokens[:, 0])).to(self.device)
        wav = self.model.detokenize(semantic, global_tokens[None])
        gain = float(side["volume_gain"][0, 0]) if "volume_gain" in side else 1.0
        return (wav / gain if gain != 1.0 else wav).float().cpu().numpy()

    def side_of(self, codes: Codes) -> dict[str, np.ndarray]:
        """The clip's global tokens (and volume gain) as every frame's side data, for the engine's windows."""
        if "global_tokens" not in codes.extras:
            raise RequestError(MISSING_GLOBAL.format(self.info.id))
        return per_frame(codes.extras["global_tokens"], codes.extras.get("volume_gain"), codes.frames)

    def _latent(self, x: np.ndarray, prepared: dict[str, np.ndarray]):
        """[1, 1, n] -> latent [1, D, ceil(n / hop)]: wav2vec 2.0 features of the window (normalised with the
        whole clip's statistics, zero-padded to whole frames, the padding masked), the official frames'
        latents from those frames alone (as the official encoder sees the clip's end), the rest from all."""
        import torch

        audio = self._normalised(x[0, 0], prepared["volume"]).astype(np.float32)
        if self.do_normalize:
            mean, var = (np.float32(v) for v in prepared["norm"])
            audio = (audio - mean) / np.sqrt(var + 1e-7)
        frames = max(1, math.ceil(audio.shape[0] / self.hop))
        real = max(audio.shape[0], SSL_FRAME)  # a clip under one frame counts its zero padding as signal
        padded = np.full(frames * self.hop + SSL_FRAME - self.hop, self.padding_value, np.float32)
        padded[: audio.shape[0]] = audio
        mask = None
        if real < padded.shape[0]:
            mask = torch.zeros(1, padded.shape[0], dtype=torch.long, device=self.device)
            mask[:, :real] = 1
        hidden = self.ssl(torch.from_numpy(padded)[None].to(self.device), attention_mask=mask,
                          output_hidden_states=True).hidden_states
        a, b, c = (hidden[i] for i in SEMANTIC_LAYERS)
        features = (a + b + c) / 3
        official = (real - SSL_FRAME) // self.hop + 1
        if official >= frames:
            return self.model.semantic_latent(features)
        head = self.model.semantic_latent(features[:, :official])
        return torch.cat([head, self.model.semantic_latent(features)[..., official:]], dim=-1)


MISSING_GLOBAL = ("{} decodes semantic tokens together with the clip's 32 global tokens (`extras['global_tokens']`, "
                  "which BiCodec's encoder and Spark-TTS's language model give); these codes carry none.")


def per_frame(global_tokens: np.ndarray, gain: np.ndarray | None, frames: int) -> dict[str, np.ndarray]:
    """The clip's global tokens [q, 32] (and volume gain) as side data of every frame: read-only broadcast
    views [frames, q, 32] and [frames], so windows and files see them without copies."""
    found = np.asarray(global_tokens, np.int64)
    side = {"global_tokens": np.broadcast_to(found, (frames, *found.shape))}
    if gain is not None:
        side["volume_gain"] = np.broadcast_to(np.asarray(gain, np.float64).reshape(1), (frames,))
    return side


class _TokensOnly:
    """A sink that keeps the tokens and drops the chunks' per-frame copies of the clip's global tokens and
    gain (the codes carry them once, in their extras)."""

    def __init__(self, sink: stream.TokenSink) -> None:
        self.sink = sink

    def add(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> None:
        self.sink.add(tokens, {k: v for k, v in side.items() if k not in ("global_tokens", "volume_gain")})


# --- random weights in the official layout (tests) ----------------------------------------------------------

# The released config.yaml files' keys, with tiny widths for tests: the rates, kernel sizes, codebook and FSQ
# shapes stay, and so do ECAPA-TDNN's (its 512 channels are fixed in the official code).
SETTINGS = {"sample_rate": 16_000, "ref_segment_duration": 6, "latent_hop_length": 320, "volume_normalize": True}
MEL = {"sample_rate": 16_000, "n_fft": 1024, "win_length": 640, "hop_length": 320, "mel_fmin": 10, "mel_fmax": None,
       "num_mels": 128}


def small_config(ssl_width: int) -> dict:
    """`BiCodec/config.yaml`'s `audio_tokenizer` section at tiny widths."""
    width = 16
    vocos = {"vocos_dim": width, "vocos_intermediate_dim": 2 * width, "vocos_num_layers": 1}
    return {
        "mel_params": dict(MEL),
        "encoder": {"input_channels": ssl_width, **vocos, "out_channels": width, "sample_ratios": [1, 1]},
        "decoder": {"input_channel": width, "channels": 32, "rates": [8, 5, 4, 2], "kernel_sizes": [16, 11, 8, 4]},
        "quantizer": {"input_dim": width, "codebook_size": CODEBOOK_SIZE, "codebook_dim": 8, "commitment": 0.25,
                      "codebook_loss_weight": 2.0, "use_l2_normlize": True, "threshold_ema_dead_code": 0.2},
        "speaker_encoder": {"input_dim": MEL["num_mels"], "out_dim": width, "latent_dim": width,
                            "token_num": GLOBAL_TOKENS, "fsq_levels": [4, 4, 4, 4, 4, 4], "fsq_num_quantizers": 1},
        "prenet": {"input_channels": width, **vocos, "out_channels": width, "condition_dim": width,
                   "sample_ratios": [1, 1], "use_tanh_at_final": False},
        "postnet": {"input_channels": width, **vocos, "out_channels": ssl_width, "use_tanh_at_final": False},
    }


def full_config() -> dict:
    """The released `audio_tokenizer` section (the widths latentforge/VoiceStudio's converter reads back)."""
    vocos = {"vocos_dim": 384, "vocos_intermediate_dim": 2048}
    config = small_config(1024)
    config["encoder"].update(vocos, vocos_num_layers=12, out_channels=1024)
    config["decoder"].update(input_channel=1024, channels=1536)
    config["quantizer"].update(input_dim=1024)
    config["speaker_encoder"].update(out_dim=1024, latent_dim=128)
    config["prenet"].update(vocos, input_channels=1024, vocos_num_layers=12, out_channels=1024, condition_dim=1024)
    config["postnet"].update(vocos, input_channels=1024, vocos_num_layers=6, out_channels=1024)
    return config


def ssl_config(small: bool):
    """wav2vec2-large-xlsr-53's architecture (stable layer norm, layer-normed convolutions), or a tiny one
    with the same convolution strides, 128-wide positional convolution and enough layers for hidden state 16."""
    from transformers import Wav2Vec2Config

    if not small:
        return Wav2Vec2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                              do_stable_layer_norm=True, feat_extract_norm="layer", conv_bias=True)
    return Wav2Vec2Config(hidden_size=16, num_hidden_layers=max(SEMANTIC_LAYERS) + 1, num_attention_heads=2,
                          intermediate_size=32, conv_dim=(16,) * 7, do_stable_layer_norm=True,
                          feat_extract_norm="layer", conv_bias=True)


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """The three parts `BiCodecTokenizer` reads, in the hub-cache layout: config.yaml, BiCodec/ (config.yaml,
    model.safetensors with the official keys: weight_g/weight_v, the postnet) and wav2vec2-large-xlsr-53/
    (a transformers Wav2Vec2Model saved with its feature extractor). Tiny widths when `small`."""
    import tempfile

    import yaml
    from safetensors.torch import save_file
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    from ._bicodec_nets import BiCodec, Decoder, official_state

    ssl_cfg = ssl_config(small)
    config = small_config(ssl_cfg.hidden_size) if small else full_config()
    model = BiCodec(config)
    postnet = Decoder(**config["postnet"])
    snapshot = weights.hub_snapshot(HUB_ID, files={
        "config.yaml": yaml.safe_dump(SETTINGS).encode(),
        f"{CODEC_DIR}/config.yaml": yaml.safe_dump({"audio_tokenizer": config}).encode()})
    save_file(official_state(model, postnet), snapshot / CHECKPOINT, metadata={"format": "pt"})
    with tempfile.TemporaryDirectory() as folder:
        Wav2Vec2Model(ssl_cfg).save_pretrained(folder)
        Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, padding_value=0.0, do_normalize=True,
                                 return_attention_mask=True).save_pretrained(folder)
        for item in Path(folder).iterdir():
            (snapshot / SSL_DIR).mkdir(exist_ok=True)
            (snapshot / SSL_DIR / item.name).write_bytes(item.read_bytes())
    return snapshot / CHECKPOINT

"""AUV (Chen et al., 2025), one nested codebook for speech, vocals, music and sound, and the LLM-Codec
checkpoints (Chung, Chen and Lee, 2026) fine-tuned from it, through the official `auv` package.

The AUV authors publish one checkpoint, `auv.pt` on the Hugging Face hub (`SWivid/AUV`; their README
downloads it, Codec-SUPERB fetches it with `hf_hub_download`): `AUV().state_dict()`, which
`AUV().from_pretrained(path)` builds at its fixed size (conformer encoder, 8 layers, and decoder, 12
layers, 512 wide; 123M parameters) and loads strictly. That is what `load` calls for a checkpoint of
that size. The package takes no config, so tiny random-weight checkpoints (tests) are read by building
the package's own `AUVCodecEncWithVQ` / `AUVCodecDec` with the same arguments, only the widths and
depths taken from the checkpoint's tensors (a full-size checkpoint builds the same modules both ways).

LLM-Codec (arXiv:2604.17852; not UniAudio 1.5's LLM-Codec, which is `llm_codec`) fine-tunes that AUV
with language-model-facing losses and keeps the network: its export (`extract_upload.py` in
github.com/voidful/llm-codec) saves the trained `AUV` module's `state_dict()` as `llm-codec.pt`, and
Codec-SUPERB loads it, and each of its five ablations, with the same `AUV().from_pretrained`. So all
seven are the same architecture, tokens and bitrate, with other weights; each loads from its own hub
repository (`CHECKPOINTS`), and the shape read back from each file still decides how it is built.

16 kHz mono, one code per 320 samples (50 Hz) from one 20480-entry codebook: 50 x log2(20480) =
716 bits/s. The codebook is nested: training restricts speech to its first 8192 entries, vocals to the
first 12288, music and sound to all; inference (`AUV.encode`) searches all of it, and so do we.
The encoder reads an STFT (n_fft 4 x hop, reflect-padded, not centred), so it drops a partial last
frame and needs more than 480 samples: we zero-pad to whole frames, and to two frames at least, and
keep ceil(n / 320) codes. The decoder's inverse STFT gives exactly 320 samples per code.

Both conformers attend over the whole input, so no finite context reproduces one pass (`exact =
False`): long clips go through the streaming engine (`stream`) in equal windows (10 s unless set),
each with the convolutions' reach (depthwise kernel 31 in every layer, plus the STFT's frames) of
real signal either side computed and dropped: 122 frames for the encoder, 182 for the decoder.
"""

from __future__ import annotations

import functools
import math
import zipfile
from pathlib import Path

import numpy as np

from .. import weights
from .base import CodecInfo, OperatingPoint
from .chunked import ChunkedCodec

HUB_ID, CHECKPOINT = "SWivid/AUV", "auv.pt"
SAMPLE_RATE = 16_000  # `from_pretrained` builds the tokenizer at 16 kHz; the checkpoint does not say
MIN_FRAMES = 2  # the encoder's reflect padding (480 samples each side) needs more than 480 input samples
# `AUV.from_pretrained`'s arguments, as `shape_of` reads them back from a checkpoint.
OFFICIAL = dict(hop_length=320, encoder_layers=8, decoder_layers=12, hidden_size=512, ffn_mult=4,
                num_quantizers=1, codebook_size=20_480, codebook_dim=8)
# Tiny widths and depths (tests); the hop, the codebook and the attention heads' width (64) stay.
SMALL = dict(encoder_layers=1, decoder_layers=1, hidden_size=64, ffn_mult=1)
# `from_pretrained`'s nested partitions (used in training; `AUV.encode` passes no domain, so all codes).
PARTITIONS = {"speech": [0, 8192], "vocal": [0, 12288], "music": [0, 20480], "audio": [0, 20480],
              "other": [12288, 20480]}

KBPS = round(50 * math.log2(20_480) / 1000, 3)  # 0.716

INFOS = [
    CodecInfo(
        id="auv", family="AUV", sample_rate=SAMPLE_RATE, channels=1, frame_rate=50.0, codebook_size=20_480,
        max_codebooks=1, bitrates_kbps=(KBPS,), default_bitrate_kbps=KBPS,
        quantizer="single VQ (factorised to 8 dims, L2-normalised codes; nested domain partitions)",
        domain="general",
        paper="Chen et al., AUV: Teaching Audio Universal Vector Quantization with Single Nested Codebook, "
              "2025 (arXiv:2509.21968)",
        code_url="https://github.com/SWivid/AUV",
        weights=f"Hugging Face {HUB_ID}: {CHECKPOINT} (read by the package's AUV.from_pretrained)",
        licence="MIT (the auv package; the SWivid/AUV model card says license: mit)",
        discriminators="not stated in the sources read here (the package ships inference code only)",
        training_data="speech, vocals, music and sound, each domain distilled from its own teacher model "
                      "(paper abstract); the corpora are not given in the sources read here",
        hub_id=HUB_ID,
        sources=("auv 0.1.1 on PyPI: auv/model.py (from_pretrained: 16 kHz, hop 320, codebook 20480 x 8, "
                 "partitions), auv/modules/*.py (conformer, STFT heads, factorised VQ), README (auv.pt on the hub)",
                 "https://huggingface.co/SWivid/AUV (model card: licence)",
                 "arXiv:2509.21968 abstract (about 700 bps, 16 kHz, single nested codebook, teachers)",
                 "voidful/Codec-SUPERB SoundCodec/base_codec/auv.py (hf_hub_download of SWivid/AUV auv.pt)"),
        notes="One code per 20 ms from a single 20480-entry codebook whose first 8192 entries serve speech "
              "and first 12288 vocals; conformer encoder and decoder on STFT frames, 123M parameters.",
    ),
]

# LLM-Codec (Chung, Chen and Lee): our id -> (Codec-SUPERB's configuration, hub repository). Every repo
# holds `llm-codec.pt`; `voidful/llm-codec` also holds the Qwen3-4B model and tokenizer the export
# pushes beside it, which the codec does not need (so only the checkpoint is fetched).
LLM_CODEC_FILE = "llm-codec.pt"
LLM_CODECS = {
    "voidful_llm_codec": ("llmcodec", "voidful/llm-codec"),
    "voidful_llm_codec_abl_ftp": ("llmcodec_abl_ftp", "voidful/llm-codec-abl-ftp"),
    "voidful_llm_codec_abl_k1": ("llmcodec_abl_k1", "voidful/llmcodec-abl-k1"),
    "voidful_llm_codec_abl_k3": ("llmcodec_abl_k3", "voidful/llmcodec-abl-k3"),
    "voidful_llm_codec_abl_k10": ("llmcodec_abl_k10", "voidful/llmcodec-abl-k10"),
    "voidful_llm_codec_abl_sa": ("llmcodec_abl_sa", "voidful/llm-codec-abl-sa"),
}
# codec id -> (hub repository, file): where `AUV().from_pretrained` reads each checkpoint from
CHECKPOINTS = {"auv": (HUB_ID, CHECKPOINT)} | {cid: (repo, LLM_CODEC_FILE) for cid, (_, repo) in LLM_CODECS.items()}

_LLM_CODEC_RECIPE = ("fine-tunes AUV's auv.pt on LibriSpeech clean train.100 (4 s segments, 25k steps in the "
                     "repo's recipe) with Qwen/Qwen3-4B-Instruct-2507 frozen as the language model of the "
                     "FTP and SA losses")
_LLM_CODEC_GAN = "MPD + MSD (hinge GAN, feature matching, R1 every 16 steps)"
_LLM_CODEC_SOURCES = (
    "github.com/voidful/llm-codec README (FTP, SA, Gumbel bridge; AUV base; 50 Hz, 20480 tokens; "
    "LibriSpeech train.100; MPD/MSD GAN; the export saves the AUV codec weights as llm-codec.pt), "
    "run_codec_train.sh (the recipe's settings), train.py (--ftp_k, default 5; checkpoints store "
    "system.codec.model.state_dict()), llm_codec/codec.py (the codec is AUV().from_pretrained's AUV)",
    "arXiv:2604.17852 abstract (architectures unchanged; FTP with Medusa-style heads, SA) and comments "
    "('ACL2026 Finding')",
    "auv 0.1.1 on PyPI: auv/model.py (from_pretrained: 16 kHz, hop 320, codebook 20480 x 8; strict load)",
)


def _llm_codec_info(codec_id: str, what: str) -> CodecInfo:
    """One LLM-Codec checkpoint: AUV's network and operating point, its own weights and hub repo."""
    superb, repo = LLM_CODECS[codec_id]
    main = codec_id == "voidful_llm_codec"
    return CodecInfo(
        id=codec_id, family="LLM-Codec (Chung et al., AUV architecture)", sample_rate=SAMPLE_RATE, channels=1,
        frame_rate=50.0, codebook_size=20_480, max_codebooks=1, bitrates_kbps=(KBPS,), default_bitrate_kbps=KBPS,
        quantizer=INFOS[0].quantizer, domain="speech",
        paper="Chung, Chen and Lee, LLM-Codec: Neural Audio Codec Meets Language Model Objectives, "
              "Findings of ACL 2026 (arXiv:2604.17852)",
        code_url="https://github.com/voidful/llm-codec",
        weights=f"Hugging Face {repo}: {LLM_CODEC_FILE} (an AUV state dict, read by the auv package's "
                "AUV.from_pretrained, as Codec-SUPERB reads it)",
        licence="not stated (the voidful/llm-codec model card has no license field and github.com/voidful/"
                "llm-codec no licence file); the auv package that runs it is MIT" if main else
                "not stated in the sources read here (the auv package that runs it is MIT)",
        discriminators=_LLM_CODEC_GAN + " in the fine-tuning; AUV's own: not stated" if main else
        f"LLM-Codec's recipe uses {_LLM_CODEC_GAN}; this ablation's run is not described in the sources read here",
        training_data=f"LLM-Codec {_LLM_CODEC_RECIPE}" if main else
        f"LLM-Codec's recipe {_LLM_CODEC_RECIPE}; this ablation's run is not described in the sources read here",
        hub_id=repo,
        sources=(f"voidful/Codec-SUPERB SoundCodec/codec/{superb}.py ({repo}, {LLM_CODEC_FILE}) and "
                 "base_codec/llmcodec.py (= AUVBaseCodec: AUV().from_pretrained, 16 kHz)",
                 *_LLM_CODEC_SOURCES,
                 *(("https://huggingface.co/voidful/llm-codec model card (rev a0ef01c, read through a mirror: "
                    "datasets librispeech_asr, base_model Qwen3-4B-Instruct-2507, no license field)",) if main else
                   ("voidful/Codec-SUPERB scripts/update_leaderboard.py (llmcodec_abl_* left off the published "
                    "leaderboard)",))),
        notes=f"Codec-SUPERB's `{superb}`. {what} Same network, tokens and bitrate as `auv` (Codec-SUPERB "
              "loads it with AUV().from_pretrained, which builds only that size), other weights.",
    )


def _ablation(name: str, hint: str = "") -> str:
    return f"Ablation '{name}' of the paper (not described in the sources read here{hint})."


_K_HINT = ("; the name matches the training script's future-token-prediction lookahead --ftp_k, "
           "5 in the repo's recipe")
INFOS += [
    _llm_codec_info("voidful_llm_codec", "The released LLM-Codec: AUV fine-tuned with future token "
                    "prediction (the repo's recipe: K = 5 Medusa-style heads on a frozen Qwen3-4B), semantic "
                    "alignment of audio and text hidden states, a Gumbel bridge, and reconstruction and GAN losses."),
    _llm_codec_info("voidful_llm_codec_abl_ftp", _ablation("ftp")),
    _llm_codec_info("voidful_llm_codec_abl_k1", _ablation("k1", _K_HINT)),
    _llm_codec_info("voidful_llm_codec_abl_k3", _ablation("k3", _K_HINT)),
    _llm_codec_info("voidful_llm_codec_abl_k10", _ablation("k10", _K_HINT)),
    _llm_codec_info("voidful_llm_codec_abl_sa", _ablation("sa")),
]


def weight_spec(codec_id: str) -> weights.WeightSpec:
    """The id's own hub file; only that file is fetched (`voidful/llm-codec` also holds a Qwen3-4B)."""
    repo, filename = CHECKPOINTS[codec_id]
    return weights.hub_spec(codec_id, repo, filename, allow_patterns=[filename])


def shape_of(state: dict) -> dict[str, int]:
    """`from_pretrained`'s size arguments, read back from a checkpoint's tensor shapes (keys as `OFFICIAL`)."""

    def layers(prefix: str) -> int:
        return len({k.split(".")[3] for k in state if k.startswith(f"{prefix}.conformer.layers.")})

    hidden, features = state["tokenizer.stft_head.inp.weight"].shape  # features: n_fft + 2 = 4 x hop + 2
    size, dim = state["tokenizer.vq.quantizers.0._codebook.weight"].shape
    return dict(hop_length=(features - 2) // 4, encoder_layers=layers("tokenizer"),
                decoder_layers=layers("token2wav"), hidden_size=hidden,
                ffn_mult=state["tokenizer.conformer.layers.0.ffn1.up_proj.weight"].shape[0] // hidden,
                num_quantizers=len({k for k in state if k.endswith("._codebook.weight")}),
                codebook_size=size, codebook_dim=dim)


def assemble(shape: dict[str, int]):
    """An `AUV` holding the package's tokenizer and decoder built as `from_pretrained` builds them, with
    these sizes (random weights)."""
    from auv.model import AUV
    from auv.modules.codec import AUVCodecDec, AUVCodecEncWithVQ

    def conformer(layers: int) -> dict:
        return {"hop_length": shape["hop_length"], "num_layers": layers, "hidden_size": shape["hidden_size"],
                "ffn_mult": shape["ffn_mult"], "max_position_embeddings": 4096}

    model = AUV()
    model.tokenizer = AUVCodecEncWithVQ(
        sample_rate=SAMPLE_RATE, enc_conf=conformer(shape["encoder_layers"]),
        vq_conf={"vq_type": "fvq", "num_quantizers": shape["num_quantizers"], "dim": shape["hidden_size"],
                 "codebook_size": shape["codebook_size"], "codebook_dim": shape["codebook_dim"], "commitment": 0.25,
                 "codebook_partition_maps": {k: list(v) for k, v in PARTITIONS.items()}})
    model.token2wav = AUVCodecDec(dec_conf=conformer(shape["decoder_layers"]))
    return model


def build(checkpoint: Path):
    """The official checkpoint through `AUV().from_pretrained`; smaller ones (tests) through `assemble`
    with their sizes and a strict `load_state_dict`, as `from_pretrained` loads."""
    import torch
    from auv.model import AUV

    # mmap: only the shapes are read here; from_pretrained reads the file itself
    state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(checkpoint))
    shape = shape_of(state)
    if shape == OFFICIAL:
        del state
        model = AUV()
        model.from_pretrained(str(checkpoint))
    else:
        model = assemble(shape)
        model.load_state_dict(state)
    return model.eval()


def load(info: CodecInfo, device: str) -> AUVCodec:
    checkpoint = weights.download(weight_spec(info.id))
    return AUVCodec(info, build(checkpoint).to(device), device, checkpoint)


def conv_reach(conformer) -> int:
    """Frames one output of a conformer stack sees each side through its depthwise convolutions."""
    return sum((layer.conv_module.conv_kernel_size - 1) // 2 for layer in conformer.layers)


class AUVCodec(ChunkedCodec):
    """`AUV.encode`'s call (`model.tokenizer(wav, input_sample_rate=...)`, tokens [K, B, T]) and
    `AUV.decode_tokens` (tokens [B, T, K]) per window of the engine, the input zero-padded to whole
    frames (two at least)."""

    exact = False  # both conformers attend over the whole window
    batchable = True  # STFT, conformers (no mask; BatchNorm in eval), VQ and inverse STFT all take B
    pads_to_frames = True

    def __init__(self, info: CodecInfo, model, device: str, checkpoint: Path) -> None:
        self.info, self.model, self.device, self.checkpoint = info, model, device, checkpoint
        self.hop = int(model.tokenizer.hop_length)
        # + 2: the STFT's and inverse STFT's windows span 4 frames
        self.context_units = conv_reach(model.tokenizer.conformer) + 2
        self.decode_context_units = conv_reach(model.token2wav.conformer) + 2

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint) -> np.ndarray:
        """[B, 1, n] -> codes [B, K, ceil(n / hop)] (K = 1)."""
        tokens = self.model.tokenizer(self._padded(x), input_sample_rate=self.info.sample_rate)["tokens"]
        return tokens.transpose(0, 1)[..., : self._frames(x)].cpu().numpy().astype(np.int64)

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        """[B, 1, n] -> the encoder's output before the VQ, [B, D, ceil(n / hop)]."""
        latent = self.model.tokenizer.get_hidden_feat(self._padded(x), input_sample_rate=self.info.sample_rate)
        return latent[..., : self._frames(x)].float().cpu().numpy()

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """[B, K, T] -> [B, 1, T x hop]."""
        import torch

        codes = torch.from_numpy(np.ascontiguousarray(tokens.transpose(0, 2, 1))).to(self.device)  # (B, T, K)
        return self.model.decode_tokens(codes).float().cpu().numpy()

    def _frames(self, x: np.ndarray) -> int:
        return -(-x.shape[-1] // self.hop)

    def _padded(self, x: np.ndarray):
        """[B, 1, n] -> [B, max(ceil(n / hop), 2) x hop], zeros after the signal."""
        import torch
        import torch.nn.functional as F

        length = max(self._frames(x), MIN_FRAMES) * self.hop
        return F.pad(torch.from_numpy(x[:, 0]).to(self.device), (0, length - x.shape[-1]))


def write_random_weights(codec_id: str, small: bool = False) -> Path:
    """The id's checkpoint as its authors ship it (`AUV().state_dict()`, the package's key names: `auv.pt`
    or `llm-codec.pt`), in the hub-cache layout of its own repository; full size unless `small`."""
    import torch

    from ..weights import hub_snapshot

    repo, filename = CHECKPOINTS[codec_id]
    state = _tiny_state() if small else assemble(OFFICIAL).state_dict()
    torch.save(state, hub_snapshot(repo) / filename)
    return weight_spec(codec_id).path


@functools.cache
def _tiny_state() -> dict:
    """One tiny random network for all seven ids (they share the architecture): the test fixture builds
    it once and writes it seven times. The first caller's random seed draws it."""
    return assemble({**OFFICIAL, **SMALL}).state_dict()

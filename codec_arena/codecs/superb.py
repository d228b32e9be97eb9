"""Codec-SUPERB's configurations and what each one is here.

Codec-SUPERB (github.com/voidful/Codec-SUPERB) names a configuration by its module in
`SoundCodec/codec/`; people read its leaderboard by those names. This table maps each one to our codec
id and the operating point it runs, or says why it is absent, so a result there and a run here can be
put side by side. `codec-arena list --superb` prints it; a test keeps it equal to the README's and checks
every id and bitrate against the registry. Importable without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "voidful/Codec-SUPERB SoundCodec/codec/*.py (commit cfccafc, 2026-05-05)"
_S3 = ("encode only (no decoder); the same ONNX graph, run with ONNX Runtime as CosyVoice does (the `s3tokenizer` "
       "package Codec-SUPERB uses converts it to torch, but needs `onnx`, which our protobuf pin excludes)")


@dataclass(frozen=True)
class SuperbConfig:
    name: str  # Codec-SUPERB's module name
    codec_id: str = ""  # ours; "" when the configuration is absent here
    kbps: float | None = None  # the operating point it runs; None: every codebook (the codec's highest)
    note: str = ""  # why it is absent, or how it differs from Codec-SUPERB's


CONFIGS: tuple[SuperbConfig, ...] = (
    SuperbConfig("academicodec_hifi_16k_320d", "hifi_codec_16k_320d"),
    SuperbConfig("academicodec_hifi_16k_320d_large_uni", "hifi_codec_16k_320d_universal"),
    SuperbConfig("academicodec_hifi_24k_320d", "hifi_codec_24k_320d"),
    SuperbConfig("audiodec_24k_320d", "audiodec_24khz",
                 note="the same checkpoints (symAD_libritts_24000_hop300, 500k steps; hop 300, not 320)"),
    SuperbConfig("auv", "auv"),
    SuperbConfig("bigcodec_1k", "bigcodec"),
    SuperbConfig("dac_16k", "dac_16khz"),
    SuperbConfig("dac_24k", "dac_24khz"),
    SuperbConfig("dac_44k", "dac_44khz"),
    SuperbConfig("encodec_24k_1_5bps", "encodec_24khz", 1.5),
    SuperbConfig("encodec_24k_3bps", "encodec_24khz", 3.0),
    SuperbConfig("encodec_24k_6bps", "encodec_24khz", 6.0),
    SuperbConfig("encodec_24k_12bps", "encodec_24khz", 12.0),
    SuperbConfig("encodec_24k_24bps", "encodec_24khz", 24.0),
    SuperbConfig("funcodec_en_libritts_16k_gr1nq32ds320", "funcodec_freq_16k_gr1nq32ds320"),
    SuperbConfig("funcodec_en_libritts_16k_gr8nq32ds320", "funcodec_freq_16k_gr8nq32ds320"),
    SuperbConfig("funcodec_en_libritts_16k_nq32ds320", "funcodec_en_16k_nq32ds320"),
    SuperbConfig("funcodec_en_libritts_16k_nq32ds640", "funcodec_en_16k_nq32ds640"),
    SuperbConfig("funcodec_zh_en_16k_nq32ds320", "funcodec_zh_en_16k_nq32ds320"),
    SuperbConfig("funcodec_zh_en_16k_nq32ds640", "funcodec_zh_en_16k_nq32ds640"),
    SuperbConfig("llmcodec", "voidful_llm_codec"),
    SuperbConfig("llmcodec_abl_ftp", "voidful_llm_codec_abl_ftp"),
    SuperbConfig("llmcodec_abl_k1", "voidful_llm_codec_abl_k1"),
    SuperbConfig("llmcodec_abl_k3", "voidful_llm_codec_abl_k3"),
    SuperbConfig("llmcodec_abl_k10", "voidful_llm_codec_abl_k10"),
    SuperbConfig("llmcodec_abl_sa", "voidful_llm_codec_abl_sa"),
    SuperbConfig("s3tokenizer_v1", "s3tokenizer_v1", note=_S3),
    SuperbConfig("s3tokenizer_v1_25hz", "s3tokenizer_v1_25hz", note=_S3),
    SuperbConfig("s3tokenizer_v2_25hz", "s3tokenizer_v2_25hz", note=_S3),
    SuperbConfig("s3tokenizer_v3_25hz", "s3tokenizer_v3_25hz", note=_S3),
    SuperbConfig("speech_tokenizer_16k", "speechtokenizer"),
    SuperbConfig("sqcodec_16k_0k75bps", "sqcodec_16khz_0k75bps"),
    SuperbConfig("sqcodec_16k_1k5bps", "sqcodec_16khz_1k5bps"),
    SuperbConfig("sqcodec_16k_3kbps", "sqcodec_16khz_3kbps"),
    SuperbConfig("sqcodec_16k_6kbps", "sqcodec_16khz_6kbps"),
    SuperbConfig("sqcodec_16k_12kbps", "sqcodec_16khz_12kbps"),
    SuperbConfig("sqcodec_24k_12kbps", "sqcodec_24khz_12kbps",
                 note="the package's config file says 16 kHz, which Codec-SUPERB's loader uses; its hop (36) gives "
                      "the published 666.7 tokens/s and 11.95 kbps only at 24 kHz, so we run it at 24 kHz"),
    SuperbConfig("sqcodec_24k_24kbps", "sqcodec_24khz_24kbps"),
    SuperbConfig("unicodec_24k", "unicodec_24k",
                 note="domain '0' (speech), as Codec-SUPERB passes for every clip; `unicodec_24k_music` and "
                      "`unicodec_24k_sound` use the other partitions of the same codebook"),
    SuperbConfig("wavtokenizer_24k_small_600_4096", "wavtokenizer_small_speech_40"),
    SuperbConfig("wavtokenizer_24k_medium_600_4096", "wavtokenizer_medium_speech_75",
                 note="despite its name, Codec-SUPERB's module loads the medium speech v2 checkpoint at 75 "
                      "tokens/s (hop 320); WavTokenizer released no medium 40-token model"),
    SuperbConfig("wavtokenizer_24k_large_600_4096", "wavtokenizer_large_40"),
    SuperbConfig("wavtokenizer_24k_large_speech_75token", "wavtokenizer_large_speech_75"),
)


def markdown() -> str:
    """The README's table: Codec-SUPERB's name, ours and the operating point, or why it is absent."""
    from .registry import codec_info

    lines = ["| Codec-SUPERB configuration | here | bitrate (kbps) | note |", "|---|---|---|---|"]
    for config in sorted(CONFIGS, key=lambda c: c.name):
        if not config.codec_id:
            lines.append(f"| `{config.name}` | absent | — | {config.note} |")
            continue
        info = codec_info(config.codec_id)
        kbps = config.kbps if config.kbps is not None else info.bitrates_kbps[-1]
        lines.append(f"| `{config.name}` | `{config.codec_id}` | {kbps:g} | {config.note} |")
    return "\n".join(lines)

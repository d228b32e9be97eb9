"""Cards for the survey's codec LMs that cannot run here: what each does, the codec it speaks, why
not here, and which runnable model does the same task.

The survey (Wu et al., 2024, arXiv:2402.13236) reviews eleven codec-based LMs in §III and its
comparison table; VALL-E X and MusicGen run here (`vallex`, `musicgen_*`), the rest are below.
Bark is not in the survey but implements AudioLM's three-stage recipe, so it stands in for AudioLM.
"""

from __future__ import annotations

from .base import LMCard

_SURVEY = "Wu et al. 2024, §III"
CARDS = [
    LMCard(
        id="audiolm", name="AudioLM", tasks=("continuation",),
        codec="SoundStream (12 RVQ codebooks) + w2v-BERT semantic tokens",
        conditioning="a few seconds of speech or piano to continue",
        paper="Borsos et al., AudioLM: a Language Modeling Approach to Audio Generation, 2022 (arXiv:2209.03143)",
        why_not_here="Google released no weights and no code.",
        try_instead=("bark_small", "musicgen_small"), survey=_SURVEY,
        code_url="https://google-research.github.io/seanet/audiolm/examples/",
    ),
    LMCard(
        id="valle", name="VALL-E", tasks=("tts",),
        codec="EnCodec 24 kHz, 6 kbps (8 codebooks): AR for the first, NAR for the other seven",
        conditioning="phonemes + a 3 s voice prompt",
        paper="Wang et al., Neural Codec Language Models are Zero-Shot Text to Speech Synthesizers, 2023 "
              "(arXiv:2301.02111)",
        why_not_here="Microsoft released no weights; VALL-E X (same architecture, community weights) runs here.",
        try_instead=("vallex",), survey=_SURVEY, codec_id="encodec_24khz",
        code_url="https://www.microsoft.com/en-us/research/project/vall-e-x/",
    ),
    LMCard(
        id="speechx", name="SpeechX", tasks=("tts",),
        codec="EnCodec 24 kHz (VALL-E's tokens) with task tokens",
        conditioning="text and/or noisy speech + a task token (TTS, noise suppression, target-speaker "
                     "extraction, speech removal, editing)",
        paper="Wang et al., SpeechX: Neural Codec Language Model as a Versatile Speech Transformer, 2023 "
              "(arXiv:2308.06873)",
        why_not_here="No weights or code released.",
        try_instead=("vallex", "csm_1b"), survey=_SURVEY, codec_id="encodec_24khz",
    ),
    LMCard(
        id="viola", name="VioLA", tasks=("tts",),
        codec="EnCodec 24 kHz codes, one decoder-only LM for speech and text",
        conditioning="speech or text + task and language ids (ASR, MT, TTS, speech-to-speech translation)",
        paper="Wang et al., VioLA: Unified Codec Language Models for Speech Recognition, Synthesis, and "
              "Translation, 2023 (arXiv:2305.16107)",
        why_not_here="No weights or code released.",
        try_instead=("vallex",), survey=_SURVEY, codec_id="encodec_24khz",
    ),
    LMCard(
        id="audiopalm", name="AudioPaLM", tasks=("tts",),
        codec="USM / w2v-BERT semantic tokens, turned into audio by AudioLM or SoundStorm (SoundStream)",
        conditioning="speech and text in one PaLM-2 vocabulary (speech translation, ASR, TTS with a voice prompt)",
        paper="Rubenstein et al., AudioPaLM: A Large Language Model That Can Speak and Listen, 2023 "
              "(arXiv:2306.12925)",
        why_not_here="Google released no weights; PaLM-2 scale would not fit a Space anyway.",
        try_instead=("vallex", "csm_1b"), survey=_SURVEY,
    ),
    LMCard(
        id="lauragpt", name="LauraGPT", tasks=("tts",),
        codec="an improved EnCodec (FunCodec family) for output; continuous Conformer features for input; "
              "a one-step codec vocoder",
        conditioning="audio and text in, audio or text out (ASR, speech translation, TTS, enhancement, "
                     "captioning, emotion recognition, SLU)",
        paper="Du et al., LauraGPT: Listen, Attend, Understand, and Regenerate Audio with GPT, 2023 "
              "(arXiv:2310.04673)",
        why_not_here="No public checkpoint; its codec family (FunCodec) is in the Compare tab.",
        try_instead=("csm_1b", "vallex"), survey=_SURVEY, codec_id="funcodec_en_16k_nq32ds320",
        code_url="https://github.com/modelscope/FunCodec",
    ),
    LMCard(
        id="uniaudio", name="UniAudio", tasks=("tts", "music", "sound"),
        codec="its own EnCodec-style codec (16 kHz, 3 RVQ codebooks) with a multi-scale Transformer",
        conditioning="task-specific prompts: 11 tasks (TTS, voice conversion, enhancement, target-speaker "
                     "extraction, singing, text-to-music, text-to-sound, editing, ...)",
        paper="Yang et al., UniAudio: An Audio Foundation Model Toward Universal Audio Generation, 2023 "
              "(arXiv:2310.00704)",
        why_not_here="Research code with a training-time toolchain; its 1B checkpoint and codec are not ported "
                     "here (no maintained package loads them).",
        try_instead=("vallex", "musicgen_small"), survey=_SURVEY,
        code_url="https://github.com/yangdongchao/UniAudio",
    ),
    LMCard(
        id="audiogen", name="AudioGen", tasks=("sound",),
        codec="EnCodec 16 kHz (4 codebooks × 2048, 50 Hz), delay pattern as in MusicGen",
        conditioning="a text description of sounds (T5 encoder), optional audio to continue",
        paper="Kreuk et al., AudioGen: Textually Guided Audio Generation, 2022 (arXiv:2209.15352)",
        why_not_here="Its only loader is Meta's `audiocraft`, which pins torch 2.1.0 and PyAV 11 (that does not "
                     "build here) and so cannot install beside torch 2.9.1; transformers has no AudioGen class.",
        try_instead=("musicgen_small",), survey=_SURVEY,
        code_url="https://github.com/facebookresearch/audiocraft/blob/main/docs/AUDIOGEN.md",
    ),
    LMCard(
        id="speechgpt", name="SpeechGPT", tasks=("speech",),
        codec="mHuBERT discrete units (1000 clusters) and a unit vocoder, not a codec",
        conditioning="spoken or written instructions (cross-modal chat on LLaMA-13B)",
        paper="Zhang et al., SpeechGPT: Empowering Large Language Models with Intrinsic Cross-Modal "
              "Conversational Abilities, 2023 (arXiv:2305.11000)",
        why_not_here="7–13B parameters: too large for a Space or a CPU, and its units are HuBERT clusters, not "
                     "codec tokens.",
        try_instead=("csm_1b",), survey=_SURVEY,
        code_url="https://github.com/0nutation/SpeechGPT",
    ),
]


def card(card_id: str) -> LMCard:
    return next(c for c in CARDS if c.id == card_id)

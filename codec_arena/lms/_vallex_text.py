"""VALL-E X's English text front end, written to behave as Plachtaa/VALL-E-X's `utils/g2p` does.

The release turns text into phoneme tokens in three steps (`PhonemeBpeTokenizer.tokenize` with the
`cje_cleaners`): English text between `[EN]` tags goes through `english_to_ipa2` (unidecode, lower
case, abbreviations and numbers spelled out with inflect, `eng_to_ipa`, dark l marked as `ɫ`, `r` ->
`ɹ`, `ʤ` -> `dʒ`, `ʧ` -> `tʃ`, `...` -> `…`); a sentence that does not end in punctuation gets a
full stop; spaces become `_`; and the BPE tokenizer `utils/g2p/bpe_69.json` (70 single-character
entries, no merges: one token per phoneme character, `[UNK]` for anything outside its alphabet)
gives the ids. Every token carries a language id for the model's language embedding (`en` = 0).

Only English is supported here: the release's Chinese and Japanese front ends need jieba, cn2an,
pypinyin and pyopenjtalk, which Codec Arena does not install. Text with letters of another script
is refused with a clear message (the release's language detector, restricted to en/zh/ja, would
send any Latin-script text down the English path, as we do).

`bpe_69.json` is not on the Hugging Face hub: `fetch_tokenizer` downloads it from GitHub at a pinned
commit of Plachtaa/VALL-E-X. Tests build an equivalent tokenizer with the `tokenizers` library over
the same alphabet (`build_tokenizer`), so ids agree with the release's file.
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import cache
from pathlib import Path

from ..errors import RequestError

REPO_COMMIT = "3faaf8ccadb154d63b38070caf518ce9309ea0f4"  # Plachtaa/VALL-E-X, Nov 2023 (the last commit)
TOKENIZER_URL = f"https://raw.githubusercontent.com/Plachtaa/VALL-E-X/{REPO_COMMIT}/utils/g2p/bpe_69.json"
TOKENIZER_FILE = "bpe_69.json"
SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")
# bpe_69.json's vocabulary after the special tokens, in id order (ids 5..69): the characters of the
# release's cjke_cleaners2 symbol set that its BPE training saw.
PHONEME_ALPHABET = "!#*,-.=?NQ^_`abdefghijklmnopstuvwxyz~æçðŋɑɔəɛɥɪɫɯɸɹɾʃʊʑʒʰˈˌθ…⁼↑→↓"
LANGUAGE_IDS = {"en": 0, "zh": 1, "ja": 2}  # the model's ar/nar_language_embedding rows
SENTENCE_END = ".,!?-…~"

_ABBREVIATIONS = [(re.compile(rf"\b{short}\.", re.IGNORECASE), long) for short, long in (
    ("mrs", "misess"), ("mr", "mister"), ("dr", "doctor"), ("st", "saint"), ("co", "company"),
    ("jr", "junior"), ("maj", "major"), ("gen", "general"), ("drs", "doctors"), ("rev", "reverend"),
    ("lt", "lieutenant"), ("hon", "honorable"), ("sgt", "sergeant"), ("capt", "captain"), ("esq", "esquire"),
    ("ltd", "limited"), ("col", "colonel"), ("ft", "fort"))]
_IPA2 = (("r", "ɹ"), ("ʤ", "dʒ"), ("ʧ", "tʃ"))
_LANGUAGE_TAG = re.compile(r"\[(EN|ZH|JA)\]")


def cache_dir() -> Path:
    """Where the release's tokenizer file is kept (`$XDG_CACHE_HOME/codec-arena/vallex/<commit>`)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    return base / "codec-arena" / "vallex" / REPO_COMMIT[:12]


def tokenizer_path() -> Path:
    return cache_dir() / TOKENIZER_FILE


def fetch_tokenizer() -> None:
    """Download bpe_69.json from the pinned commit (written under a temporary name, then moved)."""
    import urllib.request

    target = tokenizer_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    urllib.request.urlretrieve(TOKENIZER_URL, partial)
    os.replace(partial, target)


def build_tokenizer(path: Path) -> Path:
    """Write a tokenizer equivalent to bpe_69.json (same vocabulary and ids, no merges, Whitespace
    pre-tokenizer, `[UNK]` for unknown characters) with the `tokenizers` library."""
    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {token: i for i, token in enumerate(list(SPECIAL_TOKENS) + list(PHONEME_ALPHABET))}
    tokenizer = Tokenizer(BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path


@cache
def _inflect():
    import inflect

    return inflect.engine()


def _spell_number(match: re.Match) -> str:
    """Years 1001-2999 read as years ("nineteen ninety-five"), other numbers in full, as the release does."""
    engine, number = _inflect(), int(match.group(0))
    if not 1000 < number < 3000:
        return engine.number_to_words(number, andword="")
    if number == 2000:
        return "two thousand"
    if 2000 < number < 2010:
        return "two thousand " + engine.number_to_words(number % 100)
    if number % 100 == 0:
        return engine.number_to_words(number // 100) + " hundred"
    return engine.number_to_words(number, andword="", zero="oh", group=2).replace(", ", " ")


def _spell_dollars(match: re.Match) -> str:
    parts = match.group(1).split(".")
    if len(parts) > 2:
        return match.group(1) + " dollars"
    dollars = int(parts[0]) if parts[0] else 0
    cents = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    said = [f"{n} {unit if n == 1 else unit + 's'}" for n, unit in ((dollars, "dollar"), (cents, "cent")) if n]
    return ", ".join(said) if said else "zero dollars"


def normalize_numbers(text: str) -> str:
    text = re.sub(r"([0-9][0-9,]+[0-9])", lambda m: m.group(1).replace(",", ""), text)
    text = re.sub(r"£([0-9,]*[0-9]+)", r"\1 pounds", text)
    text = re.sub(r"\$([0-9.,]*[0-9]+)", _spell_dollars, text)
    text = re.sub(r"([0-9]+\.[0-9]+)", lambda m: m.group(1).replace(".", " point "), text)
    text = re.sub(r"[0-9]+(st|nd|rd|th)", lambda m: _inflect().number_to_words(m.group(0)), text)
    return re.sub(r"[0-9]+", _spell_number, text)


def english_ipa(text: str) -> str:
    """`english_to_ipa2`: ASCII-folded, lower-cased, expanded text through eng_to_ipa, then the
    release's IPA adjustments."""
    import eng_to_ipa
    from unidecode import unidecode

    text = unidecode(text).lower()
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    ipa = re.sub(r"\s+", " ", eng_to_ipa.convert(normalize_numbers(text)))
    ipa = re.sub(r"l([^aeiouæɑɔəɛɪʊ ]*(?: |$))", lambda m: "ɫ" + m.group(1), ipa)  # dark l
    for old, new in _IPA2:
        ipa = ipa.replace(old, new)
    return ipa.replace("...", "…")


def check_english(text: str, what: str) -> None:
    """Refuse letters outside the Latin script with a message that says why."""
    foreign = sorted({c for c in text if c.isalpha() and "LATIN" not in unicodedata.name(c, "")})
    if foreign:
        sample = "".join(foreign[:8])
        raise RequestError(f"VALL-E X here speaks English only, and the {what} has letters of another script "
                           f"({sample}). The release's Chinese and Japanese front ends need jieba, cn2an, pypinyin "
                           "and pyopenjtalk, which Codec Arena does not install. Please use English text.")


def phonemes(text: str) -> str:
    """The phoneme string the tokenizer reads: `[EN]text[EN]` through the cje cleaners, spaces as `_`."""
    text = _LANGUAGE_TAG.sub("", text.replace("\n", " "))
    ipa = re.sub(r"\s+$", "", english_ipa(text) + " ")
    if ipa and ipa[-1] not in SENTENCE_END:
        ipa += "."
    return ipa.replace(" ", "_")


class PhonemeTokenizer:
    """Text -> (token ids, language of each token), as `PhonemeBpeTokenizer.tokenize` returns them."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.tokenizer = Tokenizer.from_file(str(path))

    def encode(self, text: str, what: str = "text") -> tuple[list[int], list[str]]:
        check_english(text, what)
        ids = self.tokenizer.encode(phonemes(text)).ids
        if not ids:
            raise RequestError(f"The {what} has nothing VALL-E X can pronounce.")
        return ids, ["en"] * len(ids)

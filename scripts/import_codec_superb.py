"""Regenerate assets/codec_superb/codec_superb_tiny.json from a Codec-SUPERB git repository (a checkout
or a bare mirror): the published codec-superb-tiny results as data, with where they come from.

    python scripts/import_codec_superb.py /path/to/Codec-SUPERB [--out assets/codec_superb/codec_superb_tiny.json]

Only data is copied (the per-codec means of results/codec-superb-tiny/*.json, and the kbps / frames-per-second
their web leaderboard lists); none of their code. Which value is current for a codec that several result files
mention (shards, patches, `_fix` reruns) is decided as their own `scripts/update_leaderboard.py` decides it:
entries without metrics (`error`, `encode_only`, empty) never count, and of the files that do have metrics the
newest wins, by the date git last changed the file, then by the file's run timestamp, then by name. The chosen
values are checked against their generated `web/src/results/data.js` and every disagreement is printed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCE = "https://github.com/voidful/Codec-SUPERB"
RESULTS_DIR = "results/codec-superb-tiny"
LEADERBOARD_DATA = "web/src/results/data.js"
OUT = ROOT / "assets" / "codec_superb" / "codec_superb_tiny.json"
SPLITS = ("overall", "Speech", "Audio", "Music")
METRICS = ("mel", "stft", "waveform", "pesq", "pesq-wb", "stoi", "f0corr")
EXCLUDED_PREFIXES = ("llmcodec_abl_",)  # ablations their leaderboard leaves out

# Their codec -> our operating point, only where it is the same checkpoint (compared by the hub file or release
# each side loads) at the bitrate they run it at; see SoundCodec/codec/<name>.py there, codec_arena/codecs here.
OURS = {
    "academicodec_hifi_16k_320d": "hifi_codec_16k_320d",  # Dongchao/AcademiCodec HiFi-Codec-16k-320d
    "academicodec_hifi_16k_320d_large_uni": "hifi_codec_16k_320d_universal",  # ...-16k-320d-large-universal
    "academicodec_hifi_24k_320d": "hifi_codec_24k_320d",  # ...HiFi-Codec-24k-320d
    "audiodec_24k_320d": "audiodec_24khz",  # symAD_libritts_24000_hop300 + AudioDec_v1_..._clean vocoder
    "bigcodec_1k": "bigcodec",  # Alethia/BigCodec bigcodec.pt
    "dac_16k": "dac_16khz@6",  # descript-audio-codec 16khz, every codebook
    "dac_24k": "dac_24khz@24",
    "dac_44k": "dac_44khz",  # 9 codebooks: 7.752 kbps (their table rounds it to 8)
    "encodec_24k_1_5bps": "encodec_24khz@1.5",
    "encodec_24k_3bps": "encodec_24khz@3",
    "encodec_24k_6bps": "encodec_24khz@6",
    "encodec_24k_12bps": "encodec_24khz@12",
    "encodec_24k_24bps": "encodec_24khz@24",
    "funcodec_en_libritts_16k_gr1nq32ds320": "funcodec_freq_16k_gr1nq32ds320@16",
    "funcodec_en_libritts_16k_gr8nq32ds320": "funcodec_freq_16k_gr8nq32ds320@16",
    "funcodec_en_libritts_16k_nq32ds320": "funcodec_en_16k_nq32ds320@16",
    "funcodec_en_libritts_16k_nq32ds640": "funcodec_en_16k_nq32ds640@8",
    "funcodec_zh_en_16k_nq32ds640": "funcodec_zh_en_16k_nq32ds640@8",
    "speech_tokenizer_16k": "speechtokenizer@4",  # fnlp/SpeechTokenizer speechtokenizer_hubert_avg, 8 codebooks
    "wavtokenizer_24k_large_600_4096": "wavtokenizer_large_40",  # novateur large-unify-40token (swiss-ai copy)
    "wavtokenizer_24k_large_speech_75token": "wavtokenizer_large_speech_75",  # large-speech-75token v2
    # not ours: their wavtokenizer_24k_medium_600_4096 loads the *speech* medium model (ours is music/audio),
    # funcodec_zh_en_16k_nq32ds320, and AUV, LLM-Codec, SQ-Codec, UniCodec, WavTokenizer small
}
# Families (and codebooks, where their code or the model's paper states them) of the codecs we do not run.
OTHER = {
    "auv": ("AUV", 1),
    "funcodec_zh_en_16k_nq32ds320": ("FunCodec", 32),
    "llmcodec": ("LLM-Codec", None),
    "sqcodec_": ("SQ-Codec", None),
    "unicodec_24k": ("UniCodec", None),
    "wavtokenizer_24k_": ("WavTokenizer", 1),
    "s3tokenizer_": ("S3Tokenizer", 1),
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def run_stamp(name: str) -> tuple[int, str]:
    """Their leaderboard's order: files named with a run timestamp (`_20260505_174813`) after the others."""
    found = re.search(r"_(\d{8})_(\d{6})\.json$", name)
    return (1, found.group(1) + found.group(2)) if found else (0, "")


def has_metrics(entry) -> bool:
    return (isinstance(entry, dict) and not entry.get("encode_only") and not entry.get("error")
            and any(isinstance(v, dict) and v for k, v in entry.items() if k != "audio_samples"))


def leaderboard_rates(repo: Path) -> dict:
    """`{codec: {"bps": kbps, "tps": frames/s, <split>_<metric>: value}}` from their generated web data."""
    text = git(repo, "show", f"HEAD:{LEADERBOARD_DATA}")
    return json.loads(text[text.index("{"): text.rindex("}") + 1])


def facts(name: str, rates: dict) -> dict:
    """Family, kbps, frame rate and token rate: ours where the model is ours (exact), else their table's."""
    listed = rates.get(name, {})
    frame_rate = listed.get("tps") or None
    if name in OURS:
        from codec_arena.compare import parse_point

        point = parse_point(OURS[name])
        return {"family": point.info.family, "kbps": round(point.kbps, 4), "frame_rate": point.info.frame_rate,
                "token_rate": round(point.token_rate, 4), "our_id": str(point), "rates_from": "codec-arena registry",
                "published_kbps": listed.get("bps"), "published_frame_rate": frame_rate}
    family, codebooks = next((v for k, v in OTHER.items() if name.startswith(k)), (name, None))
    token_rate = frame_rate * codebooks if frame_rate and codebooks else None
    return {"family": family, "kbps": listed.get("bps") or None, "frame_rate": frame_rate, "token_rate": token_rate,
            "our_id": None, "rates_from": "Codec-SUPERB web/src/results/data.js (bps, tps)"
            + ("" if codebooks else "; codebooks not stated, so no token rate"),
            "published_kbps": listed.get("bps"), "published_frame_rate": frame_rate}


def build(repo: Path) -> dict:
    commit = git(repo, "rev-parse", "HEAD").strip()
    date = git(repo, "log", "-1", "--format=%cI", commit).strip()
    files = sorted(f for f in git(repo, "ls-tree", "-r", "--name-only", "HEAD", RESULTS_DIR).splitlines()
                   if f.endswith(".json"))
    dated = {f: git(repo, "log", "-1", "--format=%ct", "HEAD", "--", f).strip() for f in files}
    order = sorted(files, key=lambda f: (int(dated[f]), run_stamp(Path(f).name), Path(f).name))
    chosen: dict[str, tuple[str, dict]] = {}
    not_evaluated: dict[str, str] = {}
    for path in order:  # oldest first: a newer file's metrics replace an older one's
        for name, entry in json.loads(git(repo, "show", f"HEAD:{path}")).items():
            if name.startswith(EXCLUDED_PREFIXES):
                continue
            if has_metrics(entry):
                chosen[name] = (path, entry)
            elif isinstance(entry, dict) and (entry.get("encode_only") or entry.get("error")):
                known = entry.get("encode_only") or not_evaluated.get(name) == "encode only"  # a codec's nature
                not_evaluated[name] = "encode only" if known else "failed to load"
    rates = leaderboard_rates(repo)
    codecs = {}
    for name in sorted(chosen):
        path, entry = chosen[name]
        splits = sorted((k for k, v in entry.items() if isinstance(v, dict) and k != "audio_samples"),
                        key=lambda k: (SPLITS.index(k) if k in SPLITS else len(SPLITS), k))
        results = {split: {m: entry[split][m] for m in METRICS if m in entry[split]} for split in splits}
        codecs[name] = {**facts(name, rates), "file": Path(path).name, "results": results}
    check(codecs, rates)
    return {
        "source": SOURCE, "commit": commit, "date": date, "licence": "MIT",
        "licence_note": "MIT per the repository's README (no LICENSE file at this commit); only data is copied",
        "dataset": "voidful/codec-superb-tiny (Hugging Face; Speech, Audio and Music splits, 6,000 rows)",
        "selection": "per codec, the newest results file that has metrics for it (git date, then run timestamp, "
                     "then name; entries with error / encode_only are ignored), as their update_leaderboard.py",
        "notes": ["Their pesq and pesq-wb are the same score (SoundCodec/metrics.py computes both with one "
                  "wide-band PESQ function).",
                  "kbps and token rate are exact (our registry) for codecs we run, else as their leaderboard lists "
                  "them; token rate = frames/s x codebooks."],
        "files": [Path(f).name for f in files],
        "not_evaluated": {k: v for k, v in sorted(not_evaluated.items()) if k not in chosen},
        "codecs": codecs,
    }


def check(codecs: dict, rates: dict) -> None:
    """Print where the chosen values differ from their website's (it rounds to 3 places)."""
    for name, codec in codecs.items():
        listed = rates.get(name)
        if listed is None:
            print(f"note: {name} is not on their website", file=sys.stderr)
            continue
        for split, metrics in codec["results"].items():
            for metric, value in metrics.items():
                key = f"{split.lower()}_{metric}"
                if key in listed and value is not None and abs(round(value, 3) - listed[key]) > 1e-9:
                    print(f"mismatch: {name} {key}: {value} here, {listed[key]} on their website", file=sys.stderr)
    for name in sorted(set(rates) - set(codecs)):
        print(f"note: {name} is on their website but has no metrics here", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path, help="a Codec-SUPERB checkout or bare git mirror")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = build(args.repo)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    mapped = sum(1 for c in data["codecs"].values() if c["our_id"])
    print(f"{args.out}: {len(data['codecs'])} codecs ({mapped} run here) at {data['commit'][:7]} ({data['date']})")


if __name__ == "__main__":
    main()

"""DATA → clips: one small dataset written in every accepted form gives the same clips; bad DATA gives one
clear message that says what to do."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_arena.bench.clip import sha256_of
from codec_arena.bench.data import DataError, open_data

SR = 16000
# (split, name, format, transcript): two clips per Codec-SUPERB category, wav and flac, sine and noise
CLIPS = [
    ("Speech", "s1", "WAV", "hello world"),
    ("Speech", "s2", "FLAC", "a second sentence"),
    ("Music", "m1", "WAV", None),
    ("Music", "m2", "FLAC", None),
    ("Audio", "a1", "WAV", None),
    ("Audio", "a2", "FLAC", None),
]


def _encode(index: int, fmt: str) -> bytes:
    t = np.arange(SR // 10) / SR
    rng = np.random.default_rng(index)
    signal = 0.3 * np.sin(2 * np.pi * (220 + 110 * index) * t) if index % 2 else 0.1 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, signal.astype(np.float32), SR, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> dict:
    """The dataset as files under clips/<split>/, plus what every form must yield: sha256 → (split, text)."""
    root = tmp_path_factory.mktemp("data")
    clips = root / "clips"
    rows = []
    for index, (split, name, fmt, text) in enumerate(CLIPS):
        data = _encode(index, fmt)
        file = clips / split / f"{name}.{fmt.lower()}"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
        if text:  # one transcript as .txt, one as .lab (with whitespace to strip)
            file.with_suffix(".txt" if name == "s1" else ".lab").write_text(f" {text}\n")
        rows.append({"split": split, "name": name, "rel": file.relative_to(clips).as_posix(), "data": data,
                     "text": text})
    expected = {sha256_of(r["data"]): (r["split"], r["text"]) for r in rows}
    return {"root": root, "clips": clips, "rows": rows, "expected": expected}


def _summary(dataset) -> dict:
    return {clip.sha256: (clip.split, clip.transcript) for clip in dataset.clips}


def _hf_split(rows: list[dict], category: bool = False):
    import datasets

    columns = {"id": [r["name"] for r in rows],
               "audio": [{"bytes": r["data"], "path": r["rel"]} for r in rows],
               "text": [r["text"] or "" for r in rows]}
    if category:
        columns["category"] = [r["split"] for r in rows]
    return datasets.Dataset.from_dict(columns).cast_column("audio", datasets.Audio(decode=False))


@pytest.fixture(scope="module")
def hf_forms(source) -> dict[str, Path]:
    """The same clips as `datasets` data: a DatasetDict split like Codec-SUPERB's (saved, and as Hub-style
    parquet shards), and one Dataset with a `category` column."""
    import datasets

    root = source["root"]
    by_split = {split: [r for r in source["rows"] if r["split"] == split] for split in ("Speech", "Audio", "Music")}
    dd = datasets.DatasetDict({split: _hf_split(rows) for split, rows in by_split.items()})
    # a decoding Audio feature, as on the Hub: must never be decoded (TorchCodec may be absent)
    dd = dd.cast_column("audio", datasets.Audio())
    dd.save_to_disk(str(root / "saved_dict"))
    for split, ds in dd.items():
        ds.to_parquet(str(root / "hub_copy" / "data" / f"{split}-00000-of-00001.parquet"))
    (root / "hub_copy" / "README.md").write_text("---\nconfigs: []\n---\n")
    _hf_split(source["rows"], category=True).save_to_disk(str(root / "saved_one"))
    return {"dict": root / "saved_dict", "parquet": root / "hub_copy", "one": root / "saved_one"}


def test_folder(source):
    dataset = open_data(str(source["clips"]))
    assert (dataset.kind, dataset.name, dataset.warnings) == ("folder", "clips", [])
    assert _summary(dataset) == source["expected"]
    assert [c.id for c in dataset.clips] == sorted(r["rel"] for r in source["rows"])
    assert all(c.path and c.data is None and c.problem is None for c in dataset.clips)
    assert all(sha256_of(c.content()) == c.sha256 for c in dataset.clips)


def test_manifests(source, tmp_path):
    root = source["root"]
    csv_rows = ["path,split,transcript"] + [f"clips/{r['rel']},{r['split']},{r['text'] or ''}" for r in source["rows"]]
    (root / "list.csv").write_text("\n".join(csv_rows) + "\n")
    # JSON lines with synonyms (audio / category / text) and an absolute path
    lines = [json.dumps({"audio": str(source["clips"] / r["rel"]) if i == 0 else f"clips/{r['rel']}",
                         "category": r["split"], "text": r["text"]}) for i, r in enumerate(source["rows"])]
    (root / "list.jsonl").write_text("\n".join(lines) + "\n\n")
    for name in ("list.csv", "list.jsonl"):
        dataset = open_data(str(root / name))
        assert (dataset.kind, dataset.name, dataset.warnings) == ("manifest", name, [])
        assert _summary(dataset) == source["expected"]
    assert open_data(str(root / "list.csv")).clips[0].id == "clips/Speech/s1.wav"  # the path as written


@pytest.mark.parametrize("form", ["dict", "parquet", "one"])
def test_datasets_forms(source, hf_forms, form):
    dataset = open_data(str(hf_forms[form]))
    assert dataset.kind == "datasets"
    assert _summary(dataset) == source["expected"]
    assert all(c.data is not None and c.path is None and sha256_of(c.data) == c.sha256 for c in dataset.clips)
    ids = [c.id for c in dataset.clips]
    assert "Speech/s1" in ids and "Audio/a2" in ids
    order = {"dict": ["Speech", "Audio", "Music"], "parquet": ["Audio", "Music", "Speech"],  # as saved / by name
             "one": ["Speech", "Music", "Audio"]}[form]  # row order
    assert [c.split for c in dataset.clips] == [split for split in order for _ in range(2)]


def test_parquet_file_and_split_selection(source, hf_forms):
    one = open_data(str(hf_forms["parquet"] / "data" / "Music-00000-of-00001.parquet"))
    assert {c.split for c in one.clips} == {"Music"} and len(one.clips) == 2
    chosen = open_data(str(hf_forms["dict"]), splits=["speech", "Music"], limit=3)  # case-insensitive
    assert [c.id for c in chosen.clips] == ["Speech/s1", "Speech/s2", "Music/m1"]
    assert chosen.clips[0].transcript == "hello world"
    folder = open_data(str(source["clips"]), splits=["Audio"], limit=1)
    assert [c.id for c in folder.clips] == ["Audio/a1.wav"]


def test_folder_ignores_other_files_but_keeps_a_bad_wav(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.md").write_text("not audio")
    (tmp_path / "sub" / "broken.wav").write_bytes(b"this is not a wav file")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.wav").write_bytes(b"hidden")
    (tmp_path / ".y.wav").write_bytes(b"hidden")
    (tmp_path / "top.flac").write_bytes(b"also not flac")
    dataset = open_data(str(tmp_path))
    assert [(c.id, c.split) for c in dataset.clips] == [("sub/broken.wav", "sub"), ("top.flac", "")]
    assert dataset.clips[0].sha256 == sha256_of(b"this is not a wav file") and dataset.clips[0].problem is None
    assert dataset.warnings == ["1 files that are not audio (by extension) were ignored (first: sub/notes.md)"]


def test_manifest_missing_files_become_problem_clips(source):
    root = source["root"]
    (root / "gaps.csv").write_text("file,domain\nclips/Speech/s1.wav,Speech\nnope/a.wav,Music\n,Music\n"
                                   "nope/b.wav,Music\n")
    dataset = open_data(str(root / "gaps.csv"))
    assert [c.id for c in dataset.clips] == ["clips/Speech/s1.wav", "nope/a.wav", "nope/b.wav"]
    missing = dataset.clips[1]
    assert missing.sha256 == "" and missing.split == "Music"
    assert missing.problem == f"file not found: {root / 'nope' / 'a.wav'}"
    assert dataset.warnings == [
        "1 manifest rows have an empty file and were skipped (first: line 4)",
        "2 manifest rows name files that do not exist (first: nope/a.wav); they are recorded as failed",
    ]


def test_manifest_wrong_columns(tmp_path):
    (tmp_path / "m.csv").write_text("name,label\na.wav,x\n")
    with pytest.raises(DataError, match=r"found columns name, label; expected `path` \(or one of audio, file"):
        open_data(str(tmp_path / "m.csv"))
    (tmp_path / "m.jsonl").write_text('{"wav": "a.wav"}\n')
    with pytest.raises(DataError, match="found columns wav; expected `path`"):
        open_data(str(tmp_path / "m.jsonl"))


def test_manifest_bad_syntax_names_the_line(tmp_path):
    (tmp_path / "m.csv").write_text("path,split\na.wav,x\nb.wav,x,extra\n")
    with pytest.raises(DataError, match=r"m.csv, line 3: 3 fields where the header has 2 \(path, split\)"):
        open_data(str(tmp_path / "m.csv"))
    (tmp_path / "q.csv").write_text('path,split\n"a.wav,x\n')
    with pytest.raises(DataError, match=r"q.csv, line 2: not valid CSV .*unbalanced quotes"):
        open_data(str(tmp_path / "q.csv"))
    (tmp_path / "m.jsonl").write_text('{"path": "a.wav"}\n{"path": "b.wav",}\n')
    with pytest.raises(DataError, match=r"m.jsonl, line 2: not valid JSON"):
        open_data(str(tmp_path / "m.jsonl"))


def test_empty_missing_and_unknown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no audio here")
    with pytest.raises(DataError, match=r"DATA empty holds no clips\. Audio files are found by extension \("):
        open_data("empty")
    with pytest.raises(DataError, match=r"DATA no_such_folder does not exist\. Pass a folder of audio files"):
        open_data("no_such_folder")
    with pytest.raises(DataError, match=r"DATA gone/list\.csv does not exist"):
        open_data("gone/list.csv")
    (tmp_path / "table.xlsx").write_bytes(b"x")
    with pytest.raises(DataError, match=r"unknown kind of file \(\.xlsx\)"):
        open_data("table.xlsx")
    (tmp_path / "one.wav").write_bytes(b"x")
    with pytest.raises(DataError, match="single audio file.*Pass the folder"):
        open_data("one.wav")
    with pytest.raises(DataError, match="--limit must be at least 1"):
        open_data("empty", limit=0)


def test_unknown_split_lists_the_existing_ones(source, tmp_path):
    with pytest.raises(DataError, match=r"has no split 'Vocals'; its splits are Audio, Music, Speech\."):
        open_data(str(source["clips"]), splits=["Vocals"])
    (tmp_path / "flat.wav").write_bytes(b"x")
    with pytest.raises(DataError, match="has no splits, so --split Speech cannot select any"):
        open_data(str(tmp_path), splits=["Speech"])


def test_dataset_rows_without_audio_and_without_an_audio_column(tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    # save_to_disk embeds local files (and fails on a row with neither), so write the rows with pyarrow: a
    # struct<bytes, path> column is how `datasets` stores Audio, found even without its metadata
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"RIFF....")
    audio = [{"bytes": None, "path": str(wav)}, {"bytes": None, "path": "gone.wav"}, {"bytes": None, "path": None}]
    column = pa.array(audio, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    pq.write_table(pa.table({"sound": column}), tmp_path / "rows.parquet")
    dataset = open_data(str(tmp_path / "rows.parquet"))
    assert [(c.id, c.path, c.sha256) for c in dataset.clips][0] == ("0", str(wav), sha256_of(b"RIFF...."))
    assert dataset.clips[1].problem == "row has no audio bytes and its path gone.wav cannot be read"
    assert dataset.clips[2].problem == "row has no audio (neither bytes nor a path)"
    assert dataset.warnings == ["2 clips cannot be read (first: 1: row has no audio bytes and its path gone.wav "
                                "cannot be read); they are recorded as failed"]
    datasets.Dataset.from_dict({"id": ["a"], "label": [1]}).save_to_disk(str(tmp_path / "noaudio"))
    with pytest.raises(DataError, match="has no audio column: found columns id, label. Expected an Audio feature"):
        open_data(str(tmp_path / "noaudio"))


def test_hub_id_offline_says_how_to_pass_a_local_copy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as caught:
        open_data("someone/not-a-dataset")
    message = str(caught.value)
    assert "someone/not-a-dataset is not a file or folder here" in message
    assert "cannot be downloaded here" in message
    assert "hf download someone/not-a-dataset --repo-type dataset --local-dir DIR" in message
    assert "pass DIR as DATA" in message and "\n" not in message

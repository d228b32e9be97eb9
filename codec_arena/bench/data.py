"""DATA → clips: the one place that knows the dataset layouts `codec-arena bench` accepts.

A folder of audio files, a CSV / JSON-lines manifest, or a Hugging Face `datasets` dataset (saved with
`save_to_disk`, parquet files, or a Hub id) all become the same list of `Clip`s, so the runner never
cares where the audio came from. Nothing is decoded here: a clip is its file's bytes and their hash;
the job decodes, and records a clip it cannot read as failed. Only a DATA that is unusable as a whole
raises (`DataError`); one bad row becomes a clip with a `problem` and a summary warning.

`datasets` and `pyarrow` are imported inside the functions that need them, so the app starts fast.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import RequestError
from ..weights import offline
from .clip import Clip, sha256_of

AUDIO_EXTENSIONS = frozenset({
    "wav", "wave", "flac", "mp3", "ogg", "oga", "opus", "m4a", "aac", "webm", "mp4", "aiff", "aif", "aifc",
    "au", "snd", "caf", "wma", "mka", "wv", "spx", "amr", "3gp",
})
TRANSCRIPT_EXTENSIONS = ("txt", "lab")
MANIFEST_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json"}

# Manifest columns / dataset columns, first match wins (compared case-insensitively).
PATH_COLUMNS = ("path", "audio", "file", "filename", "file_name", "audio_path", "audio_filepath")
SPLIT_COLUMNS = ("split", "domain", "category")
TRANSCRIPT_COLUMNS = ("transcript", "text", "sentence", "transcription")
ID_COLUMNS = ("id",)

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
SHARD = re.compile(r"^(?P<split>.+?)-\d{5}-of-\d{5}(?:-.*)?$")  # Hub parquet: Speech-00000-of-00001.parquet
HASH_CHUNK = 1 << 20
AUDIO_BATCH_ROWS = 64


class DataError(RequestError):
    """The whole DATA is unusable; the message says why and what to do."""


@dataclass(frozen=True)
class Dataset:
    name: str  # what the user passed, shortened for display
    kind: str  # "folder" | "manifest" | "datasets"
    clips: list[Clip]
    warnings: list[str] = field(default_factory=list)

    @property
    def splits(self) -> list[str]:
        """The splits present, in first-seen order ("" for clips without one)."""
        return list(dict.fromkeys(clip.split for clip in self.clips))


@dataclass
class _Entry:
    """A clip before its bytes are read: ordering, split filtering and `limit` happen on these, so a
    `--limit 10` run over a large folder hashes 10 files, not all of them."""

    id: str
    split: str
    make: Callable[[], Clip]


def open_data(spec: str, *, limit: int | None = None, splits: Sequence[str] | None = None) -> Dataset:
    """Read DATA (a folder, a manifest, a saved or parquet `datasets` dataset, or a Hub id) into clips,
    keeping only `splits` (when given) and then the first `limit` clips."""
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be at least 1 (got {limit}).")
    spec = str(spec).strip()
    if not spec:
        raise DataError("DATA is empty. Pass a folder of audio files, a .csv/.jsonl manifest, a dataset "
                        "saved with `datasets`' save_to_disk, parquet files, or a Hugging Face dataset id.")
    hub_prefix = "hf://datasets/"
    path = Path(spec).expanduser().absolute()  # clips carry absolute paths: workers may run elsewhere
    if spec.startswith(hub_prefix):
        kind, name, (entries, warnings) = "datasets", spec[len(hub_prefix):], _hub(spec[len(hub_prefix):])
    elif path.is_dir():
        kind, name, (entries, warnings) = _open_dir(path)
    elif path.is_file():
        kind, name, (entries, warnings) = _open_file(path)
    elif path.exists():
        raise DataError(f"DATA {spec} is neither a file nor a folder.")
    elif HUB_ID.match(spec) and path.suffix.lower() not in {*MANIFEST_EXTENSIONS, ".parquet"}:
        kind, name, (entries, warnings) = "datasets", spec, _hub(spec)
    else:
        raise DataError(f"DATA {spec} does not exist. Pass a folder of audio files, a .csv/.jsonl manifest, "
                        f"a `datasets` folder or parquet file, or a Hugging Face dataset id such as "
                        f"voidful/codec-superb-tiny.")

    if not entries:
        raise DataError(f"DATA {spec} holds no clips. {_EMPTY_HINT[kind]}")
    entries = _select(entries, splits, spec)
    if limit is not None:
        entries = entries[:limit]
    clips = _unique_ids([entry.make() for entry in entries], warnings)
    return Dataset(name=name, kind=kind, clips=clips, warnings=warnings + _problem_summary(clips, kind))


_EMPTY_HINT = {
    "folder": "Audio files are found by extension (" + ", ".join(sorted(AUDIO_EXTENSIONS)) + "), in "
              "subfolders too; hidden files are skipped.",
    "manifest": "Add one row per clip, with a `path` column.",
    "datasets": "The dataset has no rows.",
}


def _display_name(path: Path) -> str:
    return path.resolve().name or str(path)


def _open_dir(path: Path) -> tuple[str, str, tuple[list[_Entry], list[str]]]:
    name = _display_name(path)
    if (path / "dataset_dict.json").is_file() or (
            (path / "dataset_info.json").is_file() and (path / "state.json").is_file()):
        return "datasets", name, _saved(path)
    files = list(_walk(path))
    has_audio = any(_ext(f) in AUDIO_EXTENSIONS for f in files)
    parquet = [f for f in files if _ext(f) == "parquet"]
    if parquet and not has_audio:
        return "datasets", name, _parquet(parquet, root=path)
    entries, warnings = _folder(path, files)
    if parquet:
        warnings.append(f"{len(parquet)} parquet files next to the audio files were ignored "
                        f"(first: {parquet[0].relative_to(path).as_posix()}); pass them on their own to read them")
    return "folder", name, (entries, warnings)


def _open_file(path: Path) -> tuple[str, str, tuple[list[_Entry], list[str]]]:
    suffix = path.suffix.lower()
    name = _display_name(path)
    if suffix in MANIFEST_EXTENSIONS:
        return "manifest", name, _manifest(path, MANIFEST_EXTENSIONS[suffix])
    if suffix == ".parquet":
        return "datasets", name, _parquet([path], root=path.parent)
    if suffix.lstrip(".") in AUDIO_EXTENSIONS:
        raise DataError(f"DATA {path} is a single audio file; `bench` measures a dataset. Pass the folder "
                        f"that holds it ({path.parent}), or use `codec-arena compare` for one file.")
    raise DataError(f"DATA {path}: unknown kind of file ({suffix or 'no extension'}). Pass a folder of audio "
                    f"files, a .csv/.tsv/.jsonl/.json manifest, or .parquet files of a `datasets` dataset.")


# --- folders ------------------------------------------------------------------------------------------


def _ext(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def _walk(root: Path) -> Iterator[Path]:
    """Every non-hidden file under `root`, in sorted order (deterministic across machines)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def _folder(root: Path, files: list[Path]) -> tuple[list[_Entry], list[str]]:
    audio = sorted((f for f in files if _ext(f) in AUDIO_EXTENSIONS), key=lambda f: f.relative_to(root).as_posix())
    transcripts = {f.with_suffix(f".{ext}") for f in audio for ext in TRANSCRIPT_EXTENSIONS}
    ignored = [f for f in files if _ext(f) not in AUDIO_EXTENSIONS and f not in transcripts and _ext(f) != "parquet"]
    entries = []
    for file in audio:
        rel = file.relative_to(root).as_posix()
        split = rel.split("/", 1)[0] if "/" in rel else ""
        entries.append(_Entry(rel, split, lambda file=file, rel=rel, split=split: _file_clip(
            rel, file, split, _sibling_transcript(file))))
    warnings = []
    if ignored and entries:
        warnings.append(f"{len(ignored)} files that are not audio (by extension) were ignored "
                        f"(first: {ignored[0].relative_to(root).as_posix()})")
    return entries, warnings


def _sibling_transcript(audio: Path) -> str | None:
    for ext in TRANSCRIPT_EXTENSIONS:
        candidate = audio.with_suffix(f".{ext}")
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8", errors="replace").strip()
            return text or None
    return None


def _file_clip(clip_id: str, path: Path, split: str, transcript: str | None) -> Clip:
    """A clip that stays on disk: hashed by streaming, so a large dataset never sits in memory."""
    if not path.exists():
        return Clip(clip_id, "", split, transcript, str(path), problem=f"file not found: {path}")
    if not path.is_file():
        return Clip(clip_id, "", split, transcript, str(path), problem=f"not a file: {path}")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        return Clip(clip_id, "", split, transcript, str(path), problem=f"cannot read {path}: {exc.strerror or exc}")
    return Clip(clip_id, digest.hexdigest(), split, transcript, str(path))


# --- manifests ----------------------------------------------------------------------------------------


def _manifest(path: Path, fmt: str) -> tuple[list[_Entry], list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"Manifest {path} is not UTF-8 text ({exc.reason} at byte {exc.start}). "
                        f"Save it as UTF-8.") from exc
    if fmt in {"csv", "tsv"}:
        header, rows = _csv_rows(path, text, "\t" if fmt == "tsv" else ",")
    else:
        header, rows = _json_rows(path, text, fmt)
    path_col = _find_column(header, PATH_COLUMNS)
    if path_col is None:
        found = ", ".join(header) if header else "none"
        raise DataError(f"Manifest {path} has no audio path column: found columns {found}; expected `path` "
                        f"(or one of {', '.join(PATH_COLUMNS[1:])}), and optionally `split` and `transcript`.")
    split_col = _find_column(header, SPLIT_COLUMNS)
    text_col = _find_column(header, TRANSCRIPT_COLUMNS)

    entries, empty = [], []
    for where, row in rows:
        written = _cell(row.get(path_col))
        if isinstance(row.get(path_col), dict):  # a `datasets`-style {"path": ...} cell in JSON
            written = _cell(row[path_col].get("path"))
        if not written:
            empty.append(where)
            continue
        split = _cell(row.get(split_col)) if split_col else ""
        transcript = (_cell(row.get(text_col)) or None) if text_col else None
        resolved = Path(written).expanduser()
        if not resolved.is_absolute():
            resolved = path.parent / resolved
        entries.append(_Entry(written, split, lambda w=written, r=resolved, s=split, t=transcript: _file_clip(
            w, r, s, t)))
    warnings = []
    if empty:
        warnings.append(f"{len(empty)} manifest rows have an empty {path_col} and were skipped (first: {empty[0]})")
    return entries, warnings


def _cell(value: Any) -> str:
    if value is None or isinstance(value, dict):
        return ""
    return str(value).strip()


def _find_column(header: Sequence[str], names: Sequence[str]) -> str | None:
    by_lower = {column.strip().lower(): column for column in header}
    return next((by_lower[name] for name in names if name in by_lower), None)


def _csv_rows(path: Path, text: str, delimiter: str) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[str, dict[str, str]]] = []
    header: list[str] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if not header:
                header = [v.strip() for v in values]
                continue
            if len(values) != len(header):
                raise DataError(f"Manifest {path}, line {reader.line_num}: {len(values)} fields where the header "
                                f"has {len(header)} ({', '.join(header)}). Quote values that contain "
                                f"'{delimiter}' and give every row the same columns.")
            rows.append((f"line {reader.line_num}", dict(zip(header, values, strict=True))))
    except csv.Error as exc:
        raise DataError(f"Manifest {path}, line {reader.line_num}: not valid CSV ({exc}). "
                        f"Fix that line (unbalanced quotes are the usual cause).") from exc
    return header, rows


def _json_rows(path: Path, text: str, fmt: str) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """JSON lines (one object per line); a `.json` file may also be one array of objects."""
    rows: list[tuple[str, dict[str, Any]]] = []
    if fmt == "json" and text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"Manifest {path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from exc
        rows = [(f"item {number}", item) for number, item in enumerate(items, 1)]
        bad = next((i for i, item in enumerate(items) if not isinstance(item, dict)), None)
        if bad is not None:
            raise DataError(f"Manifest {path}: item {bad + 1} of the array is not an object with a `path` key.")
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"Manifest {path}, line {number}: not valid JSON ({exc.msg}). Each line must be "
                                f"one object, e.g. {{\"path\": \"a.wav\", \"split\": \"Speech\"}}.") from exc
            if not isinstance(item, dict):
                raise DataError(f"Manifest {path}, line {number}: a JSON {type(item).__name__}, not an object "
                                f"like {{\"path\": \"a.wav\"}}.")
            rows.append((f"line {number}", item))
    header = list(dict.fromkeys(key for _, item in rows for key in item))
    return header, rows


# --- `datasets` datasets ------------------------------------------------------------------------------


@dataclass
class _Source:
    """One table of rows (a split of a saved dataset, or a parquet file), read through pyarrow only:
    `datasets` 4+ decodes audio through TorchCodec and FFmpeg, which may be absent, and we want the
    encoded file anyway."""

    split: str  # the DatasetDict key or the parquet file's split; a `category` column overrides it
    columns: list[str]
    num_rows: int
    audio: str | None
    read_columns: Callable[[list[str]], Any]  # -> pyarrow.Table
    iter_audio: Callable[[], Iterator[Any]]  # -> pyarrow batches of the audio column
    base: Path | None  # where a row's relative audio path resolves


def _saved(path: Path) -> tuple[list[_Entry], list[str]]:
    import datasets

    datasets.disable_progress_bars()  # the bench draws its own; theirs would interleave with it
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # corrupt or written by an incompatible `datasets` version
        raise DataError(f"Could not open the saved `datasets` dataset {path}: {_reason(exc)}. Save it again "
                        f"with save_to_disk, or pass its parquet files.") from exc
    items = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
    return _rows(_dataset_source(split, ds, path / split if split else path) for split, ds in items)


def _dataset_source(split: str, ds: Any, base: Path | None) -> _Source:
    import datasets

    audio = next((name for name, feature in ds.features.items() if isinstance(feature, datasets.Audio)), None)
    if audio is None:
        audio = _struct_audio_column(ds.data.schema)
    arrow = ds.with_format("arrow")  # no feature decoding at all: raw {bytes, path} structs
    return _Source(
        split=split, columns=list(ds.column_names), num_rows=len(ds), audio=audio, base=base,
        read_columns=lambda cols: arrow.select_columns(cols)[:] if cols else None,
        iter_audio=lambda: arrow.select_columns([audio]).iter(batch_size=AUDIO_BATCH_ROWS),
    )


def _parquet(files: list[Path], root: Path) -> tuple[list[_Entry], list[str]]:
    import pyarrow.parquet as pq

    sources = []
    for file in sorted(files, key=lambda f: f.relative_to(root).as_posix()):
        try:
            meta = pq.ParquetFile(file).metadata
            schema = meta.schema.to_arrow_schema()
        except Exception as exc:
            raise DataError(f"{file} is not a readable parquet file: {_reason(exc)}.") from exc
        audio = _hf_audio_column(schema) or _struct_audio_column(schema)
        sources.append(_Source(
            split=_parquet_split(file, root), columns=list(schema.names), num_rows=meta.num_rows, audio=audio,
            base=file.parent,
            read_columns=lambda cols, file=file: pq.read_table(file, columns=cols) if cols else None,
            iter_audio=lambda file=file, audio=audio: pq.ParquetFile(file).iter_batches(
                batch_size=AUDIO_BATCH_ROWS, columns=[audio]),
        ))
    return _rows(sources)


def _parquet_split(file: Path, root: Path) -> str:
    """`data/Speech-00000-of-00001.parquet` → Speech (the Hub's naming); `Speech/0000.parquet` → Speech."""
    match = SHARD.match(file.stem)
    if match:
        return match["split"]
    return file.parent.name if file.parent != root else ""


def _hf_audio_column(schema: Any) -> str | None:
    """The column `datasets` declared as Audio, from the features it stores in the parquet metadata."""
    try:
        features = json.loads((schema.metadata or {})[b"huggingface"])["info"]["features"]
    except (KeyError, TypeError, ValueError):
        return None
    return next((name for name, feature in features.items()
                 if isinstance(feature, dict) and feature.get("_type") == "Audio" and name in schema.names), None)


def _struct_audio_column(schema: Any) -> str | None:
    """A column stored the way `datasets` stores Audio: a struct with `bytes` and `path` fields."""
    import pyarrow as pa

    candidates = [f.name for f in schema if pa.types.is_struct(f.type)
                  and {"bytes", "path"} <= {f.type.field(i).name for i in range(f.type.num_fields)}]
    return "audio" if "audio" in candidates else (candidates[0] if candidates else None)


def _rows(sources: Iterator[_Source] | list[_Source]) -> tuple[list[_Entry], list[str]]:
    """Entries for every row of every source; each entry's clip takes its bytes from one shared pass over
    the audio column, made only when the first clip of a source is built (after split filter and limit)."""
    entries: list[_Entry] = []
    for source in sources:
        if source.audio is None:
            where = f" (split {source.split})" if source.split else ""
            raise DataError(f"The dataset{where} has no audio column: found columns {', '.join(source.columns)}. "
                            f"Expected an Audio feature (e.g. `audio`) holding each clip's encoded file.")
        lower = {c.lower(): c for c in source.columns}
        roles = (("id", ID_COLUMNS), ("split", ("category", "domain")), ("text", TRANSCRIPT_COLUMNS))
        wanted = {role: next((lower[n] for n in names if n in lower and lower[n] != source.audio), None)
                  for role, names in roles}
        cols = [c for c in dict.fromkeys(wanted.values()) if c]
        table = source.read_columns(cols)
        values = {role: (table.column(col).to_pylist() if col else None) for role, col in wanted.items()}
        audio = _LazyColumn(source)
        for index in range(source.num_rows):
            split = _cell(values["split"][index]) if values["split"] else ""
            split = split or source.split
            row_id = _cell(values["id"][index]) if values["id"] else ""
            row_id = row_id or str(index)
            clip_id = f"{split}/{row_id}" if split else row_id
            transcript = (_cell(values["text"][index]) or None) if values["text"] else None
            entries.append(_Entry(clip_id, split, lambda i=index, c=clip_id, s=split, t=transcript, a=audio:
                                  _row_clip(c, s, t, a.get(i), a.source.base)))
    return entries, []


class _LazyColumn:
    """One source's audio column, read batch by batch, only as far as asked for, holding one batch at a
    time: rows are asked for in ascending order, and rows that were filtered out are never kept."""

    def __init__(self, source: _Source) -> None:
        self.source = source
        self._batches: Iterator[Any] | None = None
        self._batch: list[Any] = []
        self._start = self._end = 0  # the rows [start, end) of the source are in `_batch`

    def get(self, index: int) -> Any:
        if index < self._start:
            raise RuntimeError("audio rows must be read in ascending order")
        if self._batches is None:
            self._batches = iter(self.source.iter_audio())
        while self._end <= index:
            batch = next(self._batches, None)
            if batch is None:
                return None
            self._batch, self._start = batch.column(self.source.audio).to_pylist(), self._end
            self._end += len(self._batch)
        return self._batch[index - self._start]


def _row_clip(clip_id: str, split: str, transcript: str | None, audio: Any, base: Path | None) -> Clip:
    """A `decode=False` Audio value is {"bytes": b"..." or None, "path": "..." or None}."""
    if isinstance(audio, dict) and audio.get("bytes"):
        data = bytes(audio["bytes"])
        return Clip(clip_id, sha256_of(data), split, transcript, data=data)
    where = audio.get("path") if isinstance(audio, dict) else None
    if where:
        candidates = [Path(where).expanduser()]
        if base is not None and not candidates[0].is_absolute():
            candidates.append(base / where)
        for candidate in candidates:
            if candidate.is_file():
                clip = _file_clip(clip_id, candidate, split, transcript)
                if not clip.problem:
                    return clip
        return Clip(clip_id, "", split, transcript, problem=f"row has no audio bytes and its path {where} "
                                                            f"cannot be read")
    return Clip(clip_id, "", split, transcript, problem="row has no audio (neither bytes nor a path)")


def _hub(repo_id: str) -> tuple[list[_Entry], list[str]]:
    """A Hub dataset through `load_dataset` (which also finds it in the local cache when offline)."""
    import datasets

    datasets.disable_progress_bars()
    try:
        loaded = datasets.load_dataset(repo_id)
    except Exception as exc:
        local = ("on a machine with internet access run `hf download " + repo_id + " --repo-type dataset "
                 "--local-dir DIR` (or `datasets.load_dataset(\"" + repo_id + "\").save_to_disk(DIR)`), "
                 "copy DIR here and pass DIR as DATA")
        if offline():
            raise DataError(f"{repo_id} is not a file or folder here, and as a Hugging Face dataset it cannot be "
                            f"downloaded here: CODEC_ARENA_OFFLINE or HF_HUB_OFFLINE is set and it is not in the "
                            f"local datasets cache. Fix: {local}.") from exc
        if isinstance(exc, FileNotFoundError) or type(exc).__name__.endswith("NotFoundError"):
            raise DataError(f"{repo_id} is not a file or folder here, nor a dataset on the Hugging Face Hub "
                            f"({_reason(exc)}). Check the spelling; for a gated or private dataset run "
                            f"`hf auth login` first.") from exc
        raise DataError(f"Could not download the Hugging Face dataset {repo_id} ({_reason(exc)}). "
                        f"Fix: check the network, or {local}.") from exc
    items = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
    return _rows(_dataset_source(split, ds, None) for split, ds in items)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# --- selection and summaries --------------------------------------------------------------------------


def _select(entries: list[_Entry], splits: Sequence[str] | None, spec: str) -> list[_Entry]:
    if not splits:
        return entries
    existing = list(dict.fromkeys(entry.split for entry in entries))
    named = [s for s in existing if s]
    if not named:
        raise DataError(f"DATA {spec} has no splits, so --split {' '.join(splits)} cannot select any. "
                        f"Drop --split (a folder's splits are its subfolders; a manifest's, its `split` column).")
    chosen = set()
    for wanted in splits:
        if wanted in named:
            chosen.add(wanted)
            continue
        folded = [s for s in named if s.lower() == wanted.lower()]
        if len(folded) != 1:
            raise DataError(f"DATA {spec} has no split {wanted!r}; its splits are {', '.join(named)}.")
        chosen.add(folded[0])
    return [entry for entry in entries if entry.split in chosen]


def _unique_ids(clips: list[Clip], warnings: list[str]) -> list[Clip]:
    """Results are keyed by hash, but reports and `problem` clips need distinct ids: a repeated id
    (a manifest naming a file twice, rows sharing an `id`) gets `#2`, `#3`, ..."""
    seen: dict[str, int] = {}
    out, renamed = [], []
    for clip in clips:
        count = seen.get(clip.id, 0) + 1
        seen[clip.id] = count
        if count > 1:
            renamed.append(clip.id)
            clip = replace(clip, id=f"{clip.id}#{count}")
        out.append(clip)
    if renamed:
        warnings.append(f"{len(renamed)} clips repeat an earlier clip's id and were renamed with #2, #3, ... "
                        f"(first: {renamed[0]})")
    return out


def _problem_summary(clips: list[Clip], kind: str) -> list[str]:
    missing = [c for c in clips if c.problem and c.problem.startswith("file not found")]
    other = [c for c in clips if c.problem and c not in missing]
    warnings = []
    if missing:
        rows = "manifest rows name" if kind == "manifest" else "clips name"
        warnings.append(f"{len(missing)} {rows} files that do not exist (first: {missing[0].id}); "
                        f"they are recorded as failed")
    if other:
        warnings.append(f"{len(other)} clips cannot be read (first: {other[0].id}: {other[0].problem}); "
                        f"they are recorded as failed")
    return warnings

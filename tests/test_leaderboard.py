"""The Leaderboard's data: the published Codec-SUPERB import (provenance, mapping to our codecs), the
split filter, the bitrate / token-rate groups and ranking (random-weight rows never ranked), and the
results files a visitor uploads (each kind, and the refusals a person reads)."""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path

import pytest

from codec_arena.bench.board import BoardFileError, BoardRow, Facts, load_results_file
from codec_arena.bench.published import ASSET, our_point, provenance, published, published_rows
from codec_arena.compare import parse_point
from codec_arena.ui import leaderboard as lb

MIRROR = Path(os.environ.get("CODEC_SUPERB_REPO", "/work/.mirror/voidful+Codec-SUPERB/repo"))


@pytest.fixture(autouse=True)
def no_local_runs(tmp_path, monkeypatch):
    """An empty runs index: bench runs made by other tests in this session must not join these boards."""
    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path / "no-runs"))


def summary(random: bool = True) -> dict:
    """A bench summary.json: one random-weight point, one with real weights, two splits."""
    return {
        "format": "codec-arena-bench", "version": 1, "dataset": "my_clips (folder, 6 clips)",
        "created": "2026-12-03T11:00:00Z", "metric_version": "1", "metrics": ["mel", "stoi"],
        "points": {"dac_16khz@6": {"codec": "dac_16khz", "family": "DAC", "kbps": 6.0, "token_rate": 600.0,
                                   "random_weights": random, "weights_id": "ab12"},
                   "encodec_24khz@3": {"codec": "encodec_24khz", "family": "EnCodec", "kbps": 3.0,
                                       "token_rate": 300.0, "random_weights": False, "weights_id": "cd34"}},
        "results": {"dac_16khz@6": {"overall": {"mel": {"mean": 0.1, "ci95": 0.01, "n": 6},
                                                "stoi": {"mean": 0.99, "ci95": 0.01, "n": 6}},
                                    "Speech": {"mel": {"mean": 0.1, "ci95": 0.02, "n": 3}}},
                    "encodec_24khz@3": {"overall": {"mel": {"mean": 1.3, "ci95": 0.2, "n": 6},
                                                    "stoi": {"mean": 0.72, "ci95": 0.03, "n": 6}}}},
        "counts": {"done": 12, "failed": 0, "skipped": 0},
    }


def row(label: str, kbps: float | None, mel: float | None, *, tokens: float | None = None, split: str = "overall",
        random: bool = False, source: str = "run", stoi: float | None = None) -> BoardRow:
    return BoardRow(source, label, split, Facts(label.partition("@")[0], "F", kbps, tokens, random),
                    {"mel": mel, "stoi": stoi})


# the published Codec-SUPERB figures


def test_published_asset_says_where_it_comes_from():
    data = published()
    assert data["source"] == "https://github.com/voidful/Codec-SUPERB" and data["licence"] == "MIT"
    assert re.fullmatch(r"[0-9a-f]{40}", data["commit"]) and re.match(r"\d{4}-\d{2}-\d{2}T", data["date"])
    assert data["files"] and all(name.endswith(".json") for name in data["files"])
    assert {entry["file"] for entry in data["codecs"].values()} <= set(data["files"])
    short = f"{data['commit'][:7]} ({data['date'][:10]})"
    assert provenance() == f"Codec-SUPERB results/codec-superb-tiny at {short}"
    rows = published_rows()
    assert rows and all(r.source == "published" and r.provenance == provenance() for r in rows)
    assert "Codec-SUPERB" in (Path(ASSET).parents[1] / "LICENSES.md").read_text()


def test_published_codecs_map_to_ours_where_the_model_is_the_same():
    assert our_point("dac_16k") == "dac_16khz@6"
    assert our_point("encodec_24k_6bps") == "encodec_24khz@6"
    assert our_point("dac_44k") == "dac_44khz@7.752"
    assert our_point("wavtokenizer_24k_large_speech_75token") == "wavtokenizer_large_speech_75@0.9"
    assert our_point("wavtokenizer_24k_medium_600_4096") is None  # their medium is the speech model; ours is music
    assert our_point("sqcodec_16k_3kbps") is None and our_point("no such codec") is None
    for name, entry in published()["codecs"].items():
        if entry["our_id"]:  # every mapping is a point we accept, written as we write it, with our figures
            point = parse_point(entry["our_id"])
            assert str(point) == entry["our_id"], name
            assert math.isclose(entry["kbps"], point.kbps, rel_tol=1e-3), name
    dac = [r for r in published_rows() if r.label == "dac_16k"]
    assert {r.split for r in dac} == {"overall", "Speech", "Audio", "Music"}
    assert dac[0].facts == Facts("dac_16khz", "DAC", 6.0, 600.0, False)
    overall = next(r for r in dac if r.split == "overall")
    assert math.isclose(overall.values["mel"], published()["codecs"]["dac_16k"]["results"]["overall"]["mel"])


def test_codecs_without_reconstructions_are_not_rows():
    labels = {r.label for r in published_rows()}
    assert not any(name.startswith("s3tokenizer") for name in labels)  # encode-only in every file
    assert "s3tokenizer_v1_25hz" in published()["not_evaluated"]
    assert "audiodec_24k_320d" in labels  # an error in two files, metrics in a third: the metrics count


@pytest.mark.skipif(not MIRROR.exists(), reason="no Codec-SUPERB checkout to import from")
def test_import_script_reproduces_the_asset():
    import importlib.util

    spec = importlib.util.spec_from_file_location("import_codec_superb",
                                                  Path(__file__).parents[1] / "scripts" / "import_codec_superb.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    built = script.build(MIRROR)
    if built["commit"] != published()["commit"]:
        pytest.skip("the checkout is at another commit than the asset")
    assert json.loads(json.dumps(built)) == published()


# filter, groups and ranking


def test_split_filter_ignores_case():
    rows = [row("a@1", 1, 1.0), row("b@1", 1, 1.0, split="Speech"), row("c@1", 1, 1.0, split="speech")]
    assert [r.label for r in lb.for_split(rows, "Speech")] == ["b@1", "c@1"]
    assert [r.label for r in lb.for_split(rows, "overall")] == ["a@1"]


def test_bands_hold_their_upper_bound():
    assert [lb.band(v, lb.KBPS_BANDS, "?") for v in (0.5, 1.5, 2, 3, 6, 6.4, 12, 16, None)] == [
        "≤ 1.5 kbps", "≤ 1.5 kbps", "1.5–3 kbps", "1.5–3 kbps", "3–6 kbps", "6–12 kbps", "6–12 kbps", "> 12 kbps", "?"]
    assert [lb.band(v, lb.TOKEN_BANDS, "?") for v in (40, 150, 600, 800, 1200, 2400)] == [
        "≤ 100 tok/s", "100–300 tok/s", "300–800 tok/s", "300–800 tok/s", "800–1600 tok/s", "> 1600 tok/s"]


def test_headers_show_each_metric_direction():
    assert [lb.header(m) for m in ("mel", "stft", "waveform", "pesq", "pesq-wb", "stoi", "f0corr")] == [
        "mel ↓", "stft ↓", "waveform ↓", "pesq ↑", "pesq-wb ↑", "stoi ↑", "f0corr ↑"]
    assert lb.header("app.si_sdr") == "app.si_sdr ↑" and lb.header("app.mel_distance") == "app.mel_distance ↓"


def test_rank_within_bitrate_bands_in_each_metric_direction():
    rows = [row("hi@12", 12, 0.5, stoi=0.9), row("lo_bad@1", 1, 2.0, stoi=0.5), row("lo_good@1", 1, 1.0, stoi=0.8),
            row("mid@6", 6, 0.8, stoi=None), row("nobody", None, 0.1)]
    ranked = lb.rank(rows, "mel", "bitrate band")
    assert [(e.row.label, e.group, e.rank) for e in ranked] == [
        ("lo_good@1", "≤ 1.5 kbps", 1), ("lo_bad@1", "≤ 1.5 kbps", 2), ("mid@6", "3–6 kbps", 1),
        ("hi@12", "6–12 kbps", 1), ("nobody", "kbps unknown", 1)]
    by_stoi = lb.rank(rows, "stoi", "none")  # higher is better; a row without the metric follows, unranked
    assert [(e.row.label, e.rank) for e in by_stoi] == [
        ("hi@12", 1), ("lo_good@1", 2), ("lo_bad@1", 3), ("mid@6", None), ("nobody", None)]
    by_tokens = lb.rank([row("a", 6, 1.0, tokens=600), row("b", 1, 1.0, tokens=50)], "mel", "token-rate band")
    assert [e.group for e in by_tokens] == ["≤ 100 tok/s", "300–800 tok/s"]
    with pytest.raises(Exception, match="Group by one of"):
        lb.rank(rows, "mel", "colour")


def test_random_weight_rows_are_never_ranked_and_come_last():
    rows = [row("random_best@6", 6, 0.01, tokens=600, random=True), row("real@6", 6, 1.0, tokens=600),
            row("real@24", 24, 2.0, tokens=2400)]
    for grouping in lb.GROUPINGS:
        ranked = lb.rank(rows, "mel", grouping)
        assert ranked[-1].row.label == "random_best@6"
        assert ranked[-1].rank is None
        assert ranked[-1].group == lb.RANDOM_GROUP == "random weights — not a quality result"
        assert [e.rank for e in ranked[:-1]] == ([1, 2] if grouping == "none" else [1, 1])


def test_published_rows_say_so_and_open_as_our_point():
    dac = next(r for r in published_rows() if r.label == "dac_16k" and r.split == "overall")
    data = published()
    assert lb.source_text(dac) == f"published (Codec-SUPERB, {data['commit'][:7]} {data['date'][:10]})"
    assert lb.runs_here(dac) == "dac_16khz@6"
    sq = next(r for r in published_rows() if r.label == "sqcodec_16k_3kbps")
    assert lb.runs_here(sq) is None
    mine = BoardRow("run", "encodec_24khz@3", "overall", Facts("encodec_24khz", "EnCodec", 3.0, 300.0), {})
    assert lb.runs_here(mine) == "encodec_24khz@3"
    assert lb.runs_here(BoardRow("uploaded", "their_codec", "overall", Facts(None, "X"), {})) is None


def test_opening_a_point_puts_it_first_in_compare():
    points, clip = lb.open_point("encodec_24khz@3", None, ["dac_16khz@6", "encodec_24khz@6", "opus@24"])
    assert points == ["encodec_24khz@3", "dac_16khz@6", "opus@24"]
    assert clip.endswith("speech_arctic_a0007.wav")
    assert lb.open_point("dac_44khz@7.752", "/my/clip.wav", [])[1] == "/my/clip.wav"


# the table, the scatter and the API with this machine's runs


@pytest.fixture
def a_local_run(tmp_path, monkeypatch) -> Path:
    """One bench run on this machine, in its runs index."""
    from codec_arena.bench.board import record_run

    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps(summary()))
    record_run(out)
    return out


def test_api_rows_include_local_runs_with_random_rows_last(a_local_run):
    rows = lb.leaderboard("overall", "mel", "bitrate band")
    assert rows[-1]["Configuration"] == "dac_16khz@6" and rows[-1]["#"] is None
    assert rows[-1]["Group"] == lb.RANDOM_GROUP and rows[-1]["random_weights"] is True
    mine = next(r for r in rows if r["Configuration"] == "encodec_24khz@3")
    assert mine["Source"] == "run (my_clips (folder, 6 clips), 2026-12-03T11:00:00Z)"
    assert mine["Group"] == "1.5–3 kbps" and mine["#"] == 1 and mine["mel ↓"] == 1.3 and mine["ci95"]["mel"] == 0.2
    assert mine["Runs here as"] == "encodec_24khz@3"
    assert rows[0]["Group"] == "≤ 1.5 kbps" and rows[0]["#"] == 1
    speech = lb.leaderboard("Speech", "mel", "none")
    assert {r["split"] for r in speech} == {"Speech"} and "encodec_24khz@3" not in {r["Configuration"] for r in speech}
    with pytest.raises(Exception, match="Rank by one of"):
        lb.leaderboard("overall", "loudness")


def test_table_and_scatter(a_local_run):
    frame, figure, metrics, metric = lb.contents("overall", "stoi", "token-rate band", [])
    assert metric == "stoi" and metrics[:7] == list(lb.SUPERB_METRICS)
    assert list(frame.columns)[:8] == ["Configuration", "#", "Group", "Source", "Family", "kbps", "tokens/s", "mel ↓"]
    assert "stoi ↑" in frame.columns and frame.columns[-1] == "Runs here as"
    assert len(lb.datatypes(metrics)) == len(lb.widths(metrics)) == len(frame.columns)
    names = [trace.name for trace in figure.data]
    assert "DAC" in names and names[-1] == lb.RANDOM_GROUP
    random = figure.data[-1]
    assert list(random.x) == [6.0] and random.marker.symbol == ("x",)
    assert figure.layout.xaxis.type == "log" and "stoi" in figure.layout.title.text
    label, source, split, value, tokens = random.customdata[0]
    assert (label, split, tokens) == ("dac_16khz@6", "overall", "600")
    assert value.startswith("0.99 ± 0.01") and "n=6" in value


def test_uploaded_rows_join_the_board(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary(random=False)))
    rows = load_results_file(path)
    frame, *_ = lb.contents("overall", "mel", "none", rows)
    uploaded = frame[frame["Source"].str.startswith("uploaded")]
    assert list(uploaded["Configuration"]) == ["dac_16khz@6", "encodec_24khz@3"]
    mel_of_encodec = rows[[r.label for r in rows].index("encodec_24khz@3")].values["mel"]
    better = [r for r in published_rows() if r.split == "overall" and (r.values.get("mel") or 99) < mel_of_encodec]
    # the real-weight upload ranks among the published rows: after them and the uploaded dac_16khz@6
    assert list(uploaded["#"]) == [1, len(better) + 2]
    assert lb.contents("overall", "app.si_sdr", "none", rows)[3] == "mel"  # a metric no row has: back to mel


# uploads: each file kind, and what a person reads when the file is not one


def test_upload_each_results_file_kind(tmp_path):
    superb = tmp_path / "codec_superb.json"
    superb.write_text(json.dumps({"dac_16khz@6": {"overall": {"mel": 1.0, "stoi": 0.8}, "Speech": {"mel": 0.9}},
                                  "s3": {"encode_only": True}}))
    rows = load_results_file(superb)
    assert {(r.label, r.split) for r in rows} == {("dac_16khz@6", "overall"), ("dac_16khz@6", "Speech")}
    assert rows[0].facts.codec_id == "dac_16khz" and rows[0].source == "uploaded"

    clips = tmp_path / "clips.csv"
    with open(clips, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["point", "clip", "split", "status", "random_weights", "mel", "stoi"])
        writer.writerow(["encodec_24khz@6", "a.wav", "Speech", "done", "False", "1.0", "0.8"])
        writer.writerow(["encodec_24khz@6", "b.wav", "Speech", "done", "False", "2.0", "0.6"])
        writer.writerow(["encodec_24khz@6", "c.wav", "Speech", "failed", "False", "", ""])
    by_split = {r.split: r for r in load_results_file(clips)}
    assert set(by_split) == {"overall", "Speech"} and by_split["overall"].values["mel"] == 1.5
    assert by_split["overall"].n["mel"] == 2 and by_split["overall"].ci95["mel"] > 0


@pytest.mark.parametrize(("name", "content", "message"), [
    ("broken.json", b'{"results": ', "is not valid JSON"),
    ("list.json", b"[1, 2, 3]", "holds a JSON list, not a results object"),
    ("other.json", b'{"name": "not results", "size": 3}', "holds no results"),
    ("other_format.json", b'{"format": "something-else"}', "is not a codec-arena bench summary"),
    ("future.json", b'{"format": "codec-arena-bench", "version": 99}', "Update codec-arena"),
    ("picture.png", bytes(range(256)) * 4, "is not a text file"),
    ("table.csv", b"a,b,c\n1,2,3\n", "a bench clips.csv has point, split, status"),
    ("empty.csv", b"point,split,status,mel\nx@1,Speech,failed,\n", "no finished rows"),
])
def test_a_bad_file_is_refused_with_a_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BoardFileError, match=re.escape(message)) as refused:
        load_results_file(path)
    assert "Traceback" not in str(refused.value)


def test_a_dataset_of_ones_own_adds_its_splits_to_the_filter():
    uploaded = [row("mine@1", 1.0, 1.0, split="Lab"), row("mine@1", 1.0, 1.2, split="speech")]
    choices = lb.split_choices(uploaded)
    assert choices[:4] == ["overall", "Speech", "Audio", "Music"]
    assert "Lab" in choices and "speech" not in choices  # "speech" is Codec-SUPERB's Speech, case aside
    assert [r.label for r in lb.for_split(uploaded, "Lab")] == ["mine@1"]

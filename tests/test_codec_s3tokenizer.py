"""S3Tokenizer (CosyVoice's speech tokenizers) through ONNX Runtime on random-weight graphs in the hub cache:
facts, codes equal to the network the graph was exported from, long inputs, and the encode-only contract
(Compare and the benchmark skip it with the reason, the Tokens tab and `encode` take it)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.cli import main
from codec_arena.codecs import codec_info, get_codec, list_codecs, stream, superb
from codec_arena.codecs.s3tokenizer import MODELS, load, small_config, weight_spec
from codec_arena.compare import compare, parse_point
from codec_arena.errors import RequestError, WeightsMismatch, WeightsUnavailable
from codec_arena.roundtrip import progressive_decode, roundtrip

IDS = list(MODELS)
# frame rate, codebook size, kbps: s3tokenizer's names and quantizers (4,096-entry VQ; 3^8 FSQ)
FACTS = {"s3tokenizer_v1": (50, 4096, 0.6), "s3tokenizer_v1_25hz": (25, 4096, 0.3),
         "s3tokenizer_v2_25hz": (25, 6561, 0.317), "s3tokenizer_v3_25hz": (25, 6561, 0.317)}


def speechlike(seconds: float, seed: int = 0) -> Audio:
    """A gliding harmonic tone with a wobbling level: frames differ, so random networks give varied codes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16_000)) / 16_000
    phase = 2 * np.pi * np.cumsum(120 + 60 * np.sin(2 * np.pi * 0.7 * t)) / 16_000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.2 + 0.8 * (np.sin(2 * np.pi * 2.5 * t) > 0))
    return Audio((0.2 * voiced + 0.02 * rng.standard_normal(t.size))[None].astype(np.float32), 16_000)


@pytest.mark.parametrize("codec_id", IDS)
def test_facts(codec_id):
    info, (rate, size, kbps) = codec_info(codec_id), FACTS[codec_id]
    assert info.encode_only and info.sample_rate == 16_000 and info.max_codebooks == 1
    assert (info.frame_rate, info.codebook_size, info.bitrates_kbps) == (rate, size, (kbps,))
    assert info.kbps_for(1) == pytest.approx(rate * math.log2(size) / 1000, abs=5e-4)
    assert not info.progressive
    mapped = {c.name: c for c in superb.CONFIGS}[codec_id]  # Codec-SUPERB's name is ours
    assert mapped.codec_id == codec_id and "encode only" in mapped.note


@pytest.mark.parametrize("codec_id", IDS)
def test_the_graph_sits_where_the_hub_puts_it_and_gives_its_networks_codes(cache_env, codec_id, tmp_path):
    """The loader reads `speech_tokenizer_v*.onnx` from CosyVoice's hub repository snapshot; codes equal the
    torch network the graph was exported from, on the same Whisper log-mel (lengths given as the graph's input)."""
    from codec_arena.codecs._s3tokenizer_nets import S3Tokenizer, export_onnx

    m = MODELS[codec_id]
    assert weight_spec(codec_id).path == weights.hub_file(m.hub_id, m.filename)
    torch.manual_seed(3)
    network = S3Tokenizer(small_config(codec_id, small=True)).eval()
    with torch.no_grad():
        for name, value in network.named_parameters():  # LayerNorms and the FSQ matter too
            if name.endswith(("_ln.weight", "_ln.bias")):
                value.add_(0.3 * torch.randn_like(value))
        if m.version > 1:
            network.quantizer.project_down.weight.mul_(8.0)
    session_graph = weight_spec(codec_id).path
    kept = tmp_path / "kept.onnx"
    kept.write_bytes(session_graph.read_bytes())
    export_onnx(network, tmp_path / m.filename)
    weights.hub_snapshot(m.hub_id, {m.filename: tmp_path / m.filename})
    codec = load(codec_info(codec_id), "cpu")  # a fresh load of this graph, not the shared cache's
    clip = speechlike(3.2)
    codes = codec.encode(clip, codec_info(codec_id).default_bitrate)
    feats = codec.log_mel(clip.samples)
    with torch.no_grad():
        expected = network(torch.from_numpy(feats), torch.tensor([feats.shape[-1]])).numpy()
    assert codes.tokens.shape == (1, round(3.2 * m.frame_rate)) == expected.shape
    np.testing.assert_array_equal(codes.tokens, expected)
    assert len(np.unique(codes.tokens)) > 3 and codes.tokens.max() < codec.info.codebook_size
    # the graph honours feats_length: a padded batch row gives the unpadded codes
    session = codec.model.session
    padded = np.concatenate([feats, np.zeros_like(feats[..., :40])], axis=-1)
    names = [item.name for item in session.get_inputs()]
    out = session.run(None, {names[0]: padded, names[1]: np.array([feats.shape[-1]], np.int32)})[0]
    np.testing.assert_array_equal(out[:, : expected.shape[1]], expected)
    session_graph.write_bytes(kept.read_bytes())  # leave the session's graph as it was


def test_lengths_silence_and_tiny_clips(cache_env):
    """ceil(n / hop) tokens for any length (the clip padded to whole tokens); silence and 10 samples encode."""
    codec = get_codec("s3tokenizer_v1")
    assert codec.hop == 320 and get_codec("s3tokenizer_v2_25hz").hop == 640
    for n in (10, 320, 321, 16_000 + 123):
        codes = codec.encode(Audio(tone(n / 16_000)[:, :n] if n > 10 else np.zeros((1, n), np.float32), 16_000), 0.6)
        assert codes.frames == max(1, math.ceil(n / 320)) and codes.num_samples == n
    silent = codec.encode(Audio(np.zeros((1, 16_000), np.float32), 16_000), 0.6)
    assert silent.frames == 50 and (silent.tokens >= 0).all()


def test_long_inputs_go_in_windows_of_at_most_30_s(cache_env):
    """26 s kept and 2 s of context each side: no call sees more than the models' 30 s; clips up to 26 s are
    one pass; a 40 s clip is two windows of 20 s with every token once."""
    codec = get_codec("s3tokenizer_v2_25hz")
    assert (codec.window_units, codec.context_units) == (650, 50) and not codec.exact
    windows = stream.plan(1000, codec.window_units, codec.context_units)
    assert [(w.start, w.stop, w.lo, w.hi) for w in windows] == [(0, 500, 0, 550), (500, 1000, 450, 1000)]
    assert max(w.hi - w.lo for w in windows) * codec.hop <= 30 * 16_000
    assert len(stream.plan(650, codec.window_units, codec.context_units)) == 1
    calls = []
    original = codec.encode_chunk
    codec.encode_chunk = lambda x, point: calls.append(x.shape[-1]) or original(x, point)
    try:
        codes = codec.encode(speechlike(40.0), codec.info.default_bitrate)
    finally:
        del codec.encode_chunk
    assert codes.frames == 1000 and calls == [550 * 640, 550 * 640]


def test_decoding_is_refused_with_where_the_tokens_go(cache_env):
    codec = get_codec("s3tokenizer_v2_25hz")
    codes = codec.encode(speechlike(1.0), codec.info.default_bitrate)
    with pytest.raises(RequestError, match=r"s3tokenizer_v2_25hz cannot decode its codes: it only encodes.*Tokens tab"):
        codec.decode(codes)
    with pytest.raises(RequestError, match="cannot round-trip audio"):
        roundtrip(speechlike(0.5), "s3tokenizer_v2_25hz")
    with pytest.raises(RequestError, match="cannot decode progressively"):
        progressive_decode("s3tokenizer_v2_25hz", codes)


def test_a_roundtrip_is_refused_before_anything_loads(empty_cache_env):
    """No weights on disk: the refusal is the encode-only reason, not a missing-weights message."""
    with pytest.raises(RequestError, match="only encodes"):
        roundtrip(speechlike(0.5), "s3tokenizer_v1")


def test_missing_and_damaged_graphs_are_clear(empty_cache_env):
    with pytest.raises(WeightsUnavailable, match=r"s3tokenizer_v1.*models--FunAudioLLM--CosyVoice-300M.*"
                                                 r"speech_tokenizer_v1\.onnx.*codec-arena download s3tokenizer_v1"):
        get_codec("s3tokenizer_v1")
    m = MODELS["s3tokenizer_v1_25hz"]
    weights.hub_snapshot(m.hub_id, {m.filename: b"\x08\x07 not a graph" * 40})
    with pytest.raises(WeightsMismatch, match="ONNX Runtime cannot read it"):
        get_codec("s3tokenizer_v1_25hz")


def test_compare_skips_it_with_the_reason_and_keeps_its_tokens(cache_env):
    clip = speechlike(1.0)
    both = compare(clip, [parse_point("s3tokenizer_v1"), parse_point("dac_16khz@6")])
    assert [str(e.point) for e in both.entries] == ["dac_16khz@6"]
    assert [(str(p), "only encodes" in why) for p, why in both.skipped] == [("s3tokenizer_v1@0.6", True)]
    assert [t.codes.frames for t in both.tokenized] == [50] and both.tokenized[0].random_weights
    alone = compare(clip, [parse_point("s3tokenizer_v1")])  # tokens only: not an error
    assert alone.entries == [] and len(alone.tokenized) == 1


def test_the_tokens_tab_shows_an_encode_only_tokenizer(cache_env):
    from codec_arena.ui import tokens

    state = compare(speechlike(1.0), [parse_point("s3tokenizer_v2_25hz"), parse_point("opus@24")])
    dropdown, usage, progressive, _ = tokens.choices(state)
    assert dropdown.choices[0][0] == "s3tokenizer_v2_25hz@0.317" and usage.interactive is True
    shown = tokens.show_usage(state, "s3tokenizer_v2_25hz@0.317")
    assert shown[0] is not None and shown[3][0][0] == 1  # usage figure and the one codebook's row
    assert "25 frames" in shown[4] and "encode only" in shown[4] and "Random test weights" in shown[4]


def test_bench_and_listening_leave_it_out_with_the_reason(cache_env, tmp_path, capsys, monkeypatch):
    import soundfile as sf

    from codec_arena.ui.compare import point_choices

    monkeypatch.setenv("CODEC_ARENA_DATA_DIR", str(tmp_path / "data-dir"))
    assert not any(p.startswith("s3tokenizer") for p in point_choices(decoding=True))
    assert "s3tokenizer_v1@0.6" in point_choices()
    (tmp_path / "data").mkdir()
    sf.write(tmp_path / "data" / "a.wav", speechlike(1.0).samples[0], 16_000)
    args = ["bench", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--metrics", "mel", "--codec"]
    assert main([*args, "s3tokenizer_v1", "g722@64"]) == 0
    captured = capsys.readouterr()
    assert "skipped s3tokenizer_v1@0.6: s3tokenizer_v1 cannot be benchmarked: it only encodes" in captured.err
    assert "1 done, 0 failed" in captured.out
    assert main([*args, "s3tokenizer_v1"]) == 2
    assert "No operating point can run here" in capsys.readouterr().err


def test_cli_encodes_it_and_refuses_to_decode(cache_env, tmp_path, capsys):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", speechlike(2.0).samples[0], 16_000)
    assert main(["encode", str(tmp_path / "a.wav"), "--codec", "s3tokenizer_v1_25hz", "--out",
                 str(tmp_path / "a.npz"), "--json"]) == 0
    assert '"frames": 50' in capsys.readouterr().out
    assert main(["decode", str(tmp_path / "a.npz"), "--out", str(tmp_path / "b.wav")]) == 2
    err = capsys.readouterr().err
    assert "s3tokenizer_v1_25hz cannot decode a codes file: it only encodes" in err and "Traceback" not in err
    assert main(["roundtrip", str(tmp_path / "a.wav"), "--codec", "s3tokenizer_v1_25hz", "--out",
                 str(tmp_path / "c.wav")]) == 2
    assert "cannot round-trip audio" in capsys.readouterr().err
    assert not (tmp_path / "b.wav").exists() and not (tmp_path / "c.wav").exists()


def test_the_overview_marks_it(cache_env):
    from codec_arena.ui import overview

    rows = {r["Codec"]: r for r in overview.rows()}
    assert rows["s3tokenizer_v3_25hz"]["Decoder"] == "none (encode only)" and rows["dac_16khz"]["Decoder"] == "yes"
    html = overview.table_html(list(rows.values()))
    group = html.index("Tokenizers without a decoder")
    assert group < html.index('data-codec="s3tokenizer_v1"') < html.index("Classical references")
    assert html.count('class="ca-encode-only"') == sum(info.encode_only for info in list_codecs()) == 4


def test_a_listening_test_and_a_sweep_leave_it_out_before_any_work(cache_env, tmp_path, monkeypatch):
    """A listening test refuses it while drafting (before a stimulus renders); the sweep runs the other codecs'
    bitrates without encoding it, says why, and refuses a sweep of it alone."""
    import soundfile as sf

    import codec_arena.compare as compare_module
    from codec_arena.listening import service
    from codec_arena.ui import compare as tab

    with pytest.raises(RequestError, match="s3tokenizer_v1 cannot be a listening-test condition: it only encodes"):
        service.draft_test("t", "mushra", [("a.wav", speechlike(1.0))], ["dac_16khz@6", "s3tokenizer_v1"])
    sf.write(tmp_path / "clip.wav", speechlike(0.5).samples[0], 16_000)
    encoded = []
    monkeypatch.setattr(compare_module, "encode_clip", lambda *a, **k: encoded.append(a) or None)
    _chart, rows, note, *_ = tab.run_sweep(str(tmp_path / "clip.wav"), ["s3tokenizer_v1", "g722@64"],
                                           "mel_distance", None, progress=lambda *a, **k: None)
    assert [row[0] for row in rows] == ["g722@64"] and encoded == []
    assert "s3tokenizer_v1@0.6" in note and "rate–distortion sweep needs audio back" in note
    with pytest.raises(Exception, match="cannot be swept for a rate–distortion chart: it only encodes"):
        tab.run_sweep(str(tmp_path / "clip.wav"), ["s3tokenizer_v1"], "mel_distance", None,
                      progress=lambda *a, **k: None)

"""UniCodec (Jiang et al., ACL 2025): the official checkpoint layout in the hub cache, our loader reading
it strictly, the three domain partitions, lengths, tiny clips, batches and windows. Parity with the
official code itself is `benchmarks/parity/unicodec.py` (it needs the official checkout)."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from conftest import batch_equals_one_at_a_time, seams_are_measured

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import codec_info, get_codec, stream, weight_spec
from codec_arena.codecs import unicodec as uc
from codec_arena.errors import RequestError, WeightsMismatch, WeightsUnavailable

IDS = ("unicodec_24k", "unicodec_24k_music", "unicodec_24k_sound")
PARTITIONS = {"unicodec_24k": (0, 4096), "unicodec_24k_music": (4096, 8192), "unicodec_24k_sound": (8192, 16_384)}


def noise(n: int, seed: int = 0) -> Audio:
    return Audio((0.1 * np.random.default_rng(seed).standard_normal((1, n))).astype(np.float32), 24_000)


def fresh(codec_id: str = "unicodec_24k", **attrs) -> uc.UniCodecCodec:
    """An adapter of its own (window settings changed freely) on the shared, loaded network."""
    loaded = get_codec(codec_id)
    codec = uc.UniCodecCodec(loaded.info, loaded.model, "cpu", loaded.checkpoint)
    for key, value in attrs.items():
        setattr(codec, key, value)
    return codec


def test_facts_are_the_official_configs():
    """75 frames/s (hop 8x5x4x2 = 320 at 24 kHz), one 16384-entry codebook: 14 x 75 = 1.05 kbps, one point."""
    for codec_id in IDS:
        info = codec_info(codec_id)
        assert (info.sample_rate, info.frame_rate, info.codebook_size, info.max_codebooks) == (24_000, 75, 16_384, 1)
        assert info.bitrates_kbps == (1.05,) and info.codebooks_for(1.05) == 1
        assert "arXiv:2502.20067" in info.paper and info.hub_id == "Yidiii/UniCodec_ckpt"
        assert any("Codec-SUPERB" in source for source in info.sources)
        with pytest.raises(RequestError, match=f"{codec_id} offers 1.05 kbps"):
            info.check_bitrate(2.0)
    assert [codec_info(i).domain for i in IDS] == ["speech", "music", "general"]


def test_random_checkpoint_is_an_official_lightning_file_in_the_hub_cache(cache_env):
    import torch

    repo = Path(cache_env["HF_HOME"]) / "hub" / "models--Yidiii--UniCodec_ckpt"
    path = weight_spec("unicodec_24k").path
    assert path == repo / "snapshots" / (repo / "refs" / "main").read_text() / "unicode.ckpt"
    assert {weight_spec(i).path for i in IDS} == {path}  # the three domains read one file
    state = torch.load(path, weights_only=True)["state_dict"]
    assert {k.split(".")[0] for k in state} == {"feature_extractor", "backbone", "head"}
    enc = "feature_extractor.encodec.encoder."
    # weight norm on every SEANet conv: encoder 1 + 4 x (3 + 1) + 1, decoder 1 + 4 x 4 + 1
    assert sum(k.endswith(".weight_g") and k.startswith(enc) for k in state) == 18
    assert sum(k.endswith(".weight_g") and ".decoder." in k for k in state) == 18
    assert state[enc + "model.12.conv.conv.weight_v"].shape[-1] == 16  # the stride-8 conv comes last
    assert enc + "mask_emb" in state and enc + "transformer_enocoder.transformer.layers.0.linear1.weight" in state
    assert state["feature_extractor.encodec.quantizer.vq.embedding.weight"].shape[0] == 16_384
    assert state[enc + "transformer_enocoder.transformer.layers.0.FFNMOE.gate.weight"].shape[0] == 3
    assert state["backbone.norm.scale.weight"].shape[0] == 4 and state["head.istft.window"].shape == (1280,)


def test_config_is_read_off_the_tensors():
    """The official layout at full size gives the released architecture; the test checkpoint its own."""
    import torch

    from codec_arena.codecs._unicodec_nets import Config, UniCodec, official_state

    with torch.device("meta"):
        full = official_state(UniCodec(Config()))
    assert Config.of_state(full) == Config() and Config().hop == 320
    assert len(full) == 465  # what the official Unicodec's state_dict holds (benchmarks/parity/unicodec.py)
    small = Config(**uc.SMALL)
    assert Config.of_state(official_state(UniCodec(small))) == small


def test_loader_reads_that_file_folds_weight_norm_and_drops_training_parts(cache_env):
    import torch

    codec = get_codec("unicodec_24k")
    model = codec.model
    state = torch.load(weight_spec("unicodec_24k").path, weights_only=True)["state_dict"]
    key = "feature_extractor.encodec.encoder.model.3.conv.conv."
    torch.testing.assert_close(model.feature_extractor.encodec.encoder.model[3].conv.conv.weight,
                               torch._weight_norm(state[key + "weight_v"], state[key + "weight_g"], 0))
    assert torch.equal(model.vq.embedding.weight, state["feature_extractor.encodec.quantizer.vq.embedding.weight"])
    assert not hasattr(model.feature_extractor.encodec, "decoder")
    layer = model.feature_extractor.encodec.encoder.transformer_enocoder.transformer.layers[0]
    assert not hasattr(layer, "linear1") and not hasattr(layer, "layer_scale_2")
    assert all(get_codec(i).model is model for i in IDS)  # one network for the three domain ids


def test_strict_loading_names_what_is_wrong(cache_env, tmp_path):
    import torch

    state = torch.load(weight_spec("unicodec_24k").path, weights_only=True)["state_dict"]
    extra = dict(state, **{"multiperioddisc.discriminators.0.convs.0.bias": torch.zeros(2)})  # skipped, as officially
    torch.save({"state_dict": extra}, tmp_path / "ok.ckpt")
    assert uc.build(tmp_path / "ok.ckpt", "unicodec_24k").config.hop == 320
    missing = {k: v for k, v in state.items() if not k.endswith("FFNMOE.experts.2.w3.weight")}
    torch.save({"state_dict": missing}, tmp_path / "missing.ckpt")
    with pytest.raises(WeightsMismatch, match="not the UniCodec model.*Missing key.*experts.2.w3.weight"):
        uc.build(tmp_path / "missing.ckpt", "unicodec_24k")
    torch.save({"state_dict": state, "callback": pickle.PickleError()}, tmp_path / "objects.ckpt")
    with pytest.raises(WeightsMismatch, match="does not unpickle arbitrary objects"):
        uc.build(tmp_path / "objects.ckpt", "unicodec_24k")
    torch.save(state, tmp_path / "bare.ckpt")
    with pytest.raises(WeightsMismatch, match="not a PyTorch Lightning checkpoint"):
        uc.build(tmp_path / "bare.ckpt", "unicodec_24k")
    (tmp_path / "cut.ckpt").write_bytes((tmp_path / "ok.ckpt").read_bytes()[:4096])  # an interrupted copy
    with pytest.raises(WeightsMismatch, match="torch cannot read it"):
        uc.build(tmp_path / "cut.ckpt", "unicodec_24k")


def test_each_domain_codes_from_its_partition(cache_env):
    """The same clip: codes [1, ceil(n / 320)], varied, each id within its quarter(s) of the codebook."""
    clip = noise(24_000 + 7)
    for codec_id in IDS:
        codes = get_codec(codec_id).encode(clip, 1.05)
        lo, hi = PARTITIONS[codec_id]
        assert codes.tokens.shape == (1, 76) and codes.frame_rate == 75 and codes.codebook_size == 16_384
        assert lo <= codes.tokens.min() and codes.tokens.max() < hi
        assert len(np.unique(codes.tokens)) > 5


def test_decoding_needs_no_domain(cache_env):
    """A code says which partition it is in: every id decodes the same codes to the same audio."""
    codes = get_codec("unicodec_24k_music").encode(noise(4_000), 1.05)
    outputs = [get_codec(codec_id).decode(codes).samples for codec_id in IDS]
    assert outputs[0].shape == (1, 4_000) and np.isfinite(outputs[0]).all()
    for other in outputs[1:]:
        np.testing.assert_array_equal(outputs[0], other)


@pytest.mark.parametrize("n", [1, 5, 319, 320, 321, 24_001])
def test_round_trip_lengths_and_tiny_clips(cache_env, n):
    """Any length, one sample included: ceil(n / 320) frames (a partial frame reflect-padded, as the
    official SEANet pads), audio back at exactly n samples."""
    codec = get_codec("unicodec_24k")
    codes = codec.encode(noise(n, seed=n), 1.05)
    assert codes.tokens.shape == (1, math.ceil(n / 320))
    out = codec.decode(codes)
    assert out.samples.shape == (1, n) and np.isfinite(out.samples).all()


def test_batches_equal_one_at_a_time(cache_env):
    """Only clips of equal length share a pass (reflect padding); each row is its own clip."""
    codec = get_codec("unicodec_24k_sound")
    assert codec.batchable and not codec.pads_to_frames
    clips = [noise(3_201, 1), noise(3_201, 2), noise(3_300, 3)]
    batch = batch_equals_one_at_a_time(codec, clips, codec.point(1.05))
    assert [c.tokens.shape for c in batch] == [(1, 11), (1, 11), (1, 11)]


def test_long_input_runs_in_windows(cache_env):
    """Attention over the whole input: not exact (`exact = False`); 1 s of context each side by default,
    shortened here so the windows really cut this clip and the figures measure the seams."""
    codec = fresh()
    assert not codec.exact and codec.hop == 320 and codec.context_units == codec.decode_context_units == 75
    assert codec.window_units == 750  # 10 s
    codec.context_units = codec.decode_context_units = 8
    assert [(w.start, w.stop) for w in stream.plan(65, 17, 8)] == [(0, 17), (17, 34), (34, 51), (51, 65)]
    seams_are_measured(codec, noise(20_711).samples, codec.point(1.05), (17, 22), frames=65)  # 4 and 3 windows


def test_missing_weights_name_the_hub_path(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--Yidiii--UniCodec_ckpt/snapshots/.*/unicode\.ckpt"):
        get_codec("unicodec_24k_music")
    assert not weights.hub_file(uc.HUB_REPO, uc.FILENAME).exists()

"""AUV and the LLM-Codec checkpoints built on it (Chung et al.): the authors' `auv.pt` / `llm-codec.pt`
layouts, each in its own hub repository, loaded through the `auv` package, on random weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import batch_equals_one_at_a_time, seams_are_measured, tone

from codec_arena import weights
from codec_arena.audio import Audio
from codec_arena.codecs import auv, codec_info, get_codec, stream
from codec_arena.codecs.auv import CHECKPOINT, CHECKPOINTS, HUB_ID, LLM_CODECS, AUVCodec
from codec_arena.errors import WeightsUnavailable

KBPS = 0.716
LLM_CODEC_IDS = list(LLM_CODECS)


def noise(n: int, seed: int = 0) -> Audio:
    return Audio((0.1 * np.random.default_rng(seed).standard_normal((1, n))).astype(np.float32), 16_000)


def fresh(window_units: int | None = None) -> AUVCodec:
    """A new adapter on the loaded model (window sizes are per instance)."""
    loaded = get_codec("auv")
    codec = AUVCodec(loaded.info, loaded.model, loaded.device, loaded.checkpoint)
    if window_units:
        codec.window_units = window_units
    return codec


def test_checkpoint_has_the_official_layout(cache_env):
    from auv.model import AUV
    from auv.modules.codec import AUVCodecDec, AUVCodecEncWithVQ

    path = weights.hub_file(HUB_ID, CHECKPOINT)
    assert path.parent.name == (weights.hub_repo_dir(HUB_ID) / "refs" / "main").read_text()
    state = torch.load(path, map_location="cpu", weights_only=True)
    # AUV().state_dict(): its two halves, the STFT windows (persistent buffers) and weight-norm parametrizations
    assert {key.split(".")[0] for key in state} == {"tokenizer", "token2wav"}
    assert state["tokenizer.stft_head.stft.window"].shape == (1280,)
    assert "tokenizer.vq.quantizers.0.in_proj.parametrizations.weight.original1" in state
    assert state["tokenizer.vq.quantizers.0._codebook.weight"].shape == (20_480, 8)
    model = get_codec("auv").model
    assert isinstance(model, AUV)
    assert isinstance(model.tokenizer, AUVCodecEncWithVQ) and isinstance(model.token2wav, AUVCodecDec)


def test_full_size_checkpoint_loads_through_from_pretrained(tmp_path, monkeypatch):
    """The official size goes through the package's own `AUV().from_pretrained`; the sizes read back
    from its tensors are `from_pretrained`'s, and `assemble` (the path of tiny checkpoints) builds
    modules that compute the same."""
    from auv.model import AUV

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    calls = []
    original = AUV.from_pretrained

    def spy(self, ckpt_path, device="cuda"):
        calls.append(ckpt_path)
        return original(self, ckpt_path, device)

    monkeypatch.setattr(AUV, "from_pretrained", spy)
    torch.manual_seed(0)
    path = auv.write_random_weights("auv", small=False)
    codec = auv.load(codec_info("auv"), "cpu")
    assert calls == [str(path)]
    assert sum(p.numel() for p in codec.model.parameters()) == 122_628_882
    assert (codec.context_units, codec.decode_context_units) == (122, 182)  # 8 and 12 layers x 15, + 2

    state = torch.load(path, map_location="cpu", weights_only=True)
    assert auv.shape_of(state) == auv.OFFICIAL
    assembled = auv.assemble(auv.OFFICIAL)
    assembled.load_state_dict(state)
    assembled.eval()
    x = torch.from_numpy(noise(3_200).samples)
    with torch.inference_mode():
        ours = assembled.encode({"sample": x, "sample_rate": 16_000})["tokens"]
        theirs = codec.model.encode({"sample": x, "sample_rate": 16_000})["tokens"]
        torch.testing.assert_close(ours, theirs)
        torch.testing.assert_close(assembled.decode_tokens(ours.transpose(1, 2)),
                                   codec.model.decode_tokens(ours.transpose(1, 2)))


def test_one_code_per_320_samples_as_auv_encode(cache_env):
    info, codec = codec_info("auv"), get_codec("auv")
    assert info.bitrates_kbps == (KBPS,) and info.frame_rate * np.log2(info.codebook_size) == pytest.approx(716.1, 1e-3)
    x = tone(1.0, 16_000)
    codes = codec.encode(Audio(x, 16_000), KBPS)
    assert codes.tokens.shape == (1, 50) and len(np.unique(codes.tokens)) > 10
    with torch.inference_mode():  # the package's own call (16000 samples: whole frames, nothing padded)
        tokens = codec.model.encode({"sample": torch.from_numpy(x), "sample_rate": 16_000})["tokens"]
    assert tokens.shape == (1, 1, 50)
    np.testing.assert_array_equal(codes.tokens, tokens[:, 0].numpy())


def test_decoding_equals_decode_tokens(cache_env):
    codec = get_codec("auv")
    codes = codec.encode(noise(8_000), KBPS)
    with torch.inference_mode():
        reference = codec.model.decode_tokens(torch.from_numpy(codes.tokens.T[None]))[0].numpy()  # (B, T, K)
    assert reference.shape == (1, 8_000)
    np.testing.assert_allclose(codec.decode(codes).samples, reference, atol=1e-6)


@pytest.mark.parametrize("n", [1, 160, 320, 481, 16_077])
def test_tiny_and_odd_lengths(cache_env, n):
    """Zero-padded to whole frames and to two at least (the encoder's reflect padding needs > 480
    samples); the decoder gives 320 samples per code, trimmed to the clip."""
    codec = get_codec("auv")
    codes = codec.encode(noise(n), KBPS)
    assert codes.tokens.shape == (1, -(-n // 320)) and codec.decode(codes).frames == n


def test_long_input_runs_in_windows_with_context(cache_env):
    windowed = fresh(window_units=13)
    windowed.context_units = windowed.decode_context_units = 16
    clip = noise(15_555)
    assert [(w.start, w.stop) for w in stream.plan(49, 13, 16)] == [(0, 13), (13, 26), (26, 39), (39, 49)]
    codes = windowed.encode(clip, KBPS)
    assert codes.tokens.shape == (1, 49)  # ceil(15555 / 320): no token twice
    assert np.mean(codes.tokens == fresh().encode(clip, KBPS).tokens) > 0.5
    assert windowed.decode(codes).frames == clip.frames


def test_chunked_against_one_pass_is_measured(cache_env):
    """Global attention in both conformers: not exact (`exact = False`); the engine's figures are
    computed, and chunked codes and audio have the one-pass shapes."""
    codec = fresh()
    assert not codec.exact and codec.hop == 320
    assert codec.window_units == 500  # 10 s
    # the tiny model's 1-layer context (17 frames) is less than these windows: the seams are real
    assert codec.context_units == codec.decode_context_units == 17
    seams_are_measured(codec, noise(20_800).samples, codec.point(KBPS), (17, 22), frames=65)  # 4 and 3 windows


def test_batches_equal_one_at_a_time(cache_env):
    """Clips of equal frame counts (zero-padded to whole frames, as one clip is) share a pass."""
    codec = get_codec("auv")
    assert codec.batchable and codec.pads_to_frames
    clips = [noise(3_201, 1), noise(3_201, 2), noise(3_300, 3), noise(5_000, 4), noise(200, 5), noise(100, 6)]
    batch = batch_equals_one_at_a_time(codec, clips, codec.point(KBPS))
    assert [c.tokens.shape for c in batch] == [(1, 11)] * 3 + [(1, 16)] + [(1, 1)] * 2


def test_missing_weights_name_the_hub_path(empty_cache_env, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"models--SWivid--AUV/snapshots/.*/auv\.pt"):
        get_codec("auv")


# --- LLM-Codec (Chung, Chen and Lee): AUV networks, each checkpoint in its own hub repository ---

def test_llm_codec_ids_name_codec_superb_configs_and_repos():
    """Codec-SUPERB's six `llmcodec*` modules (commit cfccafc): our id, their name, their hub repo."""
    assert {cid: LLM_CODECS[cid] for cid in LLM_CODEC_IDS} == {
        "voidful_llm_codec": ("llmcodec", "voidful/llm-codec"),
        "voidful_llm_codec_abl_ftp": ("llmcodec_abl_ftp", "voidful/llm-codec-abl-ftp"),
        "voidful_llm_codec_abl_k1": ("llmcodec_abl_k1", "voidful/llmcodec-abl-k1"),
        "voidful_llm_codec_abl_k3": ("llmcodec_abl_k3", "voidful/llmcodec-abl-k3"),
        "voidful_llm_codec_abl_k10": ("llmcodec_abl_k10", "voidful/llmcodec-abl-k10"),
        "voidful_llm_codec_abl_sa": ("llmcodec_abl_sa", "voidful/llm-codec-abl-sa")}
    assert len({repo for repo, _ in CHECKPOINTS.values()}) == 7  # no two ids share a checkpoint
    auv_info = codec_info("auv")
    for codec_id in LLM_CODEC_IDS:
        info = codec_info(codec_id)
        superb, repo = LLM_CODECS[codec_id]
        assert info.hub_id == repo and CHECKPOINTS[codec_id] == (repo, "llm-codec.pt")
        assert info.family == "LLM-Codec (Chung et al., AUV architecture)" and "2604.17852" in info.paper
        assert (info.sample_rate, info.frame_rate, info.codebook_size, info.max_codebooks, info.bitrates_kbps) == \
            (auv_info.sample_rate, auv_info.frame_rate, auv_info.codebook_size, 1, (KBPS,))
        assert f"`{superb}`" in info.notes and any(f"codec/{superb}.py" in source for source in info.sources)
        if codec_id != "voidful_llm_codec":  # what each ablation changes is not in the sources read
            name = superb.removeprefix("llmcodec_abl_")
            assert f"Ablation '{name}' of the paper (not described in the sources read here" in info.notes


@pytest.mark.parametrize("codec_id", LLM_CODEC_IDS)
def test_llm_codec_loads_its_own_hub_checkpoint(cache_env, codec_id):
    """`llm-codec.pt` under the id's own repository (refs/main -> snapshot), `AUV().state_dict()` keys;
    the loaded codec read that file, and its codes are the package's own `AUV.encode`'s."""
    from auv.model import AUV

    repo, filename = CHECKPOINTS[codec_id]
    path = weights.hub_file(repo, filename)
    snapshot = (weights.hub_repo_dir(repo) / "refs" / "main").read_text()
    assert path.parts[-4:] == (f"models--{repo.replace('/', '--')}", "snapshots", snapshot, "llm-codec.pt")
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert {key.split(".")[0] for key in state} == {"tokenizer", "token2wav"}
    assert state["tokenizer.vq.quantizers.0._codebook.weight"].shape == (20_480, 8)
    codec = get_codec(codec_id)
    assert codec.checkpoint == path and isinstance(codec.model, AUV)
    assert codec.model is not get_codec("auv").model

    x = tone(0.5, 16_000)
    codes = codec.encode(Audio(x, 16_000), KBPS)
    assert codes.tokens.shape == (1, 25) and len(np.unique(codes.tokens)) > 5
    with torch.inference_mode():
        tokens = codec.model.encode({"sample": torch.from_numpy(x), "sample_rate": 16_000})["tokens"]
        reference = codec.model.decode_tokens(tokens.transpose(1, 2))[0].numpy()
    np.testing.assert_array_equal(codes.tokens, tokens[:, 0].numpy())
    np.testing.assert_allclose(codec.decode(codes).samples, reference, atol=1e-6)


def test_llm_codec_fetch_takes_only_the_codec_file(monkeypatch, tmp_path):
    """`voidful/llm-codec` also holds the Qwen3-4B model the export pushes beside the codec: a download
    asks the hub for `llm-codec.pt` of the id's own repository and nothing else."""
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, **kw: calls.append((repo, kw)))
    for codec_id in LLM_CODEC_IDS:
        auv.weight_spec(codec_id).fetch()
    assert calls == [(LLM_CODECS[cid][1], {"allow_patterns": ["llm-codec.pt"]}) for cid in LLM_CODEC_IDS]


@pytest.mark.parametrize("codec_id", ["voidful_llm_codec", "voidful_llm_codec_abl_sa"])
def test_llm_codec_missing_weights_name_its_hub_path(empty_cache_env, monkeypatch, codec_id):
    monkeypatch.setenv("HF_HOME", str(empty_cache_env / "hf"))
    repo = LLM_CODECS[codec_id][1].replace("/", "--")
    with pytest.raises(WeightsUnavailable, match=rf"models--{repo}/snapshots/.*/llm-codec\.pt"):
        get_codec(codec_id)

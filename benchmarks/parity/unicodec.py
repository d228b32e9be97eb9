"""Parity of our UniCodec port with the official code Codec-SUPERB runs (mesolitica/UniCodec-fix: the
authors' Jiang-Yidi/UniCodec with its imports fixed), on CPU.

This builds the official `Unicodec` from the official finetune config (by default with the Vocos
backbone narrowed to 256 x 2 layers, `--full` for the config as released; the encoder, its
Transformer and the quantizer are fixed in the official classes, so they are always full size) with
seeded random weights: weight-norm gains, norm affines, AdaLayerNorm rows and layer scales perturbed
so each matters; the mixture-of-experts weights (left uninitialised by the official `torch.empty`)
drawn; the projected codebook placed around the encoder's outputs so codes vary. It saves that as a
PyTorch Lightning checkpoint (`{'state_dict': ...}`, with the vocos discriminators beside the model as
in the real file), then for each domain ('0' speech, '1' music, '2' sound) runs the same seeded clip
through the official calls and through `codec_arena.codecs.unicodec` reading the same file from a
temporary hub cache:

- Codec-SUPERB's path: `from_pretrained0802(config, ckpt)`, `encode_infer(wav, domain,
  bandwidth_id=[0])`, `decode(features, bandwidth_id=[0])` (its features are the quantizer's
  z + (z_q - z));
- the fork's README path: `codes_to_features(codes)` then `decode`.

It prints whether the codes are equal and the largest audio difference, and fails (exit 1) unless
the codes are equal and both audio differences are within 1e-5. It also checks that the official
loader accepts (strictly) what our `write_random_weights` saves at full size.

    python benchmarks/parity/unicodec.py [--official /work/official/UniCodec-fix] [--full]

The checkout is imported from its root (`unicodec.*`) and never modified. Runtime workarounds: the
official encoder module imports fairseq and omegaconf for a training-only masking config
(`HubertConfig`, used only for its default width 512); neither installs beside our pins, so this
script puts minimal stand-ins for the names it imports in `sys.modules`. The clip is 3 s plus 123
samples, so the encoders' reflect padding of a partial last frame is compared too.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from _common import TOLERANCE, default_official, seeded_audio  # noqa: E402

CONFIG = "configs/unicodec_frame75_10s_nq1_code16384_dim512_finetune.yaml"
SAMPLES = 3 * 24_000 + 123
# perturbed by a random factor each: weight-norm gains (so the fold matters), AdaLayerNorm scales, layer scales
SCALED = ("weight_g", "norm.scale.weight", "layer_scale_1.scale", "layer_scale_2.scale", ".gamma")
DOMAINS = {"0": "unicodec_24k", "1": "unicodec_24k_music", "2": "unicodec_24k_sound"}


def stub_training_imports() -> None:
    """Stand-ins for what `unicodec/encoder/modules/seanet.py` imports from fairseq and omegaconf (its
    training-only HubertConfig dataclass reads them at import; inference never calls them)."""

    def module(name: str, **attrs) -> None:
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__dict__.update(attrs)

    class FairseqDataclass:
        pass

    utils = types.SimpleNamespace(get_available_activation_fns=lambda: ["gelu"])
    module("fairseq", utils=utils)
    module("fairseq.models")
    module("fairseq.models.wav2vec")
    module("fairseq.models.wav2vec.wav2vec2", EXTRACTOR_MODE_CHOICES=str, MASKING_DISTRIBUTION_CHOICES=str,
           LAYER_TYPE_CHOICES=str, ConvFeatureExtractionModel=None, TransformerEncoder=None)
    module("fairseq.dataclass", ChoiceEnum=lambda choices: str, FairseqDataclass=FairseqDataclass)
    module("fairseq.data")
    module("fairseq.data.data_utils", compute_mask_indices=None)
    module("fairseq.modules", LayerNorm=None)
    module("omegaconf", II=lambda key: "${" + key + "}")


def write_config(official: Path, path: Path, full: bool) -> None:
    import yaml

    config = yaml.safe_load((official / CONFIG).read_text())
    if not full:
        config["model"]["init_args"]["backbone"]["init_args"].update(dim=256, intermediate_dim=768, num_layers=2)
        config["model"]["init_args"]["head"]["init_args"]["dim"] = 256
    path.write_text(yaml.safe_dump(config))


def official_model(config: Path, seed: int):
    import torch
    from unicodec.decoder.pretrained import Unicodec

    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):  # "making attention of type 'vanilla' ..."
        return Unicodec.from_hparams0802(str(config)).eval()


def randomise(model, audio: np.ndarray, seed: int) -> None:
    """Seeded random weights in which every parameter the inference path uses matters, codes varying."""
    import torch

    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".FFNMOE." in name:  # torch.empty in the official MoE: draw them
                param.normal_(0, param.shape[-1] ** -0.5)
            elif name.endswith(SCALED):  # fresh weight norm has g = |v|, fresh scales are constants
                param.mul_(torch.empty_like(param).uniform_(0.5, 1.5))
            elif name.endswith("norm.shift.weight"):
                param.normal_(0, 0.1)
        for norm in model.modules():
            if isinstance(norm, torch.nn.GroupNorm | torch.nn.LayerNorm) and norm.weight is not None:
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_(0, 0.1)
        _, _, latent = model.feature_extractor.encodec.encoder(torch.from_numpy(audio)[None, None])
        latents = latent[0].T
        vq = model.feature_extractor.encodec.quantizer.vq
        picks = latents[torch.randint(0, latents.shape[0], (vq.embedding.weight.shape[0],))]
        target = picks + torch.randn_like(picks) * latents.std(0)
        dim = vq.embedding_proj.weight.shape[0]
        vq.embedding_proj.weight.copy_(torch.eye(dim) + torch.randn(dim, dim) * 0.1 / dim**0.5)
        vq.embedding_proj.bias.normal_(0, 0.01)
        vq.embedding.weight.copy_(torch.linalg.solve(vq.embedding_proj.weight, (target - vq.embedding_proj.bias).T).T)


def save_lightning(model, path: Path) -> None:
    """The model's state dict with the vocos discriminators the real checkpoint also holds."""
    import torch
    from vocos.discriminators import MultiPeriodDiscriminator, MultiResolutionDiscriminator

    state = dict(model.state_dict())
    for prefix, disc in (("multiperioddisc.", MultiPeriodDiscriminator(num_embeddings=4)),
                         ("multiresddisc.", MultiResolutionDiscriminator(num_embeddings=4))):
        state.update({prefix + k: v for k, v in disc.state_dict().items()})
    torch.save({"state_dict": state, "epoch": 0, "global_step": 0}, path)


def official_roundtrip(config: Path, checkpoint: Path, audio: np.ndarray, domain: str):
    """Codec-SUPERB's calls, and the README's codes_to_features path: codes [1, T], audio, audio."""
    import torch
    from unicodec.decoder.pretrained import Unicodec

    with contextlib.redirect_stdout(io.StringIO()):
        model = Unicodec.from_pretrained0802(str(config), str(checkpoint))
    wav = torch.from_numpy(audio)[None]
    bandwidth_id = torch.tensor([0])
    features, codes = model.encode_infer(wav, domain, bandwidth_id=bandwidth_id)
    superb = model.decode(features, bandwidth_id=bandwidth_id)
    readme = model.decode(model.codes_to_features(codes), bandwidth_id=bandwidth_id)
    return codes[0].numpy(), superb[0].numpy(), readme[0].numpy()


def ours_roundtrip(codec_id: str, audio: np.ndarray):
    from codec_arena.audio import Audio
    from codec_arena.codecs import unicodec

    info = next(i for i in unicodec.INFOS if i.id == codec_id)
    codec = unicodec.load(info, "cpu")
    codes = codec.encode(Audio(audio[None], info.sample_rate), info.default_bitrate)
    return codes.tokens, codec.decode(codes).samples[0]


def official_loads(config: Path, checkpoint: Path) -> bool:
    from unicodec.decoder.pretrained import Unicodec

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            Unicodec.from_pretrained0802(str(config), str(checkpoint))  # load_state_dict, strict
    except RuntimeError as exc:
        print(f"  {str(exc)[:500]}")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, default=default_official("UniCodec-fix"),
                        help="mesolitica/UniCodec-fix checkout (default: $CODEC_ARENA_OFFICIAL_DIR/UniCodec-fix, "
                             "else /work/official/UniCodec-fix)")
    parser.add_argument("--full", action="store_true", help="the Vocos backbone as released (768 x 12)")
    args = parser.parse_args(argv)
    official = args.official.resolve()
    if not (official / "unicodec" / "decoder" / "pretrained.py").exists():
        print(f"skipped: official checkout not found at {official}, get it with "
              "git clone https://github.com/mesolitica/UniCodec-fix")
        return 0

    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="unicodec-parity-"))
    os.environ.update(HF_HOME=str(work / "hf"), HF_HUB_OFFLINE="1", CODEC_ARENA_OFFLINE="1")
    stub_training_imports()
    sys.path.insert(0, str(official))
    from codec_arena import weights
    from codec_arena.codecs import unicodec

    try:
        print(f"official: {official} ({'backbone as released' if args.full else 'backbone 256 x 2 layers'})")
        config = work / "config.yaml"
        write_config(official, config, args.full)
        audio = seeded_audio(24_000, SAMPLES / 24_000)[:SAMPLES]
        model = official_model(config, seed=1234)
        randomise(model, audio, seed=1235)
        checkpoint = weights.hub_snapshot(unicodec.HUB_REPO) / unicodec.FILENAME
        save_lightning(model, checkpoint)
        del model
        ok = True
        for domain, codec_id in DOMAINS.items():
            ref_codes, superb, readme = official_roundtrip(config, checkpoint, audio, domain)
            codes, decoded = ours_roundtrip(codec_id, audio)
            codes_equal = ref_codes.shape == codes.shape and bool(np.array_equal(ref_codes, codes))
            diffs = [float(np.max(np.abs(ref[: audio.size] - decoded))) if ref.size >= audio.size else float("inf")
                     for ref in (superb, readme)]
            passed = codes_equal and max(diffs) <= TOLERANCE
            ok &= passed
            print(f"{codec_id} (domain '{domain}'): codes {codes.shape[0]}x{codes.shape[1]} in "
                  f"[{codes.min()}, {codes.max()}] ({len(np.unique(codes))} distinct), codes equal: {codes_equal}, "
                  f"max abs audio difference: {diffs[0]:.3g} vs encode_infer+decode (Codec-SUPERB), "
                  f"{diffs[1]:.3g} vs codes_to_features+decode (audio peak {np.abs(superb).max():.3g}) "
                  f"-> {'ok' if passed else 'FAIL'}")
        checkpoint.unlink()
        full_config = work / "config-full.yaml"
        write_config(official, full_config, full=True)
        loads = official_loads(full_config, unicodec.write_random_weights("unicodec_24k"))
        ok &= loads
        print(f"official from_pretrained0802 loads (strictly) what our write_random_weights saves: {loads}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

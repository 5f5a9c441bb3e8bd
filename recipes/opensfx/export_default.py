"""Assemble the shipped default model: the diffusion stage's export with the vocoder stage's vocoder, in fp16.

Also the few-step student (``--diffusion`` a distill run's export, ``--out checkpoints/fast``; TRAINING.md).

    python recipes/opensfx/export_default.py --diffusion ~/audiodiff-runs/diffusion/model \
        --vocoder ~/audiodiff-runs/vocoder/model --out checkpoints/default

    python recipes/opensfx/export_default.py --diffusion ~/audiodiff-runs/gpu-burst-s4/model \
        --vocoder griffin-lim --out checkpoints/default     # what sitting 4 ships

    python recipes/opensfx/export_default.py --diffusion ~/audiodiff-runs/distill/model \
        --vae checkpoints/default --out checkpoints/fast    # the student with the default's (v2) decoder

The U-Net, VAE and HiFi-GAN weights are stored in float16 (``from_pretrained`` loads them back as
float32); the mel front end and a Griffin-Lim vocoder stay float32 and the packaged MiniLM text
encoder is referenced, not copied.  The folder must stay within the repository's 32 MiB; the script refuses to write a larger one.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from pathlib import Path

import torch

from diffusers import AutoencoderKL

from audiodiff import AudioDiffusionPipeline
from audiodiff.evaluation.copy_synthesis import load_vocoder
from audiodiff.loading import set_compute_dtype
from audiodiff.models.griffin_lim import GriffinLimVocoder

log = logging.getLogger("opensfx.export")

MAX_BYTES = 32 * 1024 * 1024


def folder_bytes(path: Path) -> int:
    """Total size in bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


GRIFFIN_LIM = "griffin-lim"


def same_latent_space(current: AutoencoderKL, new: AutoencoderKL) -> AutoencoderKL:
    """``new``, after checking that it encodes exactly as ``current`` (only its decoder may differ).

    Raises:
        ValueError: another encoder, quant conv or ``scaling_factor``.
    """
    ours, theirs = current.state_dict(), new.state_dict()
    encoder = [k for k in ours if k.startswith(("encoder.", "quant_conv."))]
    differ = [k for k in encoder if k not in theirs or not torch.equal(ours[k].float(), theirs[k].float())]
    if differ or current.config.scaling_factor != new.config.scaling_factor:
        raise ValueError(f"the VAE's latent space differs from the diffusion folder's ({len(differ)} encoder tensors, "
                         f"scaling_factor {new.config.scaling_factor} vs {current.config.scaling_factor}); only a "
                         "decoder-only run (vae.train_encoder: false) from the same model can replace its VAE")
    return new


def export_default(diffusion: Path, vocoder: Path | str | None, out: Path, max_bytes: int = MAX_BYTES,
                   dtype: torch.dtype = torch.float16, vae: Path | None = None) -> int:
    """Write the pipeline folder ``out`` (replaced atomically) and return its size in bytes.

    ``vocoder``: a vocoder stage's exported pipeline folder (its HiFi-GAN or Vocos), ``"griffin-lim"`` for a
    :class:`~audiodiff.models.griffin_lim.GriffinLimVocoder` of the mel front end (kept in float32),
    or ``None`` for the diffusion folder's own vocoder.  ``vae``: a pipeline folder whose VAE replaces the
    diffusion folder's, e.g. a decoder-only VAE run's (``None``: keep the diffusion folder's).

    Raises:
        ValueError: the result would exceed ``max_bytes``, or ``vae``'s latent space is not the diffusion
            folder's (another encoder, quant conv or ``scaling_factor``: its U-Net would not match).
    """
    pipe = AudioDiffusionPipeline.from_pretrained(diffusion)
    if vae is not None:
        pipe.register_modules(vae=same_latent_space(pipe.vae, AutoencoderKL.from_pretrained(Path(vae) / "vae")))
    if vocoder == GRIFFIN_LIM:
        pipe.register_modules(vocoder=GriffinLimVocoder.from_mel(pipe.mel))
    elif vocoder is not None:
        pipe.register_modules(vocoder=load_vocoder(vocoder))
    set_compute_dtype(pipe, dtype)  # a GriffinLimVocoder keeps its basis float32 through the cast
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
    try:
        pipe.save_pretrained(staging, max_shard_size="15MB")
        _forget_source_path(staging / "model_index.json", f"audiodiff-{out.name}")
        size = folder_bytes(staging)
        if size > max_bytes:
            raise ValueError(f"the export is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB allowed")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return size


def _forget_source_path(index: Path, name: str) -> None:
    """diffusers records the folder a pipeline and each component were loaded from; a shipped folder should not
    name a run folder: the index is named ``name`` (``audiodiff-default``, ``audiodiff-fast``) and the
    components' configs lose the field."""
    config = json.loads(index.read_text())
    config["_name_or_path"] = name
    index.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    for component in index.parent.glob("*/config.json"):
        config = json.loads(component.read_text())
        if config.pop("_name_or_path", None) is not None:
            component.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diffusion", type=Path, required=True, help="the diffusion stage's exported pipeline folder")
    parser.add_argument("--vocoder", default=None,
                        help=f"the vocoder stage's exported pipeline folder, or {GRIFFIN_LIM!r} (no trained vocoder)")
    parser.add_argument("--vae", type=Path, default=None,
                        help="a pipeline folder whose VAE (same encoder, another decoder) replaces the diffusion folder's")
    parser.add_argument("--out", type=Path, default=Path("checkpoints/default"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    vocoder = args.vocoder if args.vocoder in (None, GRIFFIN_LIM) else Path(args.vocoder)
    size = export_default(args.diffusion, vocoder, args.out, vae=args.vae)
    print(f"{args.out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

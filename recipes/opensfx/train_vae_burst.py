"""Train the VAE for a fixed wall-clock budget on one GPU, from a pack of training audio (issue 20, step 2).

For a short lease of a GPU machine (the device tool: ~10 minutes a call, 64 MiB carried, no audiodiff
install; diffusers, librosa and soundfile travel as wheels: ../shared/tools/device_wheels.sh).  Reads the pack
of :mod:`recipes.opensfx.pack_vae_burst`, decodes every clip once into GPU memory and trains the VAE of
``--init`` (a pipeline folder's ``vae/`` beside its ``mel/``) with
:meth:`audiodiff.training.vae.VAEStage.train_step` itself: the losses of ``audiodiff train vae`` under
``--config`` (default ``configs/vae-decoder.yaml``, v2's: L1 on the normalised log-mel, the multi-scale gradient
difference loss, the patch discriminator with feature matching from ``vae.disc_start`` on, posterior latents
noised by up to ``latent_noise``), with bf16 autocast and TF32 on CUDA, at a GPU batch, through
:func:`audiodiff.training.loop.run_training` with a minutes budget.  Crops are drawn as the CPU trainer draws
them (:class:`~recipes.opensfx.audio_pack.PackCrops`): every clip once an epoch, shuffled, each at a crop of
``segment_seconds`` drawn uniformly within it.

Decoder-only by default (the encoder, quant conv and ``scaling_factor`` stay bit-identical, so the shipped
U-Net's latents stay valid, as v2 was trained); ``--train-encoder`` trains the whole VAE with the config's KL
term and sets ``scaling_factor`` from the validation latents (step 2: the U-Net must then be trained again on
the new latents).

At the start, every ``--save-minutes`` and at the end it runs :meth:`VAEStage.evaluate` on the pack's validation
clips (start-of-clip crops, as the CPU trainer: mel L1 in natural-log units, harmonic contrast), keeping the
export with the lowest mel L1.  At the end ``--out`` gets the VAE as float32 component folders (one ~11 MB file
for the default model's 2.7 M weights: the device returns files of at most 16 MiB): ``vae/`` the lowest
validation mel L1, ``last/`` the last weights, with ``log.jsonl`` and the last evaluation's two mel images in
``samples/``.  ``merge`` puts a returned VAE into a copy of a pipeline folder on the CPU side:

    python3 recipes/opensfx/train_vae_burst.py --pack .gpupack/vae --init checkpoints/default \
        --out $OUT/vae --minutes 8 --device cuda
    python recipes/opensfx/train_vae_burst.py merge --weights OUTDIR --init checkpoints/default --out DIR
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from diffusers import AutoencoderKL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: recipes/ holds opensfx

from opensfx.audio_pack import AudioPack, PackCrops  # noqa: E402
from opensfx.burst import (  # noqa: E402
    MAX_SHARD_SIZE,
    JsonLog,
    audio_burst_parser,
    burst_config,
    burst_main,
    copy_component,
    merge_parser,
    run_burst,
    run_folder,
)
from opensfx.export_default import same_latent_space  # noqa: E402

from audiodiff.config import load_config  # noqa: E402
from audiodiff.data.dataset import crop  # noqa: E402
from audiodiff.mel import MelSpectrogram  # noqa: E402
from audiodiff.training.checkpoint import publish_folder  # noqa: E402
from audiodiff.training.config import TrainConfig  # noqa: E402
from audiodiff.training.loop import BEST_SUBDIR, MODEL_SUBDIR, make_accelerator  # noqa: E402
from audiodiff.training.vae import VAEStage  # noqa: E402

log = logging.getLogger("train_vae_burst")
DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "vae-decoder.yaml"


@dataclass
class VaeParts:
    """What :class:`VAEStage` reads of a pipeline: ``vae`` and ``mel`` (the pack carries no U-Net, text encoder or
    vocoder, so no whole pipeline is built); its export is the VAE's component folder."""

    vae: AutoencoderKL
    mel: MelSpectrogram

    def register_modules(self, **modules: torch.nn.Module) -> None:
        """Take the exported components (``vae``), as a pipeline does."""
        for name, module in modules.items():
            setattr(self, name, module)

    def save_pretrained(self, directory: Path, max_shard_size: str) -> None:
        """The VAE as a diffusers component folder (float32 safetensors shards of at most ``max_shard_size``)."""
        self.vae.save_pretrained(directory, max_shard_size=max_shard_size, safe_serialization=True)


def validation_crops(clips: list[torch.Tensor], segment_samples: int) -> list[dict[str, torch.Tensor]]:
    """``{"audio", "audio_mask"}`` ``(segment_samples,)`` of each ``(samples,)`` clip: its start-of-clip crop,
    zero-padded (mask 0 there), as ``AudioCaptionDataset(train=False)`` gives ``audiodiff train vae``."""
    items = []
    for clip in clips:
        audio, mask = crop(clip.numpy(), 0, segment_samples)
        items.append({"audio": torch.from_numpy(audio), "audio_mask": torch.from_numpy(mask)})
    return items


def train_config(args: argparse.Namespace) -> TrainConfig:
    """``--config`` with the burst's batch, learning rate, precision, crop length, seed, encoder choice, KL weight
    and discriminator start."""
    config = load_config(args.config, TrainConfig)
    settings = config.vae
    vae = replace(settings, train_encoder=args.train_encoder,
                  kl_weight=settings.kl_weight if args.kl_weight is None else args.kl_weight,
                  disc_start=settings.disc_start if args.disc_start is None else args.disc_start)
    return replace(config, batch_size=args.batch_size, learning_rate=args.lr or config.learning_rate,
                   mixed_precision=args.mixed_precision, seed=args.seed,
                   segment_seconds=args.segment_seconds or config.segment_seconds, vae=vae)


class Burst:
    """The burst: VAE from ``args.init``, audio from ``args.pack``, weights and ``log.jsonl`` into ``args.out``."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.config = burst_config(train_config(args), args)
        self.accelerator = make_accelerator(self.config, run_folder(args), cpu=args.device == "cpu")
        self.vae = AutoencoderKL.from_pretrained(args.init / "vae", torch_dtype=torch.float32)
        mel = MelSpectrogram.from_pretrained(args.init / "mel")
        segment = max(1, round(self.config.segment_seconds * mel.config.sample_rate))
        self.pack = AudioPack(args.pack, mel.config.sample_rate, segment, self.accelerator.device, args.workers)
        self.stage = VAEStage(self.config, self.accelerator, VaeParts(self.vae, mel),
                              validation_crops(self.pack.validation, segment))
        self.log = JsonLog(args.out / "log.jsonl", log)

    def collect(self, run_dir: Path) -> None:
        """The run's best export as ``vae/``, its last as ``last/``, the last evaluation's mel images as
        ``samples/``."""
        copy_component(run_dir / BEST_SUBDIR if (run_dir / BEST_SUBDIR).is_dir() else run_dir / MODEL_SUBDIR,
                       self.args.out / "vae")
        copy_component(run_dir / MODEL_SUBDIR, self.args.out / "last")
        evaluated = sorted((run_dir / "samples").glob("step-*"))
        if evaluated:
            shutil.rmtree(self.args.out / "samples", ignore_errors=True)
            shutil.copytree(evaluated[-1], self.args.out / "samples")

    def run(self) -> None:
        args, settings = self.args, self.config.vae
        header = {"train_clips": self.pack.clips, "train_seconds": round(self.pack.seconds, 1),
                  "validation_clips": len(self.pack.validation), "batch_size": args.batch_size,
                  "segment_samples": self.pack.window, "train_encoder": settings.train_encoder,
                  "kl_weight": settings.kl_weight if settings.train_encoder else None,
                  "disc_start": settings.disc_start, "learning_rate": self.config.learning_rate,
                  "trained_parameters": sum(p.numel() for p in self.vae.parameters() if p.requires_grad),
                  "device": str(self.accelerator.device), "mixed_precision": args.mixed_precision}
        run_burst(args, self.config, self.accelerator, lambda accelerator: self.stage, PackCrops(self.pack, args.seed),
                  header, self.collect, self.log, metric="mel_l1", prefix="validation_")


def merge(args: argparse.Namespace) -> None:
    """The burst's ``vae/`` (or ``last/``) into a copy of the pipeline folder ``args.init`` at ``args.out``; without
    ``args.train_encoder`` only a VAE that encodes exactly as ``args.init``'s (a decoder-only burst) is taken."""
    source = args.weights / ("last" if args.last else "vae")
    vae = AutoencoderKL.from_pretrained(source, torch_dtype=torch.float32)
    current = AutoencoderKL.from_pretrained(args.init / "vae", torch_dtype=torch.float32)
    ours = {k: tuple(v.shape) for k, v in current.state_dict().items()}
    if ours != {k: tuple(v.shape) for k, v in vae.state_dict().items()}:
        raise SystemExit(f"{source} is not a VAE of {args.init}'s architecture; merge it into the folder it was "
                         "trained from.")
    if args.train_encoder:
        log.warning("%s has its own latent space (scaling_factor %.4g): train the U-Net of %s again on its latents "
                    "before generating with %s.", source, vae.config.scaling_factor, args.init, args.out)
    else:
        try:
            same_latent_space(current, vae)
        except ValueError as error:
            raise SystemExit(f"{source}: {error}. A whole-VAE burst (--train-encoder) merges with "
                             "--train-encoder.") from error
    if args.out.resolve() != args.init.resolve():
        shutil.copytree(args.init, args.out, dirs_exist_ok=True)
    staging = args.out / "vae.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    vae.save_pretrained(staging, max_shard_size=args.max_shard_size, safe_serialization=True)
    publish_folder(staging, args.out / "vae")
    log.info("wrote %s with the VAE of %s", args.out, source)


def build_parser() -> argparse.ArgumentParser:
    """The training command's arguments."""
    parser = audio_burst_parser(__doc__, "folder of pack_vae_burst.py",
                                "pipeline folder with vae/ and mel/ (the pack's init/, or checkpoints/default)",
                                DEFAULT_CONFIG, save_minutes=1.5, log_every=50)
    parser.add_argument("--train-encoder", action="store_true",
                        help="train the whole VAE (+ KL; new latents); default: the decoder alone, encoder frozen")
    parser.add_argument("--kl-weight", type=float, default=None, help="with --train-encoder (default: the config's)")
    parser.add_argument("--disc-start", type=int, default=None,
                        help="steps before the patch discriminator joins (default: the config's; -1: none)")
    parser.add_argument("--segment-seconds", type=float, default=None, help="crop length (default: the config's)")
    return parser


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    merging = merge_parser("Put a burst's VAE into a pipeline folder.", MAX_SHARD_SIZE)
    merging.add_argument("--last", action="store_true", help="the burst's last VAE, not its best by validation")
    merging.add_argument("--train-encoder", action="store_true",
                         help="a whole-VAE burst: take its new encoder (else refuse a VAE whose encoder differs)")
    burst_main(build_parser(), lambda args: Burst(args).run(), merging, merge)


if __name__ == "__main__":
    main()

"""Continue the default model's diffusion U-Net for a fixed wall-clock budget on one GPU, from a packed cache.

For a short lease of a GPU machine (the device tool: ~10 minutes a call, 64 MiB carried, no audiodiff
install, no MiniLM package).  Reads the pack of :mod:`recipes.opensfx.pack_diffusion_burst`
(:class:`~recipes.opensfx.pack_diffusion_burst.DiffusionPack`: every latent and text state in GPU memory) and
trains :class:`audiodiff.training.diffusion.DiffusionStage` itself (DDPM forward process, eps target,
Min-SNR-gamma weights, caption dropout to ``""``, EMA of the weights) through
:func:`audiodiff.training.loop.run_training` with a minutes budget, at a larger batch, bf16 autocast, with a
time-based cosine learning rate, so the last weights are settled when the budget ends.

At the start, every ``--save-minutes`` and at the end it evaluates the stage's validation noise-MSE (five
timestep buckets, fixed noise, EMA weights, main captions) on the pack's validation clips, keeping the EMA weights
with the lowest value.  At the end it writes them as two float16 safetensors files (``unet-a``/``unet-b``: the
device returns files of at most 16 MiB), plus ``log.jsonl``.  ``merge`` turns them back into a U-Net folder on
the CPU side:

    python recipes/opensfx/train_diffusion_burst.py --pack /root/pack --init checkpoints/default \
        --out $OUT/diffusion --minutes 8 --device cuda
    python recipes/opensfx/train_diffusion_burst.py merge --weights OUTDIR --init checkpoints/default --out DIR
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: recipes/ holds opensfx

from opensfx.burst import JsonLog, add_run_dir, burst_config, burst_main, run_burst, run_folder  # noqa: E402
from opensfx.pack_diffusion_burst import DiffusionPack  # noqa: E402

from audiodiff import AudioDiffusionPipeline  # noqa: E402
from audiodiff.training.config import DiffusionTrainConfig, TrainConfig  # noqa: E402
from audiodiff.training.diffusion import DiffusionStage  # noqa: E402
from audiodiff.training.loop import BEST_SUBDIR, MODEL_SUBDIR, best_record, make_accelerator  # noqa: E402

log = logging.getLogger("train_diffusion_burst")


class BudgetCosine:
    """The LR factor of step ``k``: a linear warm-up over ``warmup_steps``, times a cosine from 1 to
    ``final_fraction`` over ``minutes`` of wall clock since this object was made (then flat)."""

    def __init__(self, warmup_steps: int, minutes: float, final_fraction: float):
        self.warmup_steps, self.seconds, self.final_fraction = warmup_steps, minutes * 60.0, final_fraction
        self.started = time.monotonic()

    def __call__(self, step: int) -> float:
        fraction = min(1.0, (time.monotonic() - self.started) / self.seconds) if self.seconds > 0 else 1.0
        warmup = min(1.0, (step + 1) / max(1, self.warmup_steps))
        return warmup * (self.final_fraction + (1 - self.final_fraction) * 0.5 * (1 + math.cos(math.pi * fraction)))


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The burst's TrainConfig: AdamW (0.9, 0.999, weight decay 0.01), clipping, the objective's settings; the
    whole clips count in the loss (as the burst always trained: ``mask_padding`` off)."""
    diffusion = DiffusionTrainConfig(caption_dropout=args.caption_dropout, min_snr_gamma=args.min_snr_gamma,
                                     ema_decay=args.ema_decay, sample_prompts=())
    config = TrainConfig(batch_size=args.batch_size, learning_rate=args.lr, adam_betas=(0.9, 0.999),
                         weight_decay=0.01, lr_warmup_steps=args.warmup_steps, max_grad_norm=args.max_grad_norm,
                         mixed_precision=args.mixed_precision, mask_padding=False, diffusion=diffusion)
    return burst_config(config, args)


class Burst:
    """The burst: U-Net from ``args.init``, data from ``args.pack``, output (weights, ``log.jsonl``) in ``args.out``."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.config = train_config(args)
        self.accelerator = make_accelerator(self.config, run_folder(args), cpu=args.device == "cpu")
        self.pack = DiffusionPack(args.pack, self.accelerator.device)
        pipeline = AudioDiffusionPipeline.from_pretrained(args.init, text_encoder=None, tokenizer=None,
                                                          torch_dtype=torch.float32)
        self.stage = DiffusionStage(self.config, self.accelerator, pipeline, self.pack.lookup,
                                    self.pack.split("validation"))
        self.stage.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.stage.optimizer, BudgetCosine(args.warmup_steps, args.minutes, args.final_lr_fraction))
        self.train_set = self.pack.split("train", args.seed)
        self.log = JsonLog(args.out / "log.jsonl", log)

    def collect(self, run_dir: Path) -> None:
        """The EMA U-Net with the lowest validation noise-MSE (the last without validation) as ``unet-a`` and
        ``unet-b`` (float16, half the weights each)."""
        best = best_record(run_dir)
        source = run_dir / (BEST_SUBDIR if best is not None else MODEL_SUBDIR) / "unet"
        unet = UNet2DConditionModel.from_pretrained(source, torch_dtype=torch.float32)
        state = {name: value.detach().half().contiguous() for name, value in unet.state_dict().items()}
        metadata = {"step": str(best["step"]), "noise_mse": f"{best['value']:.6f}"} if best else {}
        names = list(state)
        half = len(names) // 2
        for part, keys in (("a", names[:half]), ("b", names[half:])):
            temporary = self.args.out / f".unet-{part}.tmp"
            save_file({k: state[k] for k in keys}, str(temporary), metadata=metadata)
            os.replace(temporary, self.args.out / f"unet-{part}.safetensors")

    def run(self) -> None:
        header = {"train_clips": len(self.train_set), "validation_clips": len(self.stage.validation),
                  "batch_size": self.args.batch_size, "device": str(self.accelerator.device)}
        run_burst(self.args, self.config, self.accelerator, lambda accelerator: self.stage, self.train_set, header,
                  self.collect, self.log, metric="noise_mse")


def merge(args: argparse.Namespace) -> None:
    """``unet-a``/``unet-b`` + the init U-Net's config -> a U-Net folder (float32) that the export script reads."""
    unet = UNet2DConditionModel.from_pretrained(args.init / "unet", torch_dtype=torch.float32)
    state = {**load_file(str(args.weights / "unet-a.safetensors")), **load_file(str(args.weights / "unet-b.safetensors"))}
    missing, unexpected = unet.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if unexpected or [k for k in missing if not k.endswith("buffer")]:
        sys.exit(f"weights do not fit {args.init}/unet: missing {missing[:3]}, unexpected {unexpected[:3]}")
    unet.save_pretrained(args.out, safe_serialization=True)
    print(f"wrote {args.out}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    merge_parser = argparse.ArgumentParser(description="Merge the burst's two weight files into a U-Net folder.")
    merge_parser.add_argument("--weights", type=Path, required=True)
    merge_parser.add_argument("--init", type=Path, required=True)
    merge_parser.add_argument("--out", type=Path, required=True)
    burst_main(build_parser(), lambda args: Burst(args).run(), merge_parser, merge)


def build_parser() -> argparse.ArgumentParser:
    """The training command's arguments."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, required=True, help="folder of pack_diffusion_burst.py")
    parser.add_argument("--init", type=Path, required=True, help="pipeline folder with unet/ and scheduler/")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=8.0, help="training wall-clock budget")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--mixed-precision", default="bf16", choices=["bf16", "no", "auto"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--final-lr-fraction", type=float, default=0.05)
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--caption-dropout", type=float, default=0.1)
    parser.add_argument("--min-snr-gamma", type=float, default=5.0)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--save-minutes", type=float, default=1.5)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=10**9, help="stop earlier than --minutes (tests)")
    add_run_dir(parser)
    return parser


if __name__ == "__main__":
    main()

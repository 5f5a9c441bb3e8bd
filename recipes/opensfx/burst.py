"""What the GPU burst scripts share: their command line (``train_diffusion_burst.py``, ``train_vocoder_burst.py``,
``train_vae_burst.py``), and the log and timed training loop of the audio bursts (vocoder, VAE)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from audiodiff.training.stage import TrainingStage


def burst_main(train_parser: argparse.ArgumentParser, train: Callable[[argparse.Namespace], None],
               merge_parser: argparse.ArgumentParser, merge: Callable[[argparse.Namespace], None]) -> None:
    """``merge`` with ``merge_parser``'s arguments when the first argument is ``merge``; else ``train`` with
    ``train_parser``'s (``--out`` created; on a CUDA ``--device``, TF32 matmuls and cuDNN autotuning on)."""
    if len(sys.argv) > 1 and sys.argv[1] == "merge":
        merge(merge_parser.parse_args(sys.argv[2:]))
        return
    args = train_parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    train(args)


def audio_burst_parser(description: str, pack_help: str, init_help: str, config: Path, save_minutes: float,
                       log_every: int) -> argparse.ArgumentParser:
    """The training arguments both audio bursts take (pack, init, output, stage config, time budget, device,
    precision, batch, learning rate, decoding threads, logging, seed, step bound)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, required=True, help=pack_help)
    parser.add_argument("--init", type=Path, required=True, help=init_help)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=config, help="stage config (losses, LR, ...)")
    parser.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget, evaluations included")
    parser.add_argument("--save-minutes", type=float, default=save_minutes)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--mixed-precision", default="bf16", choices=["bf16", "no", "auto"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=None, help="default: the config's learning_rate")
    parser.add_argument("--workers", type=int, default=16, help="threads decoding the pack")
    parser.add_argument("--log-every", type=int, default=log_every)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=10**9, help="stop earlier than --minutes (tests)")
    return parser


def merge_parser(description: str, max_shard_size: str) -> argparse.ArgumentParser:
    """The ``merge`` arguments both audio bursts take: the burst's ``--out`` (``--weights``), the pipeline folder to
    copy (``--init``) and the merged folder (``--out``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--weights", type=Path, required=True, help="the burst's --out")
    parser.add_argument("--init", type=Path, required=True, help="the pipeline folder to copy")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-shard-size", default=max_shard_size)
    return parser


class JsonLog:
    """Records appended to ``path`` as JSON lines (``log.jsonl``), each also logged at INFO to ``logger``."""

    def __init__(self, path: Path, logger: logging.Logger):
        self.path, self.logger = path, logger

    def __call__(self, record: dict) -> None:
        line = json.dumps(record)
        self.logger.info(line)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")


def train_for_minutes(args: argparse.Namespace, stage: TrainingStage,
                      draw: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]],
                      evaluate_and_save: Callable[..., None], log: Callable[[dict], None]) -> bool:
    """``stage.train_step`` on batches ``{"audio", "audio_mask"}`` of ``draw(args.batch_size, generator)`` (a
    generator on the stage's device, seeded ``args.seed``) for ``args.minutes`` of wall clock, evaluations included,
    or ``args.max_steps``.  ``evaluate_and_save(step, seconds=...)`` runs at step 0, every ``args.save_minutes`` and
    at the end (with ``final=True``); every ``args.log_every`` steps ``log`` gets each loss's mean, the steps per
    second of training alone and the seconds since the start.  Returns False when it stopped at a non-finite loss."""
    generator = torch.Generator(stage.accelerator.device).manual_seed(args.seed)
    start = time.monotonic()
    evaluate_and_save(0, seconds=0.0)
    last_save = clock = time.monotonic()  # clock, timed: training time and steps since the last log, no evaluation
    step, timed, sums, counts = 0, 0, {}, {}
    while step < args.max_steps and time.monotonic() - start < args.minutes * 60:
        audio, mask = draw(args.batch_size, generator)
        for key, value in stage.train_step({"audio": audio, "audio_mask": mask}, step).items():
            sums[key] = sums.get(key, 0.0) + value.float()
            counts[key] = counts.get(key, 0) + 1
        step, timed = step + 1, timed + 1
        if step % args.log_every == 0:
            now = time.monotonic()
            record = {key: float(total) / counts[key] for key, total in sums.items()}
            log({"step": step, **record, "steps_per_second": round(timed / (now - clock), 3),
                 "seconds": round(now - start, 1)})
            sums, counts, clock, timed = {}, {}, now, 0
            if not math.isfinite(record["loss"]):
                log({"stopped": "non-finite loss", "step": step})
                return False
        if time.monotonic() - last_save > args.save_minutes * 60:
            evaluate_and_save(step, seconds=round(time.monotonic() - start, 1))
            last_save = clock = time.monotonic()
            timed = 0
    evaluate_and_save(step, seconds=round(time.monotonic() - start, 1), final=True)
    return True

"""What the GPU burst scripts share: their command line (``train_diffusion_burst.py``, ``train_vocoder_burst.py``,
``train_vae_burst.py``), their run settings and their run: :func:`audiodiff.training.loop.run_training` with a
minutes budget in a run folder outside ``--out`` (its checkpoints are too large to come back from the device), then
what comes back gathered into ``--out``: the weights (each kit picks them) and ``log.jsonl``."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from accelerate import Accelerator
from torch.utils.data import Dataset

from audiodiff.training.config import TrainConfig
from audiodiff.training.loop import METRICS_LOG, TRAIN_LOG, best_record, run_training
from audiodiff.training.stage import TrainingStage

MAX_SHARD_SIZE = "15MB"  # under the device's 16 MiB per returned file
NEVER = 10**9  # steps: no step-based evaluation or checkpoint (the minutes decide)


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
    add_run_dir(parser)
    return parser


def add_run_dir(parser: argparse.ArgumentParser) -> None:
    """The ``--run-dir`` option of every burst."""
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="run_training's folder (checkpoints, exports, metrics), kept; default: a temporary "
                             "folder, removed at the end")


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


def burst_config(config: TrainConfig, args: argparse.Namespace) -> TrainConfig:
    """``config`` run as a burst: ``args.minutes`` of wall clock (evaluations included) or ``args.max_steps``, an
    evaluation at the start, every ``args.save_minutes`` and at the end (keeping the best), a log every
    ``args.log_every`` steps, one checkpoint (at the end), data already on the device (no loader workers)."""
    return replace(config, max_steps=args.max_steps, max_minutes=args.minutes, eval_minutes=args.save_minutes,
                   eval_at_start=True, eval_every=NEVER, checkpoint_every=NEVER, checkpoint_minutes=None,
                   keep_checkpoints=1, keep_best=True, log_every=args.log_every, num_workers=0,
                   max_shard_size=MAX_SHARD_SIZE, seed=args.seed)


def run_burst(args: argparse.Namespace, config: TrainConfig, accelerator: Accelerator,
              stage_factory: Callable[[Accelerator], TrainingStage], dataset: Dataset, header: dict,
              collect: Callable[[Path], None], log: JsonLog, metric: str, prefix: str = "") -> Path:
    """Train with :func:`run_training` in :func:`run_folder`, then ``collect(run_dir)`` (the weights into
    ``args.out``) and write ``log.jsonl``: ``header``, the train records (loss means, steps/s, seconds), the
    evaluations (metrics named ``prefix + name``; ``best`` where ``metric`` is the lowest so far, ``final`` on the
    last) and ``{"best_step", "best_" + prefix + metric}``.  Returns ``args.out``."""
    run_dir = run_folder(args)
    log(header)
    try:
        run_training(stage_factory, dataset, config, run_dir, accelerator=accelerator)
        collect(run_dir)
    finally:
        for record in read_jsonl(run_dir / TRAIN_LOG):
            log(record)
        evaluations = read_jsonl(run_dir / METRICS_LOG)
        lowest = float("inf")
        for i, record in enumerate(evaluations):
            value = record.get(metric, float("inf"))
            flags = {"best": value < lowest, **({"final": True} if i == len(evaluations) - 1 else {})}
            lowest = min(lowest, value)
            log({"step": record["step"], **{f"{prefix}{k}": round(v, 6) for k, v in record.items() if k != "step"},
                 **flags})
        best = best_record(run_dir)
        if best is not None:
            log({"best_step": best["step"], f"best_{prefix}{metric}": best["value"]})
        if getattr(args, "temporary_run_dir", False):
            shutil.rmtree(run_dir, ignore_errors=True)
    return args.out


def run_folder(args: argparse.Namespace) -> Path:
    """``args.run_dir``; when not given, a fresh temporary folder, set as ``args.run_dir`` and removed by
    :func:`run_burst` once its results are gathered."""
    if args.run_dir is None:
        args.run_dir, args.temporary_run_dir = Path(tempfile.mkdtemp(prefix="burst-run-")), True
    return args.run_dir


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file (none when it does not exist)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def copy_component(source: Path, target: Path) -> None:
    """The diffusers component folder ``source`` (``config.json`` and its safetensors, without the run's
    ``best_step.json``) copied to ``target``, replacing it."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for file in source.iterdir():
        if file.name == "config.json" or file.name.endswith((".safetensors", ".safetensors.index.json")):
            shutil.copy2(file, target / file.name)

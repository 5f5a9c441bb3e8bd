"""Seconds per optimiser step of each training stage (vae, vocoder, diffusion) at a model and training config.

Times ``stage.train_step`` on real batches from a dataset, after one warm-up step, with the
settings of ``configs/train/STAGE.yaml`` (batch size, segment length) unless overridden.

    python benchmarks/bench_stage_steps.py --data data/opensfx_pack --model-config configs/model/default.yaml \
        --steps 3 --out benchmarks/results/stage_steps_cpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

from audiodiff.config import load_config
from audiodiff.data import AudioCaptionDataset, collate, read_dataset, split_clips
from audiodiff.factory import build_pipeline
from audiodiff.training.config import TrainConfig
from audiodiff.training.loop import make_accelerator
from audiodiff.training.run import _stage_builder, TrainJob


def time_stage(stage_name: str, args: argparse.Namespace) -> dict:
    config = load_config(Path("configs/train") / f"{stage_name}.yaml", TrainConfig)
    config = replace(config, mixed_precision="no", num_workers=0,
                     batch_size=args.batch_size or config.batch_size)
    torch.manual_seed(0)
    pipeline = build_pipeline(load_config(args.model_config))
    clips, _ = split_clips(read_dataset(args.data), 0.03, 0)
    dataset = AudioCaptionDataset(clips[: config.batch_size * (args.steps + 1)], pipeline.mel.config.sample_rate,
                                  config.segment_seconds, train=True)
    job = TrainJob(stage=stage_name, config=Path("unused"), output_dir=Path(args.scratch), model_config=args.model_config)
    accelerator = make_accelerator(config, Path(args.scratch))
    stage = _stage_builder(job, config, pipeline, None)(accelerator)
    stage.prepare()
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, collate_fn=collate)
    times = []
    for step, batch in enumerate(loader):
        start = time.perf_counter()
        stage.train_step(batch, step)
        times.append(time.perf_counter() - start)
        if len(times) > args.steps:
            break
    measured = sorted(times[1:])
    return {"stage": stage_name, "batch_size": config.batch_size, "segment_seconds": config.segment_seconds,
            "seconds_per_step_median": measured[len(measured) // 2], "seconds_per_step_all": times[1:],
            "threads": torch.get_num_threads(), "load_average": os.getloadavg()[0], "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model-config", type=Path, default=Path("configs/model/default.yaml"))
    parser.add_argument("--stages", nargs="+", default=["vae", "vocoder", "diffusion"])
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--batch-size", type=int, default=None, help="override the configs' batch sizes")
    parser.add_argument("--scratch", default="/tmp/audiodiff_bench_stage")
    parser.add_argument("--out", type=Path, default=None, help="append JSON lines here")
    args = parser.parse_args()
    for name in args.stages:
        result = time_stage(name, args)
        print(json.dumps(result))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

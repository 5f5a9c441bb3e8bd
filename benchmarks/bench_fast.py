"""Few-step generation speed (issue 24): the distilled student against the default model it was distilled from.

Three ways to make the same 5 s clip ("a dog barking", seed 0, batch 1), each run as ``audiodiff generate`` runs
it (``load_pipeline``, ``--dtype auto``: bf16 on CPUs with bf16 units):

* ``default-25``: ``checkpoints/default`` with its folder defaults, 25 DPM-Solver++ steps at guidance 3 (two
  U-Net passes a step, batched);
* ``default-8-unipc``: the same model with UniPC at 8 steps (the cheap alternative that scores like 25 steps,
  recipes/opensfx/results/eval_samplers.md);
* ``fast-4``: ``checkpoints/fast`` with its folder defaults, 4 steps at guidance 1 (one pass a step; since sitting 11 a phased consistency student, DDIM at its
  phase edges 999/749/499/249).

For each: wall seconds of the generation call (text encoder, sampling, VAE decode, vocoder; the median of
``--repeats`` calls after one warm-up call, the systems interleaved round by round so a shared machine's load
drift hits all of them), the process's CPU seconds of those calls, the real-time factor (wall / clip length),
and the wall time of a cold ``audiodiff generate`` in a fresh process (imports and model loading included).

Writes ``--output`` (JSON).  Usage: ``HF_HUB_OFFLINE=1 python benchmarks/bench_fast.py`` (about 2 minutes on
2 CPU cores; run it on an otherwise idle machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from audiodiff.loading import load_pipeline
from audiodiff.schedulers import swap_scheduler

REPO = Path(__file__).resolve().parent.parent
PROMPT = "a dog barking"


@dataclass(frozen=True)
class System:
    """One way to generate: a pipeline folder, and a sampler/steps override (None: the folder's defaults)."""

    name: str
    model: Path
    scheduler: str | None = None
    steps: int | None = None


def systems(checkpoints: Path) -> list[System]:
    return [
        System("default-25", checkpoints / "default"),
        System("default-8-unipc", checkpoints / "default", scheduler="unipc", steps=8),
        System("fast-4", checkpoints / "fast"),
    ]


def cold_generate(system: System, duration: float) -> float:
    """Wall seconds of ``audiodiff generate`` in a fresh process, imports and loading included."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "audiodiff.cli", "generate", PROMPT, "--model", str(system.model),
                   "--duration", str(duration), "--seed", "0", "-o", str(Path(folder) / "clip.wav")]
        if system.steps is not None:
            command += ["--steps", str(system.steps)]
        if system.scheduler is not None:
            command += ["--scheduler", system.scheduler]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, default=REPO / "checkpoints")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of audio per clip")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per system (median reported)")
    parser.add_argument("--cold", type=int, default=2, help="cold `audiodiff generate` runs per system (0: none)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "fast_cpu.json")
    args = parser.parse_args()
    load_start = os.getloadavg()
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = systems(args.checkpoints)
    pipes = {}
    for system in chosen:
        pipe = load_pipeline(system.model, "cpu", "auto")
        if system.scheduler is not None:
            pipe.scheduler = swap_scheduler(pipe.scheduler, system.scheduler)
        pipe.set_progress_bar_config(disable=True)
        pipes[system.name] = pipe

    def call(system: System) -> tuple[float, float]:
        kwargs = {} if system.steps is None else {"num_inference_steps": system.steps}
        generator = torch.Generator().manual_seed(0)
        wall, cpu = time.perf_counter(), time.process_time()
        pipes[system.name](PROMPT, duration=args.duration, generator=generator, **kwargs)
        return time.perf_counter() - wall, time.process_time() - cpu

    for system in chosen:  # warm-up
        call(system)
    walls: dict[str, list[float]] = {s.name: [] for s in chosen}
    cpus: dict[str, list[float]] = {s.name: [] for s in chosen}
    for _ in range(args.repeats):
        for system in chosen:
            wall, cpu = call(system)
            walls[system.name].append(wall)
            cpus[system.name].append(cpu)
    cold = {s.name: [cold_generate(s, args.duration) for _ in range(args.cold)] for s in chosen}
    results = {}
    for system in chosen:
        pipe = pipes[system.name]
        wall = statistics.median(walls[system.name])
        results[system.name] = {
            "model": str(system.model.relative_to(REPO) if system.model.is_relative_to(REPO) else system.model),
            "scheduler": type(pipe.scheduler).__name__,
            "steps": system.steps or pipe.config.default_num_inference_steps,
            "guidance_scale": pipe.config.default_guidance_scale,
            "wall_s": wall, "wall_s_all": walls[system.name],
            "cpu_s": statistics.median(cpus[system.name]),
            "rtf": wall / args.duration,
            "cold_generate_s": cold[system.name],
        }
        print(f"{system.name:16s} wall {wall:.2f} s (rtf {wall / args.duration:.3f}), "
              f"cpu {results[system.name]['cpu_s']:.2f} s, cold generate {cold[system.name]}")
    record = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "prompt": PROMPT, "duration": args.duration,
        "repeats": args.repeats, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(), "load_start": load_start, "load_end": os.getloadavg(),
        "torch": torch.__version__, "results": results,
    }
    args.output.write_text(json.dumps(record, indent=1) + "\n")
    print(args.output)


if __name__ == "__main__":
    main()

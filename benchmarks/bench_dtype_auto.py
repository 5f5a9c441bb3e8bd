"""``--dtype auto`` against float32 and bf16 on this CPU (issue 35): is auto within 5 % of the better one?

    HF_HUB_OFFLINE=1 python benchmarks/bench_dtype_auto.py --clips 3

On the default model (``checkpoints/default``), loaded as ``audiodiff generate`` loads it, in float32 and in bf16:

* ``guided_step_ms``: the U-Net's guided step (``pipe.predict_noise``, batch 2 under classifier-free guidance)
  on the latents of a 5 s clip, median of ``--steps`` calls after one warm-up;
* ``clip_s``: a whole 5 s clip (``pipe("dog barking", duration=5)``, the model's default steps and guidance),
  median of ``--clips`` calls after one warm-up call.  A dtype whose guided step is over ``--skip-factor`` x the
  other's is clearly the slower one and its clips are not run (``clip_s`` is then None: on a CPU without bf16
  units one bf16 clip takes minutes);
* ``probe``: what :mod:`audiodiff.cpu_dtype` decides here, from a fresh cache (``probe_s``: its cost) and again
  from the cache (``cached_s``), with its figures and the CPU flags that matter;
* ``auto_vs_best``: auto's guided step over the better dtype's (the issue's target: <= 1.05).

Appends one JSON line to ``--output`` (default ``benchmarks/results/dtype_auto.jsonl``) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from audiodiff import cpu_dtype
from audiodiff.loading import load_pipeline

REPO = Path(__file__).resolve().parent.parent
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def guided_step_ms(pipe, steps: int) -> float:
    """Median milliseconds of ``pipe.predict_noise`` on a 5 s clip's latents, guidance on."""
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn((1, *pipe.latent_shape(5.0)), generator=generator)
    with torch.inference_mode():
        states, mask = pipe.encode_prompt(["dog barking"], [""])
        timestep = pipe.scheduler.timesteps[0] if len(pipe.scheduler.timesteps) else torch.tensor(999)
        times = []
        for _ in range(steps + 1):
            start = time.perf_counter()
            pipe.predict_noise(latents, timestep, states, mask, pipe.config.default_guidance_scale)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times[1:])


def clip_seconds(pipe, clips: int) -> float:
    """Median seconds of a whole 5 s clip (default steps and guidance), after one warm-up call."""
    times = []
    for k in range(clips + 1):
        start = time.perf_counter()
        pipe("dog barking", duration=5.0, generator=torch.Generator().manual_seed(k))
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def probe_record() -> dict:
    """The probe's choice on this CPU from a fresh cache, its cost, and the cost of reading it back."""
    flags = cpu_dtype.cpu_flags()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / cpu_dtype.CACHE_NAME
        start = time.perf_counter()
        choice = cpu_dtype.choose_cpu_dtype(flags, path=path)
        probe_s = time.perf_counter() - start
        start = time.perf_counter()
        cached = cpu_dtype.choose_cpu_dtype(flags, path=path)
        cached_s = time.perf_counter() - start
    return {"choice": choice.dtype_name, "reason": choice.reason, "describe": choice.describe(),
            "float32_ms": choice.float32_ms, "bfloat16_ms": choice.bfloat16_ms, "probe_s": round(probe_s, 3),
            "cached_s": round(cached_s, 4), "cached_reason": cached.reason,
            "flags": sorted(flags & {"amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2"})}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "checkpoints" / "default")
    parser.add_argument("--steps", type=int, default=5, help="timed guided steps per dtype")
    parser.add_argument("--clips", type=int, default=3, help="timed 5 s clips per dtype")
    parser.add_argument("--skip-factor", type=float, default=2.0)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "dtype_auto.jsonl")
    args = parser.parse_args(argv)

    load_start = os.getloadavg()[0]
    record = {"cpu_model": cpu_dtype.cpu_model(), "threads": torch.get_num_threads(), "torch": torch.__version__,
              "python": platform.python_version(), "probe": probe_record(), "dtypes": {}}
    pipes = {name: load_pipeline(args.model, "cpu", name) for name in DTYPES}
    for pipe in pipes.values():
        pipe.set_progress_bar_config(disable=True)
    steps = {name: guided_step_ms(pipe, args.steps) for name, pipe in pipes.items()}
    best = min(steps.values())
    for name, pipe in pipes.items():
        run_clips = steps[name] <= args.skip_factor * best
        record["dtypes"][name] = {"guided_step_ms": round(steps[name], 2),
                                  "clip_s": round(clip_seconds(pipe, args.clips), 3) if run_clips else None}
    auto = record["probe"]["choice"]
    record["auto_vs_best"] = round(steps[auto] / best, 3)
    record["load_average"] = [load_start, os.getloadavg()[0]]
    print(json.dumps(record, indent=1))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()

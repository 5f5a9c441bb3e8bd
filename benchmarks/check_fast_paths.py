"""Check that every fast path gives the plain path's audio, on any device (the GPU half of issue 6's check).

Builds one random pipeline (default: configs/model/tiny.yaml), generates with the plain path, then with
each fast path on a fresh copy of the same weights, and prints the largest absolute difference of the
audio (``(batch, samples)`` in [-1, 1]).  Exits 1 when one exceeds ``--atol`` (fp16 tolerance, 1e-3).
tests/test_fast.py checks the same on the CPU for the safe paths; this adds torch.compile and CUDA graphs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audiodiff.config import load_config  # noqa: E402
from audiodiff.factory import build_pipeline  # noqa: E402
from audiodiff.fast import enable_fast_path, prepare_for_inference  # noqa: E402

PROMPTS = ["a cat meowing", "rain on a tin roof"]


def generate(pipe, device: torch.device, duration: float, steps: int) -> torch.Tensor:
    generators = [torch.Generator(device="cpu").manual_seed(s) for s in range(len(PROMPTS))]
    return pipe(PROMPTS, duration=duration, num_inference_steps=steps, generator=generators, output_type="pt").audios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--config", default="configs/model/tiny.yaml")
    parser.add_argument("--tokenizer", default=None, help="tokenizer folder replacing the config's (GPU machine)")
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--atol", type=float, default=1e-3)
    parser.add_argument("--skip-compile", action="store_true")
    args = parser.parse_args()
    config = load_config(REPO / args.config)
    if args.tokenizer:
        config = dataclasses.replace(config, text_encoder=dataclasses.replace(config.text_encoder, name_or_path=args.tokenizer))
    device = torch.device(args.device)

    def fresh():  # the same random weights each time (deepcopy breaks weight-norm parametrisations)
        torch.manual_seed(0)
        pipe = build_pipeline(config).to(device)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    plain = generate(fresh(), device, args.duration, args.steps)
    variants = {
        "prepare_for_inference": lambda p: prepare_for_inference(p),
        "channels_last": lambda p: enable_fast_path(p, channels_last=True),
    }
    if not args.skip_compile:
        variants["compile"] = lambda p: enable_fast_path(p, compile="default", compile_vocoder=True)
        if device.type == "cuda":
            variants["compile_cuda_graphs"] = lambda p: enable_fast_path(p, channels_last=True, compile="reduce-overhead")
    failed = False
    for name, apply in variants.items():
        pipe = fresh()
        apply(pipe)
        generate(pipe, device, args.duration, args.steps)  # warm-up (compilation, graph capture)
        audio = generate(pipe, device, args.duration, args.steps)
        diff = float((audio - plain).abs().max())
        ok = diff <= args.atol
        failed |= not ok
        print(json.dumps({"device": str(device), "fast_path": name, "max_abs_diff": diff, "atol": args.atol, "ok": ok}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""Diffusion training throughput, model FLOPs utilisation and peak memory for the AudioLDM-S-sized U-Net.

One training step is the epsilon-prediction loss of Ho et al. 2020 (eq. 14) on random latents
``(batch, 8, 256, 16)`` (10.24 s of audio) with random text states ``(batch, tokens, 384)``,
backward and an AdamW step; bf16 autocast on CUDA (fp32 master weights), the ``--dtype`` on the CPU.

MFU = (forward FLOPs x 3, counted with ``torch.utils.flop_counter.FlopCounterMode``; backward ~ 2x
forward) x steps/s / peak.  ``--peak-tflops`` defaults to 989 on CUDA (H100 SXM bf16 dense) and must
be given on the CPU for an MFU figure.  Writes a JSON line to ``--output``; usage in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import diffusers  # noqa: E402

from audiodiff.config import load_config  # noqa: E402
from audiodiff.models.unet import build_unet  # noqa: E402

logger = logging.getLogger("bench_train")
H100_BF16_DENSE_TFLOPS = 989.0
TEXT_WIDTH = 384  # MiniLM token states
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def make_batch(batch: int, latent_shape: tuple[int, int, int], tokens: int, device: torch.device):
    latents = torch.randn(batch, *latent_shape, device=device)
    noise = torch.randn_like(latents)
    timesteps = torch.randint(0, 1000, (batch,), device=device)
    states = torch.randn(batch, tokens, TEXT_WIDTH, device=device)
    mask = torch.ones(batch, tokens, dtype=torch.long, device=device)
    return latents, noise, timesteps, states, mask


def forward_flops(unet: torch.nn.Module, batch, autocast) -> int:
    latents, _, timesteps, states, mask = batch
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), autocast(), counter:
        unet(latents, timesteps, encoder_hidden_states=states, encoder_attention_mask=mask)
    return counter.get_total_flops()


def train_step(model, optimizer, batch, autocast, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """One epsilon-prediction step: ``x_t = sqrt(a) x_0 + sqrt(1 - a) eps``, loss ``|eps - eps_theta(x_t, t)|^2``."""
    latents, noise, timesteps, states, mask = batch
    a = alphas_cumprod[timesteps].view(-1, 1, 1, 1)
    noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
    with autocast():
        prediction = model(noisy, timesteps, encoder_hidden_states=states, encoder_attention_mask=mask).sample
    loss = F.mse_loss(prediction.float(), noise)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cuda = torch.cuda.is_available()
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="autocast dtype; default bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 on CUDA, 2 on the CPU")
    parser.add_argument("--steps", type=int, default=None, help="timed steps; default 20 on CUDA, 3 on the CPU")
    parser.add_argument("--warmup", type=int, default=None, help="default 5 on CUDA (more with --compile), 1 on the CPU")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--latent-frames", type=int, default=256, help="256 = 10.24 s")
    parser.add_argument("--config", default="configs/model/audioldm-s.yaml")
    parser.add_argument("--compile", action="store_true", help="torch.compile the U-Net")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=H100_BF16_DENSE_TFLOPS if cuda else None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "train.jsonl")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    on_cuda = device.type == "cuda"
    dtype_name = args.dtype or ("bfloat16" if on_cuda else "float32")
    batch_size = args.batch_size or (64 if on_cuda else 2)
    steps = args.steps or (20 if on_cuda else 3)
    warmup = args.warmup if args.warmup is not None else ((10 if args.compile else 5) if on_cuda else 1)
    if on_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    config = load_config(REPO / args.config)
    torch.manual_seed(0)
    unet = build_unet(config.unet, config.vae.latent_channels, TEXT_WIDTH).to(device).train()
    if args.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    if args.channels_last:
        unet.to(memory_format=torch.channels_last)
    dtype = DTYPES[dtype_name]
    use_autocast = dtype != torch.float32

    def autocast():
        return torch.autocast(device.type, dtype=dtype, enabled=use_autocast)

    latent_shape = (config.vae.latent_channels, args.latent_frames, config.audio.n_mels // 2 ** (len(config.vae.block_out_channels) - 1))
    batch = make_batch(batch_size, latent_shape, args.tokens, device)
    flops_forward = forward_flops(unet, batch, autocast)
    model = torch.compile(unet) if args.compile else unet
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-4, fused=on_cuda)
    betas = torch.linspace(0.0015**0.5, 0.0195**0.5, 1000, device=device) ** 2
    alphas_cumprod = torch.cumprod(1 - betas, 0)

    for _ in range(warmup):
        train_step(model, optimizer, batch, autocast, alphas_cumprod)
    sync(device)
    if on_cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = train_step(model, optimizer, batch, autocast, alphas_cumprod)
        sync(device)
        times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    flops_step = 3 * flops_forward
    achieved_tflops = flops_step / step_s / 1e12
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if on_cuda else _cpu_name(),
        "threads": torch.get_num_threads(), "loadavg": [round(x, 2) for x in os.getloadavg()],
        "torch": torch.__version__, "diffusers": diffusers.__version__, "dtype": dtype_name,
        "config": args.config, "unet_params_m": round(sum(p.numel() for p in unet.parameters()) / 1e6, 2),
        "batch_size": batch_size, "latent_shape": list(latent_shape), "tokens": args.tokens,
        "compile": args.compile, "channels_last": args.channels_last, "gradient_checkpointing": args.gradient_checkpointing,
        "steps_timed": steps, "step_s_median": round(step_s, 4), "samples_per_s": round(batch_size / step_s, 3),
        "forward_gflops_per_sample": round(flops_forward / batch_size / 1e9, 2),
        "train_tflops_per_step": round(flops_step / 1e12, 3), "achieved_tflops": round(achieved_tflops, 3),
        "peak_tflops": args.peak_tflops,
        "mfu": round(achieved_tflops / args.peak_tflops, 4) if args.peak_tflops else None,
        "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if on_cuda
        else round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "peak_memory_kind": "torch.cuda.max_memory_allocated" if on_cuda else "process max RSS",
        "final_loss": round(float(loss), 4),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps(record, indent=1))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


if __name__ == "__main__":
    main()

"""Continue the default model's diffusion U-Net for a fixed wall-clock budget on one GPU, from a packed cache.

For a short lease of a GPU machine (the device tool: ~10 minutes a call, 64 MiB carried, no audiodiff
install, no MiniLM package).  Reads the pack of :mod:`recipes.opensfx.pack_diffusion_burst`, holds every
latent and text state in GPU memory and trains with the objective of
:class:`audiodiff.training.diffusion.DiffusionStage` (same functions: DDPM forward process, eps target,
Min-SNR-gamma weights, caption dropout to ``""``, EMA of the weights), at a larger batch with a
time-based cosine learning rate, so the last weights are settled when the budget ends.

Every ``--save-minutes`` and at the end it evaluates the validation noise-MSE exactly as the CPU
trainer does (five timestep buckets, fixed noise, EMA weights, main captions) and writes the EMA
weights with the lowest value so far as two float16 safetensors files (``unet-a``/``unet-b``:
the device returns files of at most 16 MiB), plus ``log.jsonl``.  ``merge`` turns them back
into a U-Net folder on the CPU side:

    python recipes/opensfx/train_diffusion_burst.py --pack /root/pack --init checkpoints/default \
        --out $OUT/diffusion --minutes 8 --device cuda
    python recipes/opensfx/train_diffusion_burst.py merge --weights OUTDIR --init checkpoints/default --out DIR
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import sys
import time
from pathlib import Path

import torch
from diffusers import DDPMScheduler, UNet2DConditionModel
from safetensors.torch import load, load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: recipes/ holds opensfx

from opensfx.burst import burst_main  # noqa: E402

from audiodiff.models.unet import text_inputs  # noqa: E402
from audiodiff.training.diffusion_math import masked_mse, min_snr_weights, q_sample, snr, training_target  # noqa: E402

NUM_BUCKETS = 5  # as DiffusionStage.NUM_BUCKETS


def read_xz(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of an lzma-compressed safetensors file (as ``pack_diffusion_burst.write_xz`` writes them)."""
    return load(lzma.decompress(path.read_bytes()))


class Pack:
    """The packed cache on ``device``: latents ``(n, C, h, w)``, caption states ``(captions, tokens, hidden)``."""

    def __init__(self, folder: Path, device: torch.device):
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        text = read_xz(folder / "text.safetensors.xz")
        self.states = (text["states"].float() * text["scales"].float()[..., None]).to(device)
        lengths = text["lengths"].long()
        self.text_mask = (torch.arange(self.states.shape[1])[None] < lengths[:, None]).long().to(device)
        self.empty = meta["captions"].index("")
        z = read_xz(folder / "latents.safetensors.xz")
        latents = (z["latents"].float() * z["scales"].float()[..., None, None]).to(device)
        clips = meta["clips"]
        train = [i for i, c in enumerate(clips) if c["split"] == "train"]
        validation = [i for i, c in enumerate(clips) if c["split"] == "validation"]
        self.train_latents, self.validation_latents = latents[train], latents[validation]
        counts = [len(clips[i]["captions"]) for i in train]
        self.caption_count = torch.tensor(counts, device=device)
        self.caption_offset = torch.tensor([0] + counts[:-1], device=device).cumsum(0)
        self.caption_ids = torch.tensor([c for i in train for c in clips[i]["captions"]], device=device)
        self.validation_captions = torch.tensor([clips[i]["captions"][0] for i in validation], device=device)

    def batch(self, size: int, caption_dropout: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Random training clips and, per clip, one of its captions (or ``""`` with ``caption_dropout``)."""
        device = self.train_latents.device
        index = torch.randint(len(self.train_latents), (size,), device=device, generator=generator)
        pick = (torch.rand(size, device=device, generator=generator) * self.caption_count[index]).long()
        captions = self.caption_ids[self.caption_offset[index] + pick]
        drop = torch.rand(size, device=device, generator=generator) < caption_dropout
        return self.train_latents[index], torch.where(drop, torch.full_like(captions, self.empty), captions)


class Trainer:
    """The burst: U-Net from ``args.init``, data from ``args.pack``, output (weights, ``log.jsonl``) in ``args.out``."""

    def __init__(self, args: argparse.Namespace):
        self.args, self.device = args, torch.device(args.device)
        self.pack = Pack(args.pack, self.device)
        self.unet = UNet2DConditionModel.from_pretrained(args.init / "unet", torch_dtype=torch.float32).to(self.device).train()
        scheduler = DDPMScheduler.from_pretrained(args.init / "scheduler")
        self.prediction_type = scheduler.config.prediction_type
        self.alphas_cumprod = scheduler.alphas_cumprod.to(self.device)
        self.params = list(self.unet.parameters())
        fused = {"fused": True} if self.device.type == "cuda" else {}
        self.optimizer = torch.optim.AdamW(self.params, lr=args.lr, betas=(0.9, 0.999), weight_decay=0.01, **fused)
        self.ema = [p.detach().clone() for p in self.params]
        self.best: tuple[float, int] = (math.inf, -1)
        self.log_path = args.out / "log.jsonl"
        self.validation = self._validation_draws()

    def _validation_draws(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Timesteps ``(n, buckets)`` and noise ``(n, buckets, C, h, w)`` drawn in DiffusionStage's order."""
        generator = torch.Generator().manual_seed(0)
        edges = torch.linspace(0, len(self.alphas_cumprod), NUM_BUCKETS + 1).long()
        shape = tuple(self.pack.validation_latents.shape[1:])
        steps, noises = [], []
        for _ in range(len(self.pack.validation_latents)):
            for b in range(NUM_BUCKETS):
                steps.append(torch.randint(int(edges[b]), int(edges[b + 1]), (1,), generator=generator))
                noises.append(torch.randn((1, *shape), generator=generator))
        n = len(self.pack.validation_latents)
        return torch.cat(steps).view(n, NUM_BUCKETS).to(self.device), torch.cat(noises).view(n, NUM_BUCKETS, *shape).to(self.device)

    def loss(self, z0: torch.Tensor, captions: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        z_t = q_sample(self.alphas_cumprod, z0, noise, timesteps)
        target = training_target(self.alphas_cumprod, z0, noise, timesteps, self.prediction_type)
        text = text_inputs(self.unet.config, self.pack.states[captions], self.pack.text_mask[captions])
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            prediction = self.unet(z_t, timesteps, **text).sample
        weights = min_snr_weights(snr(self.alphas_cumprod, timesteps), self.args.min_snr_gamma, self.prediction_type)
        mask = torch.ones(z0.shape[0], 1, z0.shape[2], 1, device=z0.device)
        return masked_mse(prediction, target, mask, weights)

    @torch.no_grad()
    def validation_mse(self) -> float:
        """Mean over buckets of the mean validation loss, EMA weights (DiffusionStage.validation_loss_by_bucket)."""
        swap = [p.detach().clone() for p in self.params]
        torch._foreach_copy_(self.params, self.ema)
        self.unet.eval()
        steps, noises = self.validation
        z0, captions = self.pack.validation_latents, self.pack.validation_captions
        total = 0.0
        for b in range(NUM_BUCKETS):
            for start in range(0, len(z0), 64):
                end = min(start + 64, len(z0))
                weights = end - start  # masked_mse averages over the batch; undo that to sum per clip
                total += float(self.loss(z0[start:end], captions[start:end], noises[start:end, b], steps[start:end, b])) * weights
        torch._foreach_copy_(self.params, swap)
        self.unet.train()
        return total / (len(z0) * NUM_BUCKETS)

    def save(self, step: int, value: float) -> None:
        """Write the EMA weights as two float16 files when ``value`` is the best validation MSE so far."""
        if value >= self.best[0]:
            return
        self.best = (value, step)
        names = [name for name, _ in self.unet.named_parameters()]
        state = {name: w.detach().half().cpu() for name, w in zip(names, self.ema)}
        half = len(names) // 2
        for part, keys in (("a", names[:half]), ("b", names[half:])):
            temporary = self.args.out / f".unet-{part}.tmp"
            save_file({k: state[k] for k in keys}, str(temporary), metadata={"step": str(step), "noise_mse": f"{value:.6f}"})
            os.replace(temporary, self.args.out / f"unet-{part}.safetensors")

    def log(self, record: dict) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def evaluate_and_save(self, step: int, **record: object) -> None:
        """Log the validation noise-MSE at ``step`` (with ``record``) and keep the weights if it is the best."""
        value = self.validation_mse()
        self.log({"step": step, "noise_mse": value, **record})
        self.save(step, value)

    def learning_rate(self, step: int, fraction: float) -> float:
        warmup = min(1.0, (step + 1) / self.args.warmup_steps)
        return self.args.lr * warmup * (self.args.final_lr_fraction + (1 - self.args.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0))))

    def run(self) -> None:
        args = self.args
        generator = torch.Generator(self.device).manual_seed(args.seed)
        self.evaluate_and_save(0, train_clips=len(self.pack.train_latents),
                               validation_clips=len(self.pack.validation_latents), batch_size=args.batch_size)
        start = last_save = time.monotonic()
        budget = args.minutes * 60
        step, running, timesteps_total = 0, torch.zeros((), device=self.device), len(self.alphas_cumprod)
        while True:
            elapsed = time.monotonic() - start
            if elapsed > budget or step >= args.max_steps:
                break
            lr = self.learning_rate(step, elapsed / budget)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            z0, captions = self.pack.batch(args.batch_size, args.caption_dropout, generator)
            noise = torch.randn(z0.shape, device=self.device, generator=generator)
            timesteps = torch.randint(0, timesteps_total, (z0.shape[0],), device=self.device, generator=generator)
            loss = self.loss(z0, captions, noise, timesteps)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, args.max_grad_norm)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            torch._foreach_lerp_(self.ema, [p.detach() for p in self.params], 1 - args.ema_decay)
            running += loss.detach()
            step += 1
            if step % args.log_every == 0:
                self.log({"step": step, "loss": float(running) / args.log_every, "lr": lr,
                          "seconds": round(time.monotonic() - start, 1)})
                running.zero_()
            if time.monotonic() - last_save > args.save_minutes * 60:
                self.evaluate_and_save(step, seconds=round(time.monotonic() - start, 1))
                last_save = time.monotonic()
        self.evaluate_and_save(step, seconds=round(time.monotonic() - start, 1), final=True)
        self.log({"best_step": self.best[1], "best_noise_mse": self.best[0]})


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
    merge_parser = argparse.ArgumentParser(description="Merge the burst's two weight files into a U-Net folder.")
    merge_parser.add_argument("--weights", type=Path, required=True)
    merge_parser.add_argument("--init", type=Path, required=True)
    merge_parser.add_argument("--out", type=Path, required=True)
    burst_main(build_parser(), lambda args: Trainer(args).run(), merge_parser, merge)


def build_parser() -> argparse.ArgumentParser:
    """The training command's arguments."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, required=True, help="folder of pack_diffusion_burst.py")
    parser.add_argument("--init", type=Path, required=True, help="pipeline folder with unet/ and scheduler/")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=8.0, help="training wall-clock budget")
    parser.add_argument("--device", default="cuda")
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
    return parser


if __name__ == "__main__":
    main()

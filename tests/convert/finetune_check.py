"""Shared by the conversion tests: ``audiodiff prepare`` + a 2-step LoRA ``audiodiff finetune`` on a converted
folder, then generation with the fine-tuned model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml
from tests.conftest import make_audiofolder

from audiodiff import AudioDiffusionPipeline
from audiodiff.cli import main


def check_lora_finetune(converted: Path, tmp_path: Path, prepare_flags: tuple[str, ...] = ()) -> Path:
    """Prepare a cache (with ``prepare_flags``), fine-tune LoRA rank 2 for 2 steps on four 0.5 s tones, check that
    only the U-Net's attention weights changed and that the result generates 0.32 s; returns the cache folder."""
    data = make_audiofolder(tmp_path / "sounds", [(f"a tone at {f} hertz", f, 0.5) for f in (220, 440, 660, 880)])
    config = tmp_path / "lora.yaml"
    config.write_text(yaml.safe_dump({
        "max_steps": 2, "batch_size": 2, "learning_rate": 1e-2, "checkpoint_every": 2, "eval_every": 2,
        "log_every": 1, "segment_seconds": 0.32, "validation_fraction": 0.25, "num_workers": 0,
        "diffusion": {"sample_prompts": [], "sample_steps": 2, "sample_duration": 0.32},  # finetune previews by default
    }))
    cache = tmp_path / "cache"
    assert main(["prepare", "--data", str(data), "--model", str(converted), "--cache", str(cache), *prepare_flags]) == 0
    assert main(["finetune", "--model", str(converted), "--data", str(data), "--cache", str(cache),
                 "--config", str(config), "--lora", "2", "--output-dir", str(tmp_path / "ft"), "--no-report"]) == 0
    tuned = AudioDiffusionPipeline.from_pretrained(tmp_path / "ft" / "model")
    base = AudioDiffusionPipeline.from_pretrained(converted)
    changed = [n for n, v in tuned.unet.state_dict().items() if not torch.equal(v, base.unet.state_dict()[n])]
    assert changed and all(".attn" in n for n in changed)  # LoRA merged into the attention projections only
    tuned.set_progress_bar_config(disable=True)
    audio = tuned("a tone at 440 hertz", duration=0.32, num_inference_steps=2,
                  generator=torch.Generator().manual_seed(0)).audios
    assert audio.shape == (1, round(0.32 * tuned.sample_rate)) and np.isfinite(audio).all()
    return cache

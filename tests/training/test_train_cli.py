"""The training commands end to end, as docs/training.md walks a user through them (in-process CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
import yaml
from tests.conftest import REPO, TINY_CONFIG, make_audiofolder

from audiodiff import AudioDiffusionPipeline
from audiodiff.cli import main
from audiodiff.data import TextStateCache
from audiodiff.training.diffusion import DiffusionStage, live_conditioner
from audiodiff.training.loop import make_accelerator
from training_helpers import tiny_train_config

TINY_TRAIN = {"max_steps": 3, "batch_size": 2, "learning_rate": 1e-3, "checkpoint_every": 2, "eval_every": 3,
              "log_every": 1, "segment_seconds": 0.5, "validation_fraction": 0.2,
              "diffusion": {"sample_prompts": ["a tone"], "sample_steps": 2, "sample_duration": 0.5},
              "vocoder": {"segment_frames": 16}}


@pytest.fixture()
def dataset(tmp_path) -> Path:
    clips = [(f"a tone at {f} hertz", f, 0.8) for f in (220, 330, 440, 550, 660, 770)]
    return make_audiofolder(tmp_path / "my_sounds", clips)


@pytest.fixture()
def train_yaml(tmp_path) -> Path:
    path = tmp_path / "tiny_train.yaml"
    path.write_text(yaml.safe_dump(TINY_TRAIN))
    return path


def _run(*argv: str) -> None:
    assert main([str(a) for a in argv]) == 0


def test_the_whole_training_chain_from_own_wavs_to_a_finetuned_model(tmp_path, dataset, train_yaml):
    base = tmp_path / "base"
    _run("init-model", "--config", TINY_CONFIG, base)
    _run("train", "vae", "--config", train_yaml, "--model", base, "--data", dataset, "--output-dir", tmp_path / "vae")
    _run("train", "vocoder", "--config", train_yaml, "--model", tmp_path / "vae" / "model", "--data", dataset,
         "--output-dir", tmp_path / "vocoder")
    _run("prepare", "--data", dataset, "--model", tmp_path / "vocoder" / "model", "--cache", tmp_path / "cache",
         "--latents", "--segment-seconds", "0.5", "--validation-fraction", "0.2", "--extra-captions", "a tone")
    _run("train", "diffusion", "--config", train_yaml, "--model", tmp_path / "vocoder" / "model",
         "--cache", tmp_path / "cache", "--output-dir", tmp_path / "diffusion", "--max-shard-size", "1MB")
    _run("finetune", "--model", tmp_path / "diffusion" / "model", "--data", dataset, "--config", train_yaml,
         "--lora", "4", "--output-dir", tmp_path / "finetuned")
    out = tmp_path / "dog.wav"
    _run("generate", "a tone at 440 hertz", "--model", tmp_path / "finetuned" / "model", "-o", out,
         "--duration", "0.5", "--steps", "2")
    info = sf.info(str(out))
    assert (info.samplerate, info.frames) == (16000, 8000)
    # each stage changed its own component and carried the others over
    vae = AudioDiffusionPipeline.from_pretrained(tmp_path / "vae" / "model")
    base_pipe = AudioDiffusionPipeline.from_pretrained(base)
    assert not torch.equal(vae.vae.encoder.conv_in.weight, base_pipe.vae.encoder.conv_in.weight)
    assert torch.equal(vae.unet.conv_in.weight, base_pipe.unet.conv_in.weight)
    metrics = [json.loads(line) for line in (tmp_path / "vae" / "metrics.jsonl").read_text().splitlines()]
    assert "mel_l1" in metrics[-1]
    finetuned = AudioDiffusionPipeline.from_pretrained(tmp_path / "finetuned" / "model")
    assert not any("lora" in name for name in finetuned.unet.state_dict())
    diffusion = AudioDiffusionPipeline.from_pretrained(tmp_path / "diffusion" / "model")
    assert not torch.equal(finetuned.unet.conv_in.weight.new_tensor(0), torch.tensor(1.0))
    changed = [n for n, v in finetuned.unet.state_dict().items() if not torch.equal(v, diffusion.unet.state_dict()[n])]
    assert changed and all("attn" in n for n in changed)  # LoRA touched only attention projections
    assert list((tmp_path / "diffusion" / "model" / "unet").glob("*.safetensors.index.json"))  # sharded at 1MB


def test_cached_text_states_give_the_same_training_loss_as_the_live_encoder(tmp_path, dataset, tiny_pipeline_dir):
    _run("prepare", "--data", dataset, "--model", tiny_pipeline_dir, "--cache", tmp_path / "cache")
    pipeline = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    accelerator = make_accelerator(tiny_train_config(), tmp_path / "run")
    stage = DiffusionStage(tiny_train_config(), accelerator, pipeline)
    captions = ["a tone at 220 hertz", "a tone at 770 hertz", ""]
    z0 = torch.randn(3, 4, 8, 32)
    mask = torch.ones(3, 1, 8, 1)
    noise, timesteps = torch.randn_like(z0), torch.tensor([10, 500, 900])
    live = stage.loss(z0, mask, *live_conditioner(pipeline, accelerator.device)(captions), noise, timesteps)
    cached = stage.loss(z0, mask, *TextStateCache(tmp_path / "cache", model=tiny_pipeline_dir).lookup(captions),
                        noise, timesteps)
    assert torch.allclose(live, cached, rtol=1e-5, atol=1e-6)


def test_two_process_accelerate_run_trains_and_writes_one_checkpoint(tmp_path, dataset, train_yaml, tiny_pipeline_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--cpu",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "audiodiff.cli", "train", "diffusion", "--config", str(train_yaml), "--model", str(tiny_pipeline_dir),
               "--data", str(dataset), "--output-dir", str(tmp_path / "ddp"), "--max-steps", "2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoints = list((tmp_path / "ddp" / "checkpoints").iterdir())
    assert [c.name for c in checkpoints] == ["step-00000002"]
    assert (tmp_path / "ddp" / "model" / "model_index.json").is_file()


def test_init_from_starts_the_stage_from_an_exported_model_in_fp16(tmp_path, dataset, train_yaml, tiny_pipeline_dir):
    """A run folder lost: --init-from MODEL_DIR continues from the exported U-Net (stored fp16), a fresh optimiser."""
    from dataclasses import replace

    from audiodiff.errors import IncompatibleModelError
    from audiodiff.factory import build_pipeline
    from audiodiff.training.run import init_component
    from audiodiff.config import load_config

    torch.manual_seed(1)
    exported = build_pipeline(load_config(TINY_CONFIG))  # stands for a trained model: other weights than the start
    exported.unet.to(torch.float16)
    exported.save_pretrained(tmp_path / "exported")
    start = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    init_component(start, "unet", tmp_path / "exported")
    for name, value in exported.unet.state_dict().items():
        assert start.unet.state_dict()[name].dtype == torch.float32
        assert torch.equal(start.unet.state_dict()[name], value.float()), name

    config = yaml.safe_load(train_yaml.read_text())
    config.update(max_steps=1, learning_rate=0.0, lr_warmup_steps=0)
    (tmp_path / "frozen.yaml").write_text(yaml.safe_dump(config))
    _run("train", "diffusion", "--config", tmp_path / "frozen.yaml", "--model", tiny_pipeline_dir, "--data", dataset,
         "--init-from", tmp_path / "exported", "--output-dir", tmp_path / "continued", "--resume")
    continued = AudioDiffusionPipeline.from_pretrained(tmp_path / "continued" / "model")
    for name, value in exported.unet.state_dict().items():  # lr 0: the export is the starting point, unchanged
        assert torch.allclose(continued.unet.state_dict()[name], value.float(), atol=1e-6), name

    tiny = load_config(TINY_CONFIG)
    wider = replace(tiny, unet=replace(tiny.unet, block_out_channels=(16, 48)))
    with pytest.raises(IncompatibleModelError, match="another architecture"):
        init_component(build_pipeline(wider), "unet", tmp_path / "exported")

"""audiodiff finetune on a tiny model: the cached fast path, the step defaults, previews, the report, the estimate
and the dataset check."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
import yaml
from tests.conftest import make_audiofolder

from audiodiff import AudioDiffusionPipeline
from audiodiff.cli import main
from audiodiff.data import AudioCaptionDataset, LatentDataset, TextStateCache, collate, read_dataset
from audiodiff.data.finetune_cache import ensure_finetune_cache
from audiodiff.errors import InvalidArgumentError
from audiodiff.training.config import FinetuneTrainConfig
from audiodiff.training.diffusion import DiffusionStage, live_conditioner
from audiodiff.training.finetune import FinetuneJob, default_max_steps, finetune_config, run_finetune
from audiodiff.training.loop import make_accelerator
from training_helpers import tiny_train_config

CROP = 0.64  # seconds: 64 mel frames, 32 latent frames of the tiny model, a multiple of its U-Net's factor
TINY_FINETUNE = {"batch_size": 2, "learning_rate": 3e-3, "lr_schedule": "constant", "log_every": 1, "eval_every": 2,
                 "checkpoint_every": 100, "segment_seconds": 1.0, "mixed_precision": "auto",
                 "diffusion": {"sample_steps": 2, "sample_duration": 0.64},
                 "finetune": {"epochs": 1, "min_steps": 2, "min_crop_seconds": 0.5, "lora_learning_rate": 1e-2,
                              "unrelated_prompts": ["a dog barking"]}}


def _yaml(tmp_path: Path, **overrides) -> Path:
    path = tmp_path / "finetune.yaml"
    path.write_text(yaml.safe_dump({**TINY_FINETUNE, **overrides}))
    return path


@pytest.mark.parametrize("mixed_precision", ["no", "bf16"])
def test_the_cached_crops_give_the_loss_of_live_encoding_on_the_same_batch(tmp_path, tiny_pipeline_dir,
                                                                           mixed_precision):
    data = make_audiofolder(tmp_path / "data", [(f"a tone at {f} hertz", f, CROP) for f in (220, 440, 880)])
    clips = read_dataset(data)
    pipeline = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    cache = ensure_finetune_cache(clips, pipeline, tiny_pipeline_dir, tmp_path / "cache", CROP)
    cached = collate([LatentDataset(cache, "train")[i] for i in range(3)])
    live = collate([AudioCaptionDataset(clips, pipeline.sample_rate, CROP, train=False)[i] for i in range(3)])
    assert cached["caption"] == live["caption"]

    config = tiny_train_config(mixed_precision=mixed_precision)
    accelerator = make_accelerator(config, tmp_path / "run")
    stage = DiffusionStage(config, accelerator, pipeline)
    noise = torch.randn(3, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    timesteps = torch.tensor([10, 500, 900])
    losses = []
    conditioners = (TextStateCache(cache).lookup, live_conditioner(pipeline, accelerator.device))
    for batch, conditioner in zip((cached, live), conditioners):
        z0, mask = stage.latents(batch)
        with accelerator.autocast():
            losses.append(stage.loss(z0, mask, *conditioner(batch["caption"]), noise, timesteps))
    tolerance = 2e-2 if mixed_precision == "bf16" else 1e-5  # bf16 keeps 8 bits of mantissa
    assert torch.allclose(losses[0], losses[1], rtol=tolerance, atol=1e-6), losses


def test_steps_follow_the_dataset_size(tmp_path):
    assert default_max_steps(46, 8, 20, 50, 3000) == 115  # the telephone example: 46 crops, 20 epochs
    assert default_max_steps(4, 8, 20, 50, 3000) == 50  # a tiny dataset still gets min_steps
    assert default_max_steps(10_000, 8, 20, 50, 3000) == 3000  # a big one stops at the cap
    config = tiny_train_config(batch_size=4, finetune=FinetuneTrainConfig(epochs=10, min_steps=1))
    job = FinetuneJob(model=tmp_path, data=tmp_path, output_dir=tmp_path, config=tmp_path)
    assert finetune_config(config, job, items=20).max_steps == 50
    assert finetune_config(config, job, items=40).max_steps == 100
    from dataclasses import replace

    assert finetune_config(replace(config, finetune=FinetuneTrainConfig()), job, items=40).max_steps == 30  # no epochs

    assert finetune_config(config, replace(job, max_steps=7), items=40).max_steps == 7  # --max-steps wins
    lora = finetune_config(config, replace(job, lora_rank=4), items=40)
    assert lora.learning_rate == config.finetune.lora_learning_rate


def test_finetune_checks_the_data_estimates_previews_and_reports(tmp_path, tiny_pipeline_dir, caplog, capsys):
    clips = [(f"a tone at {f} hertz", f, 1.5) for f in (220, 440, 660)] + [("a tone at 880 hertz", 880, 0.8)]
    data = make_audiofolder(tmp_path / "data", clips)
    (data / "broken.wav").write_bytes(b"not audio")
    with open(data / "metadata.jsonl", "a") as f:
        f.write(json.dumps({"file_name": "broken.wav", "caption": "noise"}) + "\n")
        f.write(json.dumps({"file_name": "missing.wav", "caption": "noise"}) + "\n")
    run = tmp_path / "run"
    argv = ["finetune", "--model", str(tiny_pipeline_dir), "--data", str(data), "--config", str(_yaml(tmp_path)),
            "--lora", "2", "--output-dir", str(run), "--preview", "a tone at 440 hertz"]
    with caplog.at_level(logging.INFO):
        assert main(argv) == 0
    log = caplog.text
    assert "Dataset: 4 usable clips" in log
    assert "broken.wav (cannot decode" in log and "missing.wav (file missing)" in log
    assert "Only 4 usable clip(s)" in log  # fewer than a handful: the overfitting warning
    # crops of 0.8 s (the clips' low quantile): 2 per 1.5 s clip + 1 = 7 crops, 1 epoch of batch 2 -> 4 steps
    assert "for 4 steps of 2 crops (7 in the dataset)" in log
    assert "Estimated training time:" in log
    for step in (2, 4):
        folder = run / "samples" / f"step-{step:08d}"
        assert (folder / "a_tone_at_440_hertz.wav").is_file() and (folder / "a_tone_at_440_hertz.png").is_file()
    assert list((run / "logs").rglob("events.out.tfevents.*"))
    report = json.loads((run / "report.json").read_text())
    assert [r["prompt"] for r in report["previews"]] == ["a tone at 440 hertz"]
    assert [r["prompt"] for r in report["unrelated"]] == ["a dog barking"]
    assert (run / report["previews"][0]["image"]).is_file()
    assert "![a tone at 440 hertz]" in (run / "report.md").read_text()
    assert (run / "report" / "tuned" / "a_dog_barking.wav").is_file() and (run / "lora").is_dir()
    printed = capsys.readouterr().out
    assert "What was learned" in printed and printed.strip().endswith(str(run / "model"))

    caplog.clear()
    with caplog.at_level(logging.INFO):  # a second run on the same data reuses the cache
        assert main([*argv[:-2], "--output-dir", str(tmp_path / "again"), "--cache", str(run / "cache"),
                     "--no-report"]) == 0
    assert "Reusing the cached text states and latents" in caplog.text


def test_a_dataset_without_usable_audio_keeps_its_clear_error(tmp_path, tiny_pipeline_dir):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.wav").write_bytes(b"not audio")
    (data / "metadata.csv").write_text("file_name,caption\na.wav,a sound\nb.wav,another\n")
    job = FinetuneJob(model=tiny_pipeline_dir, data=data, output_dir=tmp_path / "run", config=_yaml(tmp_path))
    with pytest.raises(InvalidArgumentError, match=r"No usable audio.*a\.wav \(cannot decode"):
        run_finetune(job)


def _band_share(latents: torch.Tensor, band: torch.Tensor) -> float:
    """Share of the energy of ``latents`` ``(batch, C, h, w)`` in the latent frequency columns ``band``."""
    energy = latents.pow(2).mean(dim=(0, 1, 2))
    return float(energy[band].sum() / energy.sum())


def test_a_tiny_model_learns_a_tone_in_a_few_dozen_steps(tmp_path, tiny_pipeline_dir):
    """A 100 Hz tone fills the lowest mel bands, the first latent columns of the tiny VAE (the tiny U-Net has no
    attention over frequency, so a band near the edge, where its padding tells it where it is, is one it can
    learn): after 60 steps the share of the generated latents' energy in the training latents' strongest columns
    has risen at least halfway to theirs."""
    from tests.conftest import tone

    start = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    with torch.no_grad():  # unit-variance latents, as the VAE stage exports them
        z = start.encode_audio(torch.as_tensor(tone(100, CROP))[None])
    start.vae.register_to_config(scaling_factor=float(start.vae.config.scaling_factor / z.std()))
    start.save_pretrained(tmp_path / "start")
    data = make_audiofolder(tmp_path / "data", [("a hum", 100, CROP)] * 4)
    job = FinetuneJob(model=tmp_path / "start", data=data, output_dir=tmp_path / "run", max_steps=60, report=False,
                      config=_yaml(tmp_path, eval_every=1000, learning_rate=5e-3, diffusion={"ema_decay": 0.9},
                                   finetune={"min_crop_seconds": 0.5}))
    model_dir = run_finetune(job).model_dir

    def generated(folder: Path) -> torch.Tensor:
        pipe = AudioDiffusionPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)
        captured = []
        decode = pipe.latents_to_audio
        pipe.latents_to_audio = lambda latents, *args, **kw: (captured.append(latents), decode(latents, *args, **kw))[1]
        pipe(["a hum"] * 4, duration=CROP, num_inference_steps=10, guidance_scale=1.0,
             generator=[torch.Generator().manual_seed(i) for i in range(4)])
        return captured[0]

    training = LatentDataset(tmp_path / "run" / "cache")[0]["latents"][None]
    band = torch.arange(3)  # 100 Hz: mel bands 1-2 of 64, latent columns 0-2 of 32
    target = _band_share(training, band)
    before, after = _band_share(generated(tmp_path / "start"), band), _band_share(generated(model_dir), band)
    assert after > before + 0.5 * (target - before), (before, after, target)

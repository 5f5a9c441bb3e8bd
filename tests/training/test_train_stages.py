"""VAE and diffusion stages through the real loop: overfitting, exact resume, NaN stop, exports."""

from __future__ import annotations

import json

import pytest
import torch
from training_helpers import ToneDataset, tiny_train_config

from audiodiff import AudioDiffusionPipeline
from audiodiff.errors import TrainingError
from audiodiff.training.diffusion import DiffusionStage
from audiodiff.training.loop import best_record, keep_if_best, run_training
from audiodiff.training.vae import VAEStage


def _losses(stage_cls, pipeline, config, output_dir, **kwargs):
    """Run training and record the per-step losses."""
    recorded = []

    def factory(accelerator):
        stage = stage_cls(config, accelerator, pipeline, **kwargs)
        original = stage.train_step

        def step(batch, index):
            losses = original(batch, index)
            recorded.append(float(losses["loss"]))
            return losses

        stage.train_step = step
        return stage

    run_training(factory, ToneDataset(), config, output_dir)
    return recorded


def _mean(values):
    return sum(values) / len(values)


def test_vae_overfits_a_few_clips_and_exports_a_loadable_pipeline(tiny_pipeline, tmp_path):
    config = tiny_train_config(max_steps=40, eval_every=20)
    losses = _losses(VAEStage, tiny_pipeline, config, tmp_path, validation=ToneDataset(2))
    assert _mean(losses[-5:]) < 0.5 * _mean(losses[:5])
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 40 and metrics[-1]["mel_l1"] > 0
    best = min(metrics, key=lambda m: m["mel_l1"])  # keep_best: that evaluation's export is kept as best/
    assert best_record(tmp_path) == {"step": best["step"], "metric": "mel_l1", "value": best["mel_l1"]}
    assert AudioDiffusionPipeline.from_pretrained(tmp_path / "best").vae is not None
    assert (tmp_path / "samples" / "step-00000040" / "mel_0.png").is_file()
    exported = AudioDiffusionPipeline.from_pretrained(tmp_path / "model")
    for name, value in tiny_pipeline.vae.state_dict().items():
        assert torch.allclose(exported.vae.state_dict()[name], value)
    # the exported scaling factor makes the validation latents unit-variance
    from audiodiff.models.vae import encode_mel

    audio = torch.stack([item["audio"] for item in ToneDataset(2)])
    with torch.no_grad():
        latents = encode_mel(exported.vae, exported.mel.normalize(exported.mel(audio)))
    assert exported.vae.config.scaling_factor != 1.0
    assert abs(float(latents.std()) - 1.0) < 0.05


def test_diffusion_loss_falls_when_overfitting(tiny_pipeline, tmp_path):
    config = tiny_train_config(max_steps=40)
    losses = _losses(DiffusionStage, tiny_pipeline, config, tmp_path)
    assert _mean(losses[-8:]) < 0.6 * _mean(losses[:8])
    exported = AudioDiffusionPipeline.from_pretrained(tmp_path / "model")
    exported.set_progress_bar_config(disable=True)
    audio = exported("a tone at 440 hertz", duration=0.5, num_inference_steps=2).audios
    assert audio.shape == (1, 8000)


def _train_diffusion(pipeline_dir, output_dir, steps, resume):
    pipeline = AudioDiffusionPipeline.from_pretrained(pipeline_dir)
    config = tiny_train_config(max_steps=steps, checkpoint_every=3, batch_size=2)
    run_training(lambda acc: DiffusionStage(config, acc, pipeline), ToneDataset(5), config, output_dir, resume=resume)
    return pipeline.unet.state_dict()


def test_resume_after_interruption_reaches_the_same_weights(tiny_pipeline_dir, tmp_path):
    straight = _train_diffusion(tiny_pipeline_dir, tmp_path / "straight", 8, resume=False)
    _train_diffusion(tiny_pipeline_dir, tmp_path / "interrupted", 5, resume=False)  # "killed" after step 5
    resumed = _train_diffusion(tiny_pipeline_dir, tmp_path / "interrupted", 8, resume=True)
    for name, value in straight.items():
        assert torch.allclose(resumed[name], value, atol=1e-6), name


def test_non_finite_loss_stops_with_a_clear_error_and_keeps_the_checkpoint(tiny_pipeline, tmp_path):
    config = tiny_train_config(max_steps=10, checkpoint_every=2)

    def factory(accelerator):
        stage = DiffusionStage(config, accelerator, tiny_pipeline)
        original = stage.train_step

        def step(batch, index):
            losses = original(batch, index)
            return {"loss": torch.tensor(float("nan"))} if index >= 4 else losses

        stage.train_step = step
        return stage

    with pytest.raises(TrainingError, match="step 5.*step-00000004"):
        run_training(factory, ToneDataset(), config, tmp_path)
    assert (tmp_path / "checkpoints" / "step-00000004" / "state.json").is_file()


def _train_diffusion_stopped_at(pipeline_dir, output_dir, steps, stop_at):
    """Train with a stage that sends itself SIGTERM during step ``stop_at`` (as `kill PID` would)."""
    import os
    import signal

    pipeline = AudioDiffusionPipeline.from_pretrained(pipeline_dir)
    config = tiny_train_config(max_steps=steps, checkpoint_every=1000, batch_size=2)

    def factory(accelerator):
        stage = DiffusionStage(config, accelerator, pipeline)
        original = stage.train_step

        def step(batch, index):
            if index + 1 == stop_at:
                os.kill(os.getpid(), signal.SIGTERM)
            return original(batch, index)

        stage.train_step = step
        return stage

    run_training(factory, ToneDataset(5), config, output_dir)
    return pipeline.unet.state_dict()


def test_sigterm_checkpoints_exports_and_resumes_to_the_same_weights(tiny_pipeline_dir, tmp_path):
    from audiodiff.training.checkpoint import latest_checkpoint

    straight = _train_diffusion(tiny_pipeline_dir, tmp_path / "straight", 8, resume=False)
    _train_diffusion_stopped_at(tiny_pipeline_dir, tmp_path / "stopped", 8, stop_at=5)
    assert latest_checkpoint(tmp_path / "stopped").name == "step-00000005"  # not a step later, not missing
    assert (tmp_path / "stopped" / "model" / "model_index.json").is_file()  # exported on the way out
    resumed = _train_diffusion(tiny_pipeline_dir, tmp_path / "stopped", 8, resume=True)
    for name, value in straight.items():
        assert torch.allclose(resumed[name], value, atol=1e-6), name


def test_checkpoint_minutes_checkpoints_by_wall_time(tiny_pipeline, tmp_path):
    from audiodiff.training.checkpoint import latest_checkpoint

    config = tiny_train_config(max_steps=4, checkpoint_every=1000, checkpoint_minutes=1e-9, keep_checkpoints=10)
    run_training(lambda acc: DiffusionStage(config, acc, tiny_pipeline), ToneDataset(), config, tmp_path)
    written = sorted(path.name for path in (tmp_path / "checkpoints").iterdir())
    assert written == [f"step-{step:08d}" for step in range(1, 5)]
    assert latest_checkpoint(tmp_path).name == "step-00000004"


def test_max_minutes_stops_checkpoints_evaluates_exports_and_resumes(tiny_pipeline_dir, tmp_path, monkeypatch):
    """The minutes budget (the GPU bursts' stop): the step that passes it is checkpointed, evaluated and exported,
    and --resume goes on to the weights of a run that never stopped."""
    import time
    from types import SimpleNamespace

    from audiodiff.training import loop
    from audiodiff.training.checkpoint import latest_checkpoint

    straight = _train_diffusion(tiny_pipeline_dir, tmp_path / "straight", 8, resume=False)
    skew = [0.0]  # the loop's clock jumps 5 min 1 s during step 5
    monkeypatch.setattr(loop, "time", SimpleNamespace(monotonic=lambda: time.monotonic() + skew[0]))
    pipeline = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    config = tiny_train_config(max_steps=8, checkpoint_every=1000, batch_size=2, max_minutes=5.0, eval_at_start=True)

    def factory(accelerator):
        stage = DiffusionStage(config, accelerator, pipeline, validation=ToneDataset(2))
        original = stage.train_step

        def step(batch, index):
            if index + 1 == 5:
                skew[0] += 301.0
            return original(batch, index)

        stage.train_step = step
        return stage

    run = tmp_path / "budget"
    run_training(factory, ToneDataset(5), config, run)
    assert latest_checkpoint(run).name == "step-00000005"
    assert (run / "model" / "model_index.json").is_file()
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [0, 5] and metrics[-1]["noise_mse"] > 0  # the baseline and the stop
    assert best_record(run)["step"] in (0, 5)
    [logged] = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert logged["step"] == 5 and logged["loss"] > 0 and logged["steps_per_second"] > 0 and "lr/unet" in logged
    monkeypatch.undo()
    resumed = _train_diffusion(tiny_pipeline_dir, run, 8, resume=True)
    for name, value in straight.items():
        assert torch.allclose(resumed[name], value, atol=1e-6), name


def test_mask_padding_false_puts_the_padding_of_short_clips_into_the_loss(tiny_pipeline):
    from accelerate import Accelerator

    audio = torch.stack([item["audio"] for item in ToneDataset(2)])
    half = torch.ones_like(audio)
    half[:, audio.shape[1] // 2 :] = 0  # the second half is padding
    batch = {"audio": audio * half, "audio_mask": half, "caption": ["a", "b"]}
    masked = DiffusionStage(tiny_train_config(), Accelerator(cpu=True), tiny_pipeline)
    counted = DiffusionStage(tiny_train_config(mask_padding=False), Accelerator(cpu=True), tiny_pipeline)
    _, mask = masked.latents(batch)
    _, full = counted.latents(batch)
    assert 0 < float(mask.mean()) < 0.75 and float(full.mean()) == 1.0
    vae = VAEStage(tiny_train_config(mask_padding=False), Accelerator(cpu=True), tiny_pipeline)
    assert float(vae.images(batch)[1].mean()) < 0.75 and float(vae.images(batch, mask_padding=False)[1].mean()) == 1.0


class _StepStage:
    """A stage stand-in for :func:`keep_if_best`: its export writes the step it was exported at."""

    best_metric = "mel_l1"

    def __init__(self):
        self.step = 0

    def export(self, directory):
        directory.mkdir(parents=True)
        (directory / "step.txt").write_text(str(self.step))


def test_keep_if_best_keeps_the_lowest_evaluation_across_resumes(tmp_path):
    stage = _StepStage()
    kept = []
    for step, value in [(10, 0.5), (20, 0.3), (30, 0.4), (40, 0.3)]:  # a tie does not replace the kept one
        stage.step = step
        kept.append(keep_if_best(stage, tmp_path, step, {"mel_l1": value, "other": 0.0}))
    assert kept == [True, True, False, False]
    assert (tmp_path / "best" / "step.txt").read_text() == "20"
    # a resumed run (a new stage object) compares against the record in the folder
    stage = _StepStage()
    stage.step = 50
    assert not keep_if_best(stage, tmp_path, 50, {"mel_l1": 0.35})
    stage.step = 60
    assert keep_if_best(stage, tmp_path, 60, {"mel_l1": 0.1})
    assert best_record(tmp_path) == {"step": 60, "metric": "mel_l1", "value": 0.1}
    assert (tmp_path / "best" / "step.txt").read_text() == "60"
    assert not keep_if_best(stage, tmp_path, 70, {"noise_mse": 0.0})  # no best_metric among the metrics
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]

"""Decoder-only VAE training (issue 20, step 1): the encoder, quant conv and scaling factor stay exactly as
loaded in memory, in checkpoints and in the export, while the decoder learns."""

from __future__ import annotations

import json
import math

import torch
from safetensors.torch import load_file
from training_helpers import ToneDataset, tiny_train_config

from audiodiff import AudioDiffusionPipeline
from audiodiff.training.checkpoint import latest_checkpoint
from audiodiff.training.config import VAETrainConfig
from audiodiff.training.loop import run_training
from audiodiff.training.vae import VAEStage

DECODER_ONLY = VAETrainConfig(train_encoder=False, gradient_weight=1.0, disc_start=3, feature_weight=1.0,
                              latent_noise=0.1)


def _train(pipeline, config, output_dir, validation=None):
    recorded = []

    def factory(accelerator):
        stage = VAEStage(config, accelerator, pipeline, validation)
        original = stage.train_step

        def step(batch, index):
            losses = original(batch, index)
            recorded.append({name: float(value) for name, value in losses.items()})
            return losses

        stage.train_step = step
        return stage

    run_training(factory, ToneDataset(), config, output_dir)
    return recorded


def _frozen(state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix) and k[len(prefix):].startswith(("encoder.", "quant_conv."))}


def test_decoder_only_training_leaves_the_encoder_untouched(tiny_pipeline, tiny_pipeline_dir, tmp_path):
    start = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir).vae.state_dict()
    config = tiny_train_config(max_steps=6, checkpoint_every=6, eval_every=6, vae=DECODER_ONLY)
    losses = _train(tiny_pipeline, config, tmp_path, validation=ToneDataset(2))
    assert "kl" not in losses[0] and {"gradient", "adversarial", "feature", "disc"} <= set(losses[-1])

    exported = AudioDiffusionPipeline.from_pretrained(tmp_path / "model").vae
    checkpointed = load_file(str(latest_checkpoint(tmp_path) / "modules.safetensors"))
    for weights in (tiny_pipeline.vae.state_dict(), exported.state_dict(), _frozen(checkpointed, "vae.vae.")):
        frozen = _frozen(weights)
        assert frozen and frozen.keys() == _frozen(start).keys()
        assert all(torch.equal(frozen[k], start[k]) for k in frozen)
    assert not torch.equal(exported.state_dict()["decoder.conv_out.weight"], start["decoder.conv_out.weight"])
    assert exported.config.scaling_factor == tiny_pipeline.vae.config.scaling_factor  # not re-estimated

    metrics = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert metrics["mel_l1"] > 0 and math.isfinite(metrics["harmonic_contrast"])
    assert metrics["harmonic_contrast_real"] > 0


def test_decoder_only_loss_falls_when_overfitting(tiny_pipeline, tmp_path):
    config = tiny_train_config(max_steps=130, vae=VAETrainConfig(train_encoder=False, gradient_weight=0.5))
    l1 = [step["mel_l1"] for step in _train(tiny_pipeline, config, tmp_path)]
    # past the quick fall to the clips' mean (about step 10; the random encoder's latents are all it has)
    assert sum(l1[-5:]) < 0.7 * sum(l1[10:15]) < 0.7 * sum(l1[:5])


def test_the_discriminator_learns_from_its_own_loss_only(tiny_pipeline):
    """The generator's adversarial backward also reaches the discriminator's weights; its step must not use that."""
    from accelerate import Accelerator

    from audiodiff.training.losses import discriminator_loss

    config = tiny_train_config(max_grad_norm=None, vae=VAETrainConfig(train_encoder=False, disc_start=0))
    stage = VAEStage(config, Accelerator(cpu=True), tiny_pipeline)
    seen, grads = {}, {}
    original = stage._discriminator_step

    def record(real, fake):
        seen.update(real=real, fake=fake)
        return original(real, fake)

    stage._discriminator_step = record
    stage.disc_optimizer.step = lambda: grads.update(
        {n: p.grad.clone() for n, p in stage.discriminator.named_parameters()})
    batch = {"audio": torch.stack([item["audio"] for item in ToneDataset(2)]), "audio_mask": torch.ones(2, 5120)}
    stage.train_step(batch, 0)
    loss = discriminator_loss([stage.discriminator(seen["real"])], [stage.discriminator(seen["fake"])])
    expected = torch.autograd.grad(loss, list(stage.discriminator.parameters()))
    for (name, _), want in zip(stage.discriminator.named_parameters(), expected):
        assert torch.allclose(grads[name], want, atol=1e-6), name


def test_decoder_only_run_resumes_to_the_same_weights(tiny_pipeline_dir, tmp_path):
    """Latent noise, the discriminator and its optimiser all come back exactly from a checkpoint."""

    def train(output_dir, steps, resume):
        pipeline = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
        config = tiny_train_config(max_steps=steps, checkpoint_every=3, batch_size=2, vae=DECODER_ONLY)
        run_training(lambda acc: VAEStage(config, acc, pipeline), ToneDataset(5), config, output_dir, resume=resume)
        return pipeline.vae.state_dict()

    straight = train(tmp_path / "straight", 7, resume=False)
    train(tmp_path / "interrupted", 4, resume=False)  # "killed" after step 4
    resumed = train(tmp_path / "interrupted", 7, resume=True)
    for name, value in straight.items():
        assert torch.allclose(resumed[name], value, atol=1e-6), name


def _train_scheduled(pipeline_dir, output_dir, resume=False, stop_at=None):
    """Decoder-only training, 6 steps, cosine with 2 warm-up steps; records the VAE's and the discriminator's
    learning rate at each step; ``stop_at`` sends SIGTERM during that step (as `kill PID` would)."""
    import os
    import signal

    pipeline = AudioDiffusionPipeline.from_pretrained(pipeline_dir)
    config = tiny_train_config(max_steps=6, checkpoint_every=1000, batch_size=2, vae=DECODER_ONLY,
                               lr_schedule="cosine", lr_warmup_steps=2, learning_rate=1e-3)
    rates = []

    def factory(accelerator):
        stage = VAEStage(config, accelerator, pipeline)
        original = stage.train_step

        def step(batch, index):
            rates.append((index, *(o.param_groups[0]["lr"] for o in stage.optimizers().values())))
            if stop_at is not None and index + 1 == stop_at:
                os.kill(os.getpid(), signal.SIGTERM)
            return original(batch, index)

        stage.train_step = step
        return stage

    run_training(factory, ToneDataset(5), config, output_dir, resume=resume)
    return pipeline.vae.state_dict(), rates


def test_lr_schedule_is_followed_and_resumes_exactly(tiny_pipeline_dir, tmp_path):
    straight, rates = _train_scheduled(tiny_pipeline_dir, tmp_path / "straight")
    # diffusers' cosine with warm-up: linear up over 2 steps, then half a cosine down to 0 at step 6
    expected = [1e-3 * (i / 2 if i < 2 else 0.5 * (1 + math.cos(math.pi * (i - 2) / 4))) for i in range(6)]
    assert [r[0] for r in rates] == list(range(6))
    for (_, vae_lr, disc_lr), lr in zip(rates, expected):
        assert math.isclose(vae_lr, lr, abs_tol=1e-12) and math.isclose(disc_lr, lr, abs_tol=1e-12)
    _train_scheduled(tiny_pipeline_dir, tmp_path / "stopped", stop_at=4)
    resumed, rates = _train_scheduled(tiny_pipeline_dir, tmp_path / "stopped", resume=True)
    assert [r[0] for r in rates] == [4, 5] and math.isclose(rates[0][1], expected[4], abs_tol=1e-12)
    for name, value in straight.items():
        assert torch.allclose(resumed[name], value, atol=1e-6), name

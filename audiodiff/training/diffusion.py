"""Latent diffusion stage: train the U-Net eps_theta(z_t, t, tau) with the VAE and text encoder frozen.

Loss ``||eps_theta(z_t, t, tau) - eps||^2`` over real latent frames (Ho et al. 2020;
as in AudioLDM and Auffusion), or the v-target (Salimans & Ho 2022), optionally
Min-SNR-gamma weighted (Hang et al. 2023).  Captions are dropped to ``""`` with
probability ``caption_dropout`` so classifier-free guidance works (Ho & Salimans 2022).
The U-Net's weights are averaged (EMA) and the EMA weights are exported.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any, Protocol

import torch
from accelerate import Accelerator
from diffusers import DDPMScheduler, UNet2DConditionModel
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from torch import nn

from ..models import vae as vaes
from ..models.text_encoder import encode_text
from ..models.unet import downsampling_factor, text_inputs
from ..pipeline import AudioDiffusionPipeline
from .checkpoint import flatten_state, unflatten_state
from .common import export_pipeline, frame_mask, step_generator
from .config import TrainConfig
from .diffusion_math import masked_mse, min_snr_weights, q_sample, snr, training_target
from .preview import generate_previews, tensorboard_writer
from .stage import TrainingStage

log = logging.getLogger(__name__)


class TextConditioner(Protocol):
    """Captions -> token states ``(batch, tokens, hidden)`` and mask ``(batch, tokens)``."""

    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]: ...


def live_conditioner(pipeline: AudioDiffusionPipeline, device: torch.device) -> TextConditioner:
    """Encode captions with the pipeline's (frozen) text encoder."""
    text_encoder = pipeline.text_encoder.to(device).eval().requires_grad_(False)

    def encode(captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return encode_text(text_encoder, pipeline.tokenizer, captions, pipeline.config.max_text_length, device,
                           embedding=pipeline.config.text_embedding)

    return encode


class DiffusionStage(TrainingStage):
    """Trains ``pipeline.unet`` (full weights, or only LoRA adapters when the U-Net has them).

    Args:
        pipeline: the starting pipeline; its VAE and text encoder stay frozen.
        conditioner: captions -> text states; default :func:`live_conditioner` (a
            :class:`~audiodiff.data.cache.TextStateCache` lookup also fits).
        validation: examples (``audio``/``audio_mask`` or ``latents``/``latents_mask``, and ``caption``)
            for the validation noise-MSE by timestep bucket.
        use_ema: keep an EMA of the trained weights (off for LoRA fine-tuning).
    """

    name = "diffusion"
    best_metric = "noise_mse"
    NUM_BUCKETS = 5

    def __init__(
        self,
        config: TrainConfig,
        accelerator: Accelerator,
        pipeline: AudioDiffusionPipeline,
        conditioner: TextConditioner | None = None,
        validation: Any | None = None,
        use_ema: bool = True,
    ):
        super().__init__(config, accelerator)
        self.pipeline = pipeline
        self.settings = config.diffusion
        device = accelerator.device
        self.unet: UNet2DConditionModel = pipeline.unet.train()
        if self.settings.gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
        self.vae = pipeline.vae.to(device).eval().requires_grad_(False)
        self.mel = pipeline.mel.to(device)
        self.conditioner = conditioner or live_conditioner(pipeline, device)
        self.validation = validation
        self.noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
        self.prediction_type = self.settings.prediction_type or self.noise_scheduler.config.prediction_type
        if self.prediction_type != self.noise_scheduler.config.prediction_type:
            self.noise_scheduler.register_to_config(prediction_type=self.prediction_type)
            pipeline.scheduler.register_to_config(prediction_type=self.prediction_type)
        self.alphas_cumprod = self.noise_scheduler.alphas_cumprod.to(device)
        self.trainable = [p for p in self.unet.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.trainable, lr=config.learning_rate, betas=tuple(config.adam_betas), weight_decay=config.weight_decay
        )
        self.lr_scheduler = get_scheduler(
            config.lr_schedule, self.optimizer, num_warmup_steps=config.lr_warmup_steps, num_training_steps=config.max_steps
        )
        self.ema = EMAModel(self.trainable, decay=self.settings.ema_decay) if use_ema else None

    def modules(self) -> dict[str, nn.Module]:
        return {"unet": self.unet}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"unet": self.optimizer}

    def lr_schedulers(self) -> dict[str, Any]:
        return {"unet": self.lr_scheduler}

    def prepare(self) -> None:
        self.unet, self.optimizer, self.lr_scheduler = self.accelerator.prepare(self.unet, self.optimizer, self.lr_scheduler)
        if self.ema is not None:
            self.ema.to(self.accelerator.device)

    # ------------------------------------------------------------------ data -> latents
    @torch.no_grad()
    def latents(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled clean latents ``(batch, C, h, w)`` with ``h`` padded to the U-Net's multiple, and a frame
        mask ``(batch, 1, h, 1)`` that is 1 on latent frames covering real audio."""
        device = self.accelerator.device
        if "latents" in batch:
            z0, mask = batch["latents"].to(device), batch["latents_mask"].to(device).float()
        else:
            z0 = self.pipeline.audio_to_latents(batch["audio"])
            factor = vaes.downsampling_factor(self.vae)
            mask = frame_mask(batch["audio_mask"].to(device), self.mel.config.hop_length * factor, z0.shape[2])
        if not self.config.mask_padding:  # short clips' padding counts: the U-Net learns the silence after them
            mask = torch.ones_like(mask)
        multiple = downsampling_factor(self.accelerator.unwrap_model(self.unet))
        extra = -z0.shape[2] % multiple
        z0 = torch.nn.functional.pad(z0, (0, 0, 0, extra))
        mask = torch.nn.functional.pad(mask, (0, extra))
        return z0.float(), mask[:, None, :, None]

    def conditioning(self, captions: list[str], generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states for ``captions``, each replaced by ``""`` with probability ``caption_dropout`` (when a generator is given)."""
        if generator is not None and self.settings.caption_dropout > 0:
            drop = torch.rand(len(captions), generator=generator) < self.settings.caption_dropout
            captions = ["" if d else c for c, d in zip(captions, drop.tolist())]
        states, mask = self.conditioner(list(captions))
        return states.to(self.accelerator.device), mask.to(self.accelerator.device)

    # ------------------------------------------------------------------ the objective
    def loss(self, z0: torch.Tensor, mask: torch.Tensor, states: torch.Tensor, text_mask: torch.Tensor,
             noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """The (weighted) noise-prediction MSE for given noise and timesteps ``(batch,)``."""
        z_t = q_sample(self.alphas_cumprod, z0, noise, timesteps)
        target = training_target(self.alphas_cumprod, z0, noise, timesteps, self.prediction_type)
        text = text_inputs(self.pipeline.unet.config, states, text_mask)
        prediction = self.unet(z_t, timesteps, **text).sample
        weights = min_snr_weights(snr(self.alphas_cumprod, timesteps), self.settings.min_snr_gamma, self.prediction_type)
        return masked_mse(prediction, target, mask, weights)

    def train_step(self, batch: dict[str, Any], step: int) -> dict[str, torch.Tensor]:
        generator = step_generator(self.config.seed, step, self.accelerator.process_index)
        z0, mask = self.latents(batch)
        states, text_mask = self.conditioning(list(batch["caption"]), generator)
        noise = torch.randn(z0.shape, generator=generator).to(z0.device)
        timesteps = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (z0.shape[0],), generator=generator)
        with self.accelerator.accumulate(self.unet):
            with self.accelerator.autocast():
                loss = self.loss(z0, mask, states, text_mask, noise, timesteps.to(z0.device))
            self.accelerator.backward(loss)
            if self.config.max_grad_norm and self.accelerator.sync_gradients:
                self.accelerator.clip_grad_norm_(self.trainable, self.config.max_grad_norm)
            self.optimizer.step()
            self.lr_scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None and self.accelerator.sync_gradients:
            self.ema.step(self.trainable)
        return {"loss": loss.detach()}

    # ------------------------------------------------------------------ evaluation and export
    @torch.no_grad()
    def validation_loss_by_bucket(self, seed: int = 0) -> dict[str, float]:
        """Validation noise-MSE in ``NUM_BUCKETS`` equal timestep ranges, same noise every call (with EMA weights)."""
        if self.validation is None or len(self.validation) == 0:
            return {}
        generator = torch.Generator().manual_seed(seed)
        total_steps = self.noise_scheduler.config.num_train_timesteps
        edges = torch.linspace(0, total_steps, self.NUM_BUCKETS + 1).long()
        sums = torch.zeros(self.NUM_BUCKETS)
        with self.ema_weights():
            self.unet.eval()
            for i in range(len(self.validation)):
                item = self.validation[i]
                batch = {k: (v[None] if isinstance(v, torch.Tensor) else [v]) for k, v in item.items()}
                z0, mask = self.latents(batch)
                states, text_mask = self.conditioning([item["caption"]], None)
                for b in range(self.NUM_BUCKETS):
                    t = torch.randint(int(edges[b]), int(edges[b + 1]), (1,), generator=generator)
                    noise = torch.randn(z0.shape, generator=generator).to(z0.device)
                    sums[b] += float(self.loss(z0, mask, states, text_mask, noise, t.to(z0.device)))
            self.unet.train()
        means = sums / len(self.validation)
        metrics = {f"noise_mse_t{int(edges[b])}-{int(edges[b + 1])}": float(means[b]) for b in range(self.NUM_BUCKETS)}
        metrics["noise_mse"] = float(means.mean())
        return metrics

    def evaluate(self, step: int, output_dir: Path) -> dict[str, float]:
        metrics = self.validation_loss_by_bucket()
        if self.pipeline.text_encoder is not None and self.settings.sample_prompts:
            self.write_samples(output_dir, step)
        return metrics

    @torch.no_grad()
    def write_samples(self, output_dir: Path, step: int = 0) -> None:
        """Generate one clip per fixed prompt (seed 0, EMA weights) into ``output_dir`` as WAV and log-mel PNG,
        and to TensorBoard (:func:`~audiodiff.training.preview.generate_previews`)."""
        with self.ema_weights():
            pipe = self.export_pipeline_object()
            generate_previews(pipe, self.settings.sample_prompts, output_dir, self.settings.sample_duration,
                              self.settings.sample_steps, writer=tensorboard_writer(self.accelerator), step=step)
        self.unet.train()

    def ema_weights(self) -> "_SwapWeights":
        """Context manager: the U-Net holds the EMA weights inside, its own outside."""
        return _SwapWeights(self.ema, self.trainable)

    def export_pipeline_object(self) -> AudioDiffusionPipeline:
        """The pipeline with the current U-Net (LoRA merged into a copy when present)."""
        unet = self.accelerator.unwrap_model(self.unet)
        if getattr(unet, "peft_config", None):
            unet = copy.deepcopy(unet)
            unet.fuse_lora()
            unet.unload_lora()
        self.pipeline.unet = unet
        self.pipeline.register_modules(unet=unet)
        return self.pipeline.to(self.accelerator.device)

    def export(self, directory: Path) -> None:
        with self.ema_weights():
            pipe = self.export_pipeline_object()
            export_pipeline(pipe, directory, self.config.max_shard_size, unet=pipe.unet.eval())
        self.unet.train()  # a keep_best export comes mid-run: training goes on in train mode

    def extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        if self.ema is None:
            return {}, {}
        tensors: dict[str, torch.Tensor] = {}
        return tensors, {"ema": flatten_state(self.ema.state_dict(), "ema.", tensors)}

    def load_extra_state(self, tensors: dict[str, torch.Tensor], data: dict[str, Any]) -> None:
        if self.ema is not None and "ema" in data:
            state = unflatten_state(data["ema"], tensors)
            self.ema.load_state_dict(state)
            self.ema.to(self.accelerator.device)


class _SwapWeights:
    """Temporarily copy EMA weights into ``parameters`` (no-op without EMA)."""

    def __init__(self, ema: EMAModel | None, parameters: list[torch.nn.Parameter]):
        self.ema, self.parameters = ema, parameters

    def __enter__(self) -> None:
        if self.ema is not None:
            self.ema.store(self.parameters)
            self.ema.copy_to(self.parameters)

    def __exit__(self, *exc: object) -> None:
        if self.ema is not None:
            self.ema.restore(self.parameters)

"""VAE stage: reconstruct normalised log-mels through the latent bottleneck.

Loss (Rombach et al. 2022, appendix G; as AudioLDM trains its mel VAE):
``L1(x, x_hat)`` over real (unpadded) frames ``+ kl_weight * KL(q(z|x) || N(0, I))``, and
after ``disc_start`` steps a PatchGAN discriminator's least-squares adversarial term
weighted by ``disc_weight``; optionally ``gradient_weight`` x the multi-scale gradient difference loss
(:func:`~audiodiff.training.losses.multiscale_gradient_loss`) and ``feature_weight`` x discriminator feature
matching.  With ``vae.train_encoder: false`` only the decoder learns (no KL term; the encoder, quant conv
and latent ``scaling_factor`` are exported as loaded), so the shipped U-Net's latent space stays valid.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from diffusers import AutoencoderKL
from diffusers.optimization import get_scheduler
from torch import nn
from torch.utils.data import Dataset

from ..errors import IncompatibleModelError
from ..mel import MelSpectrogram
from ..models.patch_discriminator import PatchDiscriminator
from ..models.vae import downsampling_factor, pad_frames
from ..pipeline import AudioDiffusionPipeline
from ..evaluation.harmonic_contrast import ContrastTotals, harmonic_contrast, voiced_frames
from .common import export_pipeline, frame_mask, masked_mean, step_generator
from .config import TrainConfig
from .losses import discriminator_loss, feature_matching_loss, generator_adversarial_loss, multiscale_gradient_loss
from .stage import TrainingStage
from .visuals import save_mel_comparison

log = logging.getLogger(__name__)

NUM_EVAL_IMAGES = 2


class Reconstruction(nn.Module):
    """``AutoencoderKL`` encode -> reparameterised sample -> decode in one ``forward``, so DDP sees one call.

    ``forward(image, noise, extra_noise)`` returns ``(reconstruction, mean, logvar)``; image
    ``(batch, 1, frames, n_mels)``; the decoder sees ``mean + std * noise (+ extra_noise)``, latent-shaped.
    With ``train_encoder=False`` the encoder and quant conv are frozen (no gradients, run without autograd).
    """

    def __init__(self, vae: AutoencoderKL, train_encoder: bool = True):
        super().__init__()
        self.vae = vae
        self.train_encoder = train_encoder
        vae.requires_grad_(True)  # whatever an earlier stage froze
        if not train_encoder:
            for module in frozen_modules(vae):
                module.requires_grad_(False)

    def forward(self, image: torch.Tensor, noise: torch.Tensor, extra_noise: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.set_grad_enabled(self.train_encoder and torch.is_grad_enabled()):
            posterior = self.vae.encode(image).latent_dist
        latents = posterior.mean + posterior.std * noise.to(posterior.mean)
        if extra_noise is not None:
            latents = latents + extra_noise.to(latents)
        return self.vae.decode(latents).sample, posterior.mean, posterior.logvar

    def noise_shape(self, image: torch.Tensor) -> tuple[int, ...]:
        """Latent shape for ``image``."""
        factor = downsampling_factor(self.vae)
        b, _, h, w = image.shape
        return (b, self.vae.config.latent_channels, h // factor, w // factor)


def frozen_modules(vae: AutoencoderKL) -> list[nn.Module]:
    """What decoder-only training keeps fixed: the encoder and the quant conv (when the VAE has one)."""
    return [m for m in (vae.encoder, getattr(vae, "quant_conv", None)) if m is not None]


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) averaged over every latent element (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()


class VAEStage(TrainingStage):
    """Trains ``pipeline.vae`` on log-mels made by ``pipeline.mel``; exports the whole pipeline.

    Args:
        pipeline: the starting pipeline (its VAE is trained in place; other parts are untouched).
        validation: a dataset of validation examples (``audio``, ``audio_mask``), or None.
    """

    name = "vae"
    best_metric = "mel_l1"

    def __init__(self, config: TrainConfig, accelerator: Accelerator, pipeline: AudioDiffusionPipeline, validation: Dataset | None = None):
        super().__init__(config, accelerator)
        if pipeline.vae.config.in_channels != 1 or pipeline.mel.config.image_layout != "frames_by_mels":
            raise IncompatibleModelError(
                f"VAE training works on one-channel frames-by-mels VAEs; this one has {pipeline.vae.config.in_channels} "
                f"channels and image_layout {pipeline.mel.config.image_layout!r} (a converted Auffusion model). "
                "Keep its VAE and fine-tune the U-Net instead (`audiodiff finetune`)."
            )
        self.pipeline = pipeline
        self.settings = config.vae
        self.vae = Reconstruction(pipeline.vae.train(), train_encoder=self.settings.train_encoder)
        self.mel: MelSpectrogram = pipeline.mel.to(accelerator.device)
        self.validation = validation
        self.use_discriminator = config.vae.disc_start >= 0
        betas = tuple(config.adam_betas)
        trained = [p for p in self.vae.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trained, lr=config.learning_rate, betas=betas,
                                           weight_decay=config.weight_decay)
        self._modules: dict[str, nn.Module] = {"vae": self.vae}
        self._optimizers: dict[str, torch.optim.Optimizer] = {"vae": self.optimizer}
        if self.use_discriminator:
            self.discriminator = PatchDiscriminator()
            self.disc_optimizer = torch.optim.AdamW(self.discriminator.parameters(), lr=config.learning_rate, betas=betas)
            self._modules["discriminator"] = self.discriminator
            self._optimizers["discriminator"] = self.disc_optimizer
        # lr_schedule / lr_warmup_steps by the global step, for the VAE and the discriminator alike; none for a
        # constant rate without warm-up, so runs checkpointed before schedules existed still resume
        self._schedulers: dict[str, Any] = {}
        if config.lr_schedule != "constant" or config.lr_warmup_steps > 0:
            self._schedulers = {
                name: get_scheduler(config.lr_schedule, optimizer, num_warmup_steps=config.lr_warmup_steps,
                                    num_training_steps=config.max_steps)
                for name, optimizer in self._optimizers.items()
            }

    def modules(self) -> dict[str, nn.Module]:
        return self._modules

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def lr_schedulers(self) -> dict[str, Any]:
        return self._schedulers

    def prepare(self) -> None:
        names, scheduler_names = list(self._modules), list(self._schedulers)
        prepared = self.accelerator.prepare(*self._modules.values(), *self._optimizers.values(),
                                            *self._schedulers.values())
        self._modules = dict(zip(names, prepared[: len(names)]))
        self._optimizers = dict(zip(names, prepared[len(names) : 2 * len(names)]))
        self._schedulers = dict(zip(scheduler_names, prepared[2 * len(names) :]))
        self.vae = self._modules["vae"]
        self.optimizer = self._optimizers["vae"]

    def images(self, batch: dict[str, Any], mask_padding: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised log-mel images ``(batch, 1, frames_padded, n_mels)`` and frame masks ``(batch, 1, frames_padded, 1)``
        (1 on frames of real audio; on every frame of the crop when ``mask_padding`` is False)."""
        audio = batch["audio"].to(self.accelerator.device)
        mel = self.mel.normalize(self.mel(audio))
        audio_mask = batch["audio_mask"].to(audio.device)
        if not mask_padding:  # the padding counts: the VAE learns to reconstruct silence
            audio_mask = torch.ones_like(audio_mask)
        mask = frame_mask(audio_mask, self.mel.config.hop_length, mel.shape[-1])
        factor = downsampling_factor(self.pipeline.vae)
        image = pad_frames(mel.transpose(1, 2).unsqueeze(1), factor)
        mask = torch.nn.functional.pad(mask, (0, image.shape[2] - mask.shape[1]))
        return image, mask[:, None, :, None]

    def latent_noise(self, image: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The reparameterisation noise ``eps`` and the extra latent noise (None when ``latent_noise`` is 0): per
        clip ``sigma ~ U[0, latent_noise]`` times ``N(0, I)``, divided by ``scaling_factor`` so that ``sigma`` is in
        the units of the scaled latents (conditioning augmentation, Ho et al. 2022, "Cascaded Diffusion Models",
        sec. 4.1: train the next stage on corrupted inputs so it tolerates the previous stage's errors)."""
        shape = self.accelerator.unwrap_model(self.vae).noise_shape(image)
        noise = torch.randn(shape, generator=generator)
        if self.settings.latent_noise == 0:
            return noise.to(image.device), None
        sigma = torch.rand(shape[0], generator=generator) * self.settings.latent_noise
        extra = sigma[:, None, None, None] * torch.randn(shape, generator=generator)
        extra = extra / self.pipeline.vae.config.scaling_factor
        return noise.to(image.device), extra.to(image.device)

    def train_step(self, batch: dict[str, Any], step: int) -> dict[str, torch.Tensor]:
        image, mask = self.images(batch, self.config.mask_padding)
        generator = step_generator(self.config.seed, step, self.accelerator.process_index)
        settings = self.settings
        adversarial = self.use_discriminator and step >= settings.disc_start
        with self.accelerator.accumulate(self.vae):
            noise, extra_noise = self.latent_noise(image, generator)
            with self.accelerator.autocast():
                recon, mean, logvar = self.vae(image, noise, extra_noise)
                recon = recon.float()
                l1 = masked_mean((recon - image).abs(), mask)
                loss, losses = l1, {"mel_l1": l1}
                if settings.train_encoder:
                    losses["kl"] = kl_divergence(mean.float(), logvar.float())
                    loss = loss + settings.kl_weight * losses["kl"]
                if settings.gradient_weight > 0:
                    losses["gradient"] = multiscale_gradient_loss(recon, image, mask, settings.gradient_scales)
                    loss = loss + settings.gradient_weight * losses["gradient"]
                if adversarial:
                    losses.update(self._generator_adversarial_losses(image, recon))
                    loss = loss + settings.disc_weight * losses["adversarial"]
                    if "feature" in losses:
                        loss = loss + settings.feature_weight * losses["feature"]
            self.accelerator.backward(loss)
            self._clip(self.vae)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        losses = {"loss": loss.detach()} | {name: value.detach() for name, value in losses.items()}
        if adversarial:
            losses["disc"] = self._discriminator_step(image, recon.detach())
        with warnings.catch_warnings():  # the discriminator's rate follows the global step before it first steps
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            for scheduler in self._schedulers.values():
                scheduler.step()
        return losses

    def _generator_adversarial_losses(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """LS adversarial loss of the reconstruction (HiFi-GAN eq. 2), and feature matching against the real image
        (eq. 4) when ``feature_weight`` > 0."""
        if self.settings.feature_weight == 0:
            return {"adversarial": generator_adversarial_loss([self.discriminator(fake)])}
        fake_logits, fake_features = self.discriminator(fake, return_features=True)
        with torch.no_grad():
            _, real_features = self.discriminator(real, return_features=True)
        return {"adversarial": generator_adversarial_loss([fake_logits]),
                "feature": feature_matching_loss([real_features], [fake_features])}

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        self.disc_optimizer.zero_grad(set_to_none=True)  # drop what the generator's backward left in its grads
        with self.accelerator.autocast():
            loss = discriminator_loss([self.discriminator(real)], [self.discriminator(fake)])
        self.accelerator.backward(loss)
        self._clip(self.discriminator)
        self.disc_optimizer.step()
        self.disc_optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    def _clip(self, module: nn.Module) -> None:
        if self.config.max_grad_norm and self.accelerator.sync_gradients:
            self.accelerator.clip_grad_norm_(module.parameters(), self.config.max_grad_norm)

    @torch.no_grad()
    def evaluate(self, step: int, output_dir: Path) -> dict[str, float]:
        """Validation mel L1 in log-mel units (natural log), against the identity, and the harmonic contrast of the
        reconstructions against the real clips' on their pitched frames (:mod:`audiodiff.evaluation.harmonic_contrast`;
        ``harmonic_contrast`` is the ratio, 1 when as sharp, ``harmonic_contrast_real`` the real clips' mean in
        nepers; both NaN without a pitched frame); writes mel images."""
        if self.validation is None or len(self.validation) == 0:
            return {}
        vae = self.pipeline.vae.eval()
        total, count, contrast = 0.0, 0, ContrastTotals()
        for i in range(len(self.validation)):
            item = self.validation[i]
            batch = {"audio": item["audio"][None], "audio_mask": item["audio_mask"][None]}
            image, mask = self.images(batch)
            recon = vae.decode(vae.encode(image).latent_dist.mode()).sample.float()
            error = masked_mean((recon - image).abs(), mask) * self.mel.config.mel_std
            total, count = total + float(error), count + 1
            contrast = contrast + self._harmonic_contrast(batch["audio"], image, recon, mask)
            if i < NUM_EVAL_IMAGES:
                save_mel_comparison(output_dir / f"mel_{i}.png", image[0, 0].T, recon[0, 0].T)
        vae.train()
        return {"mel_l1": total / count, "harmonic_contrast": contrast.ratio,
                "harmonic_contrast_real": contrast.real_mean}

    def _harmonic_contrast(self, audio: torch.Tensor, image: torch.Tensor, recon: torch.Tensor,
                           mask: torch.Tensor) -> ContrastTotals:
        """Contrast totals of one clip: images ``(1, 1, frames, n_mels)`` back to log-mels, real pitched frames only."""
        real, predicted = (self.mel.denormalize(x[:, 0].transpose(1, 2)) for x in (image, recon))
        frames = real.shape[-1]
        cfg = self.mel.config
        pitched = voiced_frames(audio.to(real.device), cfg.hop_length, frames, cfg.sample_rate)
        return harmonic_contrast(predicted, real, pitched & mask[:, 0, :, 0].bool())

    @torch.no_grad()
    def latent_scaling_factor(self) -> float | None:
        """``1 / std`` of the (unscaled) posterior-mean latents of the validation clips, so diffusion sees
        unit-variance latents (Rombach et al. 2022, sec. 3.1 and appendix G); None without validation clips."""
        if self.validation is None or len(self.validation) == 0:
            return None
        vae = self.pipeline.vae.eval()
        latents = []
        for i in range(len(self.validation)):
            item = self.validation[i]
            image, _ = self.images({"audio": item["audio"][None], "audio_mask": item["audio_mask"][None]})
            latents.append(vae.encode(image).latent_dist.mode().flatten())
        return float(1.0 / torch.cat(latents).std().clamp(min=1e-6))

    def export(self, directory: Path) -> None:
        """Write the pipeline with the trained VAE, its ``scaling_factor`` set from the validation latents (kept as
        loaded when the encoder was frozen: the U-Net was trained on latents scaled by it)."""
        scale = self.latent_scaling_factor() if self.settings.train_encoder else None
        if not self.settings.train_encoder:
            log.info("Decoder-only training: the VAE keeps its scaling_factor %s.",
                     self.pipeline.vae.config.scaling_factor)
        elif scale is None:
            log.warning("No validation clips: keeping the VAE's scaling_factor %s.", self.pipeline.vae.config.scaling_factor)
        else:
            self.pipeline.vae.register_to_config(scaling_factor=scale)
            log.info("VAE latent scaling_factor set to %.4g", scale)
        export_pipeline(self.pipeline, directory, self.config.max_shard_size, vae=self.pipeline.vae.eval())

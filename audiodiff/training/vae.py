"""VAE stage: reconstruct normalised log-mels through the latent bottleneck.

Loss (Rombach et al. 2022, appendix G; as AudioLDM trains its mel VAE):
``L1(x, x_hat)`` over real (unpadded) frames ``+ kl_weight * KL(q(z|x) || N(0, I))``, and
after ``disc_start`` steps a PatchGAN discriminator's least-squares adversarial term
weighted by ``disc_weight``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from diffusers import AutoencoderKL
from torch import nn
from torch.utils.data import Dataset

from ..errors import IncompatibleModelError
from ..mel import MelSpectrogram
from ..models.patch_discriminator import PatchDiscriminator
from ..models.vae import downsampling_factor, pad_frames
from ..pipeline import AudioDiffusionPipeline
from .common import export_pipeline, frame_mask, masked_mean, step_generator
from .config import TrainConfig
from .losses import discriminator_loss, generator_adversarial_loss
from .stage import TrainingStage
from .visuals import save_mel_comparison

log = logging.getLogger(__name__)

NUM_EVAL_IMAGES = 2


class Reconstruction(nn.Module):
    """``AutoencoderKL`` encode -> reparameterised sample -> decode in one ``forward``, so DDP sees one call.

    ``forward(image, noise)`` returns ``(reconstruction, mean, logvar)``; image ``(batch, 1, frames, n_mels)``.
    """

    def __init__(self, vae: AutoencoderKL):
        super().__init__()
        self.vae = vae

    def forward(self, image: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        posterior = self.vae.encode(image).latent_dist
        latents = posterior.mean + posterior.std * noise.to(posterior.mean)
        return self.vae.decode(latents).sample, posterior.mean, posterior.logvar

    def noise_shape(self, image: torch.Tensor) -> tuple[int, ...]:
        """Latent shape for ``image``."""
        factor = downsampling_factor(self.vae)
        b, _, h, w = image.shape
        return (b, self.vae.config.latent_channels, h // factor, w // factor)


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

    def __init__(self, config: TrainConfig, accelerator: Accelerator, pipeline: AudioDiffusionPipeline, validation: Dataset | None = None):
        super().__init__(config, accelerator)
        if pipeline.vae.config.in_channels != 1 or pipeline.mel.config.image_layout != "frames_by_mels":
            raise IncompatibleModelError(
                f"VAE training works on one-channel frames-by-mels VAEs; this one has {pipeline.vae.config.in_channels} "
                f"channels and image_layout {pipeline.mel.config.image_layout!r} (a converted Auffusion model). "
                "Keep its VAE and fine-tune the U-Net instead (`audiodiff finetune`)."
            )
        self.pipeline = pipeline
        self.vae = Reconstruction(pipeline.vae.train())
        self.mel: MelSpectrogram = pipeline.mel.to(accelerator.device)
        self.validation = validation
        self.use_discriminator = config.vae.disc_start >= 0
        betas = tuple(config.adam_betas)
        self.optimizer = torch.optim.AdamW(self.vae.parameters(), lr=config.learning_rate, betas=betas,
                                           weight_decay=config.weight_decay)
        self._modules: dict[str, nn.Module] = {"vae": self.vae}
        self._optimizers: dict[str, torch.optim.Optimizer] = {"vae": self.optimizer}
        if self.use_discriminator:
            self.discriminator = PatchDiscriminator()
            self.disc_optimizer = torch.optim.AdamW(self.discriminator.parameters(), lr=config.learning_rate, betas=betas)
            self._modules["discriminator"] = self.discriminator
            self._optimizers["discriminator"] = self.disc_optimizer

    def modules(self) -> dict[str, nn.Module]:
        return self._modules

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def prepare(self) -> None:
        names = list(self._modules)
        prepared = self.accelerator.prepare(*self._modules.values(), *self._optimizers.values())
        self._modules = dict(zip(names, prepared[: len(names)]))
        self._optimizers = dict(zip(names, prepared[len(names) :]))
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

    def train_step(self, batch: dict[str, Any], step: int) -> dict[str, torch.Tensor]:
        image, mask = self.images(batch, self.config.mask_padding)
        generator = step_generator(self.config.seed, step, self.accelerator.process_index)
        adversarial = self.use_discriminator and step >= self.config.vae.disc_start
        with self.accelerator.accumulate(self.vae):
            noise = torch.randn(self.accelerator.unwrap_model(self.vae).noise_shape(image), generator=generator)
            with self.accelerator.autocast():
                recon, mean, logvar = self.vae(image, noise.to(image.device))
                l1 = masked_mean((recon.float() - image).abs(), mask)
                kl = kl_divergence(mean.float(), logvar.float())
                loss = l1 + self.config.vae.kl_weight * kl
                if adversarial:
                    fake_logits = self.discriminator(recon)
                    loss = loss + self.config.vae.disc_weight * generator_adversarial_loss([fake_logits])
            self.accelerator.backward(loss)
            self._clip(self.vae)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        losses = {"loss": loss.detach(), "mel_l1": l1.detach(), "kl": kl.detach()}
        if adversarial:
            losses["disc"] = self._discriminator_step(image, recon.detach())
        return losses

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
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
        """Validation mel L1 in log-mel units (natural log), against the identity; writes mel images."""
        if self.validation is None or len(self.validation) == 0:
            return {}
        vae = self.pipeline.vae.eval()
        total, count = 0.0, 0
        for i in range(len(self.validation)):
            item = self.validation[i]
            batch = {"audio": item["audio"][None], "audio_mask": item["audio_mask"][None]}
            image, mask = self.images(batch)
            recon = vae.decode(vae.encode(image).latent_dist.mode()).sample.float()
            error = masked_mean((recon - image).abs(), mask) * self.mel.config.mel_std
            total, count = total + float(error), count + 1
            if i < NUM_EVAL_IMAGES:
                save_mel_comparison(output_dir / f"mel_{i}.png", image[0, 0].T, recon[0, 0].T)
        vae.train()
        return {"mel_l1": total / count}

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
        """Write the pipeline with the trained VAE, its ``scaling_factor`` set from the validation latents."""
        scale = self.latent_scaling_factor()
        if scale is None:
            log.warning("No validation clips: keeping the VAE's scaling_factor %s.", self.pipeline.vae.config.scaling_factor)
        else:
            self.pipeline.vae.register_to_config(scaling_factor=scale)
            log.info("VAE latent scaling_factor set to %.4g", scale)
        export_pipeline(self.pipeline, directory, self.config.max_shard_size, vae=self.pipeline.vae.eval())

"""The diffusion training objective in small pure functions, checkable against the papers.

Forward process and targets use the DDPM schedule of the pipeline's scheduler:
``z_t = sqrt(alpha_bar_t) z_0 + sqrt(1 - alpha_bar_t) eps`` (Ho et al. 2020, eq. 4),
target ``eps`` or ``v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) z_0``
(Salimans & Ho 2022, sec. 4), optional Min-SNR-gamma weights (Hang et al. 2023, eq. 10).
"""

from __future__ import annotations

import torch


def snr(alphas_cumprod: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio ``alpha_bar_t / (1 - alpha_bar_t)`` per timestep ``(batch,)``."""
    alpha_bar = alphas_cumprod.to(timesteps.device)[timesteps].float()
    return alpha_bar / (1.0 - alpha_bar)


def q_sample(alphas_cumprod: torch.Tensor, z0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """Noised latents ``z_t`` for clean ``z0`` ``(batch, C, h, w)``, noise of the same shape, timesteps ``(batch,)``."""
    alpha_bar = alphas_cumprod.to(z0.device)[timesteps].float().view(-1, 1, 1, 1)
    return (alpha_bar.sqrt() * z0.float() + (1 - alpha_bar).sqrt() * noise.float()).to(z0.dtype)


def training_target(alphas_cumprod: torch.Tensor, z0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor, prediction_type: str) -> torch.Tensor:
    """What the U-Net learns to output: ``eps`` (``"epsilon"``) or ``v`` (``"v_prediction"``).

    Raises:
        ValueError: another prediction type.
    """
    if prediction_type == "epsilon":
        return noise
    if prediction_type == "v_prediction":
        alpha_bar = alphas_cumprod.to(z0.device)[timesteps].float().view(-1, 1, 1, 1)
        return (alpha_bar.sqrt() * noise.float() - (1 - alpha_bar).sqrt() * z0.float()).to(z0.dtype)
    raise ValueError(f"prediction_type must be 'epsilon' or 'v_prediction', got {prediction_type!r}.")


def min_snr_weights(snr_values: torch.Tensor, gamma: float | None, prediction_type: str) -> torch.Tensor:
    """Per-example loss weights: ``min(SNR, gamma) / SNR`` for eps, ``min(SNR, gamma) / (SNR + 1)`` for v; ones when gamma is None."""
    if gamma is None:
        return torch.ones_like(snr_values)
    clipped = torch.clamp(snr_values, max=gamma)
    return clipped / (snr_values + 1.0) if prediction_type == "v_prediction" else clipped / snr_values


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_i w_i * mean_{valid}(pred_i - target_i)^2 / batch``; ``mask`` ``(batch, 1, h, 1)`` marks real latent frames."""
    squared = (prediction.float() - target.float()).pow(2) * mask
    per_example = squared.sum(dim=(1, 2, 3)) / (mask.sum(dim=(1, 2, 3)) * prediction.shape[1] * prediction.shape[3]).clamp(min=1)
    return (weights * per_example).mean()


def predicted_start_and_noise(
    alphas_cumprod: torch.Tensor, model_output: torch.Tensor, z_t: torch.Tensor, timesteps: torch.Tensor,
    prediction_type: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z0_hat, eps_hat)`` implied by the U-Net's output at ``z_t`` ``(batch, C, h, w)``, timesteps ``(batch,)``.

    eps: ``z0 = (z_t - sqrt(1 - a) eps) / sqrt(a)``; v: ``z0 = sqrt(a) z_t - sqrt(1 - a) v``,
    ``eps = sqrt(1 - a) z_t + sqrt(a) v`` (Salimans & Ho 2022, sec. 4), with ``a = alpha_bar_t``.

    Raises:
        ValueError: another prediction type.
    """
    alpha_bar = alphas_cumprod.to(z_t.device)[timesteps].float().view(-1, 1, 1, 1)
    signal, noise_level = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
    output, z_t = model_output.float(), z_t.float()
    if prediction_type == "epsilon":
        return (z_t - noise_level * output) / signal, output
    if prediction_type == "v_prediction":
        return signal * z_t - noise_level * output, noise_level * z_t + signal * output
    raise ValueError(f"prediction_type must be 'epsilon' or 'v_prediction', got {prediction_type!r}.")

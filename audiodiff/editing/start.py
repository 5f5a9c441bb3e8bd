"""Where editing enters the one denoising loop: the first timestep, the start latents and the per-step blend.

- Audio-to-audio (SDEdit, Meng et al. 2022): ``strength`` in [0, 1] keeps the last ``int(steps * strength)``
  timesteps of the schedule and starts from the input's latents noised to the first of them
  (``scheduler.add_noise``), as diffusers' img2img pipelines do (``get_timesteps``).  ``strength`` 1.0 starts
  from pure noise, so it is text-to-audio; 0 runs no step and returns the input's VAE round trip.
- Inpainting (AudioLDM, Liu et al. 2023; the "replacement" blend of RePaint, Lugmayr et al. 2022, without its
  resampling; diffusers' inpaint pipelines with a 4-channel U-Net): after every step the kept cells
  (mask 0) are reset to the input's latents noised to the next timestep, and to the clean latents after the
  last step.
"""

from __future__ import annotations

import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin


def edit_steps(num_inference_steps: int, strength: float) -> int:
    """Sampler steps an edit runs: ``min(int(num_inference_steps * strength), num_inference_steps)``."""
    return min(int(num_inference_steps * strength), num_inference_steps)


def denoising_timesteps(
    scheduler: SchedulerMixin, num_inference_steps: int, strength: float, device: torch.device
) -> torch.Tensor:
    """Set the scheduler for ``num_inference_steps`` and return the timesteps an edit of ``strength`` runs.

    The first ``num_inference_steps - edit_steps(...)`` steps are skipped (times the scheduler's order; as
    diffusers' img2img); the scheduler's begin index is set to match, so its ``add_noise`` and multistep state
    start there.  No step (``strength < 1 / num_inference_steps``): no timestep.
    """
    scheduler.set_timesteps(num_inference_steps, device=device)
    steps = edit_steps(num_inference_steps, strength)
    skipped = (num_inference_steps - steps) * scheduler.order
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(skipped)
    # PNDM holds one timestep more than it has steps (its PLMS warm-up evaluates the first step twice), so the
    # slice keeps one for strength -> 0; no step means no timestep.
    return scheduler.timesteps[skipped:] if steps > 0 else scheduler.timesteps[:0]


def start_latents(
    scheduler: SchedulerMixin, noise: torch.Tensor, clean: torch.Tensor | None, timesteps: torch.Tensor, strength: float
) -> torch.Tensor:
    """The latents the loop starts from, ``(batch, C, h, w)``.

    ``noise`` is unit Gaussian; ``clean`` the input's latents (``None`` for text-to-audio).  Text-to-audio and
    ``strength`` 1.0: ``noise * init_noise_sigma``.  No timestep left: ``clean``.  Otherwise ``clean`` noised to
    ``timesteps[0]``.
    """
    if clean is None or strength >= 1.0:
        return noise * scheduler.init_noise_sigma
    if len(timesteps) == 0:
        return clean
    return scheduler.add_noise(clean, noise, timesteps[:1].repeat(clean.shape[0]))


def blend_known(
    scheduler: SchedulerMixin, latents: torch.Tensor, clean: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor,
    next_timestep: torch.Tensor | None,
) -> torch.Tensor:
    """``mask * latents + (1 - mask) * known``: the kept cells reset to the input.

    ``known`` is ``clean`` noised to ``next_timestep`` with the same ``noise`` the start used, or ``clean``
    itself after the last step (``next_timestep=None``).  ``mask`` ``(1, 1, h, w)``: 1 = regenerate.
    """
    known = clean if next_timestep is None else scheduler.add_noise(clean, noise, next_timestep.repeat(clean.shape[0]))
    return mask * latents + (1.0 - mask) * known

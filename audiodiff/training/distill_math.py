"""Latent consistency distillation in small pure functions (Luo et al. 2023, "Latent Consistency Models").

- The solver schedule: ``N`` timesteps ``t_n = (n + 1) k - 1`` with skip ``k = T // N`` (the skipping-step
  schedule of sec. 4.3, as diffusers' ``DDIMSolver`` and ``LCMScheduler.set_timesteps``).
- One DDIM step of the guided teacher from ``t_{n+k}`` to ``t_n`` (Song et al. 2021, eq. 12 with eta = 0):
  ``z_prev = sqrt(a_prev) z0_hat + sqrt(1 - a_prev) eps_hat``.
- The consistency function ``f(z, t) = c_skip(t) z + c_out(t) z0_hat(z, t)`` with the boundary condition
  ``c_skip(0) = 1, c_out(0) = 0`` (Song et al. 2023, "Consistency Models", eq. 7; LCM eq. 9), evaluated at
  ``timestep_scaling * t`` with ``sigma_data = 0.5`` as ``LCMScheduler.get_scalings_for_boundary_condition_discrete``.
- Phased consistency (Wang et al. 2024, "Phased Consistency Model", sec. 3): the solver schedule is cut into
  ``P`` phases at the edges ``s_j = j T / P - 1`` (and 0); a timestep ``t`` in the phase ``(s_j, s_{j+1}]`` is mapped
  to its phase's start by a DDIM jump of the model's own prediction, ``f(z, t) = sqrt(a_s) z0_hat + sqrt(1 - a_s)
  eps_hat``, which is ``z`` itself at ``t = s`` (the boundary condition).  Sampling is then deterministic DDIM at
  the edges ``T - 1, ..., T / P - 1`` (diffusers' ``DDIMScheduler`` with ``timestep_spacing="trailing"``).
- The pseudo-Huber distance ``sqrt(d^2 + c^2) - c`` (Song & Dhariwal 2023, "Improved Techniques for Training
  Consistency Models", sec. 3.3; diffusers' LCM distillation script).
"""

from __future__ import annotations

import torch

SIGMA_DATA = 0.5


def solver_timesteps(num_train_timesteps: int, num_ddim_timesteps: int) -> torch.Tensor:
    """The solver's timesteps ``(N,)`` long, ascending: ``k - 1, 2k - 1, ..., N k - 1`` with ``k = T // N``."""
    skip = num_train_timesteps // num_ddim_timesteps
    return torch.arange(1, num_ddim_timesteps + 1) * skip - 1


def phase_edges(num_train_timesteps: int, num_phases: int) -> torch.Tensor:
    """The phases' start timesteps ``(P,)`` long, ascending: ``0, T / P - 1, 2 T / P - 1, ..., (P - 1) T / P - 1``.

    Raises:
        ValueError: ``num_train_timesteps`` is not a multiple of ``num_phases``.
    """
    if num_phases < 1 or num_train_timesteps % num_phases:
        raise ValueError(f"{num_train_timesteps} training timesteps cannot be cut into {num_phases} equal phases.")
    length = num_train_timesteps // num_phases
    return torch.cat([torch.zeros(1, dtype=torch.long), torch.arange(1, num_phases) * length - 1])


def phase_starts(timesteps: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """The start ``s`` of the phase holding each timestep ``(batch,)``: the largest edge strictly below it
    (``t`` in ``(s_j, s_{j+1}]`` -> ``s_j``), so a phase's own end belongs to it.  Timesteps must be > 0."""
    edges = edges.to(timesteps.device)
    return edges[torch.searchsorted(edges, timesteps, right=False) - 1]


def boundary_scalings(timesteps: torch.Tensor, timestep_scaling: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(c_skip, c_out)`` ``(batch, 1, 1, 1)`` for timesteps ``(batch,)``: ``s^2 / (u^2 + s^2)`` and
    ``u / sqrt(u^2 + s^2)`` with ``u = timestep_scaling * t``, ``s = sigma_data`` (1 and 0 at ``t = 0``)."""
    scaled = timestep_scaling * timesteps.float().view(-1, 1, 1, 1)
    c_skip = SIGMA_DATA**2 / (scaled**2 + SIGMA_DATA**2)
    c_out = scaled / (scaled**2 + SIGMA_DATA**2).sqrt()
    return c_skip, c_out


def consistency_output(
    z_t: torch.Tensor, predicted_start: torch.Tensor, timesteps: torch.Tensor, timestep_scaling: float
) -> torch.Tensor:
    """``f(z_t, t) = c_skip(t) z_t + c_out(t) z0_hat``, ``(batch, C, h, w)`` float32."""
    c_skip, c_out = boundary_scalings(timesteps.to(z_t.device), timestep_scaling)
    return c_skip * z_t.float() + c_out * predicted_start.float()


def ddim_step(
    alphas_cumprod: torch.Tensor, predicted_start: torch.Tensor, predicted_noise: torch.Tensor,
    prev_timesteps: torch.Tensor,
) -> torch.Tensor:
    """Deterministic DDIM update to ``prev_timesteps`` ``(batch,)``: ``sqrt(a) z0_hat + sqrt(1 - a) eps_hat``."""
    alpha_bar = alphas_cumprod.to(predicted_start.device)[prev_timesteps].float().view(-1, 1, 1, 1)
    return alpha_bar.sqrt() * predicted_start.float() + (1 - alpha_bar).sqrt() * predicted_noise.float()


def phased_consistency_output(
    alphas_cumprod: torch.Tensor, z_t: torch.Tensor, predicted_start: torch.Tensor, predicted_noise: torch.Tensor,
    timesteps: torch.Tensor, starts: torch.Tensor,
) -> torch.Tensor:
    """PCM's ``f(z_t, t) = sqrt(a_s) z0_hat + sqrt(1 - a_s) eps_hat`` to the phase starts ``starts`` ``(batch,)``,
    ``(batch, C, h, w)`` float32; exactly ``z_t`` where ``timesteps == starts`` (the boundary condition)."""
    jumped = ddim_step(alphas_cumprod, predicted_start, predicted_noise, starts)
    at_start = (timesteps.to(z_t.device) == starts.to(z_t.device)).view(-1, 1, 1, 1)
    return torch.where(at_start, z_t.float(), jumped)


def masked_distance(
    prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, loss: str, huber_c: float
) -> torch.Tensor:
    """Mean over the real latent frames (``mask`` ``(batch, 1, h, 1)``) of the squared (``"l2"``) or
    pseudo-Huber (``"huber"``, ``sqrt(d^2 + c^2) - c``) elementwise distance.

    Raises:
        ValueError: another ``loss``.
    """
    difference = prediction.float() - target.float()
    if loss == "l2":
        distance = difference.pow(2)
    elif loss == "huber":
        distance = (difference.pow(2) + huber_c**2).sqrt() - huber_c
    else:
        raise ValueError(f"distill loss must be 'huber' or 'l2', got {loss!r}.")
    mask = mask.expand_as(distance)
    return (distance * mask).sum() / mask.sum().clamp(min=1.0)

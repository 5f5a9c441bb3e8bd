"""Diffusion samplers by name, all diffusers schedulers sharing one training noise schedule."""

from __future__ import annotations

from typing import Any

from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    PNDMScheduler,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .config import SchedulerConfig
from .errors import InvalidArgumentError

# name -> (class, extra settings)
SCHEDULERS: dict[str, tuple[type[SchedulerMixin], dict[str, Any]]] = {
    "ddpm": (DDPMScheduler, {}),
    "ddim": (DDIMScheduler, {}),
    "pndm": (PNDMScheduler, {"skip_prk_steps": True}),
    "dpmsolver++": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "euler": (EulerDiscreteScheduler, {}),
    "euler_ancestral": (EulerAncestralDiscreteScheduler, {}),
    "heun": (HeunDiscreteScheduler, {}),
    "unipc": (UniPCMultistepScheduler, {}),
}


def check_scheduler_name(name: str) -> None:
    """Raises :class:`InvalidArgumentError` (a ``ValueError``) naming the known schedulers when ``name`` is unknown."""
    if name not in SCHEDULERS:
        raise InvalidArgumentError(f"Unknown scheduler {name!r}; choose one of: {', '.join(SCHEDULERS)}.")


def build_scheduler(config: SchedulerConfig) -> SchedulerMixin:
    """The scheduler named by ``config.name`` with the training noise schedule of ``config``."""
    check_scheduler_name(config.name)
    cls, extra = SCHEDULERS[config.name]
    return cls(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule=config.beta_schedule,
        beta_start=config.beta_start,
        beta_end=config.beta_end,
        prediction_type=config.prediction_type,
        **extra,
    )


def swap_scheduler(scheduler: SchedulerMixin, name: str) -> SchedulerMixin:
    """A scheduler of kind ``name`` with the same noise schedule and prediction type as ``scheduler``."""
    check_scheduler_name(name)
    cls, extra = SCHEDULERS[name]
    return cls.from_config(scheduler.config, **extra)

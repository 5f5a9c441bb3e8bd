"""Few-step distillation stage: latent consistency distillation (Luo et al. 2023, "Latent Consistency Models").

Algorithm 1 of the paper, with the guidance scale fixed: a student U-Net ``f_theta``, initialised from the
teacher, learns the teacher's classifier-free-guided probability-flow ODE so that 1-4 steps of
``LCMScheduler`` sample what 25 teacher steps do.  Per step, for clean latents ``z0`` and text ``c``:

1. ``n ~ U{0..N-1}``, ``t = t_n`` on the skipping-step solver schedule (skip ``k``), ``z_t = q(z0, t)``;
2. the teacher makes one guided DDIM step ``t -> t - k``: ``z_prev = DDIM(uncond + w (cond - uncond))``
   (cond and uncond in one batched call);
3. the EMA target ``f_theta-`` maps ``z_prev`` to ``f(z_prev, t - k)`` (the boundary condition makes it
   ``z_prev`` itself at ``t - k = 0``);
4. loss ``d(f_theta(z_t, t), f_theta-(z_prev, t - k))`` (pseudo-Huber or L2) over real latent frames;
5. ``theta- <- mu theta- + (1 - mu) theta`` (diffusers' ``EMAModel``, fixed rate ``mu``).

With ``distill.num_phases`` P > 1 the stage distils a phased consistency model instead (Wang et al. 2024,
"Phased Consistency Model"): steps 3-4 map ``z_t`` and ``z_prev`` to the start ``s`` of ``t``'s phase (a DDIM
jump of the model's own prediction) instead of to the clean latents, and the export samples P deterministic
DDIM steps at the phase edges (``DDIMScheduler``, trailing spacing).

The guidance scale ``w`` is folded in (the student has no ``w`` input): the student needs one U-Net pass a
step, the U-Net architecture is the teacher's, and the exported folder samples with guidance 1.  Formulas:
:mod:`audiodiff.training.distill_math`.  The EMA target is what is exported (as in consistency models).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from diffusers import DDIMScheduler, LCMScheduler, UNet2DConditionModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.training_utils import EMAModel

from ..errors import InvalidArgumentError
from ..models.unet import text_inputs
from ..pipeline import AudioDiffusionPipeline, guided_noise
from .common import step_generator
from .config import TrainConfig
from .diffusion import DiffusionStage, TextConditioner
from .diffusion_math import predicted_start_and_noise, q_sample
from .distill_math import (
    consistency_output,
    ddim_step,
    masked_distance,
    phase_edges,
    phase_starts,
    phased_consistency_output,
    solver_timesteps,
)
from .preview import generate_previews, tensorboard_writer

log = logging.getLogger(__name__)

UNCONDITIONAL_CAPTION = ""  # what the teacher's classifier-free guidance steers away from, as in sampling


NOISE_SCHEDULE_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
                       "prediction_type", "rescale_betas_zero_snr")


def student_scheduler(
    teacher: AudioDiffusionPipeline, num_ddim_timesteps: int, timestep_scaling: float, num_phases: int = 1
) -> SchedulerMixin:
    """The student's sampler, with the teacher's noise schedule and prediction type (nothing else of its sampler's
    settings): ``LCMScheduler`` sampling from the ``num_ddim_timesteps``-step solver schedule the student was
    distilled on; for a phased student (``num_phases`` > 1), ``DDIMScheduler`` with trailing spacing, whose
    ``num_phases`` steps land on the phase edges ``T - 1, ..., T / num_phases - 1`` and end at timestep 0's
    ``alphas_cumprod`` (``set_alpha_to_one=False``, the lowest phase's start), without clipping latents."""
    schedule = {key: teacher.scheduler.config[key] for key in NOISE_SCHEDULE_KEYS if key in teacher.scheduler.config}
    if num_phases > 1:
        return DDIMScheduler(**schedule, timestep_spacing="trailing", set_alpha_to_one=False, clip_sample=False)
    return LCMScheduler(**schedule, original_inference_steps=num_ddim_timesteps, timestep_scaling=timestep_scaling)


class DistillStage(DiffusionStage):
    """Distils ``pipeline``'s U-Net (the teacher, kept frozen) into a few-step student.

    The pipeline becomes the student's: its scheduler is replaced by :func:`student_scheduler`'s and its stored
    defaults (``default_num_inference_steps``, ``default_guidance_scale``) by ``distill.num_inference_steps``
    and 1.0, so the export samples few-step with no other argument.

    Args:
        pipeline: the teacher pipeline; its VAE and text encoder stay frozen, its U-Net starts the student.
        conditioner: captions -> text states (the live encoder by default; a ``TextStateCache`` lookup, which
            must hold ``""``, also fits).
        validation: examples (``latents``/``latents_mask`` or ``audio``/``audio_mask``, and ``caption``) for the
            validation consistency loss (same noise and timesteps every evaluation).
    """

    name = "distill"
    best_metric = "consistency_loss"

    def __init__(
        self,
        config: TrainConfig,
        accelerator: Accelerator,
        pipeline: AudioDiffusionPipeline,
        conditioner: TextConditioner | None = None,
        validation: Any | None = None,
    ):
        teacher_prediction = pipeline.scheduler.config.prediction_type
        if config.diffusion.prediction_type not in (None, teacher_prediction):
            raise InvalidArgumentError(
                f"diffusion.prediction_type={config.diffusion.prediction_type!r} differs from the teacher's "
                f"{teacher_prediction!r}; distillation keeps the teacher's, so leave it null."
            )
        super().__init__(config, accelerator, pipeline, conditioner, validation, use_ema=False)
        self.distill = config.distill
        self.guidance_scale = float(
            self.distill.guidance_scale if self.distill.guidance_scale is not None
            else pipeline.config.default_guidance_scale
        )
        self.teacher: UNet2DConditionModel = copy.deepcopy(self.unet).eval().requires_grad_(False)
        self.target: UNet2DConditionModel = copy.deepcopy(self.unet).eval().requires_grad_(False)
        decay = self.distill.ema_decay
        self.ema = EMAModel(self.trainable, decay=decay, min_decay=decay)  # min_decay: the paper's fixed mu
        num_train_timesteps = self.noise_scheduler.config.num_train_timesteps
        if self.distill.num_ddim_timesteps > num_train_timesteps:
            raise InvalidArgumentError(
                f"distill.num_ddim_timesteps={self.distill.num_ddim_timesteps} exceeds the teacher's "
                f"{num_train_timesteps} training timesteps; use at most that (50 is LCM's)."
            )
        self.solver_timesteps = solver_timesteps(num_train_timesteps, self.distill.num_ddim_timesteps)
        self.skip = num_train_timesteps // self.distill.num_ddim_timesteps
        self.edges: torch.Tensor | None = None  # the phases' starts; None: LCM
        if self.distill.num_phases > 1:
            if num_train_timesteps % self.distill.num_ddim_timesteps:
                raise InvalidArgumentError(
                    f"distill.num_phases={self.distill.num_phases} needs num_ddim_timesteps to divide the teacher's "
                    f"{num_train_timesteps} training timesteps (so the phase edges lie on the solver schedule); "
                    f"got {self.distill.num_ddim_timesteps}, use e.g. 40."
                )
            self.edges = phase_edges(num_train_timesteps, self.distill.num_phases)
        log.info("distilling with guidance %.3g folded in, %d solver timesteps (skip %d), %d phase(s), %s loss, "
                 "EMA %.3g", self.guidance_scale, self.distill.num_ddim_timesteps, self.skip, self.distill.num_phases,
                 self.distill.loss, decay)
        scheduler = student_scheduler(pipeline, self.distill.num_ddim_timesteps, self.distill.timestep_scaling,
                                      self.distill.num_phases)
        pipeline.scheduler = scheduler
        pipeline.register_modules(scheduler=scheduler)
        pipeline.register_to_config(default_num_inference_steps=self.distill.num_inference_steps,
                                    default_guidance_scale=1.0,
                                    num_phases=self.distill.num_phases if self.distill.num_phases > 1 else None)

    def prepare(self) -> None:
        super().prepare()
        self.teacher.to(self.accelerator.device)
        self.target.to(self.accelerator.device)

    # ------------------------------------------------------------------ the objective
    @torch.no_grad()
    def teacher_step(self, z_t: torch.Tensor, timesteps: torch.Tensor, prev_timesteps: torch.Tensor,
                     states: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """One guided DDIM step of the teacher from ``timesteps`` to ``prev_timesteps`` ``(batch,)``.

        ``states``/``text_mask`` hold ``2 * batch`` rows, unconditional first; both halves run in one call.
        """
        text = text_inputs(self.teacher.config, states, text_mask)
        output = self.teacher(torch.cat([z_t, z_t]), torch.cat([timesteps, timesteps]), **text).sample
        uncond, cond = output.float().chunk(2)
        guided = guided_noise(uncond, cond, self.guidance_scale)
        start, noise = predicted_start_and_noise(self.alphas_cumprod, guided, z_t, timesteps, self.prediction_type)
        return ddim_step(self.alphas_cumprod, start, noise, prev_timesteps)

    def consistency(self, unet: UNet2DConditionModel, z_t: torch.Tensor, timesteps: torch.Tensor,
                    states: torch.Tensor, text_mask: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        """The consistency function of ``unet`` (student or target), ``(batch, C, h, w)``: LCM's ``c_skip z_t +
        c_out z0_hat``, or for a phased student the DDIM jump to the phase starts ``starts`` ``(batch,)``."""
        text = text_inputs(self.teacher.config, states, text_mask)
        output = unet(z_t, timesteps, **text).sample
        start, noise = predicted_start_and_noise(self.alphas_cumprod, output, z_t, timesteps, self.prediction_type)
        if self.edges is not None:
            return phased_consistency_output(self.alphas_cumprod, z_t, start, noise, timesteps, starts)
        return consistency_output(z_t, start, timesteps, self.distill.timestep_scaling)

    def targets(self, z0: torch.Tensor, captions: list[str], noise: torch.Tensor, index: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Steps 1-3: ``(z_t, timesteps, starts, states, text_mask, target)`` for solver indices ``index``
        ``(batch,)``; the states are the captions' (conditional) rows, ``starts`` the phase starts of
        ``timesteps`` (zeros for LCM, whose consistency function ignores them)."""
        device = z0.device
        timesteps = self.solver_timesteps[index].to(device)
        prev_timesteps = (timesteps - self.skip).clamp(min=0)
        starts = (phase_starts(timesteps, self.edges) if self.edges is not None
                  else torch.zeros_like(timesteps))
        z_t = q_sample(self.alphas_cumprod, z0, noise, timesteps)
        both, both_mask = self.conditioning([UNCONDITIONAL_CAPTION] * len(captions) + list(captions), None)
        states, text_mask = both[len(captions):], both_mask[len(captions):]
        with torch.no_grad(), self.accelerator.autocast():
            z_prev = self.teacher_step(z_t, timesteps, prev_timesteps, both, both_mask)
            target = self.consistency(self.target, z_prev, prev_timesteps, states, text_mask, starts)
        return z_t, timesteps, starts, states, text_mask, target.float()

    def train_step(self, batch: dict[str, Any], step: int) -> dict[str, torch.Tensor]:
        generator = step_generator(self.config.seed, step, self.accelerator.process_index)
        z0, mask = self.latents(batch)
        noise = torch.randn(z0.shape, generator=generator).to(z0.device)
        index = torch.randint(0, self.distill.num_ddim_timesteps, (z0.shape[0],), generator=generator)
        z_t, timesteps, starts, states, text_mask, target = self.targets(z0, list(batch["caption"]), noise, index)
        with self.accelerator.accumulate(self.unet):
            with self.accelerator.autocast():
                prediction = self.consistency(self.unet, z_t, timesteps, states, text_mask, starts)
            loss = masked_distance(prediction, target, mask, self.distill.loss, self.distill.huber_c)
            self.accelerator.backward(loss)
            if self.config.max_grad_norm and self.accelerator.sync_gradients:
                self.accelerator.clip_grad_norm_(self.trainable, self.config.max_grad_norm)
            self.optimizer.step()
            self.lr_scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
        if self.accelerator.sync_gradients:
            self.update_target()
        return {"loss": loss.detach()}

    def update_target(self) -> None:
        """Step 5: the EMA ``theta- <- mu theta- + (1 - mu) theta``, copied into the target U-Net."""
        self.ema.step(self.trainable)
        self.ema.copy_to(self.target.parameters())

    # ------------------------------------------------------------------ evaluation, export and state
    @torch.no_grad()
    def validation_loss(self, seed: int = 0) -> dict[str, float]:
        """The consistency loss of the student on the validation examples, same noise and solver indices every
        call: ``{"consistency_loss": mean}`` (empty without validation data)."""
        if self.validation is None or len(self.validation) == 0:
            return {}
        generator = torch.Generator().manual_seed(seed)
        self.unet.eval()
        total = 0.0
        for i in range(len(self.validation)):
            item = self.validation[i]
            batch = {k: (v[None] if isinstance(v, torch.Tensor) else [v]) for k, v in item.items()}
            z0, mask = self.latents(batch)
            noise = torch.randn(z0.shape, generator=generator).to(z0.device)
            index = torch.randint(0, self.distill.num_ddim_timesteps, (1,), generator=generator)
            z_t, timesteps, starts, states, text_mask, target = self.targets(z0, [item["caption"]], noise, index)
            with self.accelerator.autocast():
                prediction = self.consistency(self.unet, z_t, timesteps, states, text_mask, starts)
            total += float(masked_distance(prediction, target, mask, self.distill.loss, self.distill.huber_c))
        self.unet.train()
        return {"consistency_loss": total / len(self.validation)}

    def evaluate(self, step: int, output_dir: Path) -> dict[str, float]:
        metrics = self.validation_loss()
        if self.pipeline.text_encoder is not None and self.distill.sample_prompts:
            with self.ema_weights():
                pipe = self.export_pipeline_object()
                generate_previews(pipe, self.distill.sample_prompts, output_dir, self.distill.sample_duration,
                                  self.distill.num_inference_steps, writer=tensorboard_writer(self.accelerator),
                                  step=step)
            self.unet.train()
        return metrics

    def load_extra_state(self, tensors: dict[str, torch.Tensor], data: dict[str, Any]) -> None:
        super().load_extra_state(tensors, data)
        self.ema.copy_to(self.target.parameters())

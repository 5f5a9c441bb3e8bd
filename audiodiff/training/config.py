"""Typed training configuration (``configs/train/*.yaml``), shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VAETrainConfig:
    """VAE stage: L1 on normalised log-mel + ``kl_weight`` * KL (Rombach et al. 2022, appendix G),
    and an optional patch discriminator from ``disc_start`` steps on, weighted ``disc_weight``.

    ``train_encoder: false`` trains the decoder alone (and the post-quant conv): the encoder, the quant conv and
    the latent ``scaling_factor`` stay as loaded, so a U-Net trained on these latents stays valid (as Stable
    Diffusion's ft-MSE / ft-EMA decoders were made); there is no KL term then.
    ``gradient_weight`` weighs the multi-scale gradient difference loss
    (:func:`~audiodiff.training.losses.multiscale_gradient_loss`) at the average-pool ``gradient_scales``;
    ``feature_weight`` the discriminator feature matching (HiFi-GAN eq. 4), from ``disc_start`` on.
    ``latent_noise``: the decoder sees posterior samples plus Gaussian noise of a standard deviation drawn per
    clip uniformly in ``[0, latent_noise]``, in the units of the scaled latents the U-Net works in (unit
    variance; 0.1 is a tenth of their spread), so it learns to decode latents as imperfect as sampled ones.
    """

    kl_weight: float = 1e-6
    disc_start: int = -1  # -1: no discriminator
    disc_weight: float = 0.5
    train_encoder: bool = True  # False: decoder-only (encoder, quant conv and scaling_factor frozen)
    gradient_weight: float = 0.0  # 0: plain L1 (+ KL, + adversarial)
    gradient_scales: tuple[int, ...] = (1, 2, 4)
    feature_weight: float = 0.0  # 0: no feature matching; > 0 needs disc_start >= 0
    latent_noise: float = 0.0

    def __post_init__(self) -> None:
        weights = {"kl_weight": self.kl_weight, "disc_weight": self.disc_weight,
                   "gradient_weight": self.gradient_weight, "feature_weight": self.feature_weight,
                   "latent_noise": self.latent_noise}
        for name, value in weights.items():
            if not value >= 0:  # also catches NaN
                raise ValueError(f"vae.{name}={value!r} must be >= 0.")
        if self.disc_start < -1:
            raise ValueError(f"vae.disc_start={self.disc_start} must be >= 0 (the step the discriminator joins) "
                             "or -1 (no discriminator).")
        scales = tuple(self.gradient_scales)
        if not scales or len(set(scales)) != len(scales) or any(int(s) != s or s < 1 for s in scales):
            raise ValueError(f"vae.gradient_scales={list(scales)} must be distinct integers >= 1, e.g. [1, 2, 4].")
        if self.feature_weight > 0 and self.disc_start < 0:
            raise ValueError(f"vae.feature_weight={self.feature_weight} needs the discriminator: set vae.disc_start "
                             ">= 0, or feature_weight: 0.")


@dataclass(frozen=True)
class VocoderTrainConfig:
    """HiFi-GAN stage (Kong et al. 2020, sec. 2.3-2.4 and 4): loss weights and LR decay per epoch."""

    mel_weight: float = 45.0
    feature_weight: float = 2.0
    lr_decay: float = 0.999
    segment_frames: int = 32  # frames per training segment (segment = frames * hop_length samples)
    mpd_channels: int = 32  # multi-period discriminator width (paper: 32)
    msd_channels: int = 128  # multi-scale discriminator width (paper: 128)
    lr_decay_steps: int = 1000  # optimiser steps per "epoch" of lr_decay
    adversarial_start: int = 0  # steps of generator-only pre-training (mel + MR-STFT) before the GAN terms join
    stft_weight: float = 0.0  # weight of the multi-resolution STFT loss (Yamamoto et al. 2020, eq. 6); 0: off
    discriminators: tuple[str, ...] = ("mpd", "msd")  # any of mpd, msd, mrd (UnivNet's multi-resolution; Vocos: mpd, mrd)
    mrd_channels: int = 32  # multi-resolution discriminator width (UnivNet: 32)


@dataclass(frozen=True)
class DiffusionTrainConfig:
    """Latent diffusion stage: noise-prediction loss ||eps_theta(z_t, t, tau) - eps||^2 (Ho et al. 2020)."""

    caption_dropout: float = 0.1
    prediction_type: str | None = None  # None: the model's scheduler setting; "epsilon" or "v_prediction"
    min_snr_gamma: float | None = None  # Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting"
    ema_decay: float = 0.999
    gradient_checkpointing: bool = False
    sample_prompts: tuple[str, ...] = ("a dog barking", "rain falling", "a snare drum hit", "a man speaking")
    sample_steps: int = 25
    sample_duration: float = 5.0


@dataclass(frozen=True)
class DistillTrainConfig:
    """Few-step distillation stage: latent consistency distillation (Luo et al. 2023, "Latent Consistency
    Models", Algorithm 1) of the teacher's guided probability-flow ODE into a student initialised from it.

    ``num_ddim_timesteps`` is the solver schedule's N: the teacher's DDIM step skips
    ``k = num_train_timesteps // N`` training timesteps (the exported LCMScheduler's ``original_inference_steps``).
    ``guidance_scale`` is the fixed classifier-free guidance scale folded into the student (our convention,
    ``uncond + s (cond - uncond)``, i.e. the paper's ``w + 1``); None: the teacher folder's default guidance.
    ``ema_decay`` is the target network's fixed rate mu (paper: 0.95).  ``loss``: ``"huber"`` (pseudo-Huber,
    ``sqrt(d^2 + c^2) - c`` with ``c = huber_c``, as diffusers' LCM script) or ``"l2"``.  The export samples with
    ``num_inference_steps`` LCM steps and guidance 1 (one U-Net pass a step).

    ``num_phases`` > 1 distils a phased consistency model instead (Wang et al. 2024, "Phased Consistency Model"):
    the ODE is cut into that many equal phases and the student maps each timestep to its phase's start (a DDIM
    jump of its own prediction), so sampling is ``num_phases`` deterministic DDIM steps at the phase edges
    (``DDIMScheduler``, trailing spacing) and ``num_inference_steps`` must equal it.  1 is LCM (consistency to the
    clean latents, ``c_skip``/``c_out`` at ``timestep_scaling``, the exported ``LCMScheduler``).
    """

    guidance_scale: float | None = None
    num_ddim_timesteps: int = 50
    ema_decay: float = 0.95
    loss: str = "huber"
    huber_c: float = 0.001
    timestep_scaling: float = 10.0  # c_skip/c_out evaluated at 10 t (LCMScheduler's timestep_scaling)
    num_inference_steps: int = 4
    num_phases: int = 1
    sample_prompts: tuple[str, ...] = ("a dog barking", "rain falling", "a snare drum hit", "a man speaking")
    sample_duration: float = 5.0

    def __post_init__(self) -> None:
        if not isinstance(self.num_phases, int) or self.num_phases < 1:
            raise ValueError(f"distill.num_phases={self.num_phases!r} must be an integer >= 1 (1: LCM).")
        if self.num_phases > 1 and (self.num_ddim_timesteps % self.num_phases
                                    or self.num_inference_steps != self.num_phases):
            raise ValueError(f"distill.num_phases={self.num_phases} needs num_ddim_timesteps (here "
                             f"{self.num_ddim_timesteps}) divisible by it and num_inference_steps (here "
                             f"{self.num_inference_steps}) equal to it: one DDIM step per phase, e.g. 40 and 4.")
        if self.loss not in ("huber", "l2"):
            raise ValueError(f"distill.loss={self.loss!r} must be 'huber' or 'l2'.")
        if self.guidance_scale is not None and not self.guidance_scale >= 0:  # also catches NaN
            raise ValueError(f"distill.guidance_scale={self.guidance_scale!r} must be >= 0 (or null: the teacher's).")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"distill.ema_decay={self.ema_decay!r} must be in [0, 1) (the paper's mu: 0.95).")
        if not self.huber_c > 0 or not self.timestep_scaling > 0:
            raise ValueError(f"distill.huber_c={self.huber_c!r} and timestep_scaling={self.timestep_scaling!r} "
                             "must be > 0.")
        if not 1 <= self.num_inference_steps <= self.num_ddim_timesteps:
            raise ValueError(f"distill.num_inference_steps={self.num_inference_steps!r} must be between 1 and "
                             f"num_ddim_timesteps={self.num_ddim_timesteps!r} (LCM samples from that schedule).")


@dataclass(frozen=True)
class FinetuneTrainConfig:
    """``audiodiff finetune`` only (:mod:`audiodiff.training.finetune`).

    ``epochs``: when set (``configs/train/finetune.yaml``: 20) and ``--max-steps`` is not given, the run makes that
    many passes over the cached crops: ``max_steps = ceil(epochs * crops / batch_size)``, at least ``min_steps`` and
    at most ``max_steps_cap``; when None, ``max_steps`` applies as for any stage.  Crops follow the clip
    lengths (:mod:`audiodiff.data.crops`), between ``min_crop_seconds`` and ``segment_seconds``.  With ``--lora``
    the learning rate is ``lora_learning_rate``.  The report checks that ``unrelated_prompts`` moved little.
    """

    epochs: float | None = None
    min_steps: int = 50
    max_steps_cap: int = 3000
    min_crop_seconds: float = 1.0
    lora_learning_rate: float = 1e-3
    unrelated_prompts: tuple[str, ...] = ("a dog barking", "rain falling", "a man speaking")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the data and the model.

    Steps count optimizer updates.  ``segment_seconds`` is the crop length of
    training clips; ``mixed_precision`` is ``"no"``, ``"fp16"`` or ``"bf16"`` (accelerate), or ``"auto"``: bf16 where
    ``--dtype auto`` picks bf16 on the CPU or the GPU supports it, else no
    (:func:`audiodiff.devices.resolve_mixed_precision`).
    ``max_minutes`` bounds the wall time of one invocation of the loop (evaluations included): the run stops after
    the step that passes it, checkpoints, evaluates and exports, and ``--resume`` continues with a fresh budget.
    """

    max_steps: int = 10000
    batch_size: int = 16
    learning_rate: float = 1e-4
    adam_betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    lr_warmup_steps: int = 0
    lr_schedule: str = "constant"  # constant | cosine | exponential
    gradient_accumulation_steps: int = 1
    max_grad_norm: float | None = 1.0
    mixed_precision: str = "no"
    segment_seconds: float = 5.0
    mask_padding: bool = True  # VAE/diffusion: leave the zero padding of short clips out of the loss (False: learn it as silence)
    validation_fraction: float = 0.03
    num_workers: int = 0
    seed: int = 0
    log_every: int = 10
    eval_every: int = 1000
    checkpoint_every: int = 1000
    checkpoint_minutes: float | None = None  # also checkpoint after this much wall time (None: steps only)
    max_minutes: float | None = None  # time budget of one invocation: then checkpoint, evaluate, export (None: none)
    eval_minutes: float | None = None  # also evaluate after this much wall time since the last evaluation
    eval_at_start: bool = False  # also evaluate (and keep_best) before the first step of a fresh run: the baseline
    keep_checkpoints: int = 2
    keep_best: bool = True  # also export the evaluation with the lowest stage.best_metric to OUTPUT/best
    max_shard_size: str = "15MB"
    vae: VAETrainConfig = field(default_factory=VAETrainConfig)
    vocoder: VocoderTrainConfig = field(default_factory=VocoderTrainConfig)
    diffusion: DiffusionTrainConfig = field(default_factory=DiffusionTrainConfig)
    distill: DistillTrainConfig = field(default_factory=DistillTrainConfig)
    finetune: FinetuneTrainConfig = field(default_factory=FinetuneTrainConfig)

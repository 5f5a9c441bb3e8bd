"""``audiodiff finetune``: fine-tune a trained pipeline's U-Net on a folder of your sounds, fast and self-explaining.

Before training: the dataset check (:mod:`audiodiff.data.summary`: usable clips, what was skipped and why,
minutes, captions; a warning under a handful of clips).  On the first run the text states of every caption and the
VAE latents of crops that follow the clip lengths are cached (:mod:`audiodiff.data.finetune_cache`), so a step
runs only the U-Net, under bf16 autocast where bf16 is measured faster on the CPU (``mixed_precision: auto``).  The number of
steps follows the dataset (``finetune.epochs`` passes over the crops) unless ``--max-steps`` is given; the loop
logs an estimate of the run time after the timed first step.  While training, the preview prompts are generated
every ``eval_every`` steps (:mod:`audiodiff.training.preview`).  After it, the report
(:mod:`audiodiff.training.finetune_report`) compares base and tuned clips with the training clips.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from accelerate import Accelerator
from torch.utils.data import Dataset
from tqdm.contrib.logging import logging_redirect_tqdm

from ..config import load_config
from ..data import AudioCaptionDataset, LatentDataset, TextStateCache, collate
from ..data.cache import read_index
from ..data.crops import crop_seconds_for
from ..data.dataset import scan_clips
from ..data.finetune_cache import ensure_finetune_cache, is_finetune_cache
from ..data.manifest import read_clips
from ..data.summary import DatasetSummary, summarize
from ..errors import InvalidArgumentError
from ..models import vae as vaes
from ..models.unet import downsampling_factor
from ..pipeline import AudioDiffusionPipeline
from .config import TrainConfig
from .diffusion import DiffusionStage, TextConditioner
from .finetune_report import FinetuneReport, write_report
from .loop import make_accelerator, run_training
from .run import add_lora, init_component

log = logging.getLogger(__name__)

ADAPTER_SUBDIR = "lora"


@dataclass(frozen=True)
class FinetuneJob:
    """One ``audiodiff finetune`` run.

    Args:
        model: the trained pipeline folder to start from (its text encoder, VAE and vocoder stay frozen).
        data: an audiofolder or JSONL manifest (docs/data.md).
        output_dir: the run folder.
        config: a TrainConfig YAML (``configs/train/finetune.yaml``).
        lora_rank: train LoRA adapters of this rank (merged into the export, also kept in ``output_dir/lora``).
        previews: prompts generated every ``eval_every`` steps and compared in the report; default: the
            dataset's most common caption.
        cache: where the fine-tune cache is kept (default ``output_dir/cache``), or a folder from
            ``audiodiff prepare`` to train from as it is (crops as prepared).
        max_steps: override the steps that follow from the dataset size.
        report: generate the base/tuned comparison at the end.
    """

    model: Path
    data: Path
    output_dir: Path
    config: Path
    lora_rank: int | None = None
    previews: tuple[str, ...] = ()
    cache: Path | None = None
    resume: bool = False
    max_steps: int | None = None
    max_shard_size: str | None = None
    threads: int | None = None
    init_from: Path | None = None
    report: bool = True


@dataclass(frozen=True)
class FinetuneResult:
    """The exported pipeline folder, the dataset check and the report (None with ``report=False``)."""

    model_dir: Path
    summary: DatasetSummary
    report: FinetuneReport | None


def run_finetune(job: FinetuneJob) -> FinetuneResult:
    """Run ``job``: check the data, cache it, train, export to ``output_dir/model``, report.

    Raises:
        InvalidArgumentError: bad options or an unusable dataset (the message names the fix).
        TrainingError: a non-finite loss (the last checkpoint is kept).
    """
    _check_job(job)
    if job.threads is not None:
        torch.set_num_threads(job.threads)
    config = load_config(job.config, TrainConfig)
    pipeline = AudioDiffusionPipeline.from_pretrained(job.model)
    rows, skipped_rows = read_clips(job.data)
    clips, skipped_audio = scan_clips(rows, pipeline.sample_rate)
    summary = summarize(clips, [*skipped_rows, *skipped_audio])
    log.info("%s", summary.describe())
    train, conditioner = _training_data(job, config, pipeline, summary)
    config = finetune_config(config, job, len(train))
    previews = job.previews or (summary.captions.most_common(1)[0][0],)
    config = replace(config, diffusion=replace(config.diffusion, sample_prompts=tuple(previews)))
    if job.init_from is not None:
        init_component(pipeline, "unet", job.init_from)
    if job.lora_rank is not None:
        add_lora(pipeline, job.lora_rank)
    accelerator = make_accelerator(config, job.output_dir)
    log.info("Fine-tuning %s for %d steps of %d crops (%d in the dataset), learning rate %g, mixed precision %s.",
             "LoRA rank %d" % job.lora_rank if job.lora_rank else "the whole U-Net", config.max_steps,
             config.batch_size, len(train), config.learning_rate, accelerator.mixed_precision)
    stages: list[DiffusionStage] = []

    def build(accelerator_: Accelerator) -> DiffusionStage:
        stages.append(DiffusionStage(config, accelerator_, pipeline, conditioner, None, use_ema=job.lora_rank is None))
        return stages[-1]

    with logging_redirect_tqdm():  # the estimate and other log lines above the progress bar, not glued to it
        model_dir = run_training(build, train, config, job.output_dir, resume=job.resume, collate_fn=collate,
                                 accelerator=accelerator)
    if job.lora_rank is not None:
        unet = stages[-1].accelerator.unwrap_model(stages[-1].unet)
        _save_lora_adapter(unet, job.output_dir / ADAPTER_SUBDIR)
    report = _report(job, config, model_dir, summary, previews) if job.report else None
    return FinetuneResult(model_dir, summary, report)


def _save_lora_adapter(unet: torch.nn.Module, directory: Path) -> None:
    """Write ``unet``'s LoRA adapter to ``directory`` (diffusers' ``save_lora_adapter``: safetensors).

    diffusers calls ``self.to(dtype=None)`` inside it, which logs "modules that should be kept in float32: []"
    (diffusers 0.42) though nothing is cast; its warnings are held back for that call only.
    """
    from diffusers.utils import logging as diffusers_logging

    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        unet.save_lora_adapter(directory)
    finally:
        diffusers_logging.set_verbosity(verbosity)


def _check_job(job: FinetuneJob) -> None:
    if job.lora_rank is not None and job.lora_rank < 1:
        raise InvalidArgumentError(f"--lora RANK must be >= 1, got {job.lora_rank}.")
    if job.threads is not None and job.threads < 1:
        raise InvalidArgumentError(f"--threads must be >= 1, got {job.threads}.")
    if job.max_steps is not None and job.max_steps < 1:
        raise InvalidArgumentError(f"--max-steps must be >= 1, got {job.max_steps}.")
    if any(not prompt.strip() for prompt in job.previews):
        raise InvalidArgumentError("--preview prompts must not be empty.")


def default_max_steps(items: int, batch_size: int, epochs: float, min_steps: int, cap: int) -> int:
    """``ceil(epochs * items / batch_size)`` optimiser steps (``epochs`` passes over ``items`` crops), clamped to
    ``[min_steps, cap]``."""
    return min(cap, max(min_steps, math.ceil(epochs * items / batch_size)))


def finetune_config(config: TrainConfig, job: FinetuneJob, items: int) -> TrainConfig:
    """``config`` with the job's overrides: the LoRA learning rate, the export shard size, and ``max_steps`` (the
    job's, else :func:`default_max_steps` of ``items`` crops when ``finetune.epochs`` is set, else the config's)."""
    settings = config.finetune
    steps = job.max_steps or config.max_steps
    if not job.max_steps and settings.epochs is not None:
        steps = default_max_steps(items, config.batch_size, settings.epochs, settings.min_steps, settings.max_steps_cap)
    config = replace(config, max_steps=steps, validation_fraction=0.0)
    if job.lora_rank is not None:
        config = replace(config, learning_rate=settings.lora_learning_rate)
    if job.max_shard_size:
        config = replace(config, max_shard_size=job.max_shard_size)
    return config


def latent_step_seconds(pipeline: AudioDiffusionPipeline) -> float:
    """Seconds of audio per latent frame times the U-Net's downsampling: crops that are multiples of it need no
    padding inside the model."""
    hop = pipeline.mel.config.hop_length
    samples = hop * vaes.downsampling_factor(pipeline.vae) * downsampling_factor(pipeline.unet)
    return samples / pipeline.sample_rate


def _training_data(job: FinetuneJob, config: TrainConfig, pipeline: AudioDiffusionPipeline,
                   summary: DatasetSummary) -> tuple[Dataset, TextConditioner]:
    """The training set and its text conditioner: from the fine-tune cache (made or reused), or from a folder
    ``audiodiff prepare`` wrote, as it is."""
    cache = job.cache or job.output_dir / "cache"
    if cache.exists() and (cache / "index.json").is_file() and not is_finetune_cache(cache):
        log.info("Training from the prepared cache %s as it is (its crops, its captions).", cache)
        conditioner = TextStateCache(cache, model=job.model).lookup
        if read_index(cache).get("latents"):
            return LatentDataset(cache, "train", config.seed, model=job.model), conditioner
        return AudioCaptionDataset(summary.clips, pipeline.sample_rate, config.segment_seconds, train=True,
                                   seed=config.seed), conditioner
    crop = crop_seconds_for(summary.durations, config.segment_seconds, config.finetune.min_crop_seconds,
                            latent_step_seconds(pipeline))
    ensure_finetune_cache(summary.clips, pipeline, job.model, cache, crop)
    return LatentDataset(cache, "train", config.seed, model=job.model), TextStateCache(cache, model=job.model).lookup


def _report(job: FinetuneJob, config: TrainConfig, model_dir: Path, summary: DatasetSummary,
            previews: tuple[str, ...]) -> FinetuneReport:
    from ..loading import load_pipeline

    log.info("Writing the report: base and tuned clips of %d prompt(s).",
             len(previews) + len(config.finetune.unrelated_prompts))
    settings = config.diffusion
    base, tuned = load_pipeline(job.model, dtype="auto"), load_pipeline(model_dir, dtype="auto")
    return write_report(base, tuned, summary.clips, previews, config.finetune.unrelated_prompts, job.output_dir,
                        settings.sample_duration, settings.sample_steps)

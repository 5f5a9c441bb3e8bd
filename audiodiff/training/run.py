"""Training jobs behind ``audiodiff train STAGE`` and ``audiodiff finetune``: build data, model and stage, then run.

Each stage starts from a pipeline folder (``model``) or a fresh model built from a
model YAML (``model_config``), and exports a whole pipeline folder to
``output_dir/model``, so the stages chain: vae -> vocoder -> diffusion -> fine-tune, and distill makes a few-step student of a
trained model (``model`` is the teacher).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch
from accelerate import Accelerator
from torch.utils.data import Dataset

from ..config import load_config
from ..data import AudioCaptionDataset, LatentDataset, TextStateCache, collate, read_dataset, split_clips
from ..errors import IncompatibleModelError, InvalidArgumentError, TextEncoderNotFoundError
from ..models.vocoders import is_trainable
from ..pipeline import AudioDiffusionPipeline
from .config import TrainConfig
from .loop import make_accelerator, run_training
from .stage import TrainingStage

log = logging.getLogger(__name__)

STAGES = ("vae", "vocoder", "diffusion", "distill")
STAGE_COMPONENTS = {"vae": "vae", "vocoder": "vocoder", "diffusion": "unet", "distill": "unet"}
LATENT_STAGES = ("diffusion", "distill")  # stages that can train from an `audiodiff prepare` cache
MAX_VALIDATION_CLIPS = 32
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")


@dataclass(frozen=True)
class TrainJob:
    """One ``audiodiff train`` run.

    Args:
        stage: ``vae``, ``vocoder``, ``diffusion`` or ``distill`` (``model`` is the teacher).
        config: a TrainConfig YAML (``configs/train/STAGE.yaml``).
        data: an audiofolder or JSONL manifest (see docs/data.md); may be None for diffusion/distill with ``cache``.
        model: pipeline folder to start from; else ``model_config`` builds a random one.
        cache: for diffusion and distill, a folder from ``audiodiff prepare`` (text states, and latents if it has them).
        lora_rank: for diffusion, train LoRA adapters of this rank instead of the full U-Net.
        max_shard_size: overrides the config's export shard size (e.g. ``"15MB"``).
        validation_list: a text file naming the validation clips, one file name per line (rows with a
            ``split`` column keep theirs); default: a seeded ``validation_fraction`` of the clips.
        threads: CPU threads for torch's intra-op pool (None: torch's default).
        init_from: a pipeline folder whose trained component for this stage (``vae``, ``vocoder`` or ``unet``)
            replaces the starting one: how a run continues from an exported model when its run folder (and
            optimiser state) is gone.  The optimiser starts afresh (with its warm-up) and the EMA starts
            at these weights.  With ``resume`` a checkpoint in ``output_dir``, when there is one, wins.
    """

    stage: str
    config: Path
    output_dir: Path
    data: Path | None = None
    model: Path | None = None
    model_config: Path | None = None
    cache: Path | None = None
    resume: bool = False
    lora_rank: int | None = None
    max_shard_size: str | None = None
    max_steps: int | None = None
    validation_list: Path | None = None
    threads: int | None = None
    init_from: Path | None = None


def run_job(job: TrainJob) -> Path:
    """Run ``job`` to the end (or resume it); returns the exported pipeline folder.

    Raises:
        InvalidArgumentError: unknown stage, missing inputs, or options that do not fit the stage.
        TrainingError: a non-finite loss (the last checkpoint is kept).
    """
    _check_job(job)
    if job.threads is not None:
        torch.set_num_threads(job.threads)
    config = load_config(job.config, TrainConfig)
    if job.max_shard_size:
        config = replace(config, max_shard_size=job.max_shard_size)
    if job.max_steps:
        config = replace(config, max_steps=job.max_steps)
    torch.manual_seed(config.seed)
    pipeline = _load_pipeline(job)
    if job.init_from is not None:
        init_component(pipeline, STAGE_COMPONENTS[job.stage], job.init_from)
    if job.stage == "vocoder" and not is_trainable(pipeline.vocoder):
        raise InvalidArgumentError(
            f"The vocoder of {job.model} is a {type(pipeline.vocoder).__name__}, which has no weights to train; "
            "start the vocoder stage from a pipeline with a HiFi-GAN or Vocos vocoder (`audiodiff init-model`, or a "
            "run folder's model)."
        )
    train_set, validation_set, collate_fn = _datasets(job, config, pipeline)
    builder = _stage_builder(job, config, pipeline, validation_set)
    accelerator = make_accelerator(config, job.output_dir)
    return run_training(builder, train_set, config, job.output_dir, resume=job.resume, collate_fn=collate_fn,
                        accelerator=accelerator)


def _check_job(job: TrainJob) -> None:
    if job.stage not in STAGES:
        raise InvalidArgumentError(f"Unknown stage {job.stage!r}; choose one of {', '.join(STAGES)}.")
    if job.data is None and not (job.stage in LATENT_STAGES and job.cache is not None):
        raise InvalidArgumentError("--data DIR is required (an audiofolder or a JSONL manifest; see docs/data.md).")
    if job.stage == "distill" and (job.model is None or job.init_from is not None):
        raise InvalidArgumentError("train distill needs --model TEACHER_DIR (a trained pipeline folder; the student "
                                   "starts from its U-Net) and takes no --init-from (continue a run with --resume).")
    if job.model is None and job.model_config is None:
        raise InvalidArgumentError("Give --model DIR (a pipeline folder to start from) or --model-config YAML.")
    if job.cache is not None and job.stage not in LATENT_STAGES:
        raise InvalidArgumentError("--cache applies to the diffusion and distill stages only.")
    if job.lora_rank is not None and job.stage != "diffusion":
        raise InvalidArgumentError("--lora applies to the diffusion stage only.")
    if job.threads is not None and job.threads < 1:
        raise InvalidArgumentError(f"--threads must be >= 1, got {job.threads}.")
    if job.lora_rank is not None and job.lora_rank < 1:
        raise InvalidArgumentError(f"--lora RANK must be >= 1, got {job.lora_rank}.")


def _load_pipeline(job: TrainJob) -> AudioDiffusionPipeline:
    if job.model is None:
        from ..factory import build_pipeline

        return build_pipeline(load_config(job.model_config))
    if job.cache is not None:
        try:  # the text encoder is only needed for audio samples; the cache replaces it in training
            return AudioDiffusionPipeline.from_pretrained(job.model)
        except TextEncoderNotFoundError:
            return AudioDiffusionPipeline.from_pretrained(job.model, text_encoder=None, tokenizer=None)
    return AudioDiffusionPipeline.from_pretrained(job.model)


def init_component(pipeline: AudioDiffusionPipeline, name: str, model_dir: Path) -> None:
    """Replace ``pipeline``'s component ``name`` (``vae``, ``vocoder`` or ``unet``) by the one saved in the pipeline
    folder ``model_dir``, as float32 weights (an fp16 export is trained in fp32).

    Raises:
        ModelNotFoundError, IncompatibleModelError: ``model_dir`` is not a complete pipeline folder, or its
            component is of another class or architecture than the one being trained.
    """
    from ..model_folder import read_model_index

    saved = read_model_index(model_dir).get(name, [None, None])[1]
    current = getattr(pipeline, name)
    if saved != type(current).__name__:
        raise IncompatibleModelError(
            f"--init-from {model_dir}: its {name} is a {saved}, the model being trained has a "
            f"{type(current).__name__}; start from a folder whose {name} is of the same kind."
        )
    loaded = type(current).from_pretrained(Path(model_dir) / name, torch_dtype=torch.float32)
    ours = {k: tuple(v.shape) for k, v in current.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in loaded.state_dict().items()}
    if ours != theirs:
        differing = sorted(set(ours.items()) ^ set(theirs.items()))[:3]
        raise IncompatibleModelError(
            f"--init-from {model_dir}: its {name} has another architecture than the model being trained "
            f"(first differing weights: {differing}); start from a folder of the same model config."
        )
    current.load_state_dict(loaded.state_dict())
    log.info("%s initialised from %s", name, model_dir)


def _datasets(job: TrainJob, config: TrainConfig, pipeline: AudioDiffusionPipeline) -> tuple[Dataset, Dataset | None, Callable[..., Any]]:
    if job.cache is not None and _cache_has_latents(job.cache):
        train = LatentDataset(job.cache, "train", config.seed, model=job.model)
        try:
            validation: Dataset | None = LatentDataset(job.cache, "validation", config.seed, model=job.model)
        except InvalidArgumentError:
            validation = None
        return train, validation, collate
    clips = read_dataset(job.data)
    listed = None
    if job.validation_list is not None:
        if not job.validation_list.is_file():
            raise InvalidArgumentError(f"Validation list {job.validation_list} not found; give a text file of file names.")
        listed = [line.strip() for line in job.validation_list.read_text().splitlines() if line.strip()]
    train_clips, validation_clips = split_clips(clips, config.validation_fraction, config.seed, listed)
    sample_rate = pipeline.mel.config.sample_rate
    train = AudioCaptionDataset(train_clips, sample_rate, config.segment_seconds, train=True, seed=config.seed)
    validation = None
    if validation_clips:
        try:
            validation = AudioCaptionDataset(validation_clips[:MAX_VALIDATION_CLIPS], sample_rate,
                                             config.segment_seconds, train=False, seed=config.seed)
        except InvalidArgumentError as error:
            log.warning("No usable validation clip (%s); training without validation.", error)
    return train, validation, collate


def _cache_has_latents(cache: Path) -> bool:
    from ..data.cache import read_index

    return bool(read_index(cache).get("latents"))


def _stage_builder(job: TrainJob, config: TrainConfig, pipeline: AudioDiffusionPipeline,
                   validation: Dataset | None) -> Callable[[Accelerator], TrainingStage]:
    if job.stage == "vae":
        from .vae import VAEStage

        return lambda accelerator: VAEStage(config, accelerator, pipeline, validation)
    if job.stage == "vocoder":
        from .vocoder import VocoderStage, build_discriminators

        items = [validation[i] for i in range(len(validation))] if validation is not None else []
        audio = [item["audio"][item["audio_mask"].bool()] for item in items] or None  # without the padding
        settings = config.vocoder
        return lambda accelerator: VocoderStage(
            config, accelerator, pipeline.vocoder, pipeline.mel, audio, pipeline=pipeline,
            discriminators=build_discriminators(settings), steps_per_epoch=settings.lr_decay_steps,
        )
    conditioner = TextStateCache(job.cache, model=job.model).lookup if job.cache is not None else None
    if job.stage == "distill":
        from .distill import DistillStage

        return lambda accelerator: DistillStage(config, accelerator, pipeline, conditioner, validation)
    from .diffusion import DiffusionStage

    if job.lora_rank is not None:
        add_lora(pipeline, job.lora_rank)
    return lambda accelerator: DiffusionStage(config, accelerator, pipeline, conditioner, validation,
                                              use_ema=job.lora_rank is None)


def add_lora(pipeline: AudioDiffusionPipeline, rank: int) -> None:
    """Freeze the U-Net and add LoRA adapters (Hu et al. 2022) of ``rank`` to its attention projections (peft)."""
    from peft import LoraConfig

    pipeline.unet.requires_grad_(False)
    pipeline.unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                         target_modules=list(LORA_TARGETS)))

"""Reading a diffusers-layout source folder: its ``model_index.json``, tokenizer and scheduler (weights: see
:func:`audiodiff.model_folder.check_safetensors_only`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import diffusers
import transformers
from diffusers import AutoencoderKL, UNet2DConditionModel

from ..errors import IncompatibleModelError, ModelNotFoundError
from ..mel import MelSpectrogram
from ..models.vocoder import HifiGanVocoder
from ..pipeline import AudioDiffusionPipeline

LOAD = {"use_safetensors": True, "local_files_only": True}  # from_pretrained: local safetensors only, never pickle


def read_source_index(
    source: Path, pipeline_classes: str | tuple[str, ...], components: tuple[str, ...], folders: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``source/model_index.json``, checked to name one of ``pipeline_classes`` and to have every component folder.

    Args:
        components: entries the index must name, each with its folder.
        folders: further folders the source needs that its index does not name (Auffusion's ``vocoder``).

    Raises:
        ModelNotFoundError: ``source`` is not a folder.
        IncompatibleModelError: no ``model_index.json``, another pipeline class, or a missing component.
    """
    classes = (pipeline_classes,) if isinstance(pipeline_classes, str) else pipeline_classes
    if not source.is_dir():
        raise ModelNotFoundError(f"Source folder {source} not found; download the checkpoint first (docs/checkpoints.md).")
    index_file = source / "model_index.json"
    if not index_file.is_file():
        raise IncompatibleModelError(
            f"{source} has no model_index.json: give the folder of a diffusers {classes[0]} "
            "(the one holding model_index.json, unet/, vae/, ...)."
        )
    index = json.loads(index_file.read_text())
    if index.get("_class_name") not in classes:
        raise IncompatibleModelError(
            f"{source} holds a {index.get('_class_name')!r} pipeline, not a {' or '.join(classes)}; "
            "pick the matching --from family."
        )
    missing = [name for name in components if name not in index or not (source / name).is_dir()]
    missing += [name for name in folders if not (source / name).is_dir()]
    if missing:
        raise IncompatibleModelError(f"Source folder {source} is incomplete: missing component(s) {missing}.")
    return index


def load_tokenizer(source: Path, index: dict[str, Any]) -> transformers.PreTrainedTokenizerBase:
    """The tokenizer in ``source/tokenizer``, of the transformers class the index names (local files only)."""
    class_name = index["tokenizer"][1]
    tokenizer_class = getattr(transformers, class_name, None) or transformers.AutoTokenizer
    return tokenizer_class.from_pretrained(source / "tokenizer", local_files_only=True)


def load_scheduler(source: Path) -> diffusers.SchedulerMixin:
    """The diffusers scheduler of ``source/scheduler/scheduler_config.json``.

    Raises:
        IncompatibleModelError: a class diffusers does not have.
    """
    config = json.loads((source / "scheduler" / "scheduler_config.json").read_text())
    scheduler_class = getattr(diffusers, config.get("_class_name", ""), None)
    if scheduler_class is None:
        raise IncompatibleModelError(f"Unknown scheduler class {config.get('_class_name')!r} in {source / 'scheduler'}.")
    return scheduler_class.from_config(config)


def max_text_length(tokenizer: transformers.PreTrainedTokenizerBase, positions: int) -> int:
    """Tokens per prompt: the tokenizer's ``model_max_length`` (what the source pipeline pads to), at most
    the ``positions`` its text encoder's position embeddings cover."""
    return int(min(tokenizer.model_max_length, positions))


def write_pipeline(
    source: Path, index: dict[str, Any], destination: Path, *, unet: UNet2DConditionModel,
    text_encoder: transformers.PreTrainedModel, text_positions: int, vocoder: HifiGanVocoder, mel: MelSpectrogram,
    max_duration: float, text_embedding: str,
) -> AudioDiffusionPipeline:
    """Assemble the converted components with the source's own VAE, tokenizer and scheduler, and save the
    audiodiff pipeline folder ``destination``.

    Args:
        text_positions: prompt tokens the text encoder's position embeddings cover (see :func:`max_text_length`).

    Raises:
        IncompatibleModelError: components that do not fit together (see ``AudioDiffusionPipeline``).
    """
    tokenizer = load_tokenizer(source, index)
    pipe = AudioDiffusionPipeline(
        vae=AutoencoderKL.from_pretrained(source / "vae", **LOAD),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=load_scheduler(source),
        vocoder=vocoder,
        mel=mel,
        max_duration=max_duration,
        max_text_length=max_text_length(tokenizer, text_positions),
        text_embedding=text_embedding,
    )
    pipe.save_pretrained(destination)
    return pipe

"""Reading a diffusers-layout source folder: its ``model_index.json`` (weights: see
:func:`audiodiff.model_folder.check_safetensors_only`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import IncompatibleModelError, ModelNotFoundError


def read_source_index(source: Path, pipeline_class: str, components: tuple[str, ...]) -> dict[str, Any]:
    """``source/model_index.json``, checked to name ``pipeline_class`` and to have every component folder.

    Raises:
        ModelNotFoundError: ``source`` is not a folder.
        IncompatibleModelError: no ``model_index.json``, another pipeline class, or a missing component.
    """
    if not source.is_dir():
        raise ModelNotFoundError(f"Source folder {source} not found; download the checkpoint first (docs/checkpoints.md).")
    index_file = source / "model_index.json"
    if not index_file.is_file():
        raise IncompatibleModelError(
            f"{source} has no model_index.json: give the folder of a diffusers {pipeline_class} "
            "(the one holding model_index.json, unet/, vae/, ...)."
        )
    index = json.loads(index_file.read_text())
    if index.get("_class_name") != pipeline_class:
        raise IncompatibleModelError(
            f"{source} holds a {index.get('_class_name')!r} pipeline, not a {pipeline_class}; "
            "pick the matching --from family."
        )
    missing = [name for name in components if name not in index or not (source / name).is_dir()]
    if missing:
        raise IncompatibleModelError(f"Source folder {source} is incomplete: missing component(s) {missing}.")
    return index

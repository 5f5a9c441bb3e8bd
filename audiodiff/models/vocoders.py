"""The vocoder kinds: one registry from a kind's ``type`` name to its class, and the protocol they all satisfy.

A vocoder turns a log-mel ``(batch, n_mels, frames)`` of the pipeline's mel front end into a waveform
``(batch, frames * hop_length)``.  Each kind is one line of :data:`VOCODER_KINDS` (as stable-audio-tools'
model factory and diffusers' ``_class_name``): its ``type`` name (``"hifigan"``, ``"vocos"``,
``"griffin-lim"``: the names of report tables and error messages), the module and class a pipeline folder's
``model_index.json`` records for it (and diffusers writes as ``_class_name`` in the component's
``config.json``), and whether the vocoder training stage can train it.  Saved folders name the class, not the
``type``, so every folder written before the registry loads as it did.

This module imports nothing heavy: :mod:`audiodiff.model_folder` checks folders with it before torch loads.
Adding a kind: its module (a diffusers ``ModelMixin`` + ``ConfigMixin`` with the :class:`Vocoder` members) and
one line below; a kind built by ``audiodiff init-model`` also needs its settings in
:class:`~audiodiff.config.ModelConfig` and :func:`model_config_type`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import IncompatibleModelError

if TYPE_CHECKING:
    import torch

    from ..config import ModelConfig


@runtime_checkable
class Vocoder(Protocol):
    """What the pipeline, training and evaluation use of a vocoder.

    ``config`` is the diffusers config (``config.n_mels``: mel bands of the input; ``config.sample_rate``: output
    rate in Hz); calling the vocoder on a natural-log mel ``(batch, n_mels, frames)`` returns the waveform
    ``(batch, frames * hop_length)``.
    """

    config: Any

    @property
    def hop_length(self) -> int:
        """Output samples per input frame (the mel front end's hop)."""

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """``(batch, n_mels, frames)`` log-mel -> ``(batch, frames * hop_length)`` waveform."""

    def remove_weight_norm(self) -> None:
        """Fold any weight normalisation into plain weights for inference (a no-op for kinds without it)."""


@dataclass(frozen=True)
class VocoderKind:
    """One kind of vocoder: its ``type`` name, where its class lives (the ``[module, class]`` pair of
    ``model_index.json``), whether the vocoder training stage trains it (it has weights to learn) and the
    :class:`~audiodiff.config.ModelConfig` field holding its settings (None: not built from a model config)."""

    type: str
    module: str
    class_name: str
    trainable: bool
    settings: str | None = None

    def load_class(self) -> type:
        """Import the kind's class (imports its module, and with it torch)."""
        return getattr(importlib.import_module(self.module), self.class_name)


VOCODER_KINDS: dict[str, VocoderKind] = {
    kind.type: kind
    for kind in (
        VocoderKind("hifigan", "audiodiff.models.vocoder", "HifiGanVocoder", trainable=True, settings="vocoder"),
        VocoderKind("vocos", "audiodiff.models.vocos", "VocosVocoder", trainable=True, settings="vocos"),
        VocoderKind("griffin-lim", "audiodiff.models.griffin_lim", "GriffinLimVocoder", trainable=False),
    )
}


def vocoder_kind(type_name: str) -> VocoderKind:
    """The kind registered as ``type_name``.

    Raises:
        IncompatibleModelError: no such kind (the message names the known types).
    """
    if type_name not in VOCODER_KINDS:
        raise IncompatibleModelError(
            f"Unknown vocoder type {type_name!r}; the known types are {', '.join(sorted(VOCODER_KINDS))}."
        )
    return VOCODER_KINDS[type_name]


def kind_of_class(class_name: str | None, module: str | None = None) -> VocoderKind | None:
    """The kind whose class is ``class_name`` (a component ``config.json``'s ``_class_name``) and, when given,
    lives in ``module`` (the library of a ``model_index.json`` entry); None for anything else."""
    for kind in VOCODER_KINDS.values():
        if kind.class_name == class_name and module in (None, kind.module):
            return kind
    return None


def vocoder_class(module: str, class_name: str) -> type:
    """The class of a ``model_index.json`` ``vocoder`` entry ``[module, class_name]``, imported (diffusers loads
    a component only from a module already imported).

    Raises:
        IncompatibleModelError: the entry names no registered kind (the message names the known classes).
    """
    kind = kind_of_class(class_name, module)
    if kind is None:
        known = ", ".join(f"{k.module}.{k.class_name}" for k in VOCODER_KINDS.values())
        raise IncompatibleModelError(
            f"The vocoder {module}.{class_name} is not a known kind; the known ones are {known}."
        )
    return kind.load_class()


def type_of(vocoder: object) -> str:
    """The ``type`` name of ``vocoder``'s kind (or of the kind it subclasses), else its class name."""
    for cls in type(vocoder).__mro__:
        kind = kind_of_class(cls.__qualname__, cls.__module__)
        if kind is not None:
            return kind.type
    return type(vocoder).__name__


def is_trainable(vocoder: object) -> bool:
    """True when ``vocoder`` is of a kind the vocoder training stage trains."""
    kind = VOCODER_KINDS.get(type_of(vocoder))
    return kind is not None and kind.trainable


def trainable_class(class_name: str | None, where: str) -> type:
    """The class of the trainable kind named ``class_name`` (``_class_name`` or ``model_index.json``'s class).

    Raises:
        IncompatibleModelError: ``class_name`` names no trainable kind (the message names ``where``).
    """
    kind = kind_of_class(class_name)
    if kind is None or not kind.trainable:
        raise IncompatibleModelError(
            f"The vocoder of {where} is a {class_name}, which has no weights to train; start from a folder with a "
            "HiFi-GAN or Vocos vocoder."
        )
    return kind.load_class()


def model_config_type(config: ModelConfig) -> str:
    """The kind a model config builds: ``"vocos"`` when its ``vocos`` section is set, else ``"hifigan"``
    (the settings of ``config.vocoder``, always present)."""
    return "vocos" if config.vocos is not None else "hifigan"


def build_vocoder(config: ModelConfig) -> Vocoder:
    """A freshly initialised vocoder of :func:`model_config_type`'s kind, sized for ``config.audio``.

    Raises:
        ValueError: settings that do not fit the audio front end (see each class's ``from_configs``).
    """
    kind = vocoder_kind(model_config_type(config))
    return kind.load_class().from_configs(getattr(config, kind.settings), config.audio)

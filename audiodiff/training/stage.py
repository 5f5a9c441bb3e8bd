"""The contract between a training stage (what to optimise) and the loop (how to run it).

A stage owns its models, losses, optimisers and EMA; the loop in
:mod:`audiodiff.training.loop` owns the data iteration, accelerate, progress,
logging, checkpoints and resumption.  Stages: ``vae``, ``vocoder``, ``diffusion``, ``distill``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch import nn

from .config import TrainConfig


class TrainingStage(ABC):
    """One stage of training.

    The loop calls, in order: ``__init__`` (build models and optimisers, nothing
    prepared yet), :meth:`prepare` once, then per step :meth:`train_step`, every
    ``eval_every`` steps :meth:`evaluate`, and at the end :meth:`export`.
    """

    name: str = "stage"
    #: the :meth:`evaluate` metric (lower is better) that picks the export kept as ``best/`` (``keep_best``)
    best_metric: str | None = None

    def __init__(self, config: TrainConfig, accelerator: Accelerator):
        self.config = config
        self.accelerator = accelerator

    @abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """Trained modules by name (after :meth:`prepare`, accelerate-wrapped); checkpointed as safetensors."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Optimisers by name; checkpointed."""

    def lr_schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        """LR schedulers by name; checkpointed (their state is plain numbers)."""
        return {}

    @abstractmethod
    def prepare(self) -> None:
        """Hand models/optimisers/schedulers to ``self.accelerator.prepare`` and keep the wrapped ones."""

    @abstractmethod
    def train_step(self, batch: dict[str, Any], step: int) -> dict[str, torch.Tensor]:
        """One optimisation step (backward and optimiser steps included, via ``self.accelerator``).

        Returns detached scalar losses; key ``"loss"`` is the one shown in the progress bar and
        checked for NaN/inf.
        """

    def evaluate(self, step: int, output_dir: Path) -> dict[str, float]:
        """Validation metrics (and samples written under ``output_dir``); main process only."""
        return {}

    def extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Anything else to checkpoint (e.g. EMA weights): ``(tensors, json_able)``."""
        return {}, {}

    def load_extra_state(self, tensors: dict[str, torch.Tensor], data: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""

    @abstractmethod
    def export(self, directory: Path) -> None:
        """Write the trained result (a pipeline folder, or the component folder) to ``directory``."""

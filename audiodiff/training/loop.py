"""The training loop shared by every stage: accelerate, data position, progress, logs, checkpoints.

The same run works on one CPU, one GPU or several GPUs under ``accelerate launch``
(DDP).  It checkpoints every ``checkpoint_every`` optimiser steps (atomically, see
:mod:`audiodiff.training.checkpoint`), resumes exactly from the newest checkpoint,
and stops with :class:`~audiodiff.errors.TrainingError` on a NaN/inf loss, keeping
the last good checkpoint.  Besides every ``checkpoint_every`` steps it checkpoints
every ``checkpoint_minutes`` of wall time, and on SIGTERM or SIGINT it finishes the
current step, checkpoints, exports and exits (a clean stop; ``--resume`` continues).  With ``max_minutes`` it
stops the same way once that much wall time has passed, evaluating before the export.  Every ``log_every`` steps
the losses' means, the steps per second (evaluations and checkpoints left out) and the seconds since the start
are logged and appended to ``train_log.jsonl``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Callable

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DataLoaderConfiguration, broadcast, set_seed
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..config import save_config
from ..devices import resolve_mixed_precision
from ..errors import TrainingError
from .checkpoint import latest_checkpoint, latest_intact_checkpoint, load_checkpoint, publish_folder, save_checkpoint
from .config import TrainConfig
from .stage import TrainingStage

log = logging.getLogger(__name__)

MODEL_SUBDIR = "model"
BEST_SUBDIR = "best"  # keep_best: the export of the evaluation with the lowest stage.best_metric
BEST_RECORD = "best_step.json"  # inside BEST_SUBDIR: {"step", "metric", "value"}
METRICS_LOG = "metrics.jsonl"  # one line per evaluation: {"step", metric: value, ...}
TRAIN_LOG = "train_log.jsonl"  # a line per log_every steps: {"step", loss means, "lr/NAME", "steps_per_second", "seconds"}


def make_accelerator(config: TrainConfig, output_dir: Path, cpu: bool = False) -> Accelerator:
    """An Accelerator with the run's precision, accumulation, seeded data order and TensorBoard when installed
    (on the CPU even where a GPU is, with ``cpu``)."""
    has_tensorboard = importlib.util.find_spec("tensorboard") is not None
    if not has_tensorboard:
        log.warning("tensorboard is not installed; training logs go to the console only (pip install tensorboard).")
    mixed_precision = resolve_mixed_precision(config.mixed_precision)
    state = AcceleratorState._shared_state
    if state.get("_mixed_precision") not in (None, mixed_precision):
        # an earlier run in this process (tests, a notebook) set another precision; accelerate's state is a
        # process-wide singleton that refuses a change, so it is cleared (the device part is kept)
        AcceleratorState._reset_state()
    return Accelerator(
        cpu=cpu,
        mixed_precision=mixed_precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        log_with="tensorboard" if has_tensorboard else None,
        project_dir=str(output_dir),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=config.seed),
    )


def run_training(
    stage_factory: Callable[[Accelerator], TrainingStage],
    train_dataset: Dataset,
    config: TrainConfig,
    output_dir: Path,
    resume: bool = False,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    accelerator: Accelerator | None = None,
) -> Path:
    """Train a stage for ``config.max_steps`` optimiser steps and export it to ``output_dir/model``.

    Args:
        stage_factory: builds the stage for the run's accelerator.
        train_dataset: yields training examples; ``set_epoch(epoch)`` is called when it has one.
        resume: continue from the newest checkpoint in ``output_dir/checkpoints`` (fresh start if none).

    Returns:
        The exported model folder.

    Raises:
        TrainingError: the loss became NaN/inf (the last checkpoint is kept), or the dataset is empty.
        CheckpointError: a checkpoint write failed (disk full; the previous one is kept), or ``resume`` found
            checkpoints but none intact (a corrupt newest one is skipped with a warning, falling back to older).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    accelerator = accelerator or make_accelerator(config, output_dir)
    set_seed(config.seed)
    stage = stage_factory(accelerator)
    loader = DataLoader(
        train_dataset, batch_size=config.batch_size, shuffle=True, drop_last=len(train_dataset) >= config.batch_size,
        num_workers=config.num_workers, collate_fn=collate_fn,
    )
    if len(loader) == 0:
        raise TrainingError("The training set is empty; add clips or lower batch_size.")
    stage.prepare()
    loader = accelerator.prepare(loader)
    step, epoch, batch_in_epoch = _resume(stage, accelerator, output_dir) if resume else (0, 0, 0)
    if accelerator.is_main_process:
        save_config(config, output_dir / "train_config.yaml")
        accelerator.init_trackers("logs")

    progress = tqdm(total=config.max_steps, initial=step, desc=f"train {stage.name}", disable=not accelerator.is_main_process)
    stop = _StopRequest()
    last_checkpoint_time = last_eval_time = started = time.monotonic()
    meter = _LossMeter()
    if config.eval_at_start and step == 0:
        _evaluate(stage, accelerator, output_dir, 0, config.keep_best)
        last_eval_time = time.monotonic()
        meter.restart_clock()
    first_step, out_of_time = step, False
    while step < config.max_steps and not stop.requested:
        _set_epoch(train_dataset, loader, epoch)
        batches = accelerator.skip_first_batches(loader, batch_in_epoch) if batch_in_epoch else loader
        for batch in batches:
            losses = stage.train_step(batch, step)
            batch_in_epoch += 1
            if not accelerator.sync_gradients:
                continue
            step += 1
            _check_finite(losses, step, output_dir)
            progress.update()
            meter.add(losses)
            if step == first_step + 1 and accelerator.is_main_process:
                seconds, steps = time.monotonic() - started, config.max_steps - first_step
                if config.max_minutes is not None:  # the budget's steps at this pace, when fewer
                    steps = min(steps, max(1, math.ceil(60.0 * config.max_minutes / max(seconds, 1e-9))))
                log_estimate(seconds, steps, config.eval_every)
            if _minutes_passed(accelerator, started, config.max_minutes) and not stop.requested:
                out_of_time, stop.requested = True, f"max_minutes={config.max_minutes:g}"
            if step % config.log_every == 0 or step == config.max_steps:
                _log(accelerator, progress, meter, stage, step, output_dir, time.monotonic() - started)
            if _checkpoint_due(config, step, last_checkpoint_time, stop.requested, accelerator.num_processes):
                _checkpoint(stage, accelerator, output_dir, step, epoch, batch_in_epoch, config.keep_checkpoints)
                last_checkpoint_time = time.monotonic()
                meter.restart_clock()
            if (step % config.eval_every == 0 or step == config.max_steps or out_of_time
                    or _minutes_passed(accelerator, last_eval_time, config.eval_minutes)):
                _evaluate(stage, accelerator, output_dir, step, config.keep_best)
                last_eval_time = time.monotonic()
                meter.restart_clock()
            if step >= config.max_steps or stop.requested:
                break
        else:
            epoch, batch_in_epoch = epoch + 1, 0
    progress.close()
    stop.restore()
    if out_of_time:
        log.info("time budget of %g min spent at step %d; checkpointed, evaluated, exporting; continue with --resume",
                 config.max_minutes, step)
    elif stop.requested:
        log.warning("stopped by %s at step %d; checkpointed, exporting; continue with --resume", stop.requested, step)

    model_dir = output_dir / MODEL_SUBDIR
    if accelerator.is_main_process:
        export_atomically(stage, model_dir)
        log.info("exported %s to %s", stage.name, model_dir)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return model_dir


def log_estimate(first_step_seconds: float, steps: int, eval_every: int) -> float:
    """Log how long ``steps`` optimiser steps will take at the pace of the timed first one (which includes the
    warm-up of the first batch, so the estimate errs long); returns the estimate in seconds."""
    total = first_step_seconds * steps
    evaluations = math.ceil(steps / eval_every) if eval_every > 0 else 0  # every eval_every steps and at the end
    extra = f", plus {evaluations} evaluation(s) with samples" if evaluations else ""
    log.info("Estimated training time: %s (%d steps at %.2f s for the first step%s).",
             format_seconds(total), steps, first_step_seconds, extra)
    return total


def format_seconds(seconds: float) -> str:
    """``"42 s"``, ``"3.5 min"`` or ``"1 h 20 min"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{int(seconds // 3600)} h {round(seconds % 3600 / 60)} min"


class _StopRequest:
    """Turns SIGTERM/SIGINT into a flag the loop reads after each step (main thread only)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}
        try:
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: signals stay as they were
            self._previous = {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = signal.Signals(signum).name
        log.warning("%s received: stopping after this step (checkpoint, then export)", self.requested)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _checkpoint_due(config: TrainConfig, step: int, last_time: float, stopping: str | None, num_processes: int) -> bool:
    """A checkpoint every ``checkpoint_every`` steps, at the end and on a stop; in a single-process run also
    every ``checkpoint_minutes`` (processes' clocks could disagree, and all of them must checkpoint together)."""
    if step % config.checkpoint_every == 0 or step == config.max_steps or stopping:
        return True
    minutes = config.checkpoint_minutes
    return num_processes == 1 and minutes is not None and time.monotonic() - last_time >= 60.0 * minutes


def _set_epoch(dataset: Dataset, loader: Any, epoch: int) -> None:
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    if hasattr(loader, "set_epoch"):
        loader.set_epoch(epoch)


def export_atomically(stage: TrainingStage, model_dir: Path, record: dict[str, Any] | None = None) -> None:
    """``stage.export`` into ``.tmp-model`` beside ``model_dir``, then renamed over it: a run killed mid-export
    leaves the previous export (or none), never a half-written folder under ``model_dir``'s name.  ``record``,
    if given, is written into the folder as :data:`BEST_RECORD` before it is published."""
    staging = model_dir.with_name(f".tmp-{model_dir.name}")
    shutil.rmtree(staging, ignore_errors=True)
    stage.export(staging)
    if record is not None:
        (staging / BEST_RECORD).write_text(json.dumps(record, indent=1) + "\n")
    publish_folder(staging, model_dir)


def best_record(output_dir: Path) -> dict[str, Any] | None:
    """``{"step", "metric", "value"}`` of the run's ``best/`` export, or None when there is none yet."""
    path = Path(output_dir) / BEST_SUBDIR / BEST_RECORD
    return json.loads(path.read_text()) if path.is_file() else None


def keep_if_best(stage: TrainingStage, output_dir: Path, step: int, metrics: dict[str, float]) -> bool:
    """Export the stage to ``output_dir/best`` when ``metrics[stage.best_metric]`` is lower than the kept best
    (or nothing is kept yet); returns whether it did.  Adversarial runs wander past their best validation (issue
    20's VAE decoder peaked at step 3,250 of 4,035) while ``keep_checkpoints`` holds only the newest steps, so
    the best is kept apart, and survives ``--resume`` (the record is read back from the folder)."""
    metric = stage.best_metric
    if metric is None or metric not in metrics:
        return False
    value = float(metrics[metric])
    kept = best_record(output_dir)
    if kept is not None and kept.get("metric") == metric and not value < float(kept["value"]):
        return False
    export_atomically(stage, Path(output_dir) / BEST_SUBDIR, {"step": step, "metric": metric, "value": value})
    log.info("step %d: %s=%.4g is the best so far; exported to %s", step, metric, value, Path(output_dir) / BEST_SUBDIR)
    return True


def _resume(stage: TrainingStage, accelerator: Accelerator, output_dir: Path) -> tuple[int, int, int]:
    checkpoint = latest_intact_checkpoint(output_dir)  # corrupt newer ones are logged and skipped
    if checkpoint is None:
        log.warning("--resume given but no checkpoint in %s/checkpoints; starting from step 0.", output_dir)
        return 0, 0, 0
    modules = {name: accelerator.unwrap_model(m) for name, m in stage.modules().items()}
    state, tensors, data = load_checkpoint(checkpoint, modules, stage.optimizers(), stage.lr_schedulers())
    stage.load_extra_state(tensors, data)
    position = state["data_position"]
    log.info("resumed from %s (step %d)", checkpoint, state["step"])
    return int(state["step"]), int(position["epoch"]), int(position["batch_in_epoch"])


def _checkpoint(
    stage: TrainingStage, accelerator: Accelerator, output_dir: Path, step: int, epoch: int, batch_in_epoch: int, keep: int
) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        modules = {name: accelerator.unwrap_model(m) for name, m in stage.modules().items()}
        save_checkpoint(
            output_dir, step, modules, stage.optimizers(), stage.lr_schedulers(), stage.extra_state(),
            {"epoch": epoch, "batch_in_epoch": batch_in_epoch}, keep=keep,
        )
    accelerator.wait_for_everyone()


def _evaluate(stage: TrainingStage, accelerator: Accelerator, output_dir: Path, step: int,
              keep_best: bool) -> dict[str, float]:
    """The stage's validation metrics (main process; empty on the others), logged and appended to
    :data:`METRICS_LOG`; with ``keep_best``, the export kept as ``best/`` when they are the best so far."""
    metrics: dict[str, float] = {}
    if accelerator.is_main_process:
        metrics = stage.evaluate(step, output_dir / "samples" / f"step-{step:08d}")
        if metrics:
            accelerator.log({f"val/{k}": v for k, v in metrics.items()}, step=step)
            _append_json(output_dir / METRICS_LOG, {"step": step, **metrics})
            log.info("step %d validation: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    accelerator.wait_for_everyone()
    if keep_best:
        keep_if_best(stage, output_dir, step, metrics)
    return metrics


def _minutes_passed(accelerator: Accelerator, since: float, minutes: float | None) -> bool:
    """Whether ``minutes`` (None: never) have passed since the monotonic time ``since``, as the main process's clock
    says (broadcast, so that every process stops or evaluates at the same step)."""
    if minutes is None:
        return False
    passed = time.monotonic() - since >= 60.0 * minutes
    if accelerator.num_processes == 1:
        return passed
    return bool(broadcast(torch.tensor([int(passed)], device=accelerator.device), from_process=0).item())


def _append_json(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


class _LossMeter:
    """The losses' means since the last log, and the pace of the steps timed since then (the clock restarts after
    each evaluation and checkpoint, so the pace is training's alone)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.restart_clock()

    def restart_clock(self) -> None:
        self.clock, self.timed = time.monotonic(), 0

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, 0.0) + value.detach().float()
            self.counts[key] = self.counts.get(key, 0) + 1
        self.timed += 1

    def take(self) -> tuple[dict[str, float], float | None]:
        """The means since the last call and the steps per second (None when no step was timed); then resets."""
        means = {key: float(total) / self.counts[key] for key, total in self.sums.items()}
        elapsed = time.monotonic() - self.clock
        pace = self.timed / elapsed if self.timed and elapsed > 0 else None
        self.sums, self.counts = {}, {}
        self.restart_clock()
        return means, pace


def _log(accelerator: Accelerator, progress: tqdm, meter: _LossMeter, stage: TrainingStage, step: int,
         output_dir: Path, seconds: float) -> None:
    values, pace = meter.take()
    lrs = {f"lr/{name}": opt.param_groups[0]["lr"] for name, opt in stage.optimizers().items()}
    progress.set_postfix(loss=f"{values['loss']:.4f}")
    accelerator.log({**{f"train/{k}": v for k, v in values.items()}, **lrs}, step=step)
    if accelerator.is_main_process:
        pace_record = {"steps_per_second": round(pace, 3)} if pace is not None else {}
        record = {"step": step, **values, **lrs, **pace_record, "seconds": round(seconds, 1)}
        _append_json(output_dir / TRAIN_LOG, record)


def _check_finite(losses: dict[str, torch.Tensor], step: int, output_dir: Path) -> None:
    value = float(losses["loss"])
    if not math.isfinite(value):
        last = latest_checkpoint(output_dir)
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
        raise TrainingError(
            f"Training loss became {value} at step {step}; stopped, {kept}. Lower the learning rate, use "
            "bf16 or fp32 instead of fp16, or check the data, then rerun with --resume."
        )

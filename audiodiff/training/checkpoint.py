"""Atomic, pickle-free training checkpoints.

A checkpoint is a folder ``checkpoints/step-XXXXXXXX/`` holding
``modules.safetensors`` (every trained module's weights), ``optimizers.safetensors``
(optimiser tensors), ``extra.safetensors`` (stage tensors such as EMA weights, and RNG
states) and ``state.json`` (step, data position, optimiser structure, LR scheduler
states, Python/NumPy RNG, stage data).  It is written under a temporary name and
renamed, so a run killed mid-save leaves the previous checkpoint intact; loading reads
only safetensors and JSON, never pickle.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

log = logging.getLogger(__name__)

PREFIX = "step-"


def flatten_state(state: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Move every tensor of a nested dict/list into ``tensors`` (keyed by path); return the JSON-able rest."""
    if isinstance(state, torch.Tensor):
        key = prefix.rstrip(".")
        tensors[key] = state.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(state, dict):
        return {"__dict__": [[_json_key(k), flatten_state(v, f"{prefix}{k}.", tensors)] for k, v in state.items()]}
    if isinstance(state, (list, tuple)):
        return [flatten_state(v, f"{prefix}{i}.", tensors) for i, v in enumerate(state)]
    return state


def unflatten_state(data: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(data, dict) and "__tensor__" in data:
        return tensors[data["__tensor__"]]
    if isinstance(data, dict) and "__dict__" in data:
        return {_restore_key(k): unflatten_state(v, tensors) for k, v in data["__dict__"]}
    if isinstance(data, list):
        return [unflatten_state(v, tensors) for v in data]
    return data


def _json_key(key: Any) -> Any:
    return {"__int__": key} if isinstance(key, int) else key


def _restore_key(key: Any) -> Any:
    return key["__int__"] if isinstance(key, dict) else key


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Torch (CPU and CUDA), Python and NumPy RNG states as ``(tensors, json_able)``."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    np_state = np.random.get_state()
    data = {
        "python": _listify(random.getstate()),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }
    return tensors, data


def set_rng_state(tensors: dict[str, torch.Tensor], data: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    random.setstate(_tuplify(data["python"]))
    kind, keys, *rest = data["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), *rest))


def _listify(value: Any) -> Any:
    return [_listify(v) for v in value] if isinstance(value, (tuple, list)) else value


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value


def save_checkpoint(
    output_dir: Path,
    step: int,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    lr_schedulers: dict[str, Any],
    extra: tuple[dict[str, torch.Tensor], dict[str, Any]],
    data_position: dict[str, int],
    keep: int = 2,
) -> Path:
    """Write checkpoint ``step`` atomically under ``output_dir/checkpoints`` and prune to the newest ``keep``.

    ``modules`` must be unwrapped (no DDP wrapper); call on the main process only.
    """
    root = Path(output_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{PREFIX}{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()

    weights = {f"{name}.{k}": v.detach().cpu().contiguous() for name, m in modules.items() for k, v in m.state_dict().items()}
    save_file(weights, str(tmp / "modules.safetensors"))
    opt_tensors: dict[str, torch.Tensor] = {}
    opt_data = {name: flatten_state(opt.state_dict(), f"{name}.", opt_tensors) for name, opt in optimizers.items()}
    save_file(opt_tensors, str(tmp / "optimizers.safetensors"))
    stage_tensors, stage_data = extra
    random_tensors, random_data = rng_state()
    save_file({**{f"stage.{k}": v.detach().cpu().contiguous() for k, v in stage_tensors.items()}, **random_tensors},
              str(tmp / "extra.safetensors"))
    state = {
        "step": step,
        "data_position": data_position,
        "optimizers": opt_data,
        "lr_schedulers": {name: s.state_dict() for name, s in lr_schedulers.items()},
        "stage": stage_data,
        "rng": random_data,
    }
    (tmp / "state.json").write_text(json.dumps(state))
    _fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _prune(root, keep)
    log.info("saved checkpoint %s", final)
    return final


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint folder under ``output_dir/checkpoints``, or None."""
    root = Path(output_dir) / "checkpoints"
    if not root.is_dir():
        return None
    done = sorted(p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / "state.json").is_file())
    return done[-1] if done else None


def load_checkpoint(
    path: Path,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    lr_schedulers: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """Restore modules, optimisers, LR schedulers and RNG states in place from checkpoint ``path``.

    Returns:
        ``(state, stage_tensors, stage_data)``: ``state`` has ``step`` and ``data_position``.
    """
    state = json.loads((path / "state.json").read_text())
    weights = load_file(str(path / "modules.safetensors"))
    for name, module in modules.items():
        own = {k[len(name) + 1 :]: v for k, v in weights.items() if k.startswith(f"{name}.")}
        module.load_state_dict(own)
    opt_tensors = load_file(str(path / "optimizers.safetensors"))
    for name, opt in optimizers.items():
        opt.load_state_dict(unflatten_state(state["optimizers"][name], opt_tensors))
    for name, scheduler in lr_schedulers.items():
        scheduler.load_state_dict(state["lr_schedulers"][name])
    extra = load_file(str(path / "extra.safetensors"))
    set_rng_state(extra, state["rng"])
    stage_tensors = {k[len("stage.") :]: v for k, v in extra.items() if k.startswith("stage.")}
    return state, stage_tensors, state["stage"]


def _prune(root: Path, keep: int) -> None:
    done = sorted(p for p in root.iterdir() if p.name.startswith(PREFIX))
    for old in done[: max(0, len(done) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    for file in path.iterdir():
        with open(file, "rb") as f:
            os.fsync(f.fileno())

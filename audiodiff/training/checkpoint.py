"""Atomic, pickle-free training checkpoints.

A checkpoint is a folder ``checkpoints/step-XXXXXXXX/`` holding
``modules.safetensors`` (every trained module's weights), ``optimizers.safetensors``
(optimiser tensors), ``extra.safetensors`` (stage tensors such as EMA weights, and RNG
states), ``state.json`` (step, data position, optimiser structure, LR scheduler
states, Python/NumPy RNG, stage data) and, written last, ``manifest.json`` (the size and
SHA-256 of every other file: the completeness marker).  It is written under a temporary
name and renamed, so a run killed mid-save leaves the previous checkpoint intact; a disk
that fills up mid-save gives a :class:`~audiodiff.errors.CheckpointError` and removes the
partial folder.  :func:`latest_intact_checkpoint` checks the hashes and falls back to an
older checkpoint when the newest is corrupt.  Loading reads only safetensors and JSON,
never pickle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import CheckpointError

log = logging.getLogger(__name__)

PREFIX = "step-"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


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

    Raises:
        CheckpointError: a write failed (disk full, permissions); the partial folder is removed and the
            previous checkpoints are untouched.
    """
    root = Path(output_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{PREFIX}{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _write_files(tmp, step, modules, optimizers, lr_schedulers, extra, data_position)
        _write_manifest(tmp, step)
    except (OSError, SafetensorError) as error:
        shutil.rmtree(tmp, ignore_errors=True)
        previous = latest_checkpoint(output_dir)
        kept = f"the previous checkpoint {previous} is intact" if previous else "no earlier checkpoint exists"
        raise CheckpointError(
            f"Could not write checkpoint {final} ({getattr(error, 'strerror', None) or error}); {kept}. "
            "Free disk space (or fix the folder's permissions), then rerun with --resume."
        ) from error
    publish_folder(tmp, final)
    _prune(root, keep)
    log.info("saved checkpoint %s", final)
    return final


def _write_files(
    tmp: Path,
    step: int,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    lr_schedulers: dict[str, Any],
    extra: tuple[dict[str, torch.Tensor], dict[str, Any]],
    data_position: dict[str, int],
) -> None:
    """The three safetensors files and ``state.json`` of a checkpoint, into ``tmp``."""
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


def _write_manifest(tmp: Path, step: int) -> None:
    """fsync every file, then write ``manifest.json`` (size and SHA-256 of each) last: the completeness marker."""
    files = {}
    for file in sorted(tmp.iterdir()):
        with open(file, "rb") as f:
            os.fsync(f.fileno())
        files[file.name] = {"bytes": file.stat().st_size, "sha256": _sha256(file)}
    manifest = tmp / MANIFEST
    manifest.write_text(json.dumps({"format": MANIFEST_FORMAT, "step": step, "files": files}, indent=1))
    with open(manifest, "rb") as f:
        os.fsync(f.fileno())


def publish_folder(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final`` by renames (same file system), replacing any old ``final``.

    A kill at any moment leaves either the old ``final``, or the new one, or (between the two renames)
    neither, with the old one kept as ``.old-NAME`` beside it; never a mixture of the two.
    """
    old = final.with_name(f".old-{final.name}")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    _fsync_folder(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint folder under ``output_dir/checkpoints`` (no hashes checked), or None."""
    found = checkpoints(output_dir)
    return found[-1] if found else None


def checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoint folders (with ``manifest.json``, or ``state.json`` for older runs), oldest first."""
    root = Path(output_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir()
        if p.name.startswith(PREFIX) and ((p / MANIFEST).is_file() or (p / "state.json").is_file())
    )


def verify_checkpoint(path: Path) -> None:
    """Check checkpoint ``path`` against its manifest: every file present, of the right size and SHA-256.

    Checkpoints written before manifests existed are checked for readable ``state.json`` and
    safetensors headers only.

    Raises:
        CheckpointError: a file is missing, truncated, altered or unreadable (the message names it).
    """
    path = Path(path)
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        _verify_legacy(path)
        return
    try:
        manifest = json.loads(manifest_file.read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"Checkpoint manifest {manifest_file} is unreadable ({error}).") from error
    for name in ("modules.safetensors", "optimizers.safetensors", "extra.safetensors", "state.json"):
        if name not in files:
            raise CheckpointError(f"Checkpoint manifest {manifest_file} does not list {name}.")
    for name, expected in files.items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"Checkpoint file {file} is missing.")
        size = file.stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(f"Checkpoint file {file} has {size} bytes, its manifest says {expected['bytes']} "
                                  "(truncated or overwritten).")
        if _sha256(file) != expected["sha256"]:
            raise CheckpointError(f"Checkpoint file {file} does not match the SHA-256 in its manifest (corrupted).")


def _verify_legacy(path: Path) -> None:
    state = path / "state.json"
    try:
        json.loads(state.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"Checkpoint file {state} is missing or not JSON ({error}).") from error
    for name in ("modules.safetensors", "optimizers.safetensors", "extra.safetensors"):
        try:
            with open(path / name, "rb"):
                pass
            load_file(str(path / name))
        except (OSError, SafetensorError) as error:
            raise CheckpointError(f"Checkpoint file {path / name} is missing or unreadable ({error}).") from error


def latest_intact_checkpoint(output_dir: Path) -> Path | None:
    """The newest checkpoint that passes :func:`verify_checkpoint`, newest first; each corrupt one is logged.

    Returns:
        The checkpoint folder, or None when ``output_dir`` has no checkpoint at all.

    Raises:
        CheckpointError: there are checkpoints but none is intact (the message names each problem).
    """
    found = checkpoints(output_dir)
    problems = []
    for path in reversed(found):
        try:
            verify_checkpoint(path)
        except CheckpointError as error:
            problems.append(str(error))
            log.warning("Checkpoint %s is corrupt: %s Falling back to an older checkpoint.", path.name, error)
            continue
        if problems:
            log.warning("Resuming from %s, the newest intact checkpoint (%d newer one(s) corrupt).", path.name, len(problems))
        return path
    if problems:
        raise CheckpointError(
            f"No intact checkpoint in {Path(output_dir) / 'checkpoints'}: {' '.join(problems)} "
            "Start afresh without --resume (or with --init-from an exported model)."
        )
    return None


def load_checkpoint(
    path: Path,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    lr_schedulers: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """Restore modules, optimisers, LR schedulers and RNG states in place from checkpoint ``path``.

    Returns:
        ``(state, stage_tensors, stage_data)``: ``state`` has ``step`` and ``data_position``.

    Raises:
        CheckpointError: a file is missing or unreadable (call :func:`verify_checkpoint` first to check hashes).
    """
    state = _read_json(path / "state.json")
    weights = _read_safetensors(path / "modules.safetensors")
    for name, module in modules.items():
        own = {k[len(name) + 1 :]: v for k, v in weights.items() if k.startswith(f"{name}.")}
        module.load_state_dict(own)
    opt_tensors = _read_safetensors(path / "optimizers.safetensors")
    for name, opt in optimizers.items():
        opt.load_state_dict(unflatten_state(state["optimizers"][name], opt_tensors))
    for name, scheduler in lr_schedulers.items():
        scheduler.load_state_dict(state["lr_schedulers"][name])
    extra = _read_safetensors(path / "extra.safetensors")
    set_rng_state(extra, state["rng"])
    stage_tensors = {k[len("stage.") :]: v for k, v in extra.items() if k.startswith("stage.")}
    return state, stage_tensors, state["stage"]


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"Checkpoint file {file} is missing or not JSON ({error}).") from error


def _read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file))
    except (OSError, SafetensorError) as error:
        raise CheckpointError(f"Checkpoint file {file} is missing or unreadable ({error}).") from error


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _prune(root: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints; each is renamed away first, so a kill mid-delete
    never leaves a half-deleted folder under a checkpoint's name."""
    done = sorted(p for p in root.iterdir() if p.name.startswith(PREFIX))
    for old in done[: max(0, len(done) - keep)]:
        os.replace(old, root / f".del-{old.name}")
    for leftover in root.glob(".del-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _fsync_folder(path: Path) -> None:
    """fsync a folder's entry list, so renames inside it survive a power cut (no-op where unsupported)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)

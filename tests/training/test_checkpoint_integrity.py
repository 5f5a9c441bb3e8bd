"""Corrupt checkpoints are detected and named, --resume falls back to the newest intact one, a full disk
during a checkpoint write is a clear error that leaves the previous checkpoint intact."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import pytest
import torch

from audiodiff.errors import CheckpointError
from audiodiff.training import checkpoint as checkpoint_module
from audiodiff.training.checkpoint import (
    MANIFEST,
    latest_checkpoint,
    latest_intact_checkpoint,
    load_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)


def _save(output_dir: Path, step: int, seed: int = 0) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    path = save_checkpoint(output_dir, step, {"net": model}, {"net": optimizer}, {}, ({"ema.w": torch.ones(2)}, {}),
                           {"epoch": 0, "batch_in_epoch": step}, keep=10)
    return path, model


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _flip_byte(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[-3] ^= 0x40  # inside the tensor data, after the header: the file still parses
    file.write_bytes(bytes(data))


def _edit_state(file: Path) -> None:
    state = json.loads(file.read_text())
    state["step"] = 999
    file.write_text(json.dumps(state))


CORRUPTIONS = {  # name: (file, damage)
    "truncated modules.safetensors": ("modules.safetensors", _truncate),
    "flipped byte in optimizers.safetensors": ("optimizers.safetensors", _flip_byte),
    "flipped byte in extra.safetensors": ("extra.safetensors", _flip_byte),
    "missing state.json": ("state.json", lambda f: f.unlink()),
    "edited state.json": ("state.json", _edit_state),
    "empty modules.safetensors": ("modules.safetensors", lambda f: f.write_bytes(b"")),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_is_detected_naming_the_file_and_resume_falls_back(tmp_path, caplog, name):
    file_name, damage = CORRUPTIONS[name]
    good, _ = _save(tmp_path, 2)
    bad, _ = _save(tmp_path, 4, seed=1)
    verify_checkpoint(bad)  # intact before the damage
    damage(bad / file_name)
    with pytest.raises(CheckpointError, match=file_name):
        verify_checkpoint(bad)
    with caplog.at_level(logging.WARNING, logger="audiodiff.training.checkpoint"):
        assert latest_intact_checkpoint(tmp_path) == good
    assert "step-00000004 is corrupt" in caplog.text and file_name in caplog.text
    assert "Resuming from step-00000002" in caplog.text


def test_resume_through_the_loop_falls_back_to_the_intact_checkpoint(tiny_pipeline_dir, tmp_path, caplog):
    from training_helpers import ToneDataset, tiny_train_config

    from audiodiff import AudioDiffusionPipeline
    from audiodiff.training.diffusion import DiffusionStage
    from audiodiff.training.loop import run_training

    def train(steps: int, resume: bool) -> dict[str, torch.Tensor]:
        pipeline = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
        config = tiny_train_config(max_steps=steps, checkpoint_every=2, batch_size=2, keep_checkpoints=5)
        run_training(lambda acc: DiffusionStage(config, acc, pipeline), ToneDataset(4), config, tmp_path / "run",
                     resume=resume)
        return pipeline.unet.state_dict()

    train(4, resume=False)
    _flip_byte(tmp_path / "run" / "checkpoints" / "step-00000004" / "modules.safetensors")
    with caplog.at_level(logging.WARNING):
        train(4, resume=True)
    assert "step-00000004 is corrupt" in caplog.text and "Resuming from step-00000002" in caplog.text
    verify_checkpoint(tmp_path / "run" / "checkpoints" / "step-00000004")  # step 4 retrained and rewritten


def test_no_intact_checkpoint_is_an_error_not_a_silent_fresh_start(tmp_path):
    bad, _ = _save(tmp_path, 2)
    _truncate(bad / "modules.safetensors")
    with pytest.raises(CheckpointError, match="No intact checkpoint.*modules.safetensors"):
        latest_intact_checkpoint(tmp_path)
    assert latest_intact_checkpoint(tmp_path / "elsewhere") is None  # no checkpoints at all: a fresh start


def test_load_names_an_unreadable_file(tmp_path):
    path, model = _save(tmp_path, 2)
    _truncate(path / "modules.safetensors")
    with pytest.raises(CheckpointError, match="modules.safetensors"):
        load_checkpoint(path, {"net": model}, {}, {})


def test_a_full_disk_during_a_checkpoint_write_is_a_clear_error_and_keeps_the_previous(tmp_path, monkeypatch):
    previous, _ = _save(tmp_path, 2)
    before = {f.name: f.read_bytes() for f in previous.iterdir()}
    real_save = checkpoint_module.save_file
    calls = []

    def disk_fills_up(tensors, filename, *args, **kwargs):
        calls.append(filename)
        if len(calls) == 2:  # the optimiser file: half written when the disk is full
            Path(filename).write_bytes(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device", filename)
        return real_save(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module, "save_file", disk_fills_up)
    with pytest.raises(CheckpointError, match="No space left on device.*step-00000002 is intact.*--resume"):
        _save(tmp_path, 4)
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["step-00000002"]  # no partial folder left behind
    assert latest_checkpoint(tmp_path) == previous
    assert {f.name: f.read_bytes() for f in previous.iterdir()} == before
    verify_checkpoint(previous)


def test_a_full_disk_through_the_loop_stops_training_with_the_error(tiny_pipeline, tmp_path, monkeypatch):
    from training_helpers import ToneDataset, tiny_train_config

    from audiodiff.training.diffusion import DiffusionStage
    from audiodiff.training.loop import run_training

    config = tiny_train_config(max_steps=4, checkpoint_every=2, batch_size=2)
    real_manifest = checkpoint_module._write_manifest

    def full_on_second(tmp, step):
        if step == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_manifest(tmp, step)

    monkeypatch.setattr(checkpoint_module, "_write_manifest", full_on_second)
    with pytest.raises(CheckpointError, match="step-00000004.*No space left.*step-00000002 is intact"):
        run_training(lambda acc: DiffusionStage(config, acc, tiny_pipeline), ToneDataset(4), config, tmp_path)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000002"]
    verify_checkpoint(tmp_path / "checkpoints" / "step-00000002")


def test_the_manifest_is_written_last_and_lists_every_file(tmp_path):
    path, _ = _save(tmp_path, 3)
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["step"] == 3
    assert sorted(manifest["files"]) == sorted(f.name for f in path.iterdir() if f.name != MANIFEST)
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
    # a folder without the manifest and without state.json is not a checkpoint (a kill before the marker)
    half = tmp_path / "checkpoints" / "step-00000009"
    half.mkdir()
    (half / "modules.safetensors").write_bytes(b"half")
    assert latest_checkpoint(tmp_path) == path

"""Checkpoints: pickle-free round trips, atomic writes, pruning."""

from __future__ import annotations

import json

import torch

from audiodiff.training.checkpoint import (
    flatten_state,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    unflatten_state,
)


def _model_and_optimizer(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        model(torch.randn(5, 4)).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    return model, optimizer


def test_flatten_round_trip_keeps_tensors_ints_and_nesting():
    state = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(2, 2)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}
    tensors: dict = {}
    data = flatten_state(state, "opt.", tensors)
    json.dumps(data)  # the non-tensor part must be JSON
    restored = unflatten_state(json.loads(json.dumps(data)), tensors)
    assert list(restored["state"].keys()) == [0]
    assert torch.equal(restored["state"][0]["exp_avg"], state["state"][0]["exp_avg"])
    assert restored["param_groups"] == state["param_groups"]


def test_save_then_load_restores_weights_optimizer_scheduler_and_rng(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    scheduler.step()
    torch.manual_seed(123)
    path = save_checkpoint(tmp_path, 7, {"net": model}, {"net": optimizer}, {"net": scheduler},
                           ({"ema.0": torch.ones(3)}, {"note": "x"}), {"epoch": 1, "batch_in_epoch": 2})
    expected_draw = torch.rand(3)

    other, other_optimizer = _model_and_optimizer(1)
    other_scheduler = torch.optim.lr_scheduler.StepLR(other_optimizer, step_size=1, gamma=0.5)
    state, tensors, data = load_checkpoint(path, {"net": other}, {"net": other_optimizer}, {"net": other_scheduler})

    assert state["step"] == 7 and state["data_position"] == {"epoch": 1, "batch_in_epoch": 2}
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    assert other_optimizer.state_dict()["state"][0]["exp_avg"].equal(optimizer.state_dict()["state"][0]["exp_avg"])
    assert other_scheduler.get_last_lr() == scheduler.get_last_lr()
    assert torch.equal(tensors["ema.0"], torch.ones(3)) and data == {"note": "x"}
    assert torch.equal(torch.rand(3), expected_draw)  # RNG restored to the moment of saving


def test_checkpoints_are_safetensors_and_json_only_and_pruned(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, {"net": model}, {"net": optimizer}, {}, ({}, {}),
                        {"epoch": 0, "batch_in_epoch": step}, keep=2)
    folders = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert folders == ["step-00000002", "step-00000003"]
    assert latest_checkpoint(tmp_path).name == "step-00000003"
    suffixes = {f.suffix for f in (tmp_path / "checkpoints" / "step-00000003").iterdir()}
    assert suffixes == {".safetensors", ".json"}


def test_an_interrupted_save_leaves_the_previous_checkpoint_as_latest(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    save_checkpoint(tmp_path, 5, {"net": model}, {"net": optimizer}, {}, ({}, {}), {"epoch": 0, "batch_in_epoch": 5})
    partial = tmp_path / "checkpoints" / ".tmp-step-00000010"
    partial.mkdir()
    (partial / "modules.safetensors").write_bytes(b"half-written")
    assert latest_checkpoint(tmp_path).name == "step-00000005"

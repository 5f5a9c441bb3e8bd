"""Fault injection: a training job SIGKILLed at many moments, resumed each time, ends at the same weights.

Each run is a child process (forked from the test, so it starts in milliseconds) that trains a tiny
diffusion stage.  A kill point makes the child SIGKILL itself at an exact moment: at the start of a
step, half-way through writing a checkpoint file, before the checkpoint's manifest, before its rename,
in the middle of pruning, half-way through the export or between the export's renames.  After every
kill the test checks that every folder taken for a checkpoint passes its SHA-256 manifest and that no
half-written model folder exists, then resumes; the final checkpoint and export must equal those of an
uninterrupted run (allclose 1e-6).

The default run tries a short sample of kill points (a few seconds); set ``AUDIODIFF_FAULT_SWEEP=1``
for the long sweep (every kill point at every step, and kills from outside at random times).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from training_helpers import ToneDataset, tiny_train_config

from audiodiff.training.checkpoint import checkpoints, verify_checkpoint

MAX_STEPS = 6
CHECKPOINT_EVERY = 2
SWEEP = os.environ.get("AUDIODIFF_FAULT_SWEEP") == "1"

# (where, step, phase): where the child kills itself.  "step": at the start of optimiser step ``step``;
# "checkpoint": while writing checkpoint ``step``; "export": while exporting (``step`` unused).
CHECKPOINT_PHASES = ("mid-file-1", "mid-file-2", "mid-file-3", "before-manifest", "mid-manifest", "before-rename",
                     "mid-prune")
EXPORT_PHASES = ("mid-export", "before-rename", "between-renames")
SAMPLE = [("step", 3, ""), ("checkpoint", 4, "mid-file-1"), ("checkpoint", 4, "before-rename"),
          ("checkpoint", 6, "mid-prune"), ("export", 0, "mid-export")]
ALL_POINTS = (
    [("step", s, "") for s in range(1, MAX_STEPS + 1)]
    + [("checkpoint", s, p) for s in range(CHECKPOINT_EVERY, MAX_STEPS + 1, CHECKPOINT_EVERY) for p in CHECKPOINT_PHASES]
    + [("export", 0, p) for p in EXPORT_PHASES]
)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _truncate_and_die(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: max(1, file.stat().st_size // 2)])
    _die()


def _install_kill_point(where: str, at_step: int, phase: str) -> None:
    """Monkeypatch the child's checkpoint/export functions so that it SIGKILLs itself at the kill point."""
    from audiodiff.training import checkpoint, diffusion, loop

    if where == "checkpoint":
        real_save, real_manifest, real_publish, real_prune = (
            checkpoint.save_file, checkpoint._write_manifest, checkpoint.publish_folder, checkpoint._prune)
        calls = []

        def save_file(tensors, filename, *args, **kwargs):
            real_save(tensors, filename, *args, **kwargs)
            if f"step-{at_step:08d}" in filename:
                calls.append(filename)
                if phase == f"mid-file-{len(calls)}":
                    _truncate_and_die(Path(filename))

        def write_manifest(tmp, step):
            if step == at_step and phase == "before-manifest":
                _die()
            real_manifest(tmp, step)
            if step == at_step and phase == "mid-manifest":
                _truncate_and_die(tmp / checkpoint.MANIFEST)

        def publish(tmp, final):
            if final.name == f"step-{at_step:08d}" and phase == "before-rename":
                _die()
            real_publish(tmp, final)

        def prune(root, keep):
            if (root / f"step-{at_step:08d}").is_dir() and phase == "mid-prune":
                done = sorted(p for p in root.iterdir() if p.name.startswith(checkpoint.PREFIX))
                os.replace(done[0], root / f".del-{done[0].name}")
                _die()
            real_prune(root, keep)

        checkpoint.save_file, checkpoint._write_manifest = save_file, write_manifest
        checkpoint.publish_folder, checkpoint._prune = publish, prune
    elif where == "export":
        real_export, real_publish = diffusion.export_pipeline, loop.publish_folder

        def export_pipeline(base, directory, *args, **kwargs):
            result = real_export(base, directory, *args, **kwargs)
            if phase == "mid-export":
                _truncate_and_die(next(Path(directory, "unet").glob("*.safetensors")))
            return result

        def publish(tmp, final):
            if phase == "before-rename":
                _die()
            if phase == "between-renames" and final.exists():
                os.replace(final, final.with_name(f".old-{final.name}"))
                _die()
            real_publish(tmp, final)

        diffusion.export_pipeline, loop.publish_folder = export_pipeline, publish


def _train(pipeline_dir: Path, run_dir: Path, resume: bool, kill_point: tuple[str, int, str] | None) -> None:
    """The child: one training run (fresh or resumed) of a tiny diffusion stage, with an optional kill point."""
    torch.set_num_threads(1)
    from audiodiff import AudioDiffusionPipeline
    from audiodiff.training.diffusion import DiffusionStage
    from audiodiff.training.loop import run_training

    pipeline = AudioDiffusionPipeline.from_pretrained(pipeline_dir)
    config = tiny_train_config(max_steps=MAX_STEPS, checkpoint_every=CHECKPOINT_EVERY, batch_size=2, log_every=100)
    if kill_point is not None:
        _install_kill_point(*kill_point)

    def factory(accelerator):
        stage = DiffusionStage(config, accelerator, pipeline)
        original = stage.train_step

        def train_step(batch, index):
            if kill_point is not None and kill_point[0] == "step" and index + 1 == kill_point[1]:
                _die()
            return original(batch, index)

        stage.train_step = train_step
        return stage

    run_training(factory, ToneDataset(5), config, run_dir, resume=resume)


def _run_child(pipeline_dir: Path, run_dir: Path, resume: bool, kill_point=None, kill_after: float | None = None) -> int:
    """Run :func:`_train` in a forked child; ``kill_after`` seconds: SIGKILL it from outside. Returns its exit code."""
    process = multiprocessing.get_context("fork").Process(target=_train, args=(pipeline_dir, run_dir, resume, kill_point))
    process.start()
    if kill_after is not None:
        process.join(kill_after)
        if process.is_alive():
            os.kill(process.pid, signal.SIGKILL)
    process.join(900)  # generous: a loaded 2-core machine can be 10x slower than an idle one
    assert process.exitcode is not None, "the training child did not finish"
    return process.exitcode


def _check_nothing_half_written(run_dir: Path) -> None:
    """Every folder taken for a checkpoint is intact; a model folder, when present, is complete."""
    for path in checkpoints(run_dir):
        verify_checkpoint(path)
    model = run_dir / "model"
    if model.exists():
        from audiodiff.model_folder import read_model_index

        read_model_index(model)
        for component in ("unet", "vae", "vocoder", "mel"):
            for file in (model / component).glob("*.safetensors"):
                load_file(str(file))  # parses: not truncated


def _final_weights(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    final = run_dir / "checkpoints" / f"step-{MAX_STEPS:08d}"
    verify_checkpoint(final)
    export = {}
    for file in sorted((run_dir / "model" / "unet").glob("*.safetensors")):
        export.update(load_file(str(file)))
    return load_file(str(final / "modules.safetensors")), export


def _assert_same(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.allclose(actual[name], value, atol=1e-6), name


@pytest.fixture(scope="module")
def uninterrupted(tiny_pipeline_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("straight")
    assert _run_child(tiny_pipeline_dir, run_dir, resume=False) == 0
    return _final_weights(run_dir)


def _kill_and_resume(pipeline_dir: Path, run_dir: Path, points: list[tuple[str, int, str]]) -> int:
    """Run once per kill point (each a resume of the last), check after every kill, then finish; returns kills."""
    kills = 0
    for point in points:
        code = _run_child(pipeline_dir, run_dir, resume=True, kill_point=point)
        assert code in (-signal.SIGKILL, 0), f"{point}: exit code {code}"
        kills += code == -signal.SIGKILL
        _check_nothing_half_written(run_dir)
        if point[0] == "export" and code == -signal.SIGKILL and point[2] != "between-renames":
            assert not (run_dir / "model").exists(), f"{point}: a half-written export under model/"
    assert _run_child(pipeline_dir, run_dir, resume=True) == 0
    _check_nothing_half_written(run_dir)
    return kills


def test_sample_of_kill_points_resumes_to_the_uninterrupted_weights(tiny_pipeline_dir, tmp_path, uninterrupted):
    kills = _kill_and_resume(tiny_pipeline_dir, tmp_path / "run", SAMPLE)
    assert kills == len(SAMPLE)  # every kill point was reached
    checkpoint_weights, export_weights = _final_weights(tmp_path / "run")
    _assert_same(checkpoint_weights, uninterrupted[0])
    _assert_same(export_weights, uninterrupted[1])


@pytest.mark.slow
@pytest.mark.skipif(not SWEEP, reason="long fault sweep: set AUDIODIFF_FAULT_SWEEP=1")
@pytest.mark.parametrize("point", ALL_POINTS, ids=lambda p: "-".join(map(str, p)))
def test_every_kill_point_resumes_to_the_uninterrupted_weights(tiny_pipeline_dir, tmp_path, uninterrupted, point):
    points = [point]
    if point[0] == "export" and point[2] == "between-renames":
        points = [None, point]  # needs an earlier export to replace
    kills = 0
    for p in points:
        code = _run_child(tiny_pipeline_dir, tmp_path / "run", resume=True, kill_point=p)
        kills += code == -signal.SIGKILL
        _check_nothing_half_written(tmp_path / "run")
    assert kills == 1, f"kill point {point} was not reached"
    assert _run_child(tiny_pipeline_dir, tmp_path / "run", resume=True) == 0
    _check_nothing_half_written(tmp_path / "run")
    checkpoint_weights, export_weights = _final_weights(tmp_path / "run")
    _assert_same(checkpoint_weights, uninterrupted[0])
    _assert_same(export_weights, uninterrupted[1])


@pytest.mark.slow
@pytest.mark.skipif(not SWEEP, reason="long fault sweep: set AUDIODIFF_FAULT_SWEEP=1")
@pytest.mark.parametrize("seed", range(3))
def test_kills_from_outside_at_random_times_resume_to_the_uninterrupted_weights(tiny_pipeline_dir, tmp_path,
                                                                                uninterrupted, seed):
    """SIGKILL from the parent after a random delay (up to one whole run), ten times in a row, then finish the run."""
    rng = random.Random(seed)
    start = time.monotonic()
    assert _run_child(tiny_pipeline_dir, tmp_path / "timing", resume=False) == 0
    duration = time.monotonic() - start
    for _ in range(10):
        _run_child(tiny_pipeline_dir, tmp_path / "run", resume=True, kill_after=rng.uniform(0.0, duration))
        _check_nothing_half_written(tmp_path / "run")
    assert _run_child(tiny_pipeline_dir, tmp_path / "run", resume=True) == 0
    checkpoint_weights, export_weights = _final_weights(tmp_path / "run")
    _assert_same(checkpoint_weights, uninterrupted[0])
    _assert_same(export_weights, uninterrupted[1])

"""Shared fixtures: tiny random models and tiny audio datasets made in the test."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The models in the tests are tiny: one thread is as fast, and it stays fast when other jobs share the
# cores (multi-threaded BLAS/OpenMP spins badly under contention). Subprocesses inherit the variable.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# audiodiff's own cache (the --dtype auto probe) goes to a folder of this run, not the user's ~/.cache.
if "AUDIODIFF_CACHE" not in os.environ:
    import tempfile

    os.environ["AUDIODIFF_CACHE"] = tempfile.mkdtemp(prefix="audiodiff-test-cache-")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO / "configs" / "model" / "tiny.yaml"
SAMPLE_RATE = 16000


@pytest.fixture(scope="session")
def tiny_config():
    """The ModelConfig of configs/model/tiny.yaml (random 1-layer BERT text encoder)."""
    from audiodiff.config import load_config

    return load_config(TINY_CONFIG)


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory, tiny_config) -> Path:
    """A saved, randomly initialised tiny pipeline folder (seed 0), shared by the session. Do not modify."""
    from audiodiff.factory import build_pipeline

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny") / "pipeline"
    build_pipeline(tiny_config).save_pretrained(path)
    return path


@pytest.fixture()
def tiny_pipeline(tiny_pipeline_dir):
    """A fresh in-memory copy of the tiny pipeline, loaded from the shared folder."""
    from audiodiff import AudioDiffusionPipeline

    pipe = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tone(frequency: float, seconds: float, sample_rate: int = SAMPLE_RATE, amplitude: float = 0.5) -> np.ndarray:
    """A sine tone ``(samples,)`` float32 with a little noise, so every clip is distinct and not silent."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(int(frequency))
    return (amplitude * np.sin(2 * np.pi * frequency * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def make_audiofolder(root: Path, clips: list[tuple[str, float, float]], sample_rate: int = SAMPLE_RATE) -> Path:
    """Write an audiofolder: WAVs of (caption, frequency Hz, seconds) plus metadata.jsonl; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "metadata.jsonl", "w") as f:
        for i, (caption, frequency, seconds) in enumerate(clips):
            name = f"clip_{i:03d}.wav"
            sf.write(root / name, tone(frequency, seconds, sample_rate), sample_rate)
            f.write(json.dumps({"file_name": name, "caption": caption}) + "\n")
    return root


def make_split_audiofolder(root: Path, clips: list[tuple[str, float, float]], categories: list[str],
                           validation: tuple[int, ...], ogg: tuple[int, ...] = ()) -> Path:
    """:func:`make_audiofolder` whose rows also name a ``category`` (one per clip) and a ``split`` (``validation``
    for the clips at the indices ``validation``, else ``train``), with the clips at the indices ``ogg`` written as
    mono OGG Vorbis at ``SAMPLE_RATE`` (``clip_NNN.ogg``) instead of WAV; returns ``root``."""
    make_audiofolder(root, clips)
    rows = [json.loads(line) for line in (root / "metadata.jsonl").read_text().splitlines()]
    for i in ogg:
        _, frequency, seconds = clips[i]
        sf.write(root / f"clip_{i:03d}.ogg", tone(frequency, seconds), SAMPLE_RATE, format="OGG", subtype="VORBIS")
        rows[i]["file_name"] = f"clip_{i:03d}.ogg"
    for i, row in enumerate(rows):
        row.update(category=categories[i], split="validation" if i in validation else "train")
    (root / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root


@pytest.fixture()
def audiofolder(tmp_path) -> Path:
    """Eight 1.5 s tones with captions, at 16 kHz."""
    clips = [(f"a tone at {f} hertz", f, 1.5) for f in (220, 330, 440, 550, 660, 770, 880, 990)]
    return make_audiofolder(tmp_path / "data", clips)

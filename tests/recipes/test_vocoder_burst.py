"""The vocoder's GPU burst (recipes/opensfx/{pack,train}_vocoder_burst.py), run on the CPU with a tiny Vocos
pipeline: the pack keeps under its bound with train and validation apart, it decodes to the clips' audio, the
burst trains with VocoderStage and writes what merge puts back into a pipeline folder."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))

from tests.conftest import REPO, SAMPLE_RATE, make_split_audiofolder, tone
from opensfx.audio_pack import MIB, AudioPack, PackWindows
from opensfx.pack_vocoder_burst import pack
from opensfx.train_vocoder_burst import Burst, build_parser, merge

from audiodiff import AudioDiffusionPipeline, VocosVocoder
from audiodiff.audio import load_audio
from audiodiff.config import VocosConfig
from audiodiff.factory import build_pipeline

# (caption, frequency Hz, seconds); categories and splits are set below
CLIPS = [("a man speaking", 180, 1.2), ("a man speaking", 140, 0.9), ("a woman speaking", 260, 1.0),
         ("a violin", 440, 1.1), ("a violin", 660, 0.8), ("rain", 300, 1.3), ("rain", 350, 0.1),
         ("a door", 90, 0.7), ("a door", 120, 0.6), ("a man speaking", 200, 0.8), ("rain", 500, 0.9)]
CATEGORIES = ["male_speech", "male_speech", "female_speech", "violin", "violin", "rain", "rain", "door", "door",
              "male_speech", "rain"]
VALIDATION = (9, 10)


@pytest.fixture(scope="module")
def audiofolder(tmp_path_factory) -> Path:
    """Eleven clips in four categories: clip 0 mono OGG at 16 kHz (kept as is), clip 3 a 22.05 kHz WAV
    (resampled), the rest 16 kHz WAVs; clips 9 and 10 in the validation split."""
    root = make_split_audiofolder(tmp_path_factory.mktemp("vocoder-burst") / "data", CLIPS, CATEGORIES, VALIDATION,
                                  ogg=(0,))
    sf.write(root / "clip_003.wav", tone(440, 1.1, 22050), 22050)
    return root


@pytest.fixture(scope="module")
def vocos_pipeline_dir(tmp_path_factory, tiny_config) -> Path:
    """A tiny pipeline folder whose vocoder is a VocosVocoder (a few thousand parameters)."""
    torch.manual_seed(0)
    vocos = VocosConfig(n_fft=640, dim=16, intermediate_dim=32, num_layers=1, kernel_size=3)
    config = replace(tiny_config, vocos=vocos)
    path = tmp_path_factory.mktemp("vocos") / "pipeline"
    build_pipeline(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def full_pack(audiofolder, vocos_pipeline_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pack") / "vocoder"
    pack(audiofolder, out, max_mib=4.0, validation_clips=8, init=vocos_pipeline_dir)
    return out


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_pack_keeps_the_splits_apart_and_decodes_to_the_clips(full_pack, audiofolder):
    meta = json.loads((full_pack / "meta.json").read_text())
    assert sorted(e["name"] for e in meta["validation"]) == ["clip_009.wav", "clip_010.wav"]
    assert sorted(e["name"] for e in meta["train"]) == ["clip_000.ogg"] + [f"clip_{i:03d}.wav" for i in range(1, 9)]
    ogg = next(e for e in meta["train"] if e["name"] == "clip_000.ogg")
    stored = (full_pack / "train.bin").read_bytes()[ogg["offset"]:ogg["offset"] + ogg["size"]]
    assert stored == (audiofolder / "clip_000.ogg").read_bytes()  # OGG at the model's rate: its own bytes
    weights = {e["name"]: e["weight"] for e in meta["train"]}
    assert weights["clip_000.ogg"] == weights["clip_002.wav"] == 12 and weights["clip_003.wav"] == 3  # speech, violin
    assert weights["clip_005.wav"] == weights["clip_007.wav"] == 1

    window = 2560
    loaded = AudioPack(full_pack, SAMPLE_RATE, window, torch.device("cpu"), workers=2)
    assert loaded.clips == 9 and len(loaded.validation) == 2
    flat = loaded.audio.numpy()
    for entry, start, length in zip(meta["train"], loaded.starts.tolist(), loaded.lengths.tolist()):
        expected = load_audio(audiofolder / entry["name"], SAMPLE_RATE)
        assert length == len(expected)
        tolerance = 1e-6 if entry["name"].endswith(".ogg") else 1 / 2**15 + 1e-6  # others: 16-bit FLAC
        assert np.abs(flat[start:start + length] - expected).max() <= tolerance

    windows = PackWindows(loaded, seed=0)
    assert len(windows) == loaded.total_positions // window
    items = [windows[i] for i in range(64)]
    audio, mask = torch.stack([i["audio"] for i in items]), torch.stack([i["audio_mask"] for i in items])
    assert audio.shape == mask.shape == (64, window)
    short = loaded.lengths.min().item()  # clip_006 (0.1 s) is shorter than a window: zero past its end
    assert short < window and ((mask.sum(dim=1) == short) | (mask.sum(dim=1) == window)).all()
    assert (audio[mask == 0] == 0).all()


def test_pack_respects_its_bound(audiofolder, vocos_pipeline_dir, full_pack, tmp_path):
    init_mib = folder_bytes(full_pack / "init") / MIB
    bound = init_mib + (folder_bytes(full_pack) - folder_bytes(full_pack / "init")) / MIB * 0.75
    summary = pack(audiofolder, tmp_path / "small", max_mib=bound, validation_clips=1, init=vocos_pipeline_dir)
    assert folder_bytes(tmp_path / "small") <= bound * MIB
    assert summary["validation"]["clips"] == 1
    assert 0 < summary["train"]["clips"] < 9 and summary["train"]["categories"] == 5  # every category, fewer clips


def burst_args(pack_dir: Path, init: Path, out: Path, *extra: str) -> argparse.Namespace:
    return build_parser().parse_args([
        "--pack", str(pack_dir), "--init", str(init), "--out", str(out), "--device", "cpu", "--mixed-precision", "no",
        "--batch-size", "2", "--segment-frames", "16", "--mpd-channels", "2", "--mrd-channels", "2",
        "--log-every", "2", "--workers", "2", "--lr", "1e-3", *extra])


def test_burst_trains_saves_and_merges(full_pack, vocos_pipeline_dir, tmp_path):
    args = burst_args(full_pack, full_pack / "init", tmp_path / "out", "--max-steps", "6", "--adversarial-start", "2")
    args.out.mkdir()
    Burst(args).run()

    log = [json.loads(line) for line in (args.out / "log.jsonl").read_text().splitlines()]
    assert log[0]["train_clips"] == 9 and log[0]["validation_clips"] == 2
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == [2, 4, 6] and "loss_adversarial" in steps[-1]
    assert all(np.isfinite(r["loss"]) for r in steps)
    evaluations = [r for r in log if "mel_l1" in r]
    assert evaluations[0]["step"] == 0 and evaluations[-1]["step"] == 6 and evaluations[-1]["final"]
    assert len(evaluations) == 2  # --save-minutes 2: only the start and the end
    assert evaluations[-1]["mel_l1"] != evaluations[0]["mel_l1"] and "griffin_lim_mel_l1" in evaluations[-1]

    saved = VocosVocoder.from_pretrained(args.out / "vocoder")
    initial = VocosVocoder.from_pretrained(vocos_pipeline_dir / "vocoder")
    assert all(not torch.equal(a, b) for a, b in zip(saved.parameters(), initial.parameters()) if a.requires_grad)

    merge(argparse.Namespace(weights=args.out, init=vocos_pipeline_dir, out=tmp_path / "merged", max_shard_size="15MB"))
    merged = AudioDiffusionPipeline.from_pretrained(tmp_path / "merged").vocoder
    assert isinstance(merged, VocosVocoder)
    # as the CPU side loads it next (evaluate-vocoder), in an interpreter that has not imported VocosVocoder
    load = "from audiodiff import AudioDiffusionPipeline as P; print(type(P.from_pretrained(sys.argv[1]).vocoder).__name__)"
    loaded = subprocess.run([sys.executable, "-c", f"import sys; {load}", str(tmp_path / "merged")],
                            capture_output=True, text=True, cwd=REPO, check=True)
    assert loaded.stdout.split()[-1] == "VocosVocoder"
    expected = saved.state_dict()
    assert merged.state_dict().keys() == expected.keys()
    for name, value in merged.state_dict().items():
        assert torch.equal(value, expected[name]), name

    # a second burst starts from the first one's discriminators
    discriminators = load_file(str(args.out / "discriminators.safetensors"))
    again = Burst(burst_args(full_pack, full_pack / "init", tmp_path / "again", "--discriminators-from",
                             str(args.out / "discriminators.safetensors")))
    for name, module in again.stage.discriminators.items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, discriminators[f"{name}.{key}"]), key


def test_minutes_budget_stops_the_burst_with_a_resumable_run(full_pack, tmp_path):
    """--minutes 0: run_training stops after the first step, checkpoints it, evaluates, exports, and the burst
    still brings its generator back; --run-dir keeps the run folder."""
    args = burst_args(full_pack, full_pack / "init", tmp_path / "out", "--minutes", "0", "--max-steps", "100",
                      "--run-dir", str(tmp_path / "run"))
    args.out.mkdir()
    Burst(args).run()
    log = [json.loads(line) for line in (args.out / "log.jsonl").read_text().splitlines()]
    evaluations = [r for r in log if "mel_l1" in r]
    assert [r["step"] for r in evaluations] == [0, 1] and evaluations[-1]["final"]
    assert (tmp_path / "run" / "checkpoints" / "step-00000001" / "manifest.json").is_file()  # --resume continues
    assert VocosVocoder.from_pretrained(tmp_path / "run" / "model") is not None
    assert VocosVocoder.from_pretrained(args.out / "vocoder") is not None

"""The GPU burst recipe (recipes/opensfx/{pack,train}_diffusion_burst.py), run on the CPU with the tiny model:
the pack holds what the cache holds, the burst's validation figure on it is the cache's, and training (run_training
with DiffusionStage) learns and brings back its best EMA weights."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from diffusers import UNet2DConditionModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))

from tests.conftest import make_audiofolder
from opensfx.pack_diffusion_burst import DiffusionPack, pack
from opensfx.train_diffusion_burst import Burst, build_parser, merge

from audiodiff import AudioDiffusionPipeline
from audiodiff.data.cache import LatentCache, TextStateCache
from audiodiff.data.latent_dataset import LatentDataset
from audiodiff.data.prepare import prepare_cache
from audiodiff.training.config import DiffusionTrainConfig, TrainConfig
from audiodiff.training.diffusion import DiffusionStage

CLIPS = [("a dog barking", 220, 1.0), ("rain on a roof", 330, 0.3), ("a snare drum hit", 440, 0.8),
         ("wind", 550, 0.6), ("a bell", 660, 0.9), ("a whistle", 880, 0.7)]


@pytest.fixture(scope="module")
def packed(tmp_path_factory, tiny_pipeline_dir):
    root = tmp_path_factory.mktemp("burst")
    data = make_audiofolder(root / "data", CLIPS)
    cache = prepare_cache(data, tiny_pipeline_dir, root / "cache", latents=True, batch_size=3, segment_seconds=0.5,
                          device="cpu", seed=1, validation_fraction=0.34)
    pack(cache, root / "pack")
    return cache, root / "pack"


def test_pack_holds_the_cache_within_int8_error(packed):
    cache, folder = packed
    loaded = DiffusionPack(folder, torch.device("cpu"))
    meta = json.loads((folder / "meta.json").read_text())
    latents = LatentCache(cache)
    train = [r.name for r in latents.records if r.split == "train"]
    reference, reference_mask = latents.lookup(train)
    items = list(loaded.split("train"))
    assert [item["name"] for item in items] == train
    train_latents = torch.stack([item["latents"] for item in items])
    assert train_latents.shape == reference.shape
    tolerance = reference.abs().amax(dim=(2, 3), keepdim=True) / 127 * 0.51 + 1e-6
    assert ((train_latents - reference).abs() <= tolerance).all()
    assert torch.equal(torch.stack([item["latents_mask"] for item in items]), reference_mask.float())
    assert all(item["caption"] in latents.records[i].captions for i, item in enumerate(items))
    states, mask = TextStateCache(cache).lookup(meta["captions"])
    assert torch.equal(loaded.text_mask, mask)
    assert torch.allclose(loaded.states, states, atol=float(states.abs().max()) / 127)
    empty_states, _ = loaded.lookup([""])  # caption dropout's "" is packed
    assert torch.equal(empty_states[0], loaded.states[meta["captions"].index("")])


def burst_args(folder: Path, init: Path, out: Path, *extra: str):
    return build_parser().parse_args(["--pack", str(folder), "--init", str(init), "--out", str(out), "--device", "cpu",
                                      "--batch-size", "4", "--log-every", "5", *extra])


def test_validation_mse_equals_the_diffusion_stage(packed, tiny_pipeline_dir, tmp_path):
    cache, folder = packed
    burst = Burst(burst_args(folder, tiny_pipeline_dir, tmp_path))
    config = TrainConfig(batch_size=4, mask_padding=False, diffusion=DiffusionTrainConfig(sample_prompts=(), min_snr_gamma=5.0))
    pipeline = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    stage = DiffusionStage(config, Accelerator(cpu=True), pipeline, TextStateCache(cache).lookup,
                           LatentDataset(cache, "validation"))
    expected = stage.validation_loss_by_bucket()["noise_mse"]
    assert burst.stage.validation_loss_by_bucket()["noise_mse"] == pytest.approx(expected, rel=0.02)


def test_burst_learns_and_saves_the_best_ema_weights(packed, tiny_pipeline_dir, tmp_path):
    _, folder = packed
    args = burst_args(folder, tiny_pipeline_dir, tmp_path / "out", "--max-steps", "60", "--lr", "2e-3",
                      "--warmup-steps", "1", "--ema-decay", "0.9", "--minutes", "10")
    args.out.mkdir()
    Burst(args).run()
    log = [json.loads(line) for line in (args.out / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert len(losses) == 12 and sum(losses[-3:]) < sum(losses[:3])
    evaluations = [r for r in log if "noise_mse" in r]
    assert evaluations[0]["step"] == 0 and evaluations[-1]["step"] == 60 and evaluations[-1]["final"]
    before = evaluations[0]["noise_mse"]
    best = log[-1]
    assert best["best_noise_mse"] < before and best["best_step"] > 0
    merge(argparse.Namespace(weights=args.out, init=tiny_pipeline_dir, out=tmp_path / "unet"))
    merged = UNet2DConditionModel.from_pretrained(tmp_path / "unet")
    initial = UNet2DConditionModel.from_pretrained(tiny_pipeline_dir / "unet")
    changed = [not torch.equal(a, b) for a, b in zip(merged.parameters(), initial.parameters())]
    assert all(changed)


"""The fine-tune cache: made once, reused while data and model stay, rebuilt when they change; prepare's caches kept."""

from __future__ import annotations

import logging
import os

import pytest
from tests.conftest import make_audiofolder

from audiodiff.data import LatentDataset, read_dataset
from audiodiff.data.finetune_cache import ensure_finetune_cache
from audiodiff.data.prepare import prepare_cache
from audiodiff.errors import InvalidArgumentError


def test_the_cache_holds_every_crop_and_is_reused_until_a_clip_changes(tmp_path, tiny_pipeline, tiny_pipeline_dir,
                                                                        caplog):
    data = make_audiofolder(tmp_path / "data", [("a low tone", 220, 0.64), ("a high tone", 880, 1.5)])
    clips = read_dataset(data)
    cache = ensure_finetune_cache(clips, tiny_pipeline, tiny_pipeline_dir, tmp_path / "cache", crop_seconds=0.64)
    dataset = LatentDataset(cache, "train", model=tiny_pipeline_dir)
    assert [r.name for r in dataset.records] == ["clip_000.wav#0", "clip_001.wav#0", "clip_001.wav#1", "clip_001.wav#2"]
    item = dataset[0]
    assert item["latents"].shape == (4, 32, 32)  # 0.64 s: 64 mel frames, 32 latent frames
    assert bool(item["latents_mask"].all())  # no padding
    written = (cache / "index.json").stat().st_mtime_ns

    with caplog.at_level(logging.INFO):
        ensure_finetune_cache(clips, tiny_pipeline, tiny_pipeline_dir, cache, crop_seconds=0.64)
    assert "Reusing" in caplog.text and (cache / "index.json").stat().st_mtime_ns == written

    os.utime(clips[0].path, ns=(1, 1))  # the file changed (as far as its modification time says)
    ensure_finetune_cache(clips, tiny_pipeline, tiny_pipeline_dir, cache, crop_seconds=0.64)
    assert (cache / "index.json").stat().st_mtime_ns != written


def test_a_prepare_cache_is_not_overwritten(tmp_path, tiny_pipeline, tiny_pipeline_dir):
    data = make_audiofolder(tmp_path / "data", [("a low tone", 220, 0.64), ("a high tone", 880, 0.64)])
    prepared = prepare_cache(data, tiny_pipeline_dir, tmp_path / "prepared")
    with pytest.raises(InvalidArgumentError, match="audiodiff prepare"):
        ensure_finetune_cache(read_dataset(data), tiny_pipeline, tiny_pipeline_dir, prepared, crop_seconds=0.64)

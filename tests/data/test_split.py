"""Train/validation split: split field, given list, seeded hash that is stable when files are added."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiodiff.data.manifest import Clip
from audiodiff.data.split import split_clips
from audiodiff.errors import InvalidArgumentError


def clips(n: int, split: str | None = None) -> list[Clip]:
    return [Clip(path=Path(f"/d/sub/c{i}.wav"), caption=f"c{i}", split=split, name=f"sub/c{i}.wav") for i in range(n)]


def names(items: list[Clip]) -> list[str]:
    return [c.name for c in items]


def test_hash_split_is_deterministic_and_stable_when_files_are_added():
    train, validation = split_clips(clips(200), 0.2, seed=3)
    assert split_clips(clips(200), 0.2, seed=3) == (train, validation)
    assert 20 <= len(validation) <= 60 and len(train) + len(validation) == 200
    _, more_validation = split_clips(clips(300), 0.2, seed=3)
    assert set(names(validation)) == set(names(more_validation)) & set(names(clips(200)))
    assert names(split_clips(clips(200), 0.2, seed=4)[1]) != names(validation)


def test_split_field_wins_and_list_matches_name_or_path_tail():
    marked = clips(3, split="validation")[:1] + clips(3, split="train")[1:]
    train, validation = split_clips(marked, 0.5, seed=0)
    assert names(validation) == ["sub/c0.wav"] and names(train) == ["sub/c1.wav", "sub/c2.wav"]
    train, validation = split_clips(clips(4), 0.0, seed=0, validation_files=["c1.wav", "sub/c3.wav"])
    assert names(validation) == ["sub/c1.wav", "sub/c3.wav"]


def test_small_sets_keep_one_clip_on_each_side():
    train, validation = split_clips(clips(2), 0.01, seed=0)
    assert len(train) == 1 and len(validation) == 1
    train, validation = split_clips(clips(1), 0.9, seed=0)
    assert len(train) == 1 and not validation
    assert split_clips(clips(5), 0.0, seed=0) == (clips(5), [])


def test_empty_train_and_bad_fraction_are_errors():
    with pytest.raises(InvalidArgumentError, match="no clip for training"):
        split_clips(clips(3, split="validation"), 0.1, seed=0)
    with pytest.raises(InvalidArgumentError, match="validation_fraction"):
        split_clips(clips(3), 1.0, seed=0)

"""Crops that follow clip lengths: the crop length of a dataset and the crops that cover each clip."""

from __future__ import annotations

import pytest

from audiodiff.data.crops import crop_seconds_for, crop_starts
from audiodiff.errors import InvalidArgumentError


def test_the_crop_is_as_long_as_the_short_clips_on_the_latent_grid():
    durations = [3.0 + 0.1 * i for i in range(21)]  # 3-5 s, like the telephone example
    crop = crop_seconds_for(durations, max_seconds=5.0, min_seconds=1.0, step_seconds=0.16)
    assert 3.0 <= crop <= 3.2 and abs(crop / 0.16 - round(crop / 0.16)) < 1e-9
    assert sum(d >= crop for d in durations) >= 0.9 * len(durations)  # most clips fill it: no padding


def test_the_crop_stays_between_its_bounds():
    assert crop_seconds_for([30.0, 40.0], max_seconds=5.0, min_seconds=1.0, step_seconds=0.16) == pytest.approx(4.96)
    assert crop_seconds_for([0.2, 0.3], max_seconds=5.0, min_seconds=1.0, step_seconds=0.16) == pytest.approx(0.96)
    assert crop_seconds_for([0.01], max_seconds=5.0, min_seconds=0.01, step_seconds=0.16) == pytest.approx(0.16)
    with pytest.raises(InvalidArgumentError):
        crop_seconds_for([], 5.0, 1.0, 0.16)


def test_crops_cover_the_whole_clip_from_start_to_end():
    assert crop_starts(100, 100) == [0] and crop_starts(60, 100) == [0]
    starts = crop_starts(250, 100)
    assert starts == [0, 75, 150]  # ceil(250 / 100) crops, the last one ending at the clip's end
    covered = set().union(*(range(s, s + 100) for s in starts))
    assert covered == set(range(250))

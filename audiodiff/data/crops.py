"""Crops that follow clip lengths: one crop length for a dataset, and where each clip is cut.

Fine-tuning data are often a few dozen clips of a few seconds.  Padding a 3 s clip to a
5 s crop spends 40 % of every U-Net step on silence the loss ignores, and cutting one
crop out of a 5 s clip wastes the rest of it.  Instead the crop length follows the clips
(a low quantile of their durations, so most clips fill it), and every clip gives as many
crops as it takes to cover it: a clip of up to one crop gives one, a longer one gives
``ceil(length / crop)`` crops spread evenly from its start to its end (overlapping a little).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import InvalidArgumentError

CROP_QUANTILE = 0.1  # the crop is as long as the 10 % shortest clips: 90 % of the clips fill it without padding


def crop_seconds_for(durations: Sequence[float], max_seconds: float, min_seconds: float, step_seconds: float) -> float:
    """The crop length in seconds for clips of ``durations`` (seconds).

    The :data:`CROP_QUANTILE` quantile of the durations, clamped to ``[min_seconds, max_seconds]``, rounded
    down to a multiple of ``step_seconds`` (at least one step): with ``step_seconds`` one latent frame times
    the U-Net's downsampling, crops need no padding inside the model.

    Raises:
        InvalidArgumentError: no durations, or bounds that are not positive.
    """
    if not durations:
        raise InvalidArgumentError("No clip durations to choose a crop length from.")
    if min(max_seconds, min_seconds, step_seconds) <= 0:
        raise InvalidArgumentError(
            f"Crop bounds must be > 0 s, got max {max_seconds}, min {min_seconds}, step {step_seconds}."
        )
    seconds = float(np.quantile(np.asarray(durations, dtype=float), CROP_QUANTILE))
    seconds = min(max(seconds, min_seconds), max_seconds)
    return max(1, math.floor(seconds / step_seconds + 1e-9)) * step_seconds


def crop_starts(num_samples: int, crop_samples: int) -> list[int]:
    """Start samples of the crops covering a clip of ``num_samples``: ``[0]`` when it fits in one crop, else
    ``ceil(num_samples / crop_samples)`` starts evenly spaced from 0 to ``num_samples - crop_samples``."""
    if num_samples <= crop_samples:
        return [0]
    count = math.ceil(num_samples / crop_samples)
    return [round(i * (num_samples - crop_samples) / (count - 1)) for i in range(count)]

"""A log-mel spectrogram as an RGB picture for the page (numpy only; no plotting library)."""

from __future__ import annotations

import numpy as np

# Control points of a dark-to-bright perceptual map (close to matplotlib's "magma"), low to high.
COLOR_STOPS = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39],
     [252, 255, 164]],
    dtype=np.float32,
)
DYNAMIC_RANGE = 8.0  # natural-log units shown below the loudest bin (about 70 dB); quieter bins are black


def log_mel_image(log_mel: np.ndarray, height_scale: int = 2) -> np.ndarray:
    """Colour picture of a log-mel: low frequencies at the bottom, time left to right.

    Args:
        log_mel: ``(n_mels, frames)`` natural-log mel magnitudes (e.g. from
            :meth:`audiodiff.serve.engine.ClipEngine.log_mel`).
        height_scale: rows per mel band (a 64-band mel is a thin strip otherwise).

    Returns:
        ``(n_mels * height_scale, frames, 3)`` uint8 RGB; the loudest bin is brightest and bins more than
        :data:`DYNAMIC_RANGE` below it are black.
    """
    level = np.clip((log_mel - (log_mel.max() - DYNAMIC_RANGE)) / DYNAMIC_RANGE, 0.0, 1.0)
    position = level * (len(COLOR_STOPS) - 1)
    low = np.floor(position).astype(int).clip(0, len(COLOR_STOPS) - 2)
    weight = (position - low)[..., None]
    rgb = COLOR_STOPS[low] * (1 - weight) + COLOR_STOPS[low + 1] * weight
    return np.repeat(rgb[::-1], height_scale, axis=0).round().astype(np.uint8)

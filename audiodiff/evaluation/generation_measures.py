"""Measures of generated clips, on natural-log mels ``(n_mels, frames)`` of the model's own front end (floor
``log 1e-5``, :data:`FLOOR`): how different a prompt's seeds are, how close a clip comes to a training clip, and
how sharp its harmonics are against real clips'.

* :func:`diversity`: the mean over pairs of seeds of the Pearson correlation of the two clips' whole log-mels
  (flattened mels x frames).  1 when the seeds give the same clip, about 0 for unrelated noise; lower is more
  diverse.
* :func:`nearest_train`: the memorisation check: a clip's loudest window of log-mel (:func:`loudest_window`) slid
  over every training clip (:func:`sliding_correlation`), the largest Pearson correlation over clips and time
  offsets (training clips shorter than the window are padded with the floor).  A copy scores about 1.0; the same
  measure for real held-out clips is the reference.
* :func:`pitched_contrast` and :func:`contrast_ratio`: the mean harmonic contrast (nepers; spectral contrast of
  Jiang et al. 2002 on the lowest mel bands, :mod:`audiodiff.evaluation.harmonic_contrast`) over the pitched
  frames of clips, and generated / real: 1 when the generated harmonics are as sharp as the real ones, below 1
  when blurred.

Correlations are Pearson's r (unitless, -1..1).  ``recipes/opensfx/generation_report.py`` applies them to a
corpus's categories.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..mel import LOG_CLAMP
from .harmonic_contrast import ContrastTotals, harmonic_contrast, voiced_frames

FLOOR = math.log(LOG_CLAMP)  # the log-mel of silence


def mean_or_none(values: list[float | None]) -> float | None:
    """Mean of the values that are neither None nor NaN; None when there is none."""
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(kept)) if kept else None


def max_or_none(values: list[float]) -> float | None:
    """Largest of the values that are not NaN; None when there is none."""
    kept = [v for v in values if not math.isnan(v)]
    return max(kept) if kept else None


def pairwise_correlation(log_mels: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of every pair of ``log_mels: (batch, n_mels, frames)``, flattened -> ``(batch, batch)``."""
    return torch.corrcoef(log_mels.flatten(1).double()).float()


def diversity(log_mels: torch.Tensor) -> float | None:
    """Mean pairwise correlation of the clips of one prompt, ``log_mels: (seeds, n_mels, frames)``; lower is more
    diverse, 1 for identical clips.  None for fewer than two clips; pairs with a silent (constant) clip are left out."""
    if log_mels.shape[0] < 2:
        return None
    rows, cols = torch.triu_indices(log_mels.shape[0], log_mels.shape[0], offset=1)
    return mean_or_none(pairwise_correlation(log_mels)[rows, cols].tolist())


def floor_pad(log_mel: torch.Tensor, frames: int) -> torch.Tensor:
    """``(..., n_mels, t)`` -> at least ``frames`` frames, padded on the right with the log-mel floor."""
    return F.pad(log_mel, (0, max(0, frames - log_mel.shape[-1])), value=FLOOR)


def loudest_window(log_mel: torch.Tensor, frames: int) -> torch.Tensor:
    """The ``frames`` consecutive frames of ``log_mel: (n_mels, t)`` with the largest summed mel magnitude
    (``exp`` of the log-mel) -> ``(n_mels, frames)``; shorter clips are floor-padded."""
    log_mel = floor_pad(log_mel.float(), frames)
    loudness = log_mel.exp().sum(0)[None, None]  # (1, 1, t)
    start = int(F.avg_pool1d(loudness, frames, stride=1).argmax())
    return log_mel[:, start : start + frames]


def sliding_correlation(windows: torch.Tensor, log_mel: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each of ``windows: (batch, n_mels, frames)`` with every same-size window of
    ``log_mel: (n_mels, t)`` (floor-padded to ``frames`` if shorter) -> ``(batch, offsets)``.

    The numerator is a 1-D convolution of the log-mel with the centred windows; the segments' variances come
    from running sums.  A constant window or segment (silence) scores 0.
    """
    size = windows.shape[1] * windows.shape[2]
    target = floor_pad(log_mel, windows.shape[2]).double()[None]  # (1, n_mels, t)
    centred = windows.double() - windows.double().mean(dim=(1, 2), keepdim=True)
    dot = F.conv1d(target, centred)[0]  # (batch, offsets)
    sums = F.avg_pool1d(target.sum(1, keepdim=True), windows.shape[2], stride=1)[0] * windows.shape[2]
    squares = F.avg_pool1d(target.pow(2).sum(1, keepdim=True), windows.shape[2], stride=1)[0] * windows.shape[2]
    spread = (squares - sums.pow(2) / size).clamp(min=0).sqrt()  # (1, offsets): sqrt(size * variance)
    denominator = centred.flatten(1).norm(dim=1, keepdim=True) * spread
    return torch.where(denominator > 1e-9, dot / denominator.clamp(min=1e-9), torch.zeros_like(dot)).float()


def nearest_train(log_mels: list[torch.Tensor], train_mels: list[torch.Tensor], frames: int) -> list[float]:
    """Per clip of ``log_mels`` (each ``(n_mels, t)``), the largest correlation of its loudest ``frames`` frames
    with any window of any of ``train_mels`` (each ``(n_mels, t)``); NaN when there is no train clip."""
    if not log_mels:
        return []
    windows = torch.stack([loudest_window(mel, frames) for mel in log_mels])
    best = torch.full((len(log_mels),), float("nan"))
    for train in train_mels:
        best = torch.fmax(best, sliding_correlation(windows, train.float()).amax(dim=1))
    return best.tolist()


def pitched_contrast(audios: torch.Tensor, log_mels: torch.Tensor, hop_length: int, sample_rate: int) -> ContrastTotals:
    """Harmonic contrast totals (nepers) of ``log_mels: (batch, n_mels, frames)`` over the pitched frames of
    ``audios: (batch, samples)`` at ``sample_rate`` Hz (:func:`voiced_frames`); ``.real_mean`` is the mean."""
    pitched = voiced_frames(audios, hop_length, log_mels.shape[-1], sample_rate)
    return harmonic_contrast(log_mels, log_mels, pitched)


def contrast_ratio(generated: ContrastTotals, real: ContrastTotals) -> float | None:
    """Mean contrast of the generated clips over that of the real ones; None when either has no pitched frame."""
    if not generated.frames or not real.frames or real.real_mean <= 0:
        return None
    return generated.real_mean / real.real_mean

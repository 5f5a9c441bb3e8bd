"""A clip's spectral balance: the share of its energy in each mel band, and the distance between two balances.

:func:`band_energy_profile` summarises a natural-log mel by where its energy sits (energy = squared mel magnitude,
summed over frames, normalised to sum 1); :func:`profile_distance` is the total variation distance of two profiles
(the share of energy that sits in other bands: 0 = the same spectral balance, 1 = no band in common).  The
fine-tune report (:mod:`audiodiff.training.finetune_report`) compares base and tuned clips with the training clips
by it.
"""

from __future__ import annotations

import torch


def band_energy_profile(mel: torch.Tensor) -> torch.Tensor:
    """Share of the energy in each band of a natural-log mel ``(n_mels, frames)``: ``(n_mels,)``, summing to 1
    (energy = squared mel magnitude, summed over frames)."""
    energy = torch.exp(2.0 * mel.double()).sum(dim=1)
    return (energy / energy.sum().clamp(min=1e-30)).float()


def profile_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Total variation distance ``0.5 * sum |a - b|`` of two :func:`band_energy_profile`: in [0, 1]."""
    return float(0.5 * (a - b).abs().sum())

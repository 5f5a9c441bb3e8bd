"""Figures written during training: spectrogram images for evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch


def save_mel_images(path: Path, mels: Sequence[torch.Tensor], titles: Sequence[str], dpi: int = 80) -> Path:
    """Save log-mels ``(n_mels, frames)`` side by side, one panel each with its title, as a PNG (matplotlib, from
    the ``train`` extra); the panels share one colour scale so their levels compare."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = [mel.detach().float().cpu().numpy() for mel in mels]
    low, high = min(a.min() for a in arrays), max(a.max() for a in arrays)
    fig, axes = plt.subplots(1, len(arrays), figsize=(5 * len(arrays), 3), sharey=True, squeeze=False)
    for ax, mel, title in zip(axes[0], arrays, titles):
        ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high)
        ax.set_title(title)
        ax.set_xlabel("frame")
    axes[0][0].set_ylabel("mel band")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def save_mel_comparison(path: Path, reference: torch.Tensor, other: torch.Tensor, titles: tuple[str, str] = ("input", "reconstruction")) -> Path:
    """Save two log-mels ``(n_mels, frames)`` side by side as a PNG (matplotlib, from the ``train`` extra)."""
    return save_mel_images(path, (reference, other), titles)

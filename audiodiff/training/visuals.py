"""Figures written during training: spectrogram images for evaluation."""

from __future__ import annotations

from pathlib import Path

import torch


def save_mel_comparison(path: Path, reference: torch.Tensor, other: torch.Tensor, titles: tuple[str, str] = ("input", "reconstruction")) -> Path:
    """Save two log-mels ``(n_mels, frames)`` side by side as a PNG (matplotlib, from the ``train`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
    for ax, mel, title in zip(axes, (reference, other), titles):
        ax.imshow(mel.detach().float().cpu().numpy(), origin="lower", aspect="auto", cmap="magma")
        ax.set_title(title)
        ax.set_xlabel("frame")
    axes[0].set_ylabel("mel band")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path

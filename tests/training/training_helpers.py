"""Tiny in-memory datasets and configs shared by the training tests."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from audiodiff.training.config import DiffusionTrainConfig, TrainConfig

from tests.conftest import tone

FREQUENCIES = (220, 330, 440, 550, 660, 770, 880, 990)


class ToneDataset(Dataset):
    """``count`` distinct tones of ``seconds`` each, with captions naming their frequency."""

    def __init__(self, count: int = 4, seconds: float = 0.32):
        self.audio = [torch.from_numpy(tone(f, seconds)) for f in FREQUENCIES[:count]]

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, index: int) -> dict:
        audio = self.audio[index]
        return {"audio": audio, "audio_mask": torch.ones_like(audio), "caption": f"a tone at {FREQUENCIES[index]} hertz"}


def tiny_train_config(**overrides) -> TrainConfig:
    """A fast config: small batch, high learning rate, no periodic eval, no sample prompts."""
    settings = dict(max_steps=30, batch_size=4, learning_rate=3e-3, checkpoint_every=1000, eval_every=1000, log_every=5,
                    lr_schedule="constant", diffusion=DiffusionTrainConfig(sample_prompts=(), caption_dropout=0.1))
    settings.update(overrides)
    return TrainConfig(**settings)

"""LatentDataset: training items from a prepared latent cache, so diffusion needs no audio decoding or VAE."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..errors import InvalidArgumentError
from .cache import LatentCache
from .dataset import item_rng


class LatentDataset(Dataset):
    """The cached clips of one side of the split (the split recorded by ``audiodiff prepare``).

    Items: ``latents`` ``(C, h, w)`` float32, ``latents_mask`` ``(h,)`` float32 (0 on frames of padding),
    ``caption`` str (train: a paraphrase drawn from ``(seed, index, epoch)`` as in
    :class:`~audiodiff.data.dataset.AudioCaptionDataset`; validation: the main caption), ``index`` int,
    ``name`` str.  The crops are the ones fixed when the cache was made: a training clip with ``K`` cached crops
    (``audiodiff prepare --crops-per-clip``) serves crop ``epoch % K`` in each epoch, so a run sees each of them in
    turn; validation clips serve their one crop.

    Raises:
        InvalidArgumentError: ``split`` is not train/validation, or the cache has no clip on that side.
        IncompatibleModelError: ``model`` given and its VAE differs from the cache's.
    """

    def __init__(self, cache: str | Path, split: str = "train", seed: int = 0, model: str | Path | None = None):
        if split not in ("train", "validation"):
            raise InvalidArgumentError(f"split must be 'train' or 'validation', got {split!r}.")
        self.cache = LatentCache(cache, model=model)
        self.records = [record for record in self.cache.records if record.split == split]
        if not self.records:
            raise InvalidArgumentError(f"Cache {cache} holds no {split} clips; re-run prepare with more data.")
        self.train, self.seed, self.epoch = split == "train", seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the crops and paraphrases of ``epoch`` (training only)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str | int]:
        record = self.records[index]
        crop = self.epoch % record.num_crops if self.train else 0
        latents, mask = self.cache.lookup([record.name], [crop])
        caption = record.captions[0]
        if self.train:
            caption = record.captions[item_rng(self.seed, index, self.epoch).integers(len(record.captions))]
        return {"latents": latents[0], "latents_mask": mask[0], "caption": caption, "index": index, "name": record.name}

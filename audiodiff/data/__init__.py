"""Datasets (audiofolders, manifests), cropping, train/validation split, and the ``prepare`` cache.

See ``docs/data.md``.  Import from the submodules; the names below are the public API.
"""

from .cache import LatentCache, TextStateCache
from .dataset import AudioCaptionDataset, collate
from .latent_dataset import LatentDataset
from .manifest import Clip, read_dataset
from .prepare import prepare_cache
from .split import split_clips

__all__ = [
    "AudioCaptionDataset", "Clip", "LatentCache", "LatentDataset", "TextStateCache", "collate",
    "prepare_cache", "read_dataset", "split_clips",
]

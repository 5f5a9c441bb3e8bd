"""The ``audiodiff prepare`` cache: text encoder states per caption and, optionally, VAE latents per clip.

A cache folder holds ``index.json`` and row-sharded safetensors files
(:mod:`audiodiff.data.shards`).  Reading it needs only json, safetensors and torch,
so diffusion training can run where the text encoder's package is not installed.

``index.json``::

    {"format": 1, "model": "<folder prepare read>",
     "text_encoder": {"text_encoder": "<source or sha1>", "hidden_size": H, "max_text_length": L},
     "text_states": {"dtype": "float32", "files": [...], "captions": {"<caption>": [shard, row]}},
     "latents": null | {"identity": "encoder-sha1:...", "dtype": ..., "files": [...], "shape": [C, h, w],
                        "sample_rate": ..., "segment_seconds": ..., "seed": ..., "validation_fraction": ...,
                        "crops_per_clip": K,
                        "clips": [{"name": ..., "split": ..., "captions": [...], "shard": s, "row": r,
                                   "crop": k}]}}

A clip has one entry per cached crop (``crop`` 0, 1, ...; caches written before crops were counted have no
``crop`` field and one crop per clip).

Text shards hold ``states`` ``(rows, L, H)`` (zero at padding) and ``mask`` ``(rows, L)`` uint8;
latent shards hold ``latents`` ``(rows, C, h, w)`` and ``latents_mask`` ``(rows, h)`` uint8.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import IncompatibleModelError, InvalidArgumentError
from .fingerprint import latent_identity, latent_identity_matches, text_encoder_identity
from .shards import ShardReader

INDEX_FILE = "index.json"
FORMAT_VERSION = 1


def read_index(cache: Path) -> dict:
    """``cache/index.json``, checked for the format version.

    Raises:
        InvalidArgumentError: no cache at ``cache``, or one written by an incompatible version.
    """
    path = Path(cache) / INDEX_FILE
    if not path.is_file():
        raise InvalidArgumentError(
            f"{cache} is not an audiodiff cache (no {INDEX_FILE}); create it with "
            "`audiodiff prepare --data DIR --model DIR --cache DIR`."
        )
    index = json.loads(path.read_text(encoding="utf-8"))
    if index.get("format") != FORMAT_VERSION:
        raise InvalidArgumentError(
            f"Cache {cache} has format {index.get('format')!r}, this audiodiff reads {FORMAT_VERSION}; re-run prepare."
        )
    return index


class TextStateCache:
    """Text encoder states of every caption a dataset uses, read from a prepared cache.

    Args:
        cache: the folder ``audiodiff prepare`` wrote.
        model: a pipeline folder to check the cache against (same text encoder, hidden size and
            ``max_text_length``); read from its files only, without transformers.

    Raises:
        InvalidArgumentError: ``cache`` is not a cache.
        IncompatibleModelError: the cache was made with another text encoder than ``model``'s.
    """

    def __init__(self, cache: str | Path, model: str | Path | None = None):
        self.cache = Path(cache)
        index = read_index(self.cache)
        self.identity: dict = index["text_encoder"]
        if model is not None:
            _check_same(self.cache, "text encoder", self.identity, text_encoder_identity(Path(model)), model)
        section = index["text_states"]
        self._locations: dict[str, tuple[int, int]] = {c: (s, r) for c, (s, r) in section["captions"].items()}
        self._reader = ShardReader(self.cache, section["files"])

    @property
    def hidden_size(self) -> int:
        """Width of the cached states (the U-Net's ``cross_attention_dim``)."""
        return int(self.identity["hidden_size"])

    @property
    def max_text_length(self) -> int:
        """Tokens per caption the states were padded (or truncated) to."""
        return int(self.identity["max_text_length"])

    def __contains__(self, caption: str) -> bool:
        return caption in self._locations

    def __len__(self) -> int:
        return len(self._locations)

    def lookup(self, captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """States and mask of ``captions``, shaped as :func:`~audiodiff.models.text_encoder.encode_text` gives them.

        Returns:
            ``(states, mask)``: ``(batch, tokens, hidden)`` float32, zero at padding, and ``(batch, tokens)``
            long mask (1 = real token); ``tokens`` is the longest caption of the batch, as with live encoding.

        Raises:
            InvalidArgumentError: a caption is not in the cache (named, with the fix).
        """
        missing = [caption for caption in captions if caption not in self._locations]
        if missing:
            raise InvalidArgumentError(
                f"Caption {missing[0]!r} is not in the text cache {self.cache} ({len(missing)} missing in this batch); "
                "re-run `audiodiff prepare` on the dataset you train on."
            )
        locations = [self._locations[caption] for caption in captions]
        mask = self._reader.rows("mask", locations).long()
        tokens = max(1, int(mask.sum(dim=1).max())) if len(captions) else 1
        states = self._reader.rows("states", locations)[:, :tokens].float()
        return states, mask[:, :tokens]


@dataclass(frozen=True)
class LatentRecord:
    """One cached clip: its :attr:`Clip.name`, its side of the split, its captions (main caption first) and how
    many crops of it the cache holds."""

    name: str
    split: str
    captions: tuple[str, ...]
    num_crops: int = 1


class LatentCache:
    """VAE latents of fixed crops of each clip, read from a prepared cache.

    Training clips hold the crop :class:`~audiodiff.data.dataset.AudioCaptionDataset` draws in epoch 0
    with the cache's ``seed`` (and, from ``prepare --crops-per-clip K``, those of epochs 1 .. K-1 for clips
    longer than a crop); validation clips hold the start of the clip.  Cached latents fix the crops.

    Raises:
        InvalidArgumentError: ``cache`` is not a cache or holds no latents.
        IncompatibleModelError: the latents were made with another VAE encoder, latent scaling or mel front end
            than ``model``'s (a new decoder alone is fine).
    """

    def __init__(self, cache: str | Path, model: str | Path | None = None):
        self.cache = Path(cache)
        section = read_index(self.cache).get("latents")
        if not section:
            raise InvalidArgumentError(f"Cache {cache} holds no latents; re-run `audiodiff prepare ... --latents`.")
        self.settings = {key: value for key, value in section.items() if key not in ("files", "clips")}
        if model is not None and not latent_identity_matches(section["identity"], Path(model)):
            _check_same(self.cache, "VAE encoder", section["identity"], latent_identity(Path(model)), model)
        self._locations: dict[str, list[tuple[int, int]]] = {}
        first: dict[str, dict] = {}
        for entry in sorted(section["clips"], key=lambda c: c.get("crop", 0)):
            self._locations.setdefault(entry["name"], []).append((entry["shard"], entry["row"]))
            first.setdefault(entry["name"], entry)
        self.records = [LatentRecord(c["name"], c["split"], tuple(c["captions"]), len(self._locations[c["name"]]))
                        for c in first.values()]
        self._reader = ShardReader(self.cache, section["files"])

    def __len__(self) -> int:
        return len(self.records)

    def lookup(self, names: Sequence[str], crops: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents ``(batch, C, h, w)`` float32 and ``latents_mask`` ``(batch, h)`` float32 (0 on padded frames)
        of crop ``crops[i]`` (default 0) of clip ``names[i]``.

        Raises:
            InvalidArgumentError: a clip name is not in the cache, or a crop index beyond the clip's crops.
        """
        missing = [name for name in names if name not in self._locations]
        if missing:
            raise InvalidArgumentError(
                f"Clip {missing[0]!r} has no cached latents in {self.cache}; re-run `audiodiff prepare --latents`."
            )
        crops = [0] * len(names) if crops is None else list(crops)
        if len(crops) != len(names):
            raise InvalidArgumentError(f"lookup got {len(names)} clip names but {len(crops)} crop indices.")
        for name, crop in zip(names, crops):
            if not 0 <= crop < len(self._locations[name]):
                raise InvalidArgumentError(
                    f"Clip {name!r} has {len(self._locations[name])} cached crop(s) in {self.cache}, no crop {crop}."
                )
        locations = [self._locations[name][crop] for name, crop in zip(names, crops)]
        return self._reader.rows("latents", locations).float(), self._reader.rows("latents_mask", locations).float()


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``path``, on error it is removed.

    A run killed midway leaves any previous ``path`` intact (plus a ``.tmp`` folder to delete).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    old = path.parent / f".{path.name}.old-{os.getpid()}"
    if path.exists():
        path.rename(old)
    temporary.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def _check_same(cache: Path, what: str, cached: object, current: object, model: str | Path) -> None:
    if cached != current:
        raise IncompatibleModelError(
            f"Cache {cache} was made with another {what} ({cached}) than model {model} ({current}); "
            f"re-run `audiodiff prepare --model {model}`."
        )

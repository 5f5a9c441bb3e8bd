"""The cache a fine-tune makes of its dataset on the first run: text states of every caption and VAE latents
of crops that follow the clip lengths (:mod:`audiodiff.data.crops`), several per long clip.

It is an ``audiodiff prepare`` cache (:mod:`audiodiff.data.cache`, read by
:class:`~audiodiff.data.latent_dataset.LatentDataset` and :class:`~audiodiff.data.cache.TextStateCache`)
whose latent records are crops named ``"<clip name>#<k>"``, all on the train side, plus a
``"finetune"`` section with a fingerprint of the data, the crop length and the model.  A later run on the
same clips (same files, sizes, modification times and captions) and model reuses it; anything else rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..audio import load_audio
from ..errors import InvalidArgumentError
from ..mel import frame_mask
from ..models import vae as vaes
from ..pipeline import AudioDiffusionPipeline
from .cache import FORMAT_VERSION, INDEX_FILE, atomic_folder
from .crops import crop_starts
from .dataset import crop
from .fingerprint import latent_identity, text_encoder_identity
from .manifest import Clip
from .prepare import UNCONDITIONAL_CAPTION, write_text_states
from .shards import DEFAULT_MAX_SHARD_BYTES, ShardWriter

log = logging.getLogger(__name__)

SECTION = "finetune"


def cache_fingerprint(clips: Sequence[Clip], crop_samples: int, model: Path) -> str:
    """SHA-1 over each clip's name, path, size, modification time and captions, the crop length in samples and
    the identities of ``model``'s text encoder and VAE: what the cached tensors depend on."""
    files = [(clip.name, str(clip.path.resolve()), clip.path.stat().st_size, clip.path.stat().st_mtime_ns,
              list(clip.captions)) for clip in clips]
    content = {"clips": files, "crop_samples": crop_samples, "vae": latent_identity(model),
               "text_encoder": text_encoder_identity(model)}
    return "sha1:" + hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()


def is_finetune_cache(folder: Path) -> bool:
    """Whether ``folder`` holds a cache this module wrote (``index.json`` with a ``"finetune"`` section)."""
    index = Path(folder) / INDEX_FILE
    return index.is_file() and SECTION in json.loads(index.read_text(encoding="utf-8"))


def ensure_finetune_cache(
    clips: Sequence[Clip], pipe: AudioDiffusionPipeline, model: Path, folder: Path, crop_seconds: float,
    batch_size: int = 16, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> Path:
    """The fine-tune cache of ``clips`` in ``folder``: reused when its fingerprint matches, else written.

    Args:
        clips: usable clips (all train).
        pipe: the pipeline loaded from ``model``, with its text encoder.
        crop_seconds: crop length (a multiple of the model's latent step, see
            :func:`~audiodiff.data.crops.crop_seconds_for`).
        batch_size: crops (and captions) encoded together.

    Raises:
        InvalidArgumentError: ``folder`` holds another kind of cache (from ``audiodiff prepare``), which is not
            overwritten.
    """
    folder = Path(folder)
    crop_samples = round(crop_seconds * pipe.sample_rate)
    fingerprint = cache_fingerprint(clips, crop_samples, model)
    index_path = folder / INDEX_FILE
    if index_path.is_file():
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if SECTION not in index:
            raise InvalidArgumentError(
                f"{folder} holds a cache from `audiodiff prepare`, not a fine-tune cache; give --cache another "
                "folder (it is made on the first run) or leave --cache out."
            )
        if index[SECTION]["fingerprint"] == fingerprint:
            log.info("Reusing the cached text states and latents in %s.", folder)
            return folder
        log.info("The data, crop length or model changed since %s was made: encoding again.", folder)
    captions = list(dict.fromkeys([UNCONDITIONAL_CAPTION, *(c for clip in clips for c in clip.captions)]))
    index = {"format": FORMAT_VERSION, "model": str(Path(model).resolve()),
             "text_encoder": text_encoder_identity(model)}
    with atomic_folder(folder) as staging:
        index["text_states"] = write_text_states(pipe, captions, staging, batch_size, torch.float32, max_shard_bytes)
        index["latents"] = write_crop_latents(pipe, clips, staging, crop_samples, batch_size, max_shard_bytes)
        index["latents"].update(identity=latent_identity(model), validation_fraction=0.0)
        index[SECTION] = {"fingerprint": fingerprint, "crop_seconds": crop_seconds}
        (staging / INDEX_FILE).write_text(json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8")
    log.info("Cached %d captions and %d crops of %.2f s from %d clips in %s.", len(captions),
             len(index["latents"]["clips"]), crop_seconds, len(clips), folder)
    return folder


def _crops(
    clips: Sequence[Clip], sample_rate: int, crop_samples: int
) -> Iterator[tuple[str, Clip, np.ndarray, np.ndarray]]:
    """``(record name, clip, crop, mask)`` for every crop of every clip, ``crop``/``mask`` ``(crop_samples,)``."""
    for clip in clips:
        audio = load_audio(clip.path, sample_rate)
        for k, start in enumerate(crop_starts(audio.shape[0], crop_samples)):
            yield (f"{clip.name}#{k}", clip, *crop(audio, start, crop_samples))


@torch.no_grad()
def write_crop_latents(
    pipe: AudioDiffusionPipeline, clips: Sequence[Clip], folder: Path, crop_samples: int, batch_size: int,
    max_shard_bytes: int,
) -> dict:
    """Encode every crop (VAE posterior mean, float32) into ``latents-*.safetensors``; returns the index section."""
    writer = ShardWriter(folder, "latents", max_shard_bytes)
    hop = pipe.mel.config.hop_length * vaes.downsampling_factor(pipe.vae)
    records, shape, pending = [], None, []

    def encode(batch: list[tuple[str, Clip, np.ndarray, np.ndarray]]) -> None:
        nonlocal shape
        latents = pipe.audio_to_latents(torch.from_numpy(np.stack([item[2] for item in batch]))).float()
        mask = frame_mask(torch.from_numpy(np.stack([item[3] for item in batch])), hop, latents.shape[2])
        rows = writer.add({"latents": latents.cpu(), "latents_mask": mask.to(torch.uint8)})
        shape = list(latents.shape[1:])
        for (name, clip, _, _), (shard, row) in zip(batch, rows):
            records.append({"name": name, "split": "train", "captions": list(clip.captions), "shard": shard,
                            "row": row})

    for item in tqdm(_crops(clips, pipe.sample_rate, crop_samples), desc="Encoding crops", unit="crop", disable=None):
        pending.append(item)
        if len(pending) == batch_size:
            encode(pending)
            pending = []
    if pending:
        encode(pending)
    writer.flush()
    return {"dtype": "float32", "files": writer.files, "shape": shape, "sample_rate": pipe.sample_rate,
            "segment_seconds": crop_samples / pipe.sample_rate, "seed": 0, "clips": records}

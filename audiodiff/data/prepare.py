"""``audiodiff prepare``: encode a dataset's captions (and optionally its clips' latents) once, into a cache.

Diffusion training then reads :class:`~audiodiff.data.cache.TextStateCache` (and
:class:`~audiodiff.data.cache.LatentCache`) instead of running the text encoder and the VAE.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from ..devices import resolve_device
from ..errors import InvalidArgumentError
from ..mel import frame_mask
from ..models import text_encoder as text_encoders
from ..models import vae as vaes
from ..pipeline import AudioDiffusionPipeline
from .cache import FORMAT_VERSION, INDEX_FILE, atomic_folder
from .dataset import AudioCaptionDataset, collate
from .fingerprint import latent_identity, text_encoder_identity
from .manifest import Clip, read_dataset
from .shards import DEFAULT_MAX_SHARD_BYTES, ShardWriter
from .split import split_clips

log = logging.getLogger(__name__)

UNCONDITIONAL_CAPTION = ""  # always cached: caption dropout for classifier-free guidance needs it


def prepare_cache(
    data: str | Path,
    model: str | Path,
    cache: str | Path,
    latents: bool = False,
    batch_size: int = 32,
    segment_seconds: float = 5.0,
    device: str = "auto",
    fp16: bool = False,
    seed: int = 0,
    validation_fraction: float = 0.03,
    extra_captions: Sequence[str] = (),
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    crops_per_clip: int = 1,
) -> Path:
    """Write the cache folder ``cache`` for dataset ``data`` and pipeline folder ``model``; returns ``cache``.

    Every distinct caption and paraphrase (plus ``""`` and ``extra_captions``, e.g. sample prompts) is
    encoded once.  With ``latents``, each usable clip's crop of ``segment_seconds`` is encoded by the VAE
    (posterior mean): training clips at the crop :class:`AudioCaptionDataset` draws in epoch 0 with
    ``seed``, validation clips (``split_clips(validation_fraction, seed)``) at their start.  The folder is
    written under a temporary name and renamed when complete.

    Args:
        fp16: store states and latents as float16 (half the disk; lookups still return float32).
        max_shard_bytes: tensor bytes per safetensors shard, at most.
        crops_per_clip: with ``latents``, each training clip longer than ``segment_seconds`` also gets the crops
            of epochs 1 .. ``crops_per_clip - 1`` (its random starts in those epochs), so that diffusion
            training, which takes crop ``epoch % crops`` of each clip, does not see one fixed crop per clip every
            epoch (a U-Net trained on one fixed crop overfits it; recipes/opensfx/TRAINING.md).  Shorter clips
            give one crop, since every epoch would crop them at the start.  Validation clips keep one.

    Raises:
        InvalidArgumentError: the dataset is unusable (see :func:`read_dataset`, :class:`AudioCaptionDataset`),
            or ``crops_per_clip`` is not an integer >= 1.
        ModelNotFoundError / IncompatibleModelError / TextEncoderNotFoundError: the model cannot be loaded.
    """
    data, model, cache = Path(data), Path(model), Path(cache)
    if isinstance(crops_per_clip, bool) or not isinstance(crops_per_clip, int) or crops_per_clip < 1:
        raise InvalidArgumentError(f"crops_per_clip must be an integer >= 1, got {crops_per_clip!r}.")
    clips = read_dataset(data)
    pipe = AudioDiffusionPipeline.from_pretrained(model).to(resolve_device(device))
    dtype = torch.float16 if fp16 else torch.float32
    captions = [UNCONDITIONAL_CAPTION, *extra_captions, *(caption for clip in clips for caption in clip.captions)]
    captions = list(dict.fromkeys(captions))
    index: dict = {"format": FORMAT_VERSION, "model": str(model.resolve())}
    index["text_encoder"] = text_encoder_identity(model)
    with atomic_folder(cache) as folder:
        index["text_states"] = write_text_states(pipe, captions, folder, batch_size, dtype, max_shard_bytes)
        index["latents"] = None
        if latents:
            train, validation = split_clips(clips, validation_fraction, seed)
            index["latents"] = write_latents(pipe, train, validation, folder, batch_size, segment_seconds, seed,
                                             dtype, max_shard_bytes, crops_per_clip)
            index["latents"].update(identity=latent_identity(model), validation_fraction=validation_fraction)
        (folder / INDEX_FILE).write_text(json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8")
    log.info("Cached %d captions%s in %s.", len(captions),
             f" and {len(index['latents']['clips'])} crop latents" if latents else "", cache)
    return cache


@torch.no_grad()
def write_text_states(
    pipe: AudioDiffusionPipeline, captions: list[str], folder: Path, batch_size: int, dtype: torch.dtype,
    max_shard_bytes: int,
) -> dict:
    """Encode ``captions`` (batched by length) into ``text_states-*.safetensors``; returns the index section."""
    max_length = int(pipe.config.max_text_length)
    pooled = pipe.config.text_embedding == "pooled_projection"  # one vector per caption, nothing to pad
    writer = ShardWriter(folder, "text_states", max_shard_bytes)
    ordered = sorted(captions, key=len)
    locations: dict[str, list[int]] = {}
    for start in tqdm(range(0, len(ordered), batch_size), desc="Encoding captions", unit="batch", disable=None):
        batch = ordered[start : start + batch_size]
        states, mask = text_encoders.encode_text(pipe.text_encoder, pipe.tokenizer, batch, max_length,
                                                 embedding=pipe.config.text_embedding)
        states, mask = pad_states(states, mask, states.shape[1] if pooled else max_length)
        rows = writer.add({"states": states.to("cpu", dtype), "mask": mask.to("cpu", torch.uint8)})
        locations.update({caption: list(location) for caption, location in zip(batch, rows)})
    writer.flush()
    return {"dtype": str(dtype).removeprefix("torch."), "files": writer.files, "captions": locations}


def pad_states(states: torch.Tensor, mask: torch.Tensor, max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad ``(batch, tokens, hidden)`` states and ``(batch, tokens)`` mask to ``max_length`` tokens.

    States at padding positions (mask 0) are set to zero, so a cached row does not depend on
    which captions it was batched with; the U-Net's attention mask ignores them either way.
    """
    extra = max_length - states.shape[1]
    states = torch.nn.functional.pad(states * mask.unsqueeze(-1).to(states.dtype), (0, 0, 0, extra))
    return states, torch.nn.functional.pad(mask, (0, extra))


@torch.no_grad()
def write_latents(
    pipe: AudioDiffusionPipeline, train: list[Clip], validation: list[Clip], folder: Path, batch_size: int,
    segment_seconds: float, seed: int, dtype: torch.dtype, max_shard_bytes: int, crops_per_clip: int = 1,
) -> dict:
    """Encode the crops of every usable clip into ``latents-*.safetensors``; returns the index section.

    Crop ``k`` of a training clip is the one :class:`AudioCaptionDataset` draws in epoch ``k``; crops after the
    first are encoded only for clips that fill the whole first crop (a shorter clip is always cropped at 0).
    """
    writer = ShardWriter(folder, "latents", max_shard_bytes)
    records, shape = [], None
    hop = pipe.mel.config.hop_length * vaes.downsampling_factor(pipe.vae)  # audio samples per latent frame
    for split, clips in (("train", train), ("validation", validation)):
        if not clips:
            continue
        dataset = AudioCaptionDataset(clips, pipe.sample_rate, segment_seconds, train=split == "train", seed=seed)
        long_clips = list(range(len(dataset)))
        for crop in range(crops_per_clip if split == "train" else 1):
            dataset.set_epoch(crop)
            loader = DataLoader(Subset(dataset, long_clips), batch_size=batch_size, collate_fn=collate)
            label = f"Encoding {split} latents" + (f" (crop {crop + 1} of {crops_per_clip})" if crops_per_clip > 1 else "")
            long_clips = []  # the clips that filled this crop: only they can give another
            for batch in tqdm(loader, desc=label, unit="batch", disable=None):
                latents = pipe.audio_to_latents(batch["audio"])
                mask = frame_mask(batch["audio_mask"], hop, latents.shape[2]).to(torch.uint8)
                rows = writer.add({"latents": latents.to("cpu", dtype), "latents_mask": mask})
                shape = list(latents.shape[1:])
                filled = batch["audio_mask"].bool().all(1).tolist()
                for i, full, (shard, row) in zip(batch["index"].tolist(), filled, rows):
                    clip = dataset.clips[i]
                    records.append({"name": clip.name, "split": split, "captions": list(clip.captions),
                                    "shard": shard, "row": row, "crop": crop})
                    if full:
                        long_clips.append(i)
            if not long_clips:
                break
    writer.flush()
    return {"dtype": str(dtype).removeprefix("torch."), "files": writer.files, "shape": shape,
            "sample_rate": pipe.sample_rate, "segment_seconds": segment_seconds, "seed": seed,
            "crops_per_clip": crops_per_clip, "clips": records}

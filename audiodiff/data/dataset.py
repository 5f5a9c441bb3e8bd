"""AudioCaptionDataset: fixed-length crops of captioned clips, with a mask over the zero padding.

Training crops start at a random sample and the caption is a random paraphrase,
both drawn from a generator seeded by ``(seed, index, epoch)`` so a run is
reproducible and :meth:`AudioCaptionDataset.set_epoch` changes them.  Validation
crops start at sample 0 with the main caption.  Files that cannot be decoded,
are empty, silent, hold NaN/inf samples, have a sample rate outside
``[MIN_SOURCE_RATE, MAX_SOURCE_RATE]`` or last longer than ``MAX_CLIP_SECONDS`` (read from
the header, before decoding) are found once, when the dataset is built, and left out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..audio import load_audio
from ..errors import AudioLoadError, InvalidArgumentError
from .manifest import Clip
from .report import Skipped, describe_skipped, warn_skipped

log = logging.getLogger(__name__)

SILENCE_PEAK = 1e-4  # -80 dBFS: a clip whose peak is below this is treated as silent
MIN_SOURCE_RATE = 4_000  # Hz; lower rates hold no usable audio band
MAX_SOURCE_RATE = 384_000  # Hz; the highest rate of common recorders
MAX_CLIP_SECONDS = 600.0  # each item decodes its whole file: longer recordings must be split first


class AudioCaptionDataset(Dataset):
    """Crops of ``segment_seconds`` from captioned clips.

    Args:
        clips: from :func:`~audiodiff.data.manifest.read_dataset` (one side of the split).
        sample_rate: rate in Hz every clip is resampled to.
        segment_seconds: crop length in seconds; ``segment_samples = round(segment_seconds * sample_rate)``.
        train: random crops and paraphrases (``True``) or start-of-clip crops and main captions.
        seed: seeds the per-item generator together with the index and the epoch.
        silence_peak: clips whose peak absolute sample is below this are skipped as silent.
        scan_workers: threads decoding files during the construction-time scan.

    Items are dicts: ``audio`` ``(segment_samples,)`` float32 at ``sample_rate`` Hz; ``audio_mask``
    ``(segment_samples,)`` float32, 1 on real samples and 0 on padding; ``caption`` str;
    ``index`` int (position in :attr:`clips`); ``name`` str (:attr:`Clip.name`).

    Raises:
        InvalidArgumentError: ``sample_rate`` or ``segment_seconds`` not positive, or no clip usable.
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        sample_rate: int,
        segment_seconds: float,
        train: bool,
        seed: int = 0,
        silence_peak: float = SILENCE_PEAK,
        scan_workers: int | None = None,
    ):
        if sample_rate <= 0 or segment_seconds <= 0:
            raise InvalidArgumentError(
                f"sample_rate and segment_seconds must be > 0, got {sample_rate!r} Hz and {segment_seconds!r} s."
            )
        self.sample_rate = sample_rate
        self.segment_samples = max(1, round(segment_seconds * sample_rate))
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.clips, self.skipped = scan_clips(clips, sample_rate, silence_peak, scan_workers)

    def set_epoch(self, epoch: int) -> None:
        """Select the crops and paraphrases of ``epoch`` (training only; validation ignores it).

        With DataLoader workers, call it before creating each epoch's iterator (non-persistent workers).
        """
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str | int]:
        clip = self.clips[index]
        audio = load_audio(clip.path, self.sample_rate)
        if self.train:
            rng = item_rng(self.seed, index, self.epoch)
            start = random_start(audio.shape[0], self.segment_samples, rng)
            caption = clip.captions[rng.integers(len(clip.captions))]
        else:
            start, caption = 0, clip.caption
        segment, mask = crop(audio, start, self.segment_samples)
        return {
            "audio": torch.from_numpy(segment),
            "audio_mask": torch.from_numpy(mask),
            "caption": caption,
            "index": index,
            "name": clip.name,
        }


def item_rng(seed: int, index: int, epoch: int) -> np.random.Generator:
    """The generator of item ``index`` in ``epoch``: the same triple always gives the same draws."""
    return np.random.default_rng([seed, index, epoch])


def random_start(num_samples: int, segment_samples: int, rng: np.random.Generator) -> int:
    """A uniform crop start in ``[0, num_samples - segment_samples]``; 0 when the clip is shorter."""
    return int(rng.integers(0, num_samples - segment_samples + 1)) if num_samples > segment_samples else 0


def crop(audio: np.ndarray, start: int, segment_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """``audio[start : start + segment_samples]`` zero-padded at the end, and its mask.

    Returns:
        ``(segment, mask)``, both ``(segment_samples,)`` float32; ``mask`` is 1 on real samples, 0 on padding.
    """
    segment = np.zeros(segment_samples, dtype=np.float32)
    piece = audio[start : start + segment_samples]
    segment[: piece.shape[0]] = piece
    mask = np.zeros(segment_samples, dtype=np.float32)
    mask[: piece.shape[0]] = 1.0
    return segment, mask


def collate(items: Sequence[dict]) -> dict[str, torch.Tensor | list[str]]:
    """Batch dataset items field by field: tensors are stacked (``audio``/``audio_mask`` ``(batch, samples)``,
    ``latents`` ``(batch, C, h, w)``, ...), ints become a ``(batch,)`` long tensor, strings stay lists."""
    batch: dict[str, torch.Tensor | list[str]] = {}
    for key, first in items[0].items():
        values = [item[key] for item in items]
        if isinstance(first, torch.Tensor):
            batch[key] = torch.stack(values)
        elif isinstance(first, int):
            batch[key] = torch.tensor(values, dtype=torch.long)
        else:
            batch[key] = values
    return batch


def scan_clips(
    clips: Sequence[Clip], sample_rate: int, silence_peak: float = SILENCE_PEAK, workers: int | None = None
) -> tuple[list[Clip], list[Skipped]]:
    """Decode every clip once and keep the usable ones, in input order.

    Returns:
        ``(usable, skipped)``; skipped clips are also named in one warning.

    Raises:
        InvalidArgumentError: no clip is usable.
    """
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        problems = list(tqdm(
            pool.map(lambda clip: unusable_reason(clip, sample_rate, silence_peak), clips),
            total=len(clips), desc="Checking audio", unit="file", disable=None, leave=False,
        ))
    usable = [clip for clip, problem in zip(clips, problems) if problem is None]
    skipped = [Skipped(clip.name, problem) for clip, problem in zip(clips, problems) if problem is not None]
    warn_skipped(log, skipped, len(clips), "audio files")
    if not usable:
        detail = describe_skipped(skipped) if skipped else "the clip list is empty"
        raise InvalidArgumentError(
            f"No usable audio among {len(clips)} clip(s): {detail}. Each file must decode with soundfile "
            f"and have a peak of at least {silence_peak:g}."
        )
    return usable, skipped


def unusable_reason(clip: Clip, sample_rate: int, silence_peak: float = SILENCE_PEAK) -> str | None:
    """Why ``clip`` cannot be trained on (``"cannot decode: ..."``, ``"silent"``, ...), or ``None`` if it can.

    The header is read first, so a file with an absurd rate or length is refused without decoding it.
    """
    try:
        info = sf.info(str(clip.path))
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as error:
        return f"cannot decode: {error}"
    if not MIN_SOURCE_RATE <= info.samplerate <= MAX_SOURCE_RATE:
        return f"sample rate {info.samplerate} Hz outside [{MIN_SOURCE_RATE}, {MAX_SOURCE_RATE}] Hz"
    if info.frames > MAX_CLIP_SECONDS * info.samplerate:
        return (f"{info.frames / info.samplerate:.0f} s long, over the {MAX_CLIP_SECONDS:g} s limit; "
                "split it into shorter clips")
    try:
        audio = load_audio(clip.path, sample_rate)
    except AudioLoadError as error:
        return f"cannot decode: {error}"
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if not np.isfinite(peak):
        return "non-finite samples"
    if peak < silence_peak:
        return f"silent, peak {peak:.1e}"
    return None

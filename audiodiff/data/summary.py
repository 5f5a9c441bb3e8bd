"""The dataset check shown before a fine-tune: what will be trained on, what was left out and why."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import soundfile as sf

from .manifest import Clip
from .report import Skipped, describe_skipped

log = logging.getLogger(__name__)

FEW_CLIPS = 5  # below this many usable clips a fine-tune mostly memorises them: warn


@dataclass(frozen=True)
class DatasetSummary:
    """Usable clips, skipped inputs (rows and audio files, each with its reason), durations and captions.

    Attributes:
        clips: the usable clips, in dataset order.
        durations: seconds of each usable clip (from the file header).
        skipped: rows and files left out, with reasons.
    """

    clips: tuple[Clip, ...]
    durations: tuple[float, ...]
    skipped: tuple[Skipped, ...]

    @property
    def total_minutes(self) -> float:
        return sum(self.durations) / 60.0

    @property
    def captions(self) -> Counter[str]:
        """Clips per main caption."""
        return Counter(clip.caption for clip in self.clips)

    def describe(self) -> str:
        """Two or three lines: counts, minutes, clip lengths, captions, and the skipped inputs with reasons."""
        captions = self.captions
        common = ", ".join(f"{caption!r} x{count}" for caption, count in captions.most_common(3))
        lines = [
            f"Dataset: {len(self.clips)} usable clips ({self.total_minutes:.1f} min, {min(self.durations):.1f}-"
            f"{max(self.durations):.1f} s each), {len(captions)} distinct caption(s): {common}"
            + (" ..." if len(captions) > 3 else ""),
        ]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)}: {describe_skipped(self.skipped)}")
        return "\n".join(lines)


def summarize(clips: Sequence[Clip], skipped: Sequence[Skipped]) -> DatasetSummary:
    """The :class:`DatasetSummary` of usable ``clips`` (as :func:`~audiodiff.data.dataset.scan_clips` leaves them)
    and everything ``skipped`` on the way; warns when fewer than :data:`FEW_CLIPS` clips are usable."""
    durations = tuple(sf.info(str(clip.path)).duration for clip in clips)
    if len(clips) < FEW_CLIPS:
        log.warning(
            "Only %d usable clip(s): a fine-tune on so few learns to repeat them (overfits); %d or more varied "
            "clips per sound give a model that generalises.", len(clips), 2 * FEW_CLIPS,
        )
    return DatasetSummary(tuple(clips), durations, tuple(skipped))

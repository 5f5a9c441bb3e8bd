"""Train/validation split of a list of clips: by the rows' ``split`` field, a given list, or a seeded hash.

The hash rule puts a clip in validation when ``hash(seed, clip.name)`` falls below
``validation_fraction``; each clip's side depends only on its own name, so adding
files never moves other clips from one side to the other.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from ..errors import InvalidArgumentError
from .manifest import Clip

log = logging.getLogger(__name__)


def split_clips(
    clips: Sequence[Clip],
    validation_fraction: float,
    seed: int,
    validation_files: Iterable[str] | None = None,
) -> tuple[list[Clip], list[Clip]]:
    """Split clips into ``(train, validation)``, each in input order.

    Per clip, the first rule that applies decides: its ``split`` field; membership in
    ``validation_files`` (matched against :attr:`Clip.name` or any trailing part of its path,
    e.g. ``"clip_003.wav"`` or ``"dogs/clip_003.wav"``; clips not listed go to train); else the
    seeded hash.  Among hashed clips, at least one goes to validation when
    ``validation_fraction > 0`` and there are two or more, and at least one stays in train.

    Args:
        clips: from :func:`~audiodiff.data.manifest.read_dataset`.
        validation_fraction: share of hashed clips for validation, in [0, 1).
        seed: changes which clips the hash picks.
        validation_files: file names for validation, or ``None``.

    Raises:
        InvalidArgumentError: ``validation_fraction`` outside [0, 1), or no clip left for training.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise InvalidArgumentError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}.")
    listed = set(validation_files) if validation_files is not None else None
    is_validation: dict[int, bool] = {}
    scores: dict[int, float] = {}
    for i, clip in enumerate(clips):
        if clip.split is not None:
            is_validation[i] = clip.split == "validation"
        elif listed is not None:
            is_validation[i] = _is_listed(clip, listed)
        else:
            scores[i] = hash_fraction(seed, clip.name)
            is_validation[i] = scores[i] < validation_fraction
    _keep_both_sides(is_validation, scores, validation_fraction)
    if listed is not None:
        _warn_unmatched(clips, listed)
    train = [clip for i, clip in enumerate(clips) if not is_validation[i]]
    validation = [clip for i, clip in enumerate(clips) if is_validation[i]]
    if not train:
        raise InvalidArgumentError(
            f"The split leaves no clip for training ({len(validation)} validation clips): mark some rows "
            "split=train or shorten the validation list."
        )
    return train, validation


def hash_fraction(seed: int, name: str) -> float:
    """A stable pseudo-random number in [0, 1) for ``(seed, name)`` (SHA-1, same on every platform)."""
    digest = hashlib.sha1(f"{seed}:{name}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _keep_both_sides(is_validation: dict[int, bool], scores: dict[int, float], validation_fraction: float) -> None:
    """Among hashed clips: one to validation if none went and fraction > 0; one back to train if all went."""
    hashed_validation = [i for i in scores if is_validation[i]]
    if validation_fraction > 0 and len(scores) >= 2 and not hashed_validation:
        is_validation[min(scores, key=scores.__getitem__)] = True
    if scores and not any(not v for v in is_validation.values()):
        is_validation[max(scores, key=scores.__getitem__)] = False


def _names(clip: Clip) -> set[str]:
    """What a validation list may call ``clip``: its name, or any trailing part of its path."""
    parts = PurePosixPath(clip.path.as_posix()).parts
    return {clip.name} | {"/".join(parts[-k:]) for k in range(1, len(parts) + 1)}


def _is_listed(clip: Clip, listed: set[str]) -> bool:
    return bool(_names(clip) & listed)


def _warn_unmatched(clips: Sequence[Clip], listed: set[str]) -> None:
    known = set().union(*(_names(clip) for clip in clips))
    unmatched = sorted(listed - known)
    if unmatched:
        log.warning("%d validation file(s) match no clip: %s.", len(unmatched), ", ".join(unmatched[:5]))

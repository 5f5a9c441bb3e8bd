"""Skipped inputs: what was left out of a dataset and why, reported in one warning."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

SHOWN_NAMES = 5


@dataclass(frozen=True)
class Skipped:
    """One input left out: ``name`` as the user wrote it (file name or path) and a short ``reason``."""

    name: str
    reason: str


def describe_skipped(skipped: Sequence[Skipped], shown: int = SHOWN_NAMES) -> str:
    """``"a.wav (file missing), b.wav (silent) and 3 more"`` for the first ``shown`` entries."""
    text = ", ".join(f"{s.name} ({s.reason})" for s in skipped[:shown])
    if len(skipped) > shown:
        text += f" and {len(skipped) - shown} more"
    return text


def warn_skipped(logger: logging.Logger, skipped: Sequence[Skipped], total: int, source: str) -> None:
    """Log one warning with the count naming the first few skipped inputs, then one info line per other one."""
    if skipped:
        logger.warning("Skipped %d of %d %s: %s.", len(skipped), total, source, describe_skipped(skipped))
    for item in skipped[SHOWN_NAMES:]:  # the rest, one line each, so every skipped input is named
        logger.info("Skipped %s (%s).", item.name, item.reason)

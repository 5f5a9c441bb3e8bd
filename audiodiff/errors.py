"""Exceptions raised at audiodiff's boundaries; each message names the bad value and the fix.

The CLI prints any :class:`AudiodiffError` as one line and exits non-zero.
"""

from __future__ import annotations


class AudiodiffError(Exception):
    """Base class of every error audiodiff raises on purpose."""


class InvalidArgumentError(AudiodiffError, ValueError):
    """A call argument is out of range or of the wrong type (empty prompt, duration <= 0, ...)."""


class ModelNotFoundError(AudiodiffError, FileNotFoundError):
    """A model folder does not exist (or no default model is installed)."""


class IncompatibleModelError(AudiodiffError, ValueError):
    """A model folder is incomplete or its components do not fit together."""


class TextEncoderNotFoundError(AudiodiffError, RuntimeError):
    """The requested text encoder is neither installed nor a local folder."""


class AudioLoadError(AudiodiffError, ValueError):
    """A file that cannot be decoded as audio (missing, corrupt, empty or unsupported)."""


class DeviceError(AudiodiffError, RuntimeError):
    """A device was asked for that this machine does not have."""


class TrainingError(AudiodiffError, RuntimeError):
    """A training run cannot go on (non-finite loss, nothing to train on); the last checkpoint is kept."""


class CheckpointError(AudiodiffError, RuntimeError):
    """A training checkpoint cannot be written (disk full) or read back intact (truncated, altered, missing)."""

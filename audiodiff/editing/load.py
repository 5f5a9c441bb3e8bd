"""Read the input of an edit: any file soundfile decodes, mono, at the model's rate, refused when too long."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import load_audio
from ..errors import AudioLoadError


def load_input_audio(path: Path, sample_rate: int, max_seconds: float) -> np.ndarray:
    """Read any file soundfile (libsndfile: WAV, FLAC, OGG, MP3, ...) decodes as mono ``(samples,)`` float32 at
    ``sample_rate`` Hz (channels averaged, resampled with soxr).

    Raises:
        AudioLoadError: missing, undecodable or empty file, or one longer than ``max_seconds`` (checked from the
            header before decoding when the header says).
    """
    try:
        info = sf.info(str(path))
        _check_length(path, info.frames / info.samplerate, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass  # load_audio names the problem
    audio = load_audio(path, sample_rate)
    _check_length(path, audio.size / sample_rate, max_seconds)
    return audio


def _check_length(path: Path, seconds: float, max_seconds: float) -> None:
    if seconds > max_seconds:
        raise AudioLoadError(
            f"{path} is {seconds:.1f} s long; this edit takes at most {max_seconds:g} s. Cut it first, e.g. "
            f"`sox {path} cut.wav trim 0 {max_seconds:g}`."
        )

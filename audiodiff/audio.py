"""Audio file I/O: load any file soundfile reads as mono at a given rate, and write WAVs."""

from __future__ import annotations

import functools
import io
import os
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from .errors import AudioLoadError

WAV_SUBTYPE = "PCM_16"  # every WAV audiodiff writes


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Load ``path``, downmix to mono and resample to ``sample_rate`` Hz.

    Returns:
        ``(samples,)`` float32 waveform at ``sample_rate`` Hz, nominally in [-1, 1].

    Raises:
        AudioLoadError: the file is missing, unreadable by soundfile (libsndfile), or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioLoadError(f"Audio file {path} does not exist.")
    try:
        audio, source_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioLoadError(f"Cannot decode {path}: {error}. Convert it to WAV, FLAC or OGG.") from error
    if audio.shape[0] == 0:
        raise AudioLoadError(f"Audio file {path} holds no samples.")
    mono = audio.mean(axis=1)
    return resample(mono, source_rate, sample_rate)


def resample(audio: np.ndarray, orig_sample_rate: int, sample_rate: int) -> np.ndarray:
    """Resample a ``(samples,)`` waveform from ``orig_sample_rate`` to ``sample_rate`` Hz (soxr, via librosa)."""
    if orig_sample_rate == sample_rate:
        return audio.astype(np.float32, copy=False)
    return librosa.resample(audio, orig_sr=orig_sample_rate, target_sr=sample_rate, res_type="soxr_hq").astype(
        np.float32
    )


def encode_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """The bytes :func:`write_wav` writes for a ``(samples,)`` waveform in [-1, 1] at ``sample_rate`` Hz (16-bit
    PCM WAV, clipped to [-1, 1]), in memory: what ``audiodiff serve`` answers."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, subtype=WAV_SUBTYPE, format="WAV")
    return buffer.getvalue()


@functools.cache
def new_file_mode() -> int:
    """``0o666`` less the process's umask: the mode ``open(path, "w")`` gives a new file (read once; reading
    the umask means setting it, so it is not done per file)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write a ``(samples,)`` waveform in [-1, 1] as 16-bit PCM WAV at ``sample_rate`` Hz; returns the path.

    Atomic: the file is written under a temporary name in the same folder and renamed, so a process
    killed mid-write leaves either no file or the previous one, never a truncated WAV.  Its permissions are
    those of any new file (``0o666`` less the process's umask), not the temporary file's private ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    try:
        sf.write(temporary, np.clip(audio, -1.0, 1.0), sample_rate, subtype=WAV_SUBTYPE, format="WAV")
        os.chmod(temporary, new_file_mode())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path

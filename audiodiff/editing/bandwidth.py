"""Bandwidth extension (AudioLDM's super-resolution, Liu et al. 2023): measure where an input's spectrum ends
and regenerate the band above it, keeping the measured low band."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidArgumentError
from .regions import AudioMask

CUTOFF_DROP_DB = 60.0  # the band ends where the mean power spectrum falls this far below its peak
CUTOFF_N_FFT = 2048  # STFT size of the measurement (7.8 Hz bins at 16 kHz)


def measure_cutoff(audio: np.ndarray, sample_rate: int, drop_db: float = CUTOFF_DROP_DB) -> float:
    """The highest frequency in Hz whose mean power is within ``drop_db`` dB of the spectrum's peak.

    ``audio``: ``(samples,)`` at ``sample_rate`` Hz.  8 kHz telephone audio resampled to 16 kHz measures just
    under 4 kHz; full-band audio measures near ``sample_rate / 2``.

    Raises:
        InvalidArgumentError: silent audio (no spectrum to measure).
    """
    waveform = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    waveform = torch.nn.functional.pad(waveform, (0, max(CUTOFF_N_FFT - waveform.numel(), 0)))  # zeros: no new band
    spectrum = torch.stft(waveform, CUTOFF_N_FFT, hop_length=CUTOFF_N_FFT // 4, window=torch.hann_window(CUTOFF_N_FFT),
                          center=False, return_complex=True).abs().pow(2)  # no reflect padding: its kinks leak
    power = spectrum.mean(dim=1)  # (n_fft // 2 + 1,) mean power per bin
    if not float(power.max()) > 0:
        raise InvalidArgumentError("The input audio is silent; bandwidth extension needs a sound to extend.")
    highest = int(torch.nonzero(power >= power.max() * 10 ** (-drop_db / 10))[-1])
    return highest * sample_rate / CUTOFF_N_FFT


def bandwidth_mask(cutoff: float, mel_fmax: float) -> AudioMask:
    """The region bandwidth extension regenerates: every band above ``cutoff`` Hz, over the whole clip.

    Raises:
        InvalidArgumentError: ``cutoff`` at or above the model's top mel frequency ``mel_fmax`` (nothing to extend).
    """
    if not cutoff < mel_fmax:
        raise InvalidArgumentError(
            f"The input's band already reaches {cutoff:.0f} Hz, the model's top mel frequency is {mel_fmax:.0f} Hz: "
            "there is no band to extend. Pass a lower --cutoff to regenerate above it anyway."
        )
    return AudioMask(fmin=cutoff)

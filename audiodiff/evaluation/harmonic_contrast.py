"""Harmonic contrast: how deep the valleys between a sound's low harmonics are in its log-mel, a figure of
sharpness that a blurred reconstruction cannot fake (issue 20), unlike mel L1 which a blurred mean minimises.

The measure is the spectral contrast of Jiang et al. 2002 ("Music type classification by spectral contrast
feature", ICME; ``librosa.feature.spectral_contrast``): per sub-band, the peak minus the valley of the log
spectrum.  Here the spectrum is the log-mel frame, the sub-bands are groups of ``group`` adjacent mel bands
among the lowest ``n_bands`` (at 16 kHz with 64 Slaney bands to 8 kHz: 24 bands reach about 1.1 kHz, bands
about 46 Hz wide, so the harmonics of a voice or an instrument are resolved), and the peak and valley are the
group's largest and smallest values (Jiang's fraction ``alpha = 1 / group``).

Units: natural-log mel magnitudes, so a contrast is in nepers (``x 20 / ln 10 = 8.69`` for dB).  Frames are
compared only where the real clip is pitched (:func:`voiced_frames`, or a caller's mask), and a
reconstruction is scored by the ratio of its mean contrast to the real clip's on those frames: 1 when
identical, below 1 when it smooths the harmonics away (a blur), above 1 when it invents sharper ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

N_BANDS = 24  # issue 20: the lowest 24 mel bands
GROUP = 6  # mel bands per sub-band (4 sub-bands of about 280 Hz at 16 kHz, 64 bands)


def frame_contrast(log_mel: torch.Tensor, n_bands: int = N_BANDS, group: int = GROUP) -> torch.Tensor:
    """Per-frame harmonic contrast of ``log_mel: (batch, n_mels, frames)`` (natural log) -> ``(batch, frames)``
    in nepers: the mean over the sub-bands of ``group`` bands among the lowest ``n_bands`` (at most ``n_mels``)
    of ``max - min`` of the log-mel in the sub-band (Jiang et al. 2002, eqs. 1-3 with ``alpha = 1 / group``)."""
    bands = min(n_bands, log_mel.shape[1]) // group * group
    low = log_mel[:, :bands].float()
    groups = low.unflatten(1, (bands // group, group))  # (batch, sub-bands, group, frames)
    return (groups.amax(dim=2) - groups.amin(dim=2)).mean(dim=1)


def voiced_frames(audio: torch.Tensor, hop_length: int, frames: int, sample_rate: int, window: int = 1024,
                  fmin: float = 60.0, fmax: float = 1000.0, threshold: float = 0.5,
                  silence_db: float = -40.0) -> torch.Tensor:
    """Pitched frames of ``audio: (batch, samples)`` float in [-1, 1] at ``sample_rate`` Hz -> ``(batch, frames)``
    bool, one per mel frame (frame ``t`` centred on sample ``t * hop_length + hop_length / 2``).

    A frame is pitched when the peak of its normalised autocorrelation over lags of ``1 / fmax .. 1 / fmin``
    seconds is at least ``threshold`` (the autocorrelation voicing decision of Boersma 1993, "Accurate
    short-term analysis of the fundamental frequency...", with the unbiased ``W / (W - lag)`` correction instead
    of the window's autocorrelation; ``window`` samples, rectangular) and its RMS level is within
    ``silence_db`` dB of the clip's loudest frame.
    """
    x = F.pad(audio.float()[:, None], (window // 2, window // 2 + hop_length), mode="constant")[:, 0]
    segments = x.unfold(1, window, hop_length)[:, :frames]  # (batch, frames, window)
    segments = segments - segments.mean(dim=-1, keepdim=True)
    spectrum = torch.fft.rfft(segments, n=2 * window)
    correlation = torch.fft.irfft(spectrum.abs().pow(2), n=2 * window)[..., :window]
    energy = correlation[..., :1].clamp(min=1e-12)
    lags = torch.arange(window, dtype=correlation.dtype)
    normalised = correlation / energy * window / (window - lags)
    low, high = int(sample_rate / fmax), min(int(sample_rate / fmin), window - 1)
    periodicity = normalised[..., low : high + 1].amax(dim=-1)
    level = 10 * torch.log10(energy[..., 0] / window)
    loud = level >= level.amax(dim=-1, keepdim=True) + silence_db
    voiced = (periodicity >= threshold) & loud
    if voiced.shape[1] < frames:
        voiced = F.pad(voiced, (0, frames - voiced.shape[1]))
    return voiced


@dataclass(frozen=True)
class ContrastTotals:
    """Sums of frame contrasts (nepers) over pitched frames, for the reconstruction and the real clip; add the
    totals of several clips with ``+`` and read :attr:`ratio` (frame-weighted over the clips)."""

    predicted: float = 0.0
    real: float = 0.0
    frames: int = 0

    def __add__(self, other: ContrastTotals) -> ContrastTotals:
        return ContrastTotals(self.predicted + other.predicted, self.real + other.real, self.frames + other.frames)

    @property
    def ratio(self) -> float:
        """Mean reconstructed contrast / mean real contrast (1: as sharp as the real clips; NaN: no pitched frame)."""
        return self.predicted / self.real if self.frames and self.real > 0 else float("nan")

    @property
    def real_mean(self) -> float:
        """The real clips' mean contrast per pitched frame, nepers."""
        return self.real / self.frames if self.frames else float("nan")


def harmonic_contrast(prediction: torch.Tensor, reference: torch.Tensor, frames: torch.Tensor | None = None,
                      n_bands: int = N_BANDS, group: int = GROUP) -> ContrastTotals:
    """Contrast totals of ``prediction`` against ``reference``, both ``(batch, n_mels, frames)`` natural-log mels.

    Args:
        frames: ``(batch, frames)`` bool or 0/1, the frames that count (pitched and real, e.g.
            :func:`voiced_frames` of the reference audio times its padding mask); None: every frame.
    """
    predicted, real = frame_contrast(prediction, n_bands, group), frame_contrast(reference, n_bands, group)
    weight = torch.ones_like(real) if frames is None else frames.to(real.dtype)
    return ContrastTotals(float((predicted * weight).sum()), float((real * weight).sum()), int(weight.sum()))

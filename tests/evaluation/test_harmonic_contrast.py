"""Harmonic contrast: a harmonic log-mel is sharper than its blur; identical mels score 1; noise is not pitched."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from audiodiff.evaluation.harmonic_contrast import frame_contrast, harmonic_contrast, voiced_frames
from audiodiff.mel import MelSpectrogram

SAMPLE_RATE, HOP = 16000, 160


@pytest.fixture(scope="module")
def mel():
    return MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=1024, hop_length=HOP, win_length=1024, n_mels=64, fmax=8000.0)


def harmonic(f0: float = 220.0, seconds: float = 1.0, partials: int = 8) -> torch.Tensor:
    """``(1, samples)``: a sum of sinusoids at f0 and its multiples, amplitudes 1/k."""
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return sum(0.1 / k * torch.sin(2 * math.pi * f0 * k * t) for k in range(1, partials + 1))[None]


def test_harmonic_signal_has_more_contrast_than_its_blur(mel):
    audio = harmonic()
    log_mel = mel(audio)
    pooled = F.interpolate(F.avg_pool2d(log_mel[None], 2), scale_factor=2, mode="nearest")[0]  # vae_report's pool_2x2
    pitched = voiced_frames(audio, HOP, log_mel.shape[-1], SAMPLE_RATE)
    assert pitched.float().mean() > 0.9
    blurred = harmonic_contrast(pooled, log_mel, pitched)
    assert frame_contrast(log_mel).mean() > frame_contrast(pooled).mean() > 0
    assert blurred.ratio < 0.85 and blurred.real_mean > 2.0  # nepers: deep valleys between the partials


def test_identical_mels_give_ratio_one_and_no_frames_nan(mel):
    log_mel = mel(harmonic(330.0))
    assert harmonic_contrast(log_mel, log_mel).ratio == pytest.approx(1.0)
    none = torch.zeros(log_mel.shape[0], log_mel.shape[-1], dtype=torch.bool)
    assert math.isnan(harmonic_contrast(log_mel, log_mel, none).ratio)


def test_noise_and_silence_are_not_pitched():
    noise = 0.1 * torch.randn(1, SAMPLE_RATE, generator=torch.Generator().manual_seed(0))
    assert voiced_frames(noise, HOP, 100, SAMPLE_RATE).float().mean() < 0.05
    audio = torch.cat([harmonic(seconds=0.5), torch.zeros(1, SAMPLE_RATE // 2)], dim=1)
    pitched = voiced_frames(audio, HOP, 100, SAMPLE_RATE)
    assert pitched[0, 5:45].all() and not pitched[0, 60:].any()

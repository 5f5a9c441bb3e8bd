"""Multi-resolution STFT distance, mel L1 distance and the Griffin-Lim baseline."""

from __future__ import annotations

import torch
from tests.conftest import tone

from audiodiff.mel import MelSpectrogram
from audiodiff.evaluation.vocoder_metrics import (
    griffin_lim_from_mel,
    mel_l1_distance,
    multi_resolution_stft_distance,
    random_phase_resynthesis,
)


def _clip(frequency: float = 440.0, seconds: float = 0.5) -> torch.Tensor:
    return torch.from_numpy(tone(frequency, seconds))[None]


def test_mrstft_zero_for_identical_and_ordered_by_damage():
    torch.manual_seed(0)
    clean = _clip()
    perturbed = clean + 0.001 * torch.randn_like(clean)
    noise = 0.5 * torch.randn_like(clean)
    assert multi_resolution_stft_distance(clean, clean).item() == 0.0
    slight, heavy = multi_resolution_stft_distance(perturbed, clean), multi_resolution_stft_distance(noise, clean)
    assert 0 < slight < heavy


def test_mrstft_is_differentiable():
    prediction = _clip(430.0).requires_grad_(True)
    multi_resolution_stft_distance(prediction, _clip()).backward()
    assert torch.isfinite(prediction.grad).all() and prediction.grad.abs().sum() > 0


def test_mel_l1_distance_zero_for_identical_and_positive_for_another_pitch():
    mel = MelSpectrogram()
    assert mel_l1_distance(_clip(), _clip(), mel).item() == 0.0
    assert mel_l1_distance(_clip(880.0), _clip(), mel).item() > 0.5


def test_griffin_lim_length_and_fidelity():
    """Right length (frames * hop) and, for a pure tone, far closer to the original than silence is."""
    mel = MelSpectrogram()
    clean = _clip(seconds=0.4)  # 6400 samples = 40 frames of 160
    log_mel = mel(clean)
    audio = griffin_lim_from_mel(log_mel, mel, n_iter=16)
    assert audio.shape == (1, log_mel.shape[-1] * mel.config.hop_length) == clean.shape
    silence = torch.zeros_like(clean)
    assert mel_l1_distance(audio, clean, mel) < 0.25 * mel_l1_distance(silence, clean, mel)


def test_random_phase_keeps_the_magnitude_but_not_the_waveform():
    """Same length, same STFT magnitude (up to the overlap-add's re-projection), a different waveform; seeded."""
    torch.manual_seed(0)
    mel = MelSpectrogram()
    clean = 0.3 * torch.randn(1, 8000)
    resynthesised = random_phase_resynthesis(clean, mel, seed=3)
    assert resynthesised.shape == clean.shape
    torch.testing.assert_close(resynthesised, random_phase_resynthesis(clean, mel, seed=3))
    assert (resynthesised - clean).abs().mean() > 0.5 * clean.abs().mean()  # the waveform is not kept
    # the spectral envelope is: far closer to the original than white noise of the same power at another level
    louder = 3.0 * torch.randn(1, 8000)
    assert mel_l1_distance(resynthesised, clean, mel) < 0.5 * mel_l1_distance(louder, clean, mel)

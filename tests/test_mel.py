"""The log-mel front end: agreement with librosa, frame count, normalisation, settings checks."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from audiodiff.config import AudioConfig
from audiodiff.mel import LOG_CLAMP, MelSpectrogram


def tone(frequency: float, seconds: float, sample_rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def librosa_log_mel(audio: np.ndarray, config: AudioConfig) -> np.ndarray:
    """HiFi-GAN-convention log-mel computed by librosa itself: reflect pad, no centring, power 1, Slaney mel."""
    pad = (config.n_fft - config.hop_length) // 2
    padded = np.pad(audio, (pad, pad), mode="reflect")
    mel = librosa.feature.melspectrogram(
        y=padded, sr=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length,
        win_length=config.win_length, window="hann", center=False, power=1.0,
        n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax, htk=False, norm="slaney",
    )
    return np.log(np.maximum(mel, LOG_CLAMP))


@pytest.mark.parametrize("config", [AudioConfig(), AudioConfig(n_mels=80, fmin=30.0, fmax=7600.0, hop_length=256)])
def test_matches_librosa(config):
    rng = np.random.default_rng(0)
    audio = tone(440.0, 0.8) + 0.1 * rng.standard_normal(int(0.8 * config.sample_rate)).astype(np.float32)
    expected = librosa_log_mel(audio.astype(np.float64), config)
    mel = MelSpectrogram.from_audio_config(config)(torch.from_numpy(audio)[None])[0].numpy()
    assert mel.shape == expected.shape
    np.testing.assert_allclose(mel, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("sample_rate, n_fft, n_mels, fmin, fmax",
                         [(16000, 1024, 64, 0.0, 8000.0), (16000, 2048, 256, 0.0, 8000.0), (22050, 1024, 80, 30.0, 7600.0)])
def test_mel_basis_equals_librosa_filters(sample_rate, n_fft, n_mels, fmin, fmax):
    """The filter bank comes from torchaudio (cheaper to import) but must be librosa's Slaney bank."""
    from audiodiff.mel import slaney_mel_basis

    expected = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    basis = slaney_mel_basis(sample_rate, n_fft, n_mels, fmin, fmax).numpy()
    assert basis.shape == expected.shape and basis.dtype == np.float32
    np.testing.assert_allclose(basis, expected, atol=2e-6, rtol=1e-4)


def test_batch_rows_are_independent():
    mel = MelSpectrogram()
    a, b = torch.from_numpy(tone(300.0, 0.5)), torch.from_numpy(tone(1200.0, 0.5))
    batched = mel(torch.stack([a, b]))
    torch.testing.assert_close(batched[1], mel(b[None])[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("frames", [3, 7, 50, 137])
def test_frames_equal_samples_over_hop(frames):
    mel = MelSpectrogram()
    hop = mel.config.hop_length
    out = mel(torch.zeros(2, frames * hop) + 0.01 * torch.randn(2, frames * hop))
    assert out.shape == (2, mel.config.n_mels, frames)
    assert mel.num_frames(frames * hop) == frames
    assert mel.num_frames(frames * hop + 1) == frames + 1


def test_silence_hits_the_log_clamp():
    out = MelSpectrogram()(torch.zeros(1, 16000))
    torch.testing.assert_close(out, torch.full_like(out, float(np.log(LOG_CLAMP))), atol=1e-3, rtol=0)


def test_normalize_denormalize_round_trip():
    mel = MelSpectrogram(mel_mean=-4.0, mel_std=2.5)
    log_mel = mel(torch.from_numpy(tone(500.0, 0.5))[None])
    normalized = mel.normalize(log_mel)
    torch.testing.assert_close(mel.denormalize(normalized), log_mel, atol=1e-5, rtol=0)
    torch.testing.assert_close(normalized, (log_mel + 4.0) / 2.5)


def test_fmax_above_nyquist_raises():
    with pytest.raises(ValueError, match="Nyquist"):
        MelSpectrogram(sample_rate=16000, fmax=9000.0)


def test_settings_round_trip_through_save(tmp_path):
    mel = MelSpectrogram(n_mels=80, hop_length=256, fmax=7600.0)
    mel.save_pretrained(tmp_path)
    loaded = MelSpectrogram.from_pretrained(tmp_path)
    assert loaded.config.n_mels == 80 and loaded.config.hop_length == 256
    torch.testing.assert_close(loaded.mel_basis, mel.mel_basis)

"""Vocos generator: the inverse-STFT head inverts a real STFT exactly, shapes, config checks, save/load."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from audiodiff.config import AudioConfig, VocosConfig
from audiodiff.models.vocos import VocosVocoder

AUDIO = AudioConfig()
TINY = VocosConfig(n_fft=640, dim=16, intermediate_dim=32, num_layers=2)


def test_istft_head_inverts_the_front_ends_framing():
    """Log-magnitude and phase of a signal's STFT, framed as the mel front end frames it (reflect-padded by
    (n_fft - hop) / 2, frame i centred on sample i * hop + hop / 2), come back as the signal itself."""
    vocoder = VocosVocoder.from_configs(TINY, AUDIO)
    n_fft, hop, frames = TINY.n_fft, AUDIO.hop_length, 40
    torch.manual_seed(0)
    audio = torch.randn(2, frames * hop) * 0.3
    pad = (n_fft - hop) // 2
    padded = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spectrum = torch.stft(padded, n_fft, hop, window=torch.hann_window(n_fft), center=False, return_complex=True)
    assert spectrum.shape[-1] == frames
    head = torch.cat([spectrum.abs().clamp(min=1e-12).log(), spectrum.angle()], dim=1).transpose(1, 2)
    restored = vocoder.istft(head)
    assert restored.shape == audio.shape
    torch.testing.assert_close(restored, audio, atol=1e-4, rtol=0)


def test_istft_head_is_not_the_identity_on_wrong_phase():
    """The check above can fail: zeroed phases do not give the signal back."""
    vocoder = VocosVocoder.from_configs(TINY, AUDIO)
    torch.manual_seed(0)
    audio = torch.randn(1, 40 * AUDIO.hop_length) * 0.3
    pad = (TINY.n_fft - AUDIO.hop_length) // 2
    padded = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spectrum = torch.stft(padded, TINY.n_fft, AUDIO.hop_length, window=torch.hann_window(TINY.n_fft),
                          center=False, return_complex=True)
    head = torch.cat([spectrum.abs().clamp(min=1e-12).log(), torch.zeros_like(spectrum.real)], dim=1).transpose(1, 2)
    assert (vocoder.istft(head) - audio).abs().mean() > 0.1


@pytest.mark.parametrize("frames", [1, 50, 137])
@torch.no_grad()
def test_output_length_is_frames_times_hop(frames):
    torch.manual_seed(0)
    vocoder = VocosVocoder.from_configs(TINY, AUDIO).eval()
    assert vocoder.hop_length == AUDIO.hop_length
    audio = vocoder(torch.randn(2, AUDIO.n_mels, frames) - 5.0)
    assert audio.shape == (2, frames * AUDIO.hop_length)
    assert audio.dtype == torch.float32 and torch.isfinite(audio).all()


@torch.no_grad()
def test_bf16_autocast_gives_float32_audio_close_to_float32():
    torch.manual_seed(0)
    vocoder = VocosVocoder.from_configs(TINY, AUDIO).eval()
    mel = torch.randn(1, AUDIO.n_mels, 30) - 5.0
    reference = vocoder(mel)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        audio = vocoder(mel)
    assert audio.dtype == torch.float32
    assert (audio - reference).abs().max() < 0.05 * reference.abs().max()


@pytest.mark.parametrize("n_fft", [100, 641])
def test_bad_fft_size_refused(n_fft):
    with pytest.raises(ValueError, match="n_fft"):
        VocosVocoder(hop_length=160, n_fft=n_fft)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    vocoder = VocosVocoder.from_configs(TINY, AUDIO)
    vocoder(torch.randn(2, AUDIO.n_mels, 12) - 5.0).pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in vocoder.parameters())


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    vocoder = VocosVocoder.from_configs(TINY, AUDIO).eval()
    vocoder.save_pretrained(tmp_path, safe_serialization=True)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").exists()
    loaded = VocosVocoder.from_pretrained(tmp_path).eval()
    mel = torch.randn(1, AUDIO.n_mels, 20) - 5.0
    with torch.no_grad():
        assert torch.equal(vocoder(mel), loaded(mel))
    assert loaded.config.dim == TINY.dim and loaded.hop_length == AUDIO.hop_length

"""Validation metrics for waveform models (the vocoder stage validates on them, the vocoder report scores with
them), and the Griffin-Lim baseline they are compared with.

* :func:`multi_resolution_stft_distance`: spectral convergence + log-magnitude distance averaged
  over several STFT resolutions (Yamamoto, Song & Kim 2020, "Parallel WaveGAN", eqs. 2-6).
* :func:`mel_l1_distance`: HiFi-GAN's mel L1 (Kong et al. 2020, eq. 3) between two waveforms.
* :func:`griffin_lim_from_mel`: log-mel -> waveform without a neural vocoder (Griffin & Lim 1984),
  the floor a trained vocoder must beat.
* :func:`random_phase_resynthesis`: the clip's own STFT magnitude with random phase, a reference
  point: what exact magnitudes score when the phase is not coherent (the mel L1 and MR-STFT of
  independent noise realisations with the same spectra).
"""

from __future__ import annotations

import torch

from ..mel import MelSpectrogram
from ..models.griffin_lim import GriffinLimVocoder

# (n_fft, hop_length, win_length) in samples: Parallel WaveGAN's 10, 25 and 50 ms windows
# (240/600/1200 samples at 24 kHz) at 16 kHz.
DEFAULT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((512, 32, 160), (1024, 80, 400), (2048, 160, 800))
MAGNITUDE_FLOOR = 1e-7  # as Parallel WaveGAN: keeps log|S| finite on silence


def stft_magnitude(audio: torch.Tensor, n_fft: int, hop_length: int, win_length: int) -> torch.Tensor:
    """``audio: (batch, samples)`` -> ``(batch, n_fft // 2 + 1, frames)`` Hann-window STFT magnitude (centred)."""
    window = torch.hann_window(win_length, device=audio.device)
    spec = torch.stft(audio.float(), n_fft, hop_length, win_length, window, return_complex=True)
    return torch.sqrt(torch.clamp(spec.real**2 + spec.imag**2, min=MAGNITUDE_FLOOR))


def spectral_convergence(prediction_mag: torch.Tensor, target_mag: torch.Tensor) -> torch.Tensor:
    """PWG eq. 4: ``|| |S(x)| - |S(x_hat)| ||_F / || |S(x)| ||_F`` (scalar, 0 for identical magnitudes)."""
    return torch.linalg.norm(target_mag - prediction_mag) / torch.linalg.norm(target_mag)


def log_magnitude_distance(prediction_mag: torch.Tensor, target_mag: torch.Tensor) -> torch.Tensor:
    """PWG eq. 5: ``1/N || log|S(x)| - log|S(x_hat)| ||_1`` (scalar, natural log)."""
    return torch.mean(torch.abs(torch.log(target_mag) - torch.log(prediction_mag)))


def multi_resolution_stft_distance(
    prediction: torch.Tensor,
    target: torch.Tensor,
    resolutions: tuple[tuple[int, int, int], ...] = DEFAULT_RESOLUTIONS,
) -> torch.Tensor:
    """Multi-resolution STFT distance, PWG eq. 6: ``1/M sum_m (L_sc^m + L_mag^m)``.

    Args:
        prediction, target: ``(batch, samples)`` waveforms at the same rate, same length
            (longer than half the largest ``n_fft``).
        resolutions: ``(n_fft, hop_length, win_length)`` per resolution, in samples.

    Returns:
        Scalar; 0 for identical signals. Differentiable, so it also serves as an auxiliary loss.
    """
    total = prediction.new_zeros((), dtype=torch.float32)
    for n_fft, hop_length, win_length in resolutions:
        prediction_mag = stft_magnitude(prediction, n_fft, hop_length, win_length)
        target_mag = stft_magnitude(target, n_fft, hop_length, win_length)
        total = total + spectral_convergence(prediction_mag, target_mag)
        total = total + log_magnitude_distance(prediction_mag, target_mag)
    return total / len(resolutions)


def mel_l1_distance(prediction: torch.Tensor, target: torch.Tensor, mel: MelSpectrogram) -> torch.Tensor:
    """Mean absolute log-mel difference between two waveforms ``(batch, samples)`` (HiFi-GAN eq. 3), scalar
    (the unmasked :func:`audiodiff.training.losses.mel_l1_loss` of their log-mels)."""
    return torch.abs(mel(prediction).float() - mel(target).float()).mean()


def griffin_lim_from_mel(log_mel: torch.Tensor, mel: MelSpectrogram, n_iter: int = 32) -> torch.Tensor:
    """Invert a log-mel without a vocoder (:class:`~audiodiff.models.griffin_lim.GriffinLimVocoder` of ``mel``).

    Args:
        log_mel: ``(batch, n_mels, frames)`` natural-log mel magnitudes from ``mel``.
        mel: the front end that made ``log_mel`` (its STFT sizes and mel basis are used).
        n_iter: Griffin-Lim iterations.

    Returns:
        ``(batch, frames * hop_length)`` waveform at ``mel.config.sample_rate`` Hz.
    """
    return GriffinLimVocoder.from_mel(mel, n_iter)(log_mel)


def random_phase_resynthesis(audio: torch.Tensor, mel: MelSpectrogram, seed: int = 0) -> torch.Tensor:
    """``audio: (batch, samples)`` -> the same length resynthesised from its exact STFT magnitude
    (``mel``'s ``n_fft``, ``hop_length``, ``win_length``, Hann window) with uniformly random phase.

    Scores near this reference mean a vocoder gets the spectral envelope right but not the phase
    coherence that the per-cell mel L1 and MR-STFT distances reward; Griffin-Lim scores better
    on them because its iterations fit the phase to those very magnitudes.
    """
    cfg = mel.config
    window = torch.hann_window(cfg.win_length, device=audio.device)
    spectrum = torch.stft(audio.float(), cfg.n_fft, cfg.hop_length, cfg.win_length, window, return_complex=True)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    phase = 2 * torch.pi * torch.rand(spectrum.shape, generator=generator).to(audio.device)
    randomised = torch.polar(spectrum.abs(), phase)
    return torch.istft(randomised, cfg.n_fft, cfg.hop_length, cfg.win_length, window, length=audio.shape[-1])

"""Auffusion's maths written out for the tests, from its paper and public code (happylittlecat2333/Auffusion,
``converter.py`` and ``auffusion_pipeline.py``), independently of audiodiff's implementation.

- :func:`log_mel`: ``mel_spectrogram`` (numpy FFT here, not ``torch.stft``).
- :func:`normalize_spectrogram` / :func:`denormalize_spectrogram`: log-mel <-> 3-channel image in [0, 1].
- :func:`random_generator_state` / :func:`generate`: its HiFi-GAN generator as a function of a state dict in
  its checkpoint's keys (weight norm stored as ``weight_g``/``weight_v``), odd ``kernel - rate`` padded by
  ``(kernel - rate) // 2 + 1`` with ``output_padding=1``.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import torch
import torch.nn.functional as F

LOG_MIN, LOG_MAX = math.log(1e-5), math.log(200.0)


def log_mel(audio: np.ndarray, sample_rate=16000, n_fft=2048, win_size=1024, hop_size=160, num_mels=256,
            fmin=0.0, fmax=8000.0) -> np.ndarray:
    """``(samples,)`` -> ``(num_mels, samples // hop_size)``: reflect-pad ``(n_fft - hop) / 2``, frames every hop
    without centring, periodic Hann window of ``win_size`` centred in ``n_fft``, ``sqrt(|X|^2 + 1e-9)``,
    Slaney mel filters, ``log(max(., 1e-5))``."""
    pad = (n_fft - hop_size) // 2
    padded = np.pad(audio.astype(np.float64), (pad, pad), mode="reflect")
    window = np.zeros(n_fft)
    offset = (n_fft - win_size) // 2
    window[offset : offset + win_size] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_size) / win_size)
    count = 1 + (len(padded) - n_fft) // hop_size
    frames = np.stack([padded[i * hop_size : i * hop_size + n_fft] * window for i in range(count)], axis=1)
    spectrum = np.fft.rfft(frames, axis=0)
    magnitude = np.sqrt(spectrum.real**2 + spectrum.imag**2 + 1e-9)
    filters = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=num_mels, fmin=fmin, fmax=fmax)
    return np.log(np.maximum(filters @ magnitude, 1e-5))


def normalize_spectrogram(log_mel: torch.Tensor) -> torch.Tensor:
    """``(n_mels, frames)`` -> ``(3, n_mels, frames)`` in [0, 1]: clamp to [log 1e-5, log 200], rescale, power 1,
    repeat in 3 channels, flip the mel axis (image origin at the top)."""
    data = (log_mel.clamp(LOG_MIN, LOG_MAX) - LOG_MIN) / (LOG_MAX - LOG_MIN)
    return torch.flip(data.repeat(3, 1, 1), [1])


def denormalize_spectrogram(image: torch.Tensor) -> torch.Tensor:
    """``(3, n_mels, frames)`` in [0, 1] -> log-mel ``(n_mels, frames)`` from channel 0."""
    return torch.flip(image, [1])[0] * (LOG_MAX - LOG_MIN) + LOG_MIN


def _stages(config: dict):
    """``(name, in_channels, out_channels, kernel)`` of every weighted convolution, in checkpoint order."""
    channels = config["upsample_initial_channel"]
    yield "conv_pre", config["num_mels"], channels, 7
    for i, kernel in enumerate(config["upsample_kernel_sizes"]):
        yield f"ups.{i}", channels, channels // 2, kernel
        channels //= 2
    for i in range(len(config["upsample_rates"])):
        width = config["upsample_initial_channel"] // 2 ** (i + 1)
        for j, (kernel, dilations) in enumerate(zip(config["resblock_kernel_sizes"], config["resblock_dilation_sizes"])):
            block = f"resblocks.{i * len(config['resblock_kernel_sizes']) + j}"
            groups = ("convs1", "convs2") if config["resblock"] == "1" else ("convs",)
            for group in groups:
                for k in range(len(dilations)):
                    yield f"{block}.{group}.{k}", width, width, kernel
    yield "conv_post", channels, 1, 7


def random_generator_state(config: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in Auffusion's checkpoint keys; magnitudes ``g`` in [0.5, 1.5] so the output is audible."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, cin, cout, kernel in _stages(config):
        transposed = name.startswith("ups.")
        shape = (cin, cout, kernel) if transposed else (cout, cin, kernel)
        state[f"{name}.weight_g"] = torch.rand(shape[0], 1, 1, generator=generator) + 0.5
        state[f"{name}.weight_v"] = torch.randn(shape, generator=generator)
        state[f"{name}.bias"] = 0.1 * torch.randn(cout, generator=generator)
    return state


def _weight(state: dict, name: str) -> torch.Tensor:
    """``w = g * v / ||v||``, the norm over all but the first axis (``torch.nn.utils.weight_norm``, dim 0)."""
    v = state[f"{name}.weight_v"]
    return state[f"{name}.weight_g"] * v / v.norm(dim=(1, 2), keepdim=True)


def _conv(state: dict, name: str, x: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    w = _weight(state, name)
    return F.conv1d(x, w, state[f"{name}.bias"], padding=(w.shape[-1] - 1) * dilation // 2, dilation=dilation)


def generate(state: dict, config: dict, mel: torch.Tensor) -> torch.Tensor:
    """Log-mel ``(batch, num_mels, frames)`` -> waveform ``(batch, frames * prod(upsample_rates))``."""
    x = _conv(state, "conv_pre", mel)
    count = len(config["resblock_kernel_sizes"])
    for i, (rate, kernel) in enumerate(zip(config["upsample_rates"], config["upsample_kernel_sizes"])):
        odd = (kernel - rate) % 2
        x = F.conv_transpose1d(F.leaky_relu(x, 0.1), _weight(state, f"ups.{i}"), state[f"ups.{i}.bias"], stride=rate,
                               padding=(kernel - rate) // 2 + odd, output_padding=odd)
        outputs = []
        for j, dilations in enumerate(config["resblock_dilation_sizes"]):
            block, y = f"resblocks.{i * count + j}", x
            for k, d in enumerate(dilations):
                if config["resblock"] == "1":
                    inner = _conv(state, f"{block}.convs1.{k}", F.leaky_relu(y, 0.1), d)
                    y = y + _conv(state, f"{block}.convs2.{k}", F.leaky_relu(inner, 0.1))
                else:
                    y = y + _conv(state, f"{block}.convs.{k}", F.leaky_relu(y, 0.1), d)
            outputs.append(y)
        x = torch.stack(outputs).mean(0)
    return torch.tanh(_conv(state, "conv_post", F.leaky_relu(x, 0.01))).squeeze(1)

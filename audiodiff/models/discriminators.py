"""HiFi-GAN's discriminators, multi-period (MPD) and multi-scale (MSD), and the multi-resolution one (MRD).

Kong, Kim & Bae 2020, "HiFi-GAN", section 2.2 and figure 2; the MSD is MelGAN's
(Kumar et al. 2019, section 2.2); the MRD is UnivNet's (Jang et al. 2021, section 2.3), which
Vocos trains with (Siuzdak 2024, section 4).  Each sub-discriminator returns its logits
``(batch, positions)`` and its feature maps (every layer's output, the logits
included) for the feature-matching loss.  Widths scale with one ``channels``
argument so tests can build a tiny one; the defaults are the paper's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

LRELU_SLOPE = 0.1

Logits = list[torch.Tensor]  # one (batch, positions) tensor per sub-discriminator
FeatureMaps = list[list[torch.Tensor]]  # per sub-discriminator, every layer's output


class PeriodDiscriminator(nn.Module):
    """Looks at every ``period``-th sample: audio ``(batch, T)`` -> 2-D ``(batch, 1, T / p, p)``,
    then 5 x 1 convolutions strided along time (paper sec. 2.2, fig. 2b).

    Layer widths are ``channels * (1, 4, 16, 32, 32)`` (paper: 32, 128, 512, 1024, 1024).
    """

    def __init__(self, period: int, channels: int = 32, kernel_size: int = 5, stride: int = 3):
        super().__init__()
        self.period = period
        widths = [1] + [channels * m for m in (1, 4, 16, 32)]
        padding = ((kernel_size - 1) // 2, 0)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(c_in, c_out, (kernel_size, 1), (stride, 1), padding))
            for c_in, c_out in zip(widths[:-1], widths[1:])
        )
        self.convs.append(weight_norm(nn.Conv2d(widths[-1], widths[-1], (kernel_size, 1), 1, padding)))
        self.conv_post = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), 1, (1, 0)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``audio: (batch, samples)`` -> logits ``(batch, positions)`` and 6 feature maps."""
        batch, samples = audio.shape
        if samples % self.period:  # reflect-pad to a whole number of periods, as the paper's code does
            audio = F.pad(audio.unsqueeze(1), (0, self.period - samples % self.period), "reflect").squeeze(1)
        x = audio.view(batch, 1, -1, self.period)
        return conv_stack(self.convs, self.conv_post, x)


def conv_stack(convs: nn.ModuleList, conv_post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run convolutions with leaky ReLU, then the output convolution; return flattened logits and every layer's output."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        features.append(x)
    x = conv_post(x)
    features.append(x)
    return x.flatten(1), features


class ScaleDiscriminator(nn.Module):
    """MelGAN's discriminator block: strided, grouped 1-D convolutions on raw audio (fig. 2a).

    Layer widths are ``channels * (1, 1, 2, 4, 8, 8, 8)`` (paper: 128 ... 1024); groups
    ``(1, 4, 16, 16, 16, 16, 1)`` are capped by the width so tiny models stay valid.
    ``use_spectral_norm`` is for the first scale (paper sec. 2.2); the others use weight norm.
    """

    def __init__(self, channels: int = 128, use_spectral_norm: bool = False):
        super().__init__()
        norm = spectral_norm if use_spectral_norm else weight_norm
        widths = [1] + [channels * m for m in (1, 1, 2, 4, 8, 8, 8)]
        kernels, strides, groups = (15, 41, 41, 41, 41, 41, 5), (1, 2, 2, 4, 4, 1, 1), (1, 4, 16, 16, 16, 16, 1)
        self.convs = nn.ModuleList(
            norm(nn.Conv1d(c_in, c_out, k, s, groups=min(g, c_in), padding=(k - 1) // 2))
            for c_in, c_out, k, s, g in zip(widths[:-1], widths[1:], kernels, strides, groups)
        )
        self.conv_post = norm(nn.Conv1d(widths[-1], 1, 3, 1, padding=1))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``audio: (batch, samples)`` -> logits ``(batch, positions)`` and 8 feature maps."""
        x = audio.unsqueeze(1)
        return conv_stack(self.convs, self.conv_post, x)


class MultiPeriodDiscriminator(nn.Module):
    """One :class:`PeriodDiscriminator` per period; periods 2, 3, 5, 7, 11 avoid overlaps (sec. 2.2)."""

    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11), channels: int = 32):
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, channels) for p in periods)

    def forward(self, audio: torch.Tensor) -> tuple[Logits, FeatureMaps]:
        """``audio: (batch, samples)`` in [-1, 1] -> per-period logits and feature maps."""
        outputs = [d(audio) for d in self.discriminators]
        return [logits for logits, _ in outputs], [features for _, features in outputs]


class MultiScaleDiscriminator(nn.Module):
    """MelGAN's multi-scale discriminator: raw audio, then x2 and x4 average-pooled (sec. 2.2).

    The first scale uses spectral normalisation, the others weight normalisation.
    """

    def __init__(self, num_scales: int = 3, channels: int = 128):
        super().__init__()
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(channels, use_spectral_norm=(i == 0)) for i in range(num_scales)
        )
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, audio: torch.Tensor) -> tuple[Logits, FeatureMaps]:
        """``audio: (batch, samples)`` in [-1, 1] -> per-scale logits and feature maps."""
        logits, features = [], []
        for i, discriminator in enumerate(self.discriminators):
            if i > 0:
                audio = self.pool(audio.unsqueeze(1)).squeeze(1)
            scale_logits, scale_features = discriminator(audio)
            logits.append(scale_logits)
            features.append(scale_features)
        return logits, features


class ResolutionDiscriminator(nn.Module):
    """UnivNet's resolution discriminator: 2-D convolutions over one linear STFT magnitude ``(batch, 1, frames, bins)``.

    Kernels ``(3, 9)`` (time, frequency), the middle three strided by 2 along frequency, then ``(3, 3)``; every
    layer ``channels`` wide (UnivNet: 32), weight normalised.
    """

    def __init__(self, n_fft: int, hop_length: int, win_length: int, channels: int = 32):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.convs = nn.ModuleList(
            [weight_norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4)))]
            + [weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4))) for _ in range(3)]
            + [weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1)))]
        )
        self.conv_post = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``audio: (batch, samples)`` -> logits ``(batch, positions)`` and 6 feature maps."""
        spectrum = torch.stft(
            audio.float(), self.n_fft, self.hop_length, self.win_length, self.window, center=True, return_complex=True
        )
        magnitude = spectrum.abs().transpose(1, 2).unsqueeze(1).to(audio.dtype)  # (batch, 1, frames, bins)
        return conv_stack(self.convs, self.conv_post, magnitude)


class MultiResolutionDiscriminator(nn.Module):
    """One :class:`ResolutionDiscriminator` per STFT ``(n_fft, hop_length, win_length)`` in samples.

    The default resolutions are Vocos' (512/128/512, 1024/256/1024, 2048/512/2048; Siuzdak 2024, sec. 4): hops
    2.5-4x UnivNet's, so about a third of the positions and of the cost, which matters on a CPU.
    """

    def __init__(
        self,
        resolutions: tuple[tuple[int, int, int], ...] = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048)),
        channels: int = 32,
    ):
        super().__init__()
        self.discriminators = nn.ModuleList(ResolutionDiscriminator(*r, channels=channels) for r in resolutions)

    def forward(self, audio: torch.Tensor) -> tuple[Logits, FeatureMaps]:
        """``audio: (batch, samples)`` in [-1, 1] -> per-resolution logits and feature maps."""
        outputs = [d(audio) for d in self.discriminators]
        return [logits for logits, _ in outputs], [features for _, features in outputs]

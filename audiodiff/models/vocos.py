"""Vocos generator: log-mel ``(batch, n_mels, frames)`` -> waveform ``(batch, frames * hop_length)``.

Siuzdak 2024, "Vocos: Closing the gap between time-domain and Fourier-based neural vocoders for
high-quality audio synthesis" (ICLR), sections 3-4: a ConvNeXt backbone (Liu et al. 2022, "A ConvNet
for the 2020s") runs at the mel frame rate and predicts, per frame, the log-magnitude and phase of one
STFT frame; an inverse STFT makes the waveform.  It is the limit of iSTFTNet's inverse-STFT head
(Kaneko et al. 2022) with no upsampling stage left, and it trains with HiFi-GAN's adversarial
recipe (multi-period and multi-resolution discriminators, feature matching, mel L1:
:mod:`audiodiff.training.vocoder`).  Because nothing runs at the sample rate, a step costs a small
fraction of a HiFi-GAN generator's, which is what makes it trainable on two CPU cores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from ..config import AudioConfig, VocosConfig
from ..mel import StftSettings

MAX_LOG_MAGNITUDE = 10.0  # exp(10) ~ 2.2e4: far above any real STFT magnitude of audio in [-1, 1]


class ConvNeXtBlock(nn.Module):
    """1-D ConvNeXt block: depthwise convolution, LayerNorm, pointwise MLP (GELU), layer scale, residual."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, dim, frames)`` -> same shape."""
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class VocosVocoder(ModelMixin, ConfigMixin):
    """The Vocos generator as a diffusers model (``save_pretrained``/``from_pretrained``).

    Args:
        n_mels: mel bands of the input.
        sample_rate: output rate in Hz (recorded so a pipeline can check it against its front end).
        hop_length: output samples per input frame (the mel front end's hop).
        n_fft: FFT size of the synthesis STFT in samples (Vocos: 4 x hop); ``n_fft - hop_length`` must be even.
        dim, intermediate_dim, num_layers, kernel_size: the ConvNeXt backbone (Vocos base: 512, 1536, 8, 7).

    The inverse STFT places frame ``i`` centred on sample ``i * hop_length + hop_length / 2``, where the
    HiFi-GAN-convention front end (:class:`~audiodiff.mel.MelSpectrogram`, ``center=False``) centres it.

    Raises:
        ValueError: ``n_fft < hop_length`` or ``n_fft - hop_length`` odd.
    """

    @register_to_config
    def __init__(
        self,
        n_mels: int = 64,
        sample_rate: int = 16000,
        hop_length: int = 160,
        n_fft: int = 640,
        dim: int = 384,
        intermediate_dim: int = 1152,
        num_layers: int = 8,
        kernel_size: int = 7,
    ):
        super().__init__()
        if n_fft < hop_length or (n_fft - hop_length) % 2:
            raise ValueError(
                f"n_fft={n_fft} and hop_length={hop_length}: n_fft must be >= hop_length and differ from it by an even "
                "number of samples (Vocos uses n_fft = 4 * hop_length)."
            )
        self.embed = nn.Conv1d(n_mels, dim, kernel_size, padding=kernel_size // 2)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, kernel_size, layer_scale=1.0 / num_layers) for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, n_fft + 2)
        self.stft = StftSettings(n_fft=n_fft, win_length=n_fft, hop_length=hop_length, center=False)
        self.register_buffer("window", self.stft.window(), persistent=False)
        self.apply(_init_weights)

    @classmethod
    def from_configs(cls, vocos: VocosConfig, audio: AudioConfig) -> "VocosVocoder":
        """Build from typed configs, with the front end's ``n_mels``, ``sample_rate`` and ``hop_length``."""
        return cls(n_mels=audio.n_mels, sample_rate=audio.sample_rate, hop_length=audio.hop_length, **vars(vocos))

    @property
    def hop_length(self) -> int:
        """Output samples per input frame."""
        return self.config.hop_length

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Synthesize audio.

        Args:
            mel: ``(batch, n_mels, frames)`` natural-log mel magnitudes.

        Returns:
            ``(batch, frames * hop_length)`` float32 waveform at ``sample_rate`` Hz (not bounded; callers clip
            when writing).
        """
        x = self.norm(self.embed(mel).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2)))  # (batch, frames, n_fft + 2)
        return self.istft(x.float())

    def istft(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, n_fft + 2)`` log-magnitudes and phases -> ``(batch, frames * hop_length)`` waveform.

        Vocos eq. 1-2: ``exp(m) * (cos p + i sin p)``, windowed inverse FFT per frame, overlap-add, divided by
        the summed squared window (the least-squares inverse STFT; Griffin & Lim 1984, eq. 6).  Written with
        ``F.fold`` rather than ``torch.istft``, whose ``center=False`` refuses a Hann window's zero ends.
        """
        n_fft, hop_length = self.stft.n_fft, self.stft.hop_length
        bins = n_fft // 2 + 1
        batch, frames, _ = x.shape
        magnitude = torch.exp(torch.clamp(x[..., :bins], max=MAX_LOG_MAGNITUDE))
        phase = x[..., bins:]
        spectrum = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        window = self.window.float()
        segments = torch.fft.irfft(spectrum, n=n_fft, dim=-1) * window  # (batch, frames, n_fft)
        length = (frames - 1) * hop_length + n_fft
        audio = F.fold(segments.transpose(1, 2), (1, length), (1, n_fft), stride=(1, hop_length)).flatten(1)
        envelope = F.fold(
            (window**2).expand(1, frames, n_fft).transpose(1, 2), (1, length), (1, n_fft), stride=(1, hop_length)
        ).flatten(1)
        pad = self.stft.padding()[0]  # frame i centred on sample i * hop_length + hop_length / 2, as the front end's
        audio, envelope = audio[:, pad : pad + frames * hop_length], envelope[:, pad : pad + frames * hop_length]
        return audio / envelope.clamp(min=1e-11)

    def remove_weight_norm(self) -> None:
        """Nothing to fold (Vocos has no weight normalisation); here so callers can treat vocoders alike."""


def _init_weights(module: nn.Module) -> None:
    """Vocos' initialisation: truncated normal (std 0.02) weights, zero biases, for convolutions and linears."""
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)

"""HiFi-GAN generator: log-mel ``(batch, n_mels, frames)`` -> waveform ``(batch, frames * hop_length)``.

With ``istft_n_fft > 0`` the last upsampling stages are replaced by an inverse STFT of a predicted
magnitude and phase (iSTFTNet: Kaneko, Tanaka, Kameoka & Seki 2022, ICASSP, section 3).

Kong, Kim & Bae 2020, "HiFi-GAN: Generative Adversarial Networks for Efficient and
High Fidelity Speech Synthesis", section 2.1 and figure 1; V1/V2/V3 sizes in
appendix A.  The discriminators and losses live in :mod:`audiodiff.training`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from torch.nn.utils.parametrizations import weight_norm
from torch.nn.utils.parametrize import is_parametrized, remove_parametrizations

from ..config import AudioConfig, VocoderConfig

LRELU_SLOPE = 0.1
UPSAMPLE_PADDINGS = ("floor", "ceil")


def _same_padding(kernel_size: int, dilation: int) -> int:
    return (kernel_size * dilation - dilation) // 2


class ResBlock1(nn.Module):
    """Multi-receptive-field residual block, type 1 (two convolutions per dilation)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs1 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same_padding(kernel_size, d)))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, padding=_same_padding(kernel_size, 1)))
            for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2 in zip(self.convs1, self.convs2):
            residual = conv1(F.leaky_relu(x, LRELU_SLOPE))
            x = x + conv2(F.leaky_relu(residual, LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """Multi-receptive-field residual block, type 2 (one convolution per dilation; V3)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same_padding(kernel_size, d)))
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


class HifiGanVocoder(ModelMixin, ConfigMixin):
    """The HiFi-GAN generator as a diffusers model (``save_pretrained``/``from_pretrained``).

    Args:
        n_mels: mel bands of the input.
        sample_rate: output rate in Hz (recorded so a pipeline can check it against its front end).
        upsample_rates: per-stage upsampling factors; their product is the hop length in samples.
        upsample_kernel_sizes: transposed-convolution kernel per stage (``>= rate``), padded by
            ``(kernel - rate) // 2``; an odd ``kernel - rate`` (AudioLDM's 16 over 5) makes a stage one sample
            longer, and :meth:`forward` crops the waveform back to ``frames * hop_length``.
        upsample_padding: ``"floor"`` pads as just said (HiFi-GAN, transformers' ``SpeechT5HifiGan``);
            ``"ceil"`` pads an odd ``kernel - rate`` by ``(kernel - rate) // 2 + 1`` with one sample of
            ``output_padding``, so the stage gives exactly ``rate`` samples per input step, its output one
            sample later than with ``"floor"`` (Auffusion's HiFi-GAN).  Even ``kernel - rate``: the same.
        upsample_initial_channel: channels after the input convolution; halved at each stage.
        resblock: ``"1"`` or ``"2"`` (paper's MRF block types).
        resblock_kernel_sizes, resblock_dilation_sizes: the multi-receptive-field fusion blocks.
        normalize_before: standardise the input per mel band, ``(mel - mean) / scale``, with the
            ``mean`` and ``scale`` buffers ``(n_mels,)`` (transformers' ``SpeechT5HifiGan`` option; set by
            a converted checkpoint, identity for a new model).
        istft_n_fft, istft_hop_length: 0 for the paper's waveform output; otherwise the output
            convolution predicts ``istft_n_fft // 2 + 1`` log-magnitudes and as many phases
            (``pi * sin``) per step of the last stage, and a Hann-window inverse STFT with this
            FFT size and hop (in samples) makes the waveform (iSTFTNet, Kaneko et al. 2022).

    Raises:
        ValueError: inconsistent upsampling settings.
    """

    @register_to_config
    def __init__(
        self,
        n_mels: int = 64,
        sample_rate: int = 16000,
        upsample_rates: tuple[int, ...] = (5, 4, 2, 2, 2),
        upsample_kernel_sizes: tuple[int, ...] = (11, 8, 4, 4, 4),
        upsample_initial_channel: int = 128,
        resblock: str = "1",
        resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11),
        resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
        istft_n_fft: int = 0,
        istft_hop_length: int = 0,
        normalize_before: bool = False,
        upsample_padding: str = "floor",
    ):
        super().__init__()
        if (istft_n_fft > 0) != (istft_hop_length > 0) or istft_hop_length > istft_n_fft:
            raise ValueError(
                f"istft_n_fft={istft_n_fft} and istft_hop_length={istft_hop_length}: give both (0 < hop <= n_fft) "
                "for an iSTFT output, or neither."
            )
        if len(upsample_rates) != len(upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length.")
        for rate, kernel in zip(upsample_rates, upsample_kernel_sizes):
            if kernel < rate:
                raise ValueError(f"Upsample kernel {kernel} must be >= rate {rate}.")
        if upsample_initial_channel < 2 ** len(upsample_rates):
            raise ValueError(
                f"upsample_initial_channel={upsample_initial_channel} is halved at each of {len(upsample_rates)} "
                f"stages and would reach zero; use at least {2 ** len(upsample_rates)}."
            )
        if upsample_padding not in UPSAMPLE_PADDINGS:
            raise ValueError(f"upsample_padding must be one of {UPSAMPLE_PADDINGS}, got {upsample_padding!r}.")
        if resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' or '2', got {resblock!r}.")
        block_cls = ResBlock1 if resblock == "1" else ResBlock2
        if normalize_before:
            self.register_buffer("mean", torch.zeros(n_mels))
            self.register_buffer("scale", torch.ones(n_mels))
        self.conv_pre = weight_norm(nn.Conv1d(n_mels, upsample_initial_channel, 7, padding=3))
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        channels = upsample_initial_channel
        for rate, kernel in zip(upsample_rates, upsample_kernel_sizes):
            self.ups.append(weight_norm(_upsampler(channels, kernel, rate, upsample_padding)))
            channels //= 2
            for k, dilations in zip(resblock_kernel_sizes, resblock_dilation_sizes):
                self.resblocks.append(block_cls(channels, k, tuple(dilations)))
        if istft_n_fft:
            # One extra frame on the left so that a centred iSTFT of T + 1 frames gives T * hop samples.
            self.istft_pad = nn.ReflectionPad1d((1, 0))
            self.conv_post = weight_norm(nn.Conv1d(channels, istft_n_fft + 2, 7, padding=3))
            self.register_buffer("istft_window", torch.hann_window(istft_n_fft), persistent=False)
        else:
            self.conv_post = weight_norm(nn.Conv1d(channels, 1, 7, padding=3))
        self.num_kernels = len(resblock_kernel_sizes)
        self.apply(_init_weights)

    @classmethod
    def from_configs(cls, vocoder: VocoderConfig, audio: AudioConfig) -> "HifiGanVocoder":
        """Build from typed configs; checks that the upsampling covers exactly one hop.

        Raises:
            ValueError: ``prod(upsample_rates) != audio.hop_length``.
        """
        hop_length = math.prod(vocoder.upsample_rates) * max(vocoder.istft_hop_length, 1)
        if hop_length != audio.hop_length:
            raise ValueError(
                f"The product of upsample_rates {vocoder.upsample_rates} (times istft_hop_length "
                f"{vocoder.istft_hop_length}) is {hop_length}, but hop_length is {audio.hop_length}; they must be equal."
            )
        return cls(n_mels=audio.n_mels, sample_rate=audio.sample_rate, **vars(vocoder))

    @property
    def hop_length(self) -> int:
        """Output samples per input frame."""
        return math.prod(self.config.upsample_rates) * max(self.config.istft_hop_length, 1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Synthesize audio.

        Args:
            mel: ``(batch, n_mels, frames)`` natural-log mel magnitudes.

        Returns:
            ``(batch, frames * hop_length)`` waveform at ``sample_rate`` Hz, in [-1, 1]
            (the iSTFT output is not bounded; callers clip when writing).
        """
        if self.config.normalize_before:
            mel = (mel - self.mean[:, None]) / self.scale[:, None]
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = sum(block(x) for block in blocks) / self.num_kernels
        if self.config.istft_n_fft:
            return self._istft(self.conv_post(self.istft_pad(F.leaky_relu(x))))
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x).squeeze(1)[:, : mel.shape[-1] * self.hop_length]

    def _istft(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n_fft + 2, steps + 1)`` log-magnitudes and phase logits -> ``(batch, steps * hop)`` waveform,
        in float32 (iSTFTNet eq. 1: magnitude ``exp(x)``, phase ``pi * sin(x)``; the log-magnitude is
        clamped at 10 so that ``exp`` cannot overflow)."""
        n_fft, hop_length = self.config.istft_n_fft, self.config.istft_hop_length
        bins = n_fft // 2 + 1
        x = x.float()
        magnitude = torch.exp(torch.clamp(x[:, :bins], max=10.0))
        phase = math.pi * torch.sin(x[:, bins:])
        spectrum = torch.polar(magnitude, phase)
        return torch.istft(spectrum, n_fft, hop_length, n_fft, self.istft_window.float(), center=True)

    def remove_weight_norm(self) -> None:
        """Fold weight normalisation into plain weights (faster inference; not reversible)."""
        for module in self.modules():
            if is_parametrized(module, "weight"):
                remove_parametrizations(module, "weight")


def _upsampler(channels: int, kernel: int, rate: int, padding_rule: str) -> nn.ConvTranspose1d:
    """``channels -> channels // 2`` transposed convolution upsampling by ``rate`` (see ``upsample_padding``)."""
    shift = (kernel - rate) % 2 if padding_rule == "ceil" else 0
    padding = (kernel - rate) // 2 + shift
    return nn.ConvTranspose1d(channels, channels // 2, kernel, rate, padding=padding, output_padding=shift)


def _init_weights(module: nn.Module) -> None:
    """HiFi-GAN's initialisation: convolution weights from N(0, 0.01)."""
    if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
        weight = module.parametrizations.weight.original1 if is_parametrized(module, "weight") else module.weight
        weight.data.normal_(0.0, 0.01)

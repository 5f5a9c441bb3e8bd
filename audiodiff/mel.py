"""The log-mel front end: the only place STFT and mel settings live (:class:`StftSettings`; the Griffin-Lim and
Vocos vocoders take their frame convention from it).

Follows the HiFi-GAN convention (Kong et al. 2020, ``meldataset.py``): reflect-pad
by ``(n_fft - hop_length) / 2`` on each side, magnitude STFT without centring,
Slaney-normalised mel filters (as librosa.filters.mel; computed by torchaudio), and ``log(clamp(mel, min=1e-5))``.
With that padding a waveform of ``k * hop_length`` samples gives exactly ``k`` frames.
``center=True`` instead centres frame ``i`` on sample ``i * hop_length`` (reflect-pad ``n_fft / 2``
on the left, as librosa, ``torch.stft(center=True)`` and AudioLDM's Tacotron STFT do), still ``k`` frames.

The front end also says how a log-mel becomes the VAE's input: the affine normalisation
``(m - mel_mean) / mel_std``, optionally clamped to [-1, 1] (``clamp_normalized``), and the image layout
(``image_layout``, one of :data:`IMAGE_LAYOUTS`):

- ``"frames_by_mels"`` (default): ``(batch, channels, frames, n_mels)``, time on the height axis (AudioLDM).
- ``"mels_by_frames"``: ``(batch, channels, n_mels, frames)`` drawn as a spectrogram picture, the
  highest band in row 0 and time on the width axis (Auffusion, Xue et al. 2024; its
  ``normalize_spectrogram`` flips the mel axis so that low frequencies sit at the bottom).

A VAE with ``in_channels > 1`` (Auffusion's is Stable Diffusion's 3-channel VAE) gets the same mel in
every channel and its output is read from channel 0 (Auffusion's ``denormalize_spectrogram``); see
:func:`mel_to_image` and :func:`image_to_mel` (:mod:`audiodiff.models.vae` encodes and decodes through them).

Auffusion (Xue et al. 2024, its
``normalize_spectrogram``) maps ``log(1e-5)..log(200)`` linearly onto the image range [0, 1], i.e. the
VAE's [-1, 1], clamping outside: ``mel_mean = (log 200 + log 1e-5) / 2``, ``mel_std = (log 200 - log 1e-5) / 2``
with ``clamp_normalized=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from .config import AudioConfig
from .dependencies import import_compiled

LOG_CLAMP = 1e-5
IMAGE_LAYOUTS = ("frames_by_mels", "mels_by_frames")


@dataclass(frozen=True)
class StftSettings:
    """An STFT's sizes (in samples) and frame convention, as the mel front end frames audio.

    ``center``: frame ``t`` is centred on sample ``t * hop_length`` (AudioLDM, librosa) instead of
    ``t * hop_length + hop_length // 2`` (HiFi-GAN's convention); with :meth:`padding` either way gives
    ``samples // hop_length`` frames.  The window is a periodic Hann window of ``win_length`` samples.
    """

    n_fft: int
    win_length: int
    hop_length: int
    center: bool = False

    def window(self, device: torch.device | str | None = None) -> torch.Tensor:
        """The analysis/synthesis window ``(win_length,)`` float32 (``torch.hann_window``)."""
        return torch.hann_window(self.win_length, device=device)

    def padding(self) -> tuple[int, int]:
        """Reflect padding ``(left, right)`` in samples before an uncentred ``torch.stft``."""
        if self.center:
            return self.n_fft // 2, self.n_fft // 2 - self.hop_length
        pad = (self.n_fft - self.hop_length) // 2
        return pad, pad

    @property
    def first_centre(self) -> int:
        """The sample frame 0 is centred on: 0 with ``center``, else ``hop_length // 2``."""
        return 0 if self.center else self.hop_length // 2


def slaney_mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """Slaney-scale, Slaney-normalised mel filter bank ``(n_mels, n_fft // 2 + 1)`` float32, as ``librosa.filters.mel``.

    Computed by ``torchaudio.functional.melscale_fbanks`` (torchaudio is imported anyway; librosa's
    filters would pull numba and scipy.signal into ``audiodiff generate``, ~0.3 s); equal to librosa's
    within float32 rounding (tests/test_mel.py).  ``fmin``/``fmax`` in Hz.
    """
    torchaudio = import_compiled("torchaudio")
    filters = torchaudio.functional.melscale_fbanks(
        n_fft // 2 + 1, float(fmin), float(fmax), n_mels, sample_rate, norm="slaney", mel_scale="slaney"
    )
    return filters.T.contiguous().float()


class MelSpectrogram(ModelMixin, ConfigMixin):
    """Waveform ``(batch, samples)`` -> log-mel ``(batch, n_mels, frames)``, plus the VAE normalisation.

    A pipeline component, so its settings are saved with the model (``config.json``)
    and its mel filter bank travels with the weights.

    Args:
        sample_rate: waveform rate in Hz.
        n_fft, win_length, hop_length: STFT sizes in samples.
        n_mels: number of mel bands.
        fmin, fmax: mel band edges in Hz.
        mel_mean, mel_std: ``normalize`` maps log-mel ``m`` to ``(m - mel_mean) / mel_std``.
        center: frame ``i`` centred on sample ``i * hop_length`` (AudioLDM) instead of
            ``i * hop_length + hop_length / 2`` (HiFi-GAN).
        image_layout: how the VAE sees the normalised mel: ``"frames_by_mels"`` or ``"mels_by_frames"``
            (Auffusion); see the module docstring.
        clamp_normalized: ``normalize`` clamps its output and ``denormalize`` its input to [-1, 1]
            (Auffusion's image range; its pipeline clamps the decoded image to [0, 1]).

    Raises:
        ValueError: ``fmax`` above Nyquist, or an unknown ``image_layout``.
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        win_length: int = 1024,
        hop_length: int = 160,
        n_mels: int = 64,
        fmin: float = 0.0,
        fmax: float = 8000.0,
        mel_mean: float = -5.0,
        mel_std: float = 3.0,
        center: bool = False,
        image_layout: str = "frames_by_mels",
        clamp_normalized: bool = False,
    ):
        super().__init__()
        if fmax > sample_rate / 2:
            raise ValueError(f"fmax={fmax} Hz is above the Nyquist rate {sample_rate / 2} Hz; lower it.")
        if image_layout not in IMAGE_LAYOUTS:
            raise ValueError(f"image_layout must be one of {IMAGE_LAYOUTS}, got {image_layout!r}.")
        self.register_buffer("mel_basis", slaney_mel_basis(sample_rate, n_fft, n_mels, fmin, fmax))
        self.register_buffer("window", self.stft.window())

    @classmethod
    def from_audio_config(cls, config: AudioConfig) -> "MelSpectrogram":
        """Build from an :class:`~audiodiff.config.AudioConfig`."""
        return cls(**vars(config))

    @property
    def stft(self) -> StftSettings:
        """The STFT sizes and frame convention of this front end."""
        cfg = self.config
        return StftSettings(n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length, center=cfg.center)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Log-mel spectrogram.

        Args:
            audio: ``(batch, samples)`` float waveform in [-1, 1] at ``sample_rate`` Hz.

        Returns:
            ``(batch, n_mels, frames)`` natural-log mel magnitudes, ``frames = samples // hop_length``
            when ``samples`` is a multiple of ``hop_length``.
        """
        cfg = self.config
        padded = F.pad(audio.unsqueeze(1), self.stft.padding(), mode="reflect").squeeze(1)
        spec = torch.stft(
            padded.float(),
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.win_length,
            window=self.window,
            center=False,
            return_complex=True,
        )
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
        mel = torch.matmul(self.mel_basis, magnitude)
        return torch.log(torch.clamp(mel, min=LOG_CLAMP))

    def num_frames(self, num_samples: int) -> int:
        """Frames the vocoder needs to cover ``num_samples`` samples: ``ceil(num_samples / hop_length)``."""
        return -(-num_samples // self.config.hop_length)

    def normalize(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Log-mel -> the VAE's input range, ``(log_mel - mel_mean) / mel_std`` (clamped to [-1, 1] with
        ``clamp_normalized``)."""
        x = (log_mel - self.config.mel_mean) / self.config.mel_std
        return x.clamp(-1.0, 1.0) if self.config.clamp_normalized else x

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalize` (``x`` clamped to [-1, 1] first with ``clamp_normalized``)."""
        x = x.clamp(-1.0, 1.0) if self.config.clamp_normalized else x
        return x * self.config.mel_std + self.config.mel_mean


def frame_mask(audio_mask: torch.Tensor, hop_length: int, frames: int) -> torch.Tensor:
    """Sample mask ``(batch, samples)`` -> frame mask ``(batch, frames)``: a frame counts when its hop starts in real audio."""
    mask = audio_mask[:, ::hop_length][:, :frames]
    if mask.shape[1] < frames:
        mask = torch.nn.functional.pad(mask, (0, frames - mask.shape[1]))
    return mask.float()


def mel_to_image(mel: torch.Tensor, channels: int = 1, layout: str = "frames_by_mels") -> torch.Tensor:
    """Normalised log-mel ``(batch, n_mels, frames)`` -> VAE image in ``layout`` (see :mod:`audiodiff.mel`),
    the mel repeated in each of ``channels``."""
    if layout == "mels_by_frames":
        image = mel.flip(1).unsqueeze(1)  # (batch, 1, n_mels, frames), highest band first
    else:
        image = mel.transpose(1, 2).unsqueeze(1)  # (batch, 1, frames, n_mels)
    return image.expand(-1, channels, -1, -1)


def image_to_mel(image: torch.Tensor, layout: str = "frames_by_mels") -> torch.Tensor:
    """Inverse of :func:`mel_to_image`: image ``(batch, channels, h, w)`` -> ``(batch, n_mels, frames)`` from channel 0."""
    first = image[:, 0]
    return first.flip(1) if layout == "mels_by_frames" else first.transpose(1, 2)

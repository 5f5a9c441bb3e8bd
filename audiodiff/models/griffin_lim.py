"""Griffin-Lim "vocoder": log-mel ``(batch, n_mels, frames)`` -> waveform ``(batch, frames * hop_length)`` with no trained weights.

The linear magnitude is ``max(pinv(mel_basis) @ exp(log_mel), 0)`` and the phase comes from fast
Griffin-Lim (Griffin & Lim 1984; the momentum variant of Perraudin et al. 2013, torchaudio's
``griffinlim``), starting from zero phase so the result is deterministic.  A pipeline folder may name
it as its ``vocoder`` component instead of :class:`~audiodiff.models.vocoder.HifiGanVocoder`: it
stores only the pseudo-inverse of its mel front end's filter bank.  The default model uses it while
its HiFi-GAN does not yet beat it (docs/model_card.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from ..dependencies import import_compiled
from ..mel import MelSpectrogram, StftSettings

torchaudio = import_compiled("torchaudio")  # one line with the fix when it does not match torch


class GriffinLimVocoder(ModelMixin, ConfigMixin):
    """Inverts natural-log mel magnitudes of a :class:`~audiodiff.mel.MelSpectrogram` with the same settings.

    Args:
        sample_rate: output rate in Hz.
        n_fft, win_length, hop_length, center: the mel front end's :class:`~audiodiff.mel.StftSettings`
            (sizes in samples; ``center``: frame ``t`` centred on sample ``t * hop_length``, or half a hop
            later, HiFi-GAN's), stored so the folder loads on its own.
        n_mels: mel bands of the input.
        n_iter: Griffin-Lim iterations (32: about 0.4 ms per 10 ms frame on one core of an AMD EPYC; 0.18 s for 5 s).
        momentum: fast Griffin-Lim momentum (0.99 as Perraudin et al.).

    Use :meth:`from_mel` to build one for a front end; the buffer ``inverse_mel_basis``
    ``(n_fft // 2 + 1, n_mels)`` is its only state.
    """

    @register_to_config
    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        win_length: int = 1024,
        hop_length: int = 160,
        n_mels: int = 64,
        center: bool = False,
        n_iter: int = 32,
        momentum: float = 0.99,
    ):
        super().__init__()
        self.register_buffer("inverse_mel_basis", torch.zeros(n_fft // 2 + 1, n_mels))

    @classmethod
    def from_mel(cls, mel: MelSpectrogram, n_iter: int = 32) -> GriffinLimVocoder:
        """The Griffin-Lim inverse of ``mel``'s log-mel (its STFT sizes, frame convention and filter bank)."""
        cfg = mel.config
        vocoder = cls(sample_rate=cfg.sample_rate, n_mels=cfg.n_mels, n_iter=n_iter, **dataclasses.asdict(mel.stft))
        vocoder.inverse_mel_basis.copy_(torch.linalg.pinv(mel.mel_basis.float()))
        return vocoder.to(mel.mel_basis.device)

    @property
    def hop_length(self) -> int:
        """Samples per input frame."""
        return int(self.config.hop_length)

    @property
    def stft(self) -> StftSettings:
        """The STFT sizes and frame convention of the front end this vocoder inverts."""
        cfg = self.config
        return StftSettings(n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length, center=cfg.center)

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> GriffinLimVocoder:
        """Device moves apply; dtype casts do not: the basis stays float32, since Griffin-Lim's iterations
        amplify its rounding (a bf16 basis changes the waveform by more than half its peak)."""
        basis = self._buffers.pop("inverse_mel_basis")
        try:
            super()._apply(fn, recurse)
        finally:
            self._buffers["inverse_mel_basis"] = basis.to(fn(basis[:1, :1]).device)
        return self

    def remove_weight_norm(self) -> None:
        """Nothing to fold (the interface of :class:`~audiodiff.models.vocoder.HifiGanVocoder`)."""

    @torch.no_grad()
    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """``(batch, n_mels, frames)`` natural-log mel magnitudes -> ``(batch, frames * hop_length)`` float32 waveform.

        Computes in float32 whatever the module's dtype (a bf16 pipeline casts the buffer).
        """
        cfg, stft = self.config, self.stft
        frames = log_mel.shape[-1]
        magnitude = torch.clamp(self.inverse_mel_basis.float() @ torch.exp(log_mel.float()), min=0.0)
        # torchaudio centres frame t on sample t * hop of its output, which starts at frame 0's centre and
        # ends at the last frame's (centred frames) or at frames * hop (HiFi-GAN's, half a hop later)
        before = stft.first_centre
        length = (frames - 1) * stft.hop_length if stft.center else frames * stft.hop_length - before
        audio = torchaudio.functional.griffinlim(
            magnitude,
            window=stft.window(log_mel.device),
            n_fft=stft.n_fft,
            hop_length=stft.hop_length,
            win_length=stft.win_length,
            power=1.0,
            n_iter=cfg.n_iter,
            momentum=cfg.momentum,
            length=length,
            rand_init=False,
        )
        return torch.nn.functional.pad(audio, (before, frames * stft.hop_length - length - before))

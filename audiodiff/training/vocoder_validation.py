"""Scoring a vocoder during training: its resynthesis of validation clips from their own log-mels, beside two
references that do not change while it trains (Griffin-Lim of the same log-mels, and the clips' own STFT
magnitudes with random phase).  :class:`~audiodiff.training.vocoder.VocoderStage` evaluates with it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..audio import write_wav
from ..evaluation.vocoder_metrics import (
    DEFAULT_RESOLUTIONS,
    griffin_lim_from_mel,
    mel_l1_distance,
    multi_resolution_stft_distance,
    random_phase_resynthesis,
)
from ..mel import MelSpectrogram
from ..models.vocoders import Vocoder


class VocoderValidation:
    """Validation clips and the references a vocoder is scored beside.

    Args:
        mel: the log-mel front end whose output the vocoder inverts.
        clips: ``(samples,)`` clips at ``mel.config.sample_rate`` Hz (None or empty: nothing to score).
        num_sample_wavs: clips written as WAV at each evaluation.
        griffin_lim_iters: iterations of the Griffin-Lim reference.

    Raises:
        ValueError: a clip that is not 1-D or shorter than the largest STFT of the metrics.
    """

    def __init__(
        self,
        mel: MelSpectrogram,
        clips: list[torch.Tensor] | None,
        num_sample_wavs: int = 4,
        griffin_lim_iters: int = 32,
    ):
        self.mel = mel
        self.clips = _checked_clips(clips)
        self.num_sample_wavs = num_sample_wavs
        self.griffin_lim_iters = griffin_lim_iters
        self._baselines: list[torch.Tensor] | None = None
        self._random_phase: list[torch.Tensor] | None = None

    @torch.no_grad()
    def evaluate(self, generator: Vocoder, device: torch.device, output_dir: Path) -> dict[str, float]:
        """Score ``generator`` (put in eval mode for the call) on the clips moved to ``device``; writes the first
        ``num_sample_wavs`` as ``NN_vocoder.wav``, ``NN_original.wav`` and ``NN_griffin_lim.wav`` into
        ``output_dir``.  Returns the metrics :meth:`VocoderStage.evaluate` lists; empty without clips."""
        if not self.clips:
            return {}
        was_training = generator.training
        generator.eval()
        targets = self._targets(device)
        predictions = [generator(self.mel(target)).float() for target in targets]
        generator.train(was_training)
        baselines = self._griffin_lim_baselines(targets)
        for i in range(min(self.num_sample_wavs, len(targets))):
            for name, audio in (("vocoder", predictions[i]), ("original", targets[i]), ("griffin_lim", baselines[i])):
                write_wav(Path(output_dir) / f"{i:02d}_{name}.wav", audio[0].cpu().numpy(), self.mel.config.sample_rate)
        return {
            **self._distances("", predictions, targets),
            **self._distances("griffin_lim_", baselines, targets),
            **self._distances("random_phase_", self._random_phase_references(targets), targets),
        }

    def _targets(self, device: torch.device) -> list[torch.Tensor]:
        """Validation clips as ``(1, samples)`` on ``device``, cut to whole hops."""
        hop_length = self.mel.config.hop_length
        return [clip[None, : clip.shape[0] // hop_length * hop_length].float().to(device) for clip in self.clips]

    def _griffin_lim_baselines(self, targets: list[torch.Tensor]) -> list[torch.Tensor]:
        """Griffin-Lim inversions of the validation log-mels, computed once (they do not change in training)."""
        if self._baselines is None:
            self._baselines = [griffin_lim_from_mel(self.mel(t), self.mel, self.griffin_lim_iters) for t in targets]
        return self._baselines

    def _random_phase_references(self, targets: list[torch.Tensor]) -> list[torch.Tensor]:
        """The validation clips resynthesised with random phase, computed once (seeded)."""
        if self._random_phase is None:
            self._random_phase = [random_phase_resynthesis(t, self.mel, seed=i) for i, t in enumerate(targets)]
        return self._random_phase

    def _distances(self, prefix: str, predictions: list[torch.Tensor], targets: list[torch.Tensor]) -> dict[str, float]:
        """Mean ``mel_l1`` and ``mrstft`` over clip pairs, keys prefixed by ``prefix``."""
        pairs = list(zip(predictions, targets))
        return {
            f"{prefix}mel_l1": sum(mel_l1_distance(p, t, self.mel).item() for p, t in pairs) / len(pairs),
            f"{prefix}mrstft": sum(multi_resolution_stft_distance(p, t).item() for p, t in pairs) / len(pairs),
        }


def _checked_clips(clips: list[torch.Tensor] | None) -> list[torch.Tensor]:
    min_samples = max(n_fft for n_fft, _, _ in DEFAULT_RESOLUTIONS)
    for i, clip in enumerate(clips or []):
        if clip.ndim != 1 or clip.shape[0] < min_samples:
            raise ValueError(
                f"Validation clip {i} has shape {tuple(clip.shape)}; each must be 1-D (samples,) with at least "
                f"{min_samples} samples. Drop or pad short clips."
            )
    return list(clips or [])

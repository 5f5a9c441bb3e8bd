"""The VAE's mel L1 and harmonic contrast against two baselines: what it keeps of a clip's log-mel.

For each clip (whole clip, real frames only) the log-mel ``x`` (natural log, the pipeline's
own front end) is compared with:

* ``vae``: the VAE's reconstruction (posterior mean, decoded);
* ``clip_mean``: every bin replaced by the clip's mean log-mel (what a VAE that kept only the loudness
  would score);
* ``pool_2x2``: a 2x2 average pool (frames x mel bands) upsampled back by repetition (a VAE that only
  halved the resolution losslessly would score at most this).

All three are mean absolute errors in natural-log mel units (lower is better), averaged over clips.

Beside each, ``NAME_harmonic_contrast``: the harmonic contrast of the guess against the real clip's on the
clip's pitched frames (:mod:`audiodiff.evaluation.harmonic_contrast`, the measure the VAE stage validates
with: 1 when as sharp as the real clips, lower when the low harmonics are smoothed away), frame-weighted over
the clips; ``harmonic_contrast_real`` is the real clips' mean (nepers) and ``pitched_frames`` their count.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..audio import load_audio
from ..data.manifest import Clip
from ..pipeline import AudioDiffusionPipeline
from .copy_synthesis import vae_round_trip
from .harmonic_contrast import ContrastTotals, harmonic_contrast, voiced_frames


def pool_baseline(log_mel: torch.Tensor) -> torch.Tensor:
    """``(n_mels, frames)`` -> the same shape after a 2x2 average pool and nearest upsampling."""
    n_mels, frames = log_mel.shape
    padded = F.pad(log_mel[None, None], (0, frames % 2, 0, n_mels % 2), mode="replicate")
    pooled = F.avg_pool2d(padded, 2)
    return F.interpolate(pooled, scale_factor=2, mode="nearest")[0, 0, :n_mels, :frames]


def vae_report(pipe: AudioDiffusionPipeline, clips: Sequence[Clip]) -> dict[str, float]:
    """Mean log-mel L1 and harmonic contrast of ``vae``, ``clip_mean`` and ``pool_2x2`` over ``clips`` (whole clips
    at the pipeline's rate), as the module docstring describes."""
    cfg = pipe.mel.config
    totals = {"vae": 0.0, "clip_mean": 0.0, "pool_2x2": 0.0}
    contrasts = {name: ContrastTotals() for name in totals}
    for clip in clips:
        audio = torch.from_numpy(load_audio(clip.path, cfg.sample_rate))
        with torch.no_grad():
            log_mel = pipe.mel(audio[None])[0]
        pitched = voiced_frames(audio[None], cfg.hop_length, log_mel.shape[-1], cfg.sample_rate)
        guesses = {"vae": vae_round_trip(pipe, audio[None])[0],
                   "clip_mean": torch.full_like(log_mel, float(log_mel.mean())), "pool_2x2": pool_baseline(log_mel)}
        for name, guess in guesses.items():
            totals[name] += float((guess - log_mel).abs().mean())
            contrasts[name] = contrasts[name] + harmonic_contrast(guess[None], log_mel[None], pitched)
    figures = {name: total / len(clips) for name, total in totals.items()}
    figures |= {f"{name}_harmonic_contrast": totals_.ratio for name, totals_ in contrasts.items()}
    return figures | {"harmonic_contrast_real": contrasts["vae"].real_mean, "pitched_frames": contrasts["vae"].frames,
                      "clips": len(clips)}

"""Training losses as small pure functions, each checkable against its paper's equation.

GAN losses are the least-squares ones of Mao et al. 2017 (LSGAN) as HiFi-GAN uses them
(Kong et al. 2020, eqs. 1-4; sec. 2.4 "Final Loss" sums them over sub-discriminators), each
averaged over its positions.  Inputs are lists with one tensor per sub-discriminator, as returned by
:mod:`audiodiff.models.discriminators` (any discriminator that returns lists fits).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .common import masked_mean


def discriminator_loss(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """LS discriminator loss, HiFi-GAN eq. 1 summed over sub-discriminators (sec. 2.4):
    ``sum_k E[(D_k(x) - 1)^2] + E[D_k(G(s))^2]``.

    Args:
        real_logits, fake_logits: per sub-discriminator, logits of any shape for real / generated audio
            (the generated audio detached from the generator).

    Returns:
        Scalar loss; 0 for a perfect discriminator (1 on real, 0 on fake).
    """
    return sum(
        torch.mean((1 - real.float()) ** 2) + torch.mean(fake.float() ** 2)
        for real, fake in zip(real_logits, fake_logits)
    )


def generator_adversarial_loss(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """LS generator loss, HiFi-GAN eq. 2 summed over sub-discriminators (sec. 2.4): ``sum_k E[(D_k(G(s)) - 1)^2]``.

    Returns:
        Scalar loss; 0 when every discriminator scores the generated audio as real (1).
    """
    return sum(torch.mean((1 - fake.float()) ** 2) for fake in fake_logits)


def feature_matching_loss(
    real_features: list[list[torch.Tensor]], fake_features: list[list[torch.Tensor]]
) -> torch.Tensor:
    """Feature matching, HiFi-GAN eq. 4 (Larsen et al. 2016): ``sum_k sum_i 1/N_i ||D_k^i(x) - D_k^i(G(s))||_1``.

    Args:
        real_features, fake_features: per sub-discriminator, its layers' outputs for real / generated
            audio (same shapes pairwise). Real features are detached here: only the generator learns from it.

    Returns:
        Scalar loss (mean absolute difference per layer, summed over layers and sub-discriminators);
        not yet multiplied by the paper's weight lambda_fm = 2.
    """
    return sum(
        torch.mean(torch.abs(real.detach().float() - fake.float()))
        for real_maps, fake_maps in zip(real_features, fake_features)
        for real, fake in zip(real_maps, fake_maps)
    )


def mel_l1_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mel-spectrogram L1, HiFi-GAN eq. 3: ``E ||phi(x) - phi(G(s))||_1`` on log-mels.

    Args:
        prediction, target: ``(batch, n_mels, frames)`` log-mel magnitudes (natural log).
        mask: optional ``(batch, frames)``, 1 for frames that count (e.g. not padding); None: all count.

    Returns:
        Scalar mean absolute difference over the counted bins; not yet multiplied by lambda_mel = 45.
    """
    difference = torch.abs(prediction.float() - target.float())
    return difference.mean() if mask is None else masked_mean(difference, mask.unsqueeze(1))


def multiscale_gradient_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    scales: tuple[int, ...] = (1, 2, 4),
) -> torch.Tensor:
    """Multi-scale gradient difference loss on log-mel images: L1 between the time and frequency differences of
    ``prediction`` and ``target``, after a ``s x s`` average pool for each ``s`` in ``scales``, averaged over scales.

    ``(1 / |S|) sum_s [ E|d_t P_s(x_hat) - d_t P_s(x)| + E|d_f P_s(x_hat) - d_f P_s(x)| ]`` with ``d_t``, ``d_f`` the
    differences of neighbouring frames / mel bands and ``P_s`` the average pool.  It is the gradient difference
    loss of Mathieu, Couprie & LeCun 2016 ("Deep multi-scale video prediction beyond mean square error", eq. 5,
    alpha = 1), which they add to L1/L2 because a blurred prediction has flatter gradients than the target (here
    on signed differences, so a ridge in the wrong place costs too), taken at several resolutions as the
    multi-resolution STFT loss of Yamamoto et al. 2020 ("Parallel WaveGAN", eq. 6) takes spectra at several: scale
    1 sees the ridges of single harmonics and onsets, 2 and 4 the coarser structure of formants and notes.
    A constant offset costs nothing here (the L1 term sees it).

    Args:
        prediction, target: ``(batch, 1, frames, n_mels)`` normalised log-mel images.
        mask: optional ``(batch, 1, frames, 1)``, 1 on frames that count; a pooled frame counts when all of its
            frames do, a difference when both of its frames do.

    Returns:
        Scalar, 0 for identical inputs.
    """
    prediction, target = prediction.float(), target.float()
    if mask is None:
        mask = torch.ones_like(target[..., :1])
    total = prediction.new_zeros(())
    for scale in scales:
        p, t, m = prediction, target, mask.float()
        if scale > 1:
            p, t = F.avg_pool2d(p, scale), F.avg_pool2d(t, scale)
            m = -F.max_pool2d(-m, (scale, 1))  # min-pool: 1 only where every pooled frame counts
        time_mask = m[:, :, 1:] * m[:, :, :-1]
        total = total + masked_mean(torch.abs(p.diff(dim=2) - t.diff(dim=2)), time_mask)
        total = total + masked_mean(torch.abs(p.diff(dim=3) - t.diff(dim=3)), m)
    return total / len(scales)

"""HiFi-GAN discriminators: output structure, period folding, normalisation and gradients (tiny widths)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.parametrize import is_parametrized

from audiodiff.models.discriminators import (
    MultiPeriodDiscriminator,
    MultiResolutionDiscriminator,
    MultiScaleDiscriminator,
    PeriodDiscriminator,
)

SAMPLES = 1000  # not a multiple of 3, 7 or 11: exercises the period padding


@pytest.fixture()
def audio() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(2, SAMPLES).clamp(-1, 1)


def test_mpd_one_output_per_period_with_six_feature_maps(audio):
    periods = (2, 3, 5, 7, 11)
    logits, features = MultiPeriodDiscriminator(periods, channels=1)(audio)
    assert len(logits) == len(features) == len(periods)
    for period, period_logits, maps in zip(periods, logits, features):
        assert period_logits.shape[0] == 2 and period_logits.ndim == 2
        assert len(maps) == 6  # 4 strided + 1 plain convolution + the logits
        assert maps[0].shape[-1] == period  # the folded (batch, C, T / p, p) layout keeps p columns
        assert maps[0].shape[1] == 1 and maps[3].shape[1] == 32  # widths channels * (1, 4, 16, 32)
        assert torch.equal(maps[-1].flatten(1), period_logits)


def test_period_discriminator_sees_only_its_period():
    """A signal with period p folds into constant columns: every time position gives the same logit."""
    discriminator = PeriodDiscriminator(period=4, channels=1)
    pattern = torch.tensor([0.5, -0.2, 0.1, -0.7])
    logits, _ = discriminator(pattern.repeat(1, 243))  # 243 = 3^5 rows: no edge effects of padding at the end
    inner = logits.view(-1, 4)[2:-2]  # away from the zero-padded borders of the time convolutions
    assert torch.allclose(inner, inner[:1].expand_as(inner), atol=1e-6)


def test_msd_three_scales_halving_resolution(audio):
    logits, features = MultiScaleDiscriminator(num_scales=3, channels=2)(audio)
    assert len(logits) == len(features) == 3
    assert all(len(maps) == 8 for maps in features)  # 7 convolutions + the logits
    lengths = [scale_logits.shape[1] for scale_logits in logits]
    assert lengths[0] > lengths[1] > lengths[2]


def test_msd_spectral_norm_on_first_scale_only():
    msd = MultiScaleDiscriminator(channels=2)
    first, second = msd.discriminators[0].convs[0], msd.discriminators[1].convs[0]
    assert type(first.parametrizations.weight[0]).__name__ == "_SpectralNorm"
    assert type(second.parametrizations.weight[0]).__name__ == "_WeightNorm"
    assert all(is_parametrized(conv, "weight") for conv in msd.discriminators[2].convs)


def test_default_widths_match_the_paper():
    """Kong et al. 2020: MPD about 41 M, MSD about 30 M parameters (official implementation)."""
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert 40e6 < count(MultiPeriodDiscriminator()) < 42e6
    assert 29e6 < count(MultiScaleDiscriminator()) < 30.5e6


def test_gradients_reach_the_input_and_every_parameter(audio):
    audio = audio.clone().requires_grad_(True)
    discriminators = (
        MultiPeriodDiscriminator(channels=1), MultiScaleDiscriminator(channels=2),
        MultiResolutionDiscriminator(((256, 32, 128),), channels=2),
    )
    for discriminator in discriminators:
        logits, _ = discriminator(audio)
        sum(x.mean() for x in logits).backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in discriminator.parameters())
    assert audio.grad.abs().sum() > 0


def test_mrd_one_output_per_resolution_on_the_spectrogram_grid(audio):
    resolutions = ((256, 32, 128), (512, 64, 256))
    logits, features = MultiResolutionDiscriminator(resolutions, channels=2)(audio)
    assert len(logits) == len(features) == 2
    for (n_fft, hop, _), maps in zip(resolutions, features):
        assert len(maps) == 6  # 5 convolutions + the logits
        assert maps[0].shape[2:] == (SAMPLES // hop + 1, n_fft // 2 + 1)  # (frames, bins) of a centred STFT
        assert maps[-1].shape[3] == (n_fft // 2 + 1 + 7) // 8  # three stride-2 layers along frequency


def test_mrd_sees_magnitudes_only():
    """It sees magnitudes: a signal and its sign flip (same magnitudes) get the same logits."""
    torch.manual_seed(0)
    mrd = MultiResolutionDiscriminator(((256, 32, 128),), channels=2)
    audio = torch.randn(1, SAMPLES).clamp(-1, 1)
    assert torch.allclose(mrd(audio)[0][0], mrd(-audio)[0][0], atol=1e-5)
    assert not torch.allclose(mrd(audio)[0][0], mrd(audio * 0.5)[0][0], atol=1e-5)

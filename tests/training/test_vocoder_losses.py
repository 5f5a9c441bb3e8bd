"""HiFi-GAN losses against hand-computed values (Kong et al. 2020, eqs. 1-6)."""

from __future__ import annotations

import pytest
import torch

from audiodiff.training.losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    mel_l1_loss,
)


def test_discriminator_loss_zero_for_perfect_discriminator():
    real, fake = [torch.ones(2, 5), torch.ones(2, 3)], [torch.zeros(2, 5), torch.zeros(2, 3)]
    assert discriminator_loss(real, fake).item() == 0.0


def test_discriminator_loss_hand_computed():
    # sub-discriminator 1: real 0.5 -> (1-0.5)^2 = 0.25, fake 0.5 -> 0.25; sub 2: real 0 -> 1, fake 1 -> 1
    real = [torch.full((2, 4), 0.5), torch.zeros(1, 2)]
    fake = [torch.full((2, 4), 0.5), torch.ones(1, 2)]
    assert discriminator_loss(real, fake).item() == pytest.approx(0.25 + 0.25 + 1.0 + 1.0)


def test_generator_loss_zero_when_fooling_and_hand_computed():
    assert generator_adversarial_loss([torch.ones(3, 7), torch.ones(3, 2)]).item() == 0.0
    # (1 - 0)^2 = 1 and mean((1 - [0, 2])^2) = 1: sum 2
    assert generator_adversarial_loss([torch.zeros(1, 3), torch.tensor([[0.0, 2.0]])]).item() == pytest.approx(2.0)


def test_generator_loss_gradient_pushes_logits_towards_one():
    fake = torch.zeros(1, 4, requires_grad=True)
    generator_adversarial_loss([fake]).backward()
    assert (fake.grad < 0).all()  # descending the loss raises the logits


def test_feature_matching_zero_for_identical_maps_and_counts_layers():
    maps = [[torch.randn(2, 3, 5), torch.randn(2, 4)], [torch.randn(2, 6)]]
    assert feature_matching_loss(maps, maps).item() == 0.0
    shifted = [[m + 1 for m in disc] for disc in maps]
    assert feature_matching_loss(maps, shifted).item() == pytest.approx(3.0)  # mean |1| per layer, 3 layers


def test_feature_matching_trains_only_the_fake_side():
    real, fake = torch.randn(2, 5, requires_grad=True), torch.randn(2, 5, requires_grad=True)
    feature_matching_loss([[real]], [[fake]]).backward()
    assert real.grad is None and fake.grad is not None


def test_mel_l1_hand_computed_and_masked():
    target = torch.zeros(1, 2, 4)
    prediction = torch.tensor([[[1.0, 1.0, 3.0, 3.0], [1.0, 1.0, 3.0, 3.0]]])
    assert mel_l1_loss(prediction, target).item() == pytest.approx(2.0)
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0]])  # last two frames are padding
    assert mel_l1_loss(prediction, target, mask).item() == pytest.approx(1.0)

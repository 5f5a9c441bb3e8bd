"""The VAE stage's loss terms and settings: zero on identical inputs, positive otherwise; bad settings refused."""

from __future__ import annotations

import pytest
import torch

from audiodiff.config import from_dict
from audiodiff.models.patch_discriminator import PatchDiscriminator
from audiodiff.training.config import TrainConfig, VAETrainConfig
from audiodiff.training.losses import feature_matching_loss, generator_adversarial_loss, multiscale_gradient_loss


def _image(seed: int = 0) -> torch.Tensor:
    return torch.randn(2, 1, 32, 16, generator=torch.Generator().manual_seed(seed))


def test_gradient_loss_is_zero_on_identical_inputs_and_positive_otherwise():
    x = _image()
    assert float(multiscale_gradient_loss(x, x.clone())) == 0.0
    assert float(multiscale_gradient_loss(x + 0.3, x)) == pytest.approx(0.0, abs=1e-6)  # an offset is L1's job
    assert float(multiscale_gradient_loss(x + 0.1 * _image(1), x)) > 0.0


def test_gradient_loss_costs_a_blur_more_than_random_errors_of_the_same_l1():
    x = _image()
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    noisy = x + (blurred - x).abs().mean() * torch.sign(_image(2))  # the same L1 distance, no smoothing
    assert float((blurred - x).abs().mean()) == pytest.approx(float((noisy - x).abs().mean()), rel=1e-4)
    assert multiscale_gradient_loss(blurred, x) > multiscale_gradient_loss(noisy, x)


def test_gradient_loss_ignores_masked_frames():
    x = _image()
    y = x.clone()
    y[:, :, 24:] += _image(3)[:, :, 24:]
    mask = torch.ones(2, 1, 32, 1)
    mask[:, :, 24:] = 0
    assert float(multiscale_gradient_loss(y, x, mask, (1, 2, 4, 8))) == 0.0
    assert float(multiscale_gradient_loss(y, x, None, (1, 2, 4, 8))) > 0.0


@torch.no_grad()
def test_feature_matching_and_adversarial_terms_on_the_patch_discriminator():
    torch.manual_seed(0)
    discriminator = PatchDiscriminator(channels=8)
    x = _image()
    logits, features = discriminator(x, return_features=True)
    assert torch.equal(logits, discriminator(x)) and len(features) == 3
    _, same = discriminator(x.clone(), return_features=True)
    _, other = discriminator(_image(1), return_features=True)
    assert float(feature_matching_loss([features], [same])) == 0.0
    assert float(feature_matching_loss([features], [other])) > 0.0
    assert float(generator_adversarial_loss([torch.ones(2, 1, 4, 2)])) == 0.0
    assert float(generator_adversarial_loss([torch.zeros(2, 1, 4, 2)])) > 0.0


@pytest.mark.parametrize("settings, message", [
    ({"gradient_weight": -1.0}, "gradient_weight"),
    ({"latent_noise": float("nan")}, "latent_noise"),
    ({"disc_start": -2}, "disc_start"),
    ({"gradient_scales": [1, 1]}, "gradient_scales"),
    ({"gradient_scales": [0, 2]}, "gradient_scales"),
    ({"gradient_scales": []}, "gradient_scales"),
    ({"feature_weight": 1.0, "disc_start": -1}, "feature_weight"),
])
def test_bad_vae_settings_are_refused_when_the_config_is_read(settings, message):
    with pytest.raises(ValueError, match=message):
        from_dict(TrainConfig, {"vae": settings})


def test_decoder_settings_read_from_yaml_values():
    config = from_dict(TrainConfig, {"vae": {"train_encoder": False, "gradient_weight": 1.0, "gradient_scales": [1, 2],
                                             "disc_start": 10, "feature_weight": 2.0, "latent_noise": 0.1}})
    assert config.vae == VAETrainConfig(kl_weight=1e-6, disc_start=10, disc_weight=0.5, train_encoder=False,
                                        gradient_weight=1.0, gradient_scales=(1, 2), feature_weight=2.0,
                                        latent_noise=0.1)


def test_the_decoder_recipe_reads_as_decoder_only_on_whole_clips():
    from audiodiff.config import load_config
    from tests.conftest import REPO

    config = load_config(REPO / "recipes" / "opensfx" / "configs" / "vae-decoder.yaml", TrainConfig)
    assert not config.vae.train_encoder and config.segment_seconds == 5.12 and config.mixed_precision == "bf16"
    assert config.vae.gradient_weight > 0 and 0 < config.vae.disc_start and config.vae.latent_noise > 0

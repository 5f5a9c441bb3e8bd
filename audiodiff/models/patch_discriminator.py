"""PatchGAN discriminator for mel images (Isola et al. 2017, "pix2pix"; used by the LDM autoencoder).

Input ``(batch, 1, frames, n_mels)``; output per-patch logits ``(batch, 1, frames', n_mels')``, and on request
the activations after each LeakyReLU (for feature matching, HiFi-GAN eq. 4).
"""

from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """``num_layers`` stride-2 convolutions (4x4) with group norm and leaky ReLU, then a 1-channel logit map."""

    def __init__(self, in_channels: int = 1, channels: int = 32, num_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        width = channels
        for i in range(1, num_layers):
            out = channels * min(2**i, 8)
            layers += [nn.Conv2d(width, out, 4, stride=2, padding=1), nn.GroupNorm(min(8, out), out), nn.LeakyReLU(0.2)]
            width = out
        layers.append(nn.Conv2d(width, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, return_features: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits ``(batch, 1, frames', n_mels')``; with ``return_features`` also the list of hidden activations."""
        if not return_features:
            return self.net(image)
        features = []
        x = image
        for layer in self.net:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                features.append(x)
        return x, features

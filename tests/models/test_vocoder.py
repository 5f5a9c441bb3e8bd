"""HiFi-GAN generator: shapes for V1/V2/V3-like settings, hop checks, save/load."""

from __future__ import annotations

import math

import pytest
import torch

from audiodiff.config import AudioConfig, VocoderConfig
from audiodiff.models.vocoder import HifiGanVocoder

AUDIO = AudioConfig()
# Kong et al. 2020, appendix A, with the upsampling re-factored for hop 160 and channels shrunk for speed.
V1_LIKE = VocoderConfig(upsample_rates=(5, 4, 2, 2, 2), upsample_kernel_sizes=(11, 8, 4, 4, 4),
                        upsample_initial_channel=64, resblock="1", resblock_kernel_sizes=(3, 7, 11),
                        resblock_dilation_sizes=((1, 3, 5), (1, 3, 5), (1, 3, 5)))
V2_LIKE = VocoderConfig(upsample_rates=(5, 4, 2, 2, 2), upsample_kernel_sizes=(11, 8, 4, 4, 4),
                        upsample_initial_channel=32, resblock="1", resblock_kernel_sizes=(3, 7, 11),
                        resblock_dilation_sizes=((1, 3, 5), (1, 3, 5), (1, 3, 5)))
V3_LIKE = VocoderConfig(upsample_rates=(8, 5, 4), upsample_kernel_sizes=(16, 11, 8),
                        upsample_initial_channel=32, resblock="2", resblock_kernel_sizes=(3, 5, 7),
                        resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)))


@pytest.mark.parametrize("config", [V1_LIKE, V2_LIKE, V3_LIKE], ids=["v1", "v2", "v3"])
@pytest.mark.parametrize("frames", [50, 137])
@torch.no_grad()
def test_output_length_is_frames_times_hop(config, frames):
    torch.manual_seed(0)
    vocoder = HifiGanVocoder.from_configs(config, AUDIO).eval()
    assert vocoder.hop_length == AUDIO.hop_length
    audio = vocoder(torch.randn(2, AUDIO.n_mels, frames) - 5.0)
    assert audio.shape == (2, frames * AUDIO.hop_length)
    assert audio.dtype == torch.float32
    assert audio.abs().max() <= 1.0
    assert torch.isfinite(audio).all()


@torch.no_grad()
def test_other_hop_and_mels():
    audio = AudioConfig(hop_length=256, n_mels=80, sample_rate=22050, fmax=11025.0)
    config = VocoderConfig(upsample_rates=(8, 8, 2, 2), upsample_kernel_sizes=(16, 16, 4, 4),
                           upsample_initial_channel=16,
                           resblock="2", resblock_kernel_sizes=(3,), resblock_dilation_sizes=((1, 3),))
    vocoder = HifiGanVocoder.from_configs(config, audio)
    assert vocoder(torch.randn(1, 80, 10)).shape == (1, 2560)


def test_upsampling_must_cover_the_hop():
    bad = VocoderConfig(upsample_rates=(5, 4, 2, 2), upsample_kernel_sizes=(11, 8, 4, 4))
    assert math.prod(bad.upsample_rates) != AUDIO.hop_length
    with pytest.raises(ValueError, match="hop_length"):
        HifiGanVocoder.from_configs(bad, AUDIO)


def test_odd_kernel_minus_rate_is_padded_as_speecht5_and_cropped_to_frames_times_hop():
    # AudioLDM's first stage: kernel 16 over rate 5, padding (16 - 5) // 2 = 5 makes 5 * frames + 1 samples
    vocoder = HifiGanVocoder(n_mels=8, upsample_rates=(5, 4, 2, 2, 2), upsample_kernel_sizes=(16, 16, 8, 4, 4),
                             upsample_initial_channel=32, resblock_kernel_sizes=(3,), resblock_dilation_sizes=((1,),))
    assert vocoder.ups[0].padding == (5,)
    assert vocoder(torch.randn(2, 8, 7)).shape == (2, 7 * 160)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"upsample_rates": (5, 4), "upsample_kernel_sizes": (11,)},
        {"upsample_rates": (5,), "upsample_kernel_sizes": (3,)},
        {"upsample_rates": (5,), "upsample_kernel_sizes": (11,), "resblock": "3"},
        {"upsample_rates": (5, 4, 2, 2, 2), "upsample_kernel_sizes": (11, 8, 4, 4, 4), "upsample_initial_channel": 16},
    ],
)
def test_inconsistent_settings_raise(kwargs):
    with pytest.raises(ValueError):
        HifiGanVocoder(**kwargs)


@torch.no_grad()
def test_save_load_identical(tmp_path):
    torch.manual_seed(0)
    vocoder = HifiGanVocoder.from_configs(V3_LIKE, AUDIO).eval()
    vocoder.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = HifiGanVocoder.from_pretrained(tmp_path).eval()
    assert tuple(loaded.config.upsample_rates) == V3_LIKE.upsample_rates
    mel = torch.randn(1, AUDIO.n_mels, 30)
    torch.testing.assert_close(loaded(mel), vocoder(mel), atol=0, rtol=0)


@torch.no_grad()
def test_remove_weight_norm_keeps_the_output():
    torch.manual_seed(0)
    vocoder = HifiGanVocoder.from_configs(V1_LIKE, AUDIO).eval()
    mel = torch.randn(1, AUDIO.n_mels, 20)
    before = vocoder(mel)
    vocoder.remove_weight_norm()
    torch.testing.assert_close(vocoder(mel), before, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["v1", "v2", "v3"])
def test_paper_presets_build_and_cover_one_hop_per_frame(name):
    from audiodiff.config import VOCODER_PRESETS, AudioConfig

    vocoder = HifiGanVocoder.from_configs(VOCODER_PRESETS[name], AudioConfig())
    with torch.no_grad():
        audio = vocoder(torch.randn(1, 64, 7))
    assert audio.shape == (1, 7 * 160)


def test_presets_keep_the_papers_size_order():
    from audiodiff.config import VOCODER_PRESETS, AudioConfig

    size = {k: sum(p.numel() for p in HifiGanVocoder.from_configs(v, AudioConfig()).parameters())
            for k, v in VOCODER_PRESETS.items()}
    assert size["v1"] > size["v3"] > size["v2"]


ISTFT_LIKE = VocoderConfig(upsample_rates=(5, 4, 2), upsample_kernel_sizes=(11, 8, 4), upsample_initial_channel=32,
                           resblock="1", resblock_kernel_sizes=(3, 7), resblock_dilation_sizes=((1, 3), (1, 3)),
                           istft_n_fft=16, istft_hop_length=4)


@pytest.mark.parametrize("frames", [1, 50, 137])
@torch.no_grad()
def test_istft_head_output_length_is_frames_times_hop(frames):
    torch.manual_seed(0)
    vocoder = HifiGanVocoder.from_configs(ISTFT_LIKE, AUDIO).eval()
    assert vocoder.hop_length == AUDIO.hop_length
    audio = vocoder(torch.randn(2, AUDIO.n_mels, frames) - 5.0)
    assert audio.shape == (2, frames * AUDIO.hop_length)
    assert audio.dtype == torch.float32 and torch.isfinite(audio).all()


def test_istft_head_inverts_an_exact_stft():
    """Fed the log-magnitude and phase of a real STFT (phase = pi * sin(x)), the head returns the signal."""
    torch.manual_seed(0)
    vocoder = HifiGanVocoder.from_configs(ISTFT_LIKE, AUDIO)
    signal = torch.randn(2, 40 * 4) * 0.3
    spectrum = torch.stft(signal, 16, 4, 16, torch.hann_window(16), center=True, return_complex=True)
    assert spectrum.shape[-1] == 41  # steps + 1, as the head's left reflection pad makes them
    x = torch.cat([spectrum.abs().clamp(min=1e-12).log(), torch.asin(spectrum.angle() / math.pi)], dim=1)
    torch.testing.assert_close(vocoder._istft(x), signal, atol=1e-4, rtol=1e-4)


def test_istft_head_covers_the_hop_and_needs_both_sizes():
    with pytest.raises(ValueError, match="hop_length"):
        HifiGanVocoder.from_configs(VocoderConfig(upsample_rates=(5, 4, 2), upsample_kernel_sizes=(11, 8, 4),
                                                  istft_n_fft=16, istft_hop_length=2), AUDIO)
    with pytest.raises(ValueError, match="istft_n_fft"):
        HifiGanVocoder(upsample_rates=(5, 4, 2), upsample_kernel_sizes=(11, 8, 4), istft_n_fft=16)


def test_istft_head_learns_a_tiny_batch():
    """Loss goes down when overfitting one clip's log-mel (the head is differentiable end to end)."""
    from audiodiff.mel import MelSpectrogram

    torch.manual_seed(0)
    mel = MelSpectrogram.from_audio_config(AUDIO)
    vocoder = HifiGanVocoder.from_configs(ISTFT_LIKE, AUDIO)
    t = torch.arange(20 * AUDIO.hop_length) / AUDIO.sample_rate
    target = mel(0.5 * torch.sin(2 * math.pi * 440 * t)[None])
    optimizer = torch.optim.Adam(vocoder.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        loss = (mel(vocoder(target)) - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]

"""GriffinLimVocoder: inverts the mel front end's log-mel, saves and loads as a pipeline component,
and a pipeline folder with it generates; the vocoder stage refuses to train it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.conftest import REPO, make_audiofolder

from audiodiff import AudioDiffusionPipeline
from audiodiff.config import AudioConfig
from audiodiff.errors import IncompatibleModelError, InvalidArgumentError
from audiodiff.mel import MelSpectrogram
from audiodiff.models.griffin_lim import GriffinLimVocoder
from audiodiff.training.losses import mel_l1_loss
from audiodiff.training.run import TrainJob, init_component, run_job


def noisy_tone(seconds: float = 1.0, sample_rate: int = 16000) -> torch.Tensor:
    """A 440 Hz tone over white noise (every band has energy, so log-mel distances stay meaningful)."""
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    noise = torch.randn(t.shape, generator=torch.Generator().manual_seed(0))
    return (0.1 * noise + 0.3 * torch.sin(2 * math.pi * 440 * t))[None]


@pytest.mark.parametrize("center", [False, True])
def test_round_trip_keeps_the_log_mel(center):
    mel = MelSpectrogram.from_audio_config(AudioConfig(center=center))
    audio = noisy_tone()[:, : 16000 // 160 * 160]
    log_mel = mel(audio)
    vocoder = GriffinLimVocoder.from_mel(mel)
    resynthesised = vocoder(log_mel)
    assert resynthesised.shape == (1, log_mel.shape[-1] * 160)
    distance = float(mel_l1_loss(mel(resynthesised), log_mel))
    # a wrong frame alignment (half a hop off) or a wrong magnitude scale scores far worse than this
    shifted = torch.roll(resynthesised, 80 if not center else -80, dims=1)
    assert distance < 0.2 and distance < 0.85 * float(mel_l1_loss(mel(shifted), log_mel))
    silence = float(mel_l1_loss(mel(torch.zeros_like(audio)), log_mel))
    assert distance < 0.05 * silence


def test_deterministic_float32_whatever_the_module_dtype():
    mel = MelSpectrogram.from_audio_config(AudioConfig())
    log_mel = mel(noisy_tone(0.5))
    vocoder = GriffinLimVocoder.from_mel(mel, n_iter=8)
    first = vocoder(log_mel)
    assert torch.equal(first, vocoder(log_mel))
    half = GriffinLimVocoder.from_mel(mel, n_iter=8).to(torch.bfloat16)  # as a bf16 pipeline casts it
    assert half.inverse_mel_basis.dtype == torch.float32
    second = half(log_mel)
    assert second.dtype == torch.float32 and torch.equal(second, first)


def test_save_load_identical(tmp_path):
    mel = MelSpectrogram.from_audio_config(AudioConfig(n_mels=32, n_fft=512, win_length=512, hop_length=128))
    vocoder = GriffinLimVocoder.from_mel(mel, n_iter=4)
    vocoder.save_pretrained(tmp_path / "vocoder")
    loaded = GriffinLimVocoder.from_pretrained(tmp_path / "vocoder")
    assert loaded.hop_length == 128 and loaded.config.n_iter == 4
    assert torch.equal(loaded.inverse_mel_basis, vocoder.inverse_mel_basis)
    log_mel = mel(noisy_tone(0.3))
    assert torch.equal(loaded(log_mel), vocoder(log_mel))


@pytest.fixture()
def griffin_lim_pipeline_dir(tiny_pipeline_dir, tmp_path):
    pipe = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    pipe.register_modules(vocoder=GriffinLimVocoder.from_mel(pipe.mel, n_iter=4))
    pipe.save_pretrained(tmp_path / "gl")
    return tmp_path / "gl"


def test_pipeline_folder_with_griffin_lim_generates_peak_bounded_audio(griffin_lim_pipeline_dir):
    pipe = AudioDiffusionPipeline.from_pretrained(griffin_lim_pipeline_dir)
    pipe.set_progress_bar_config(disable=True)
    assert isinstance(pipe.vocoder, GriffinLimVocoder)
    out = pipe("a dog barking", duration=0.5, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    audio = np.asarray(out.audios)
    assert audio.shape[-1] == 8000 and np.isfinite(audio).all() and np.abs(audio).max() <= 1.0


def test_loud_clips_are_scaled_not_clipped(tiny_pipeline):
    pipe = tiny_pipeline
    loud = torch.stack([torch.linspace(-3.0, 3.0, 1600), torch.linspace(-0.5, 0.5, 1600)])
    pipe.vocoder.forward = lambda mel: loud  # the stage after the vocoder is what is checked here
    z = torch.zeros(2, pipe.vae.config.latent_channels, 4, 4)
    audio = pipe.latents_to_audio(z, 1600)
    assert torch.allclose(audio[0], loud[0] / 3.0) and torch.equal(audio[1], loud[1])


def test_vocoder_stage_refuses_griffin_lim(griffin_lim_pipeline_dir, tmp_path):
    data = make_audiofolder(tmp_path / "data", [("a tone", 440, 0.5), ("another tone", 660, 0.5)])
    job = TrainJob(stage="vocoder", config=REPO / "configs" / "train" / "vocoder.yaml", model=griffin_lim_pipeline_dir,
                   data=data, output_dir=tmp_path / "run")
    with pytest.raises(InvalidArgumentError, match="no weights to train"):
        run_job(job)


def test_init_from_a_folder_with_another_vocoder_class_is_refused(tiny_pipeline, griffin_lim_pipeline_dir):
    with pytest.raises(IncompatibleModelError, match="GriffinLimVocoder"):
        init_component(tiny_pipeline, "vocoder", griffin_lim_pipeline_dir)

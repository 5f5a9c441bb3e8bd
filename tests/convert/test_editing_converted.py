"""Every editing mode on converted tiny AudioLDM and Auffusion folders (random weights, their published layouts).

Auffusion's VAE sees mels by frames with the highest band in row 0, so its latents hold the bands the other
way up; the band masks must follow, which is checked against the VAE itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_audioldm import tiny_audioldm
from test_auffusion import write_auffusion_folder

from audiodiff import AudioDiffusionPipeline
from audiodiff.cli import main
from audiodiff.convert import convert
from audiodiff.editing import AudioMask
from audiodiff.editing.regions import latent_mask
from audiodiff.models import vae as vaes

SR = 16000
SECONDS = 0.64  # 64 frames: a multiple of both models' VAE x U-Net downsampling


def converted_folder(family: str, root: Path) -> Path:
    if family == "audioldm":
        tiny_audioldm(root).save_pretrained(root / "source", safe_serialization=True)
        source = root / "source"
    else:
        source, _, _ = write_auffusion_folder(root)
    convert(family, source, root / "converted")
    return root / "converted"


@pytest.fixture(scope="module", params=["audioldm", "auffusion"])
def folder(request, tmp_path_factory) -> Path:
    return converted_folder(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture()
def pipe(folder) -> AudioDiffusionPipeline:
    pipe = AudioDiffusionPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sound(seconds: float = SECONDS) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.4 * np.sin(2 * np.pi * (300 + 900 * t) * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
            ).astype(np.float32)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def final_latents(pipe, **kwargs) -> torch.Tensor:
    captured = []
    decode = pipe.latents_to_audio
    pipe.latents_to_audio = lambda latents, n, **overlay: captured.append(latents) or decode(latents, n, **overlay)
    try:
        out = pipe("a dog barking", num_inference_steps=3, generator=seeded(), **kwargs).audios
    finally:
        del pipe.latents_to_audio
    assert np.isfinite(out).all() and np.abs(out).max() > 0
    return captured[0][0]


@torch.no_grad()
def clean_latents(pipe, audio: np.ndarray, samples: int) -> torch.Tensor:
    return pipe.encode_audio(torch.nn.functional.pad(torch.from_numpy(audio)[None], (0, samples - audio.size)))[0]


def test_edit_strength_one_is_text_to_audio_and_zero_the_round_trip(pipe):
    audio = sound()
    text = pipe("rain", duration=SECONDS, num_inference_steps=3, generator=seeded()).audios
    np.testing.assert_array_equal(pipe("rain", audio=audio, num_inference_steps=3, generator=seeded()).audios, text)
    with torch.no_grad():
        rt = pipe.latents_to_audio(pipe.encode_audio(torch.from_numpy(audio)[None]), audio.size).numpy()
    np.testing.assert_allclose(pipe("rain", audio=audio, strength=0.0).audios, rt, atol=1e-6)
    half = pipe("rain", audio=audio, strength=0.5, num_inference_steps=4, generator=seeded()).audios
    assert half.shape == (1, audio.size) and not np.allclose(half, text, atol=1e-4)


@pytest.mark.parametrize("mask", [AudioMask(start=0.2, end=0.4), AudioMask(fmin=1000, fmax=3000),
                                  AudioMask(fmin=4000)], ids=["time", "band", "bandwidth"])
def test_inpainting_keeps_the_latents_outside_the_mask(pipe, mask):
    audio = sound()
    latents = final_latents(pipe, audio=audio, mask=mask)
    regenerate = latent_mask(mask, pipe.latent_grid(), latents.shape[1])[0, 0].bool()
    assert 0 < regenerate.sum() < regenerate.numel()
    clean = clean_latents(pipe, audio, audio.size)
    torch.testing.assert_close(latents[:, ~regenerate], clean[:, ~regenerate], atol=1e-5, rtol=0)
    assert float((latents[:, regenerate] - clean[:, regenerate]).abs().mean()) > 0.05


def test_continuation_keeps_the_input_and_adds_the_rest(pipe):
    audio = sound()
    latents = final_latents(pipe, audio=audio, duration=2 * SECONDS, mask=AudioMask(start=SECONDS))
    clean = clean_latents(pipe, audio, 2 * audio.size)
    kept = latents.shape[1] // 2
    torch.testing.assert_close(latents[:, :kept], clean[:, :kept], atol=1e-5, rtol=0)


def test_long_clip_runs_in_windows(pipe):
    pipe.register_to_config(max_duration=SECONDS)
    frames = []
    pipe.unet.register_forward_pre_hook(lambda m, args: frames.append(args[0].shape[2]))
    out = pipe("rain", duration=4 * SECONDS, num_inference_steps=2, generator=seeded()).audios
    assert out.shape == (1, 4 * round(SECONDS * SR)) and np.isfinite(out).all()
    assert max(frames) == pipe.latent_shape(SECONDS)[1] < pipe.latent_shape(4 * SECONDS)[1]


@torch.no_grad()
def test_band_rows_of_the_mask_are_where_the_vae_puts_those_bands(pipe):
    """A change confined to the lowest quarter of the mel bands moves the latent rows centred nearer the rows the
    band mask names for those bands than the mirrored rows (Auffusion's VAE puts them last, AudioLDM's first)."""
    grid = pipe.latent_grid()
    mel = pipe.normalized_mel(torch.from_numpy(sound())[None], 64)
    low = mel.clone()
    low[:, : grid.n_mels // 4] += 0.5

    def encode(m):
        return vaes.encode_mel(pipe.vae, m, layout=pipe.mel.config.image_layout)  # latents frames by mels

    change = (encode(low) - encode(mel)).abs().mean(dim=(0, 1, 2))  # per latent band row
    index = torch.arange(change.numel(), dtype=torch.float32)
    centroid = float((change * index).sum() / change.sum())
    rows = latent_mask(AudioMask(fmax=float(grid.band_centres()[grid.n_mels // 4 - 1])), grid, 1)[0, 0, 0].bool()
    named = float(index[rows].mean())
    mirrored = change.numel() - 1 - named
    assert abs(centroid - named) < abs(centroid - mirrored)
    assert bool(rows[0]) != grid.flipped_bands


def test_cli_modes_on_the_converted_folder(folder, tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "in.wav", sound(), SR)
    for command, options in (("edit", ["--strength", "0.5"]), ("inpaint", ["--start", "0.2", "--end", "0.4"]),
                             ("extend", ["--seconds", "0.32"]), ("bandwidth-extend", ["--cutoff", "4000"])):
        output = tmp_path / f"{command}.wav"
        assert main([command, str(tmp_path / "in.wav"), "rain", "--model", str(folder), "--steps", "2",
                     "-o", str(output), *options]) == 0
        assert sf.info(str(output)).frames == round((SECONDS + (0.32 if command == "extend" else 0)) * SR)

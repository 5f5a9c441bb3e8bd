"""Editing through AudioDiffusionPipeline's one loop: audio-to-audio, inpainting in time and frequency,
continuation, bandwidth extension and long clips, on the tiny random model and (where cheap) the default model."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from audiodiff.editing import AudioMask
from audiodiff.editing.bandwidth import bandwidth_mask, measure_cutoff
from audiodiff.editing.regions import mel_keep_weights
from audiodiff.errors import InvalidArgumentError
from audiodiff.loading import load_pipeline
from audiodiff.model_folder import default_model_path
from audiodiff.models import vae as vaes
from audiodiff.models.griffin_lim import GriffinLimVocoder

SR = 16000


def seeded(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def varied_sound(seconds: float, seed: int = 0) -> np.ndarray:
    """A chirp under a tone with decaying noise bursts: varied in time and frequency, not silent."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    chirp = 0.3 * np.sin(2 * np.pi * (200 * t + 300 * t**2))
    bursts = 0.2 * rng.standard_normal(t.size) * np.exp(-8 * (t % 0.5))
    return (chirp + 0.1 * np.sin(2 * np.pi * 1000 * t) + bursts).astype(np.float32)


def log_mel(pipe, audio: np.ndarray) -> torch.Tensor:
    """``(n_mels, frames)`` log-mel of a ``(samples,)`` waveform with the pipeline's front end."""
    return pipe.mel(torch.as_tensor(np.asarray(audio)).reshape(1, -1).float())[0]


@torch.no_grad()
def round_trip(pipe, audio: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(audio)[None]
    return pipe.latents_to_audio(pipe.encode_audio(x), x.shape[1])[0].numpy()


def unet_calls(pipe) -> list[int]:
    """Record the latent frames of every U-Net call (hook); the list fills as the pipeline runs."""
    frames: list[int] = []
    pipe.unet.register_forward_pre_hook(lambda module, args: frames.append(args[0].shape[2]))
    return frames


# ---------------------------------------------------------------------- audio-to-audio (SDEdit)
def test_strength_one_is_text_to_audio_with_the_same_seed(tiny_pipeline):
    audio = varied_sound(0.5)
    text = tiny_pipeline("rain", duration=0.5, num_inference_steps=3, generator=seeded(1)).audios
    edited = tiny_pipeline("rain", audio=audio, strength=1.0, num_inference_steps=3, generator=seeded(1)).audios
    np.testing.assert_array_equal(edited, text)
    other_input = tiny_pipeline("rain", audio=audio, strength=0.5, num_inference_steps=4, generator=seeded(1)).audios
    assert not np.allclose(other_input, text, atol=1e-3)


@pytest.mark.parametrize("strength", [0.0, 0.03])  # 0.03 x 25 steps rounds down to no step
def test_strength_near_zero_returns_the_vae_round_trip(tiny_pipeline, strength):
    audio = varied_sound(0.5)
    calls = unet_calls(tiny_pipeline)
    out = tiny_pipeline("a cat", audio=audio, strength=strength, generator=seeded(0)).audios
    assert calls == []
    np.testing.assert_allclose(out[0], round_trip(tiny_pipeline, audio), atol=1e-6)


def test_strength_sets_the_steps_run_and_the_result_moves_with_it(tiny_pipeline):
    audio = varied_sound(0.5)
    calls = unet_calls(tiny_pipeline)
    outputs = {}
    for strength in (0.2, 0.6, 1.0):
        calls.clear()
        outputs[strength] = tiny_pipeline("a cat", audio=audio, strength=strength, num_inference_steps=10,
                                          generator=seeded(0)).audios[0]
        assert len(calls) == int(10 * strength)
    rt = log_mel(tiny_pipeline, round_trip(tiny_pipeline, audio))
    distance = {s: float((log_mel(tiny_pipeline, a) - rt).abs().mean()) for s, a in outputs.items()}
    assert distance[0.2] < distance[0.6] < distance[1.0]


def test_edit_batches_like_text_to_audio(tiny_pipeline):
    """One input per prompt, per-clip generators: a clip is the same alone and inside a batch."""
    audios = np.stack([varied_sound(0.5, 0), varied_sound(0.5, 1)])
    batch = tiny_pipeline(["rain", "wind"], audio=audios, strength=0.7, num_inference_steps=5,
                          num_waveforms_per_prompt=2, generator=seeded(1, 2, 3, 4), batch_size=3).audios
    assert batch.shape == (4, 8000)
    alone = tiny_pipeline("wind", audio=audios[1], strength=0.7, num_inference_steps=5, generator=seeded(4)).audios
    np.testing.assert_allclose(alone[0], batch[3], atol=1e-5)


# ---------------------------------------------------------------------- inpainting, continuation, bandwidth
# On the tiny random model the guarantee is checked where the algorithm makes it, on the final latents: kept
# cells hold the input's latents, masked cells new ones. (Its random VAE's attention and random vocoder smear
# any change over the whole clip and band, so its audio says nothing about locality.) The audio-level
# claims (kept region within round-trip error) are checked on the default model below.
def final_latents(pipe, prompt: str, **kwargs) -> tuple[torch.Tensor, np.ndarray]:
    """The latents the loop ends with (captured on their way to the decoder) and the audio."""
    captured = []
    decode = pipe.latents_to_audio
    pipe.latents_to_audio = lambda latents, n, **overlay: captured.append(latents) or decode(latents, n, **overlay)
    try:
        audio = pipe(prompt, generator=seeded(0), num_inference_steps=4, **kwargs).audios
    finally:
        del pipe.latents_to_audio
    return captured[0][0], audio[0]


@torch.no_grad()
def input_latents(pipe, audio: np.ndarray, samples: int) -> torch.Tensor:
    x = torch.nn.functional.pad(torch.from_numpy(audio)[None], (0, samples - audio.size))
    return pipe.encode_audio(x)[0]


def test_time_inpainting_keeps_the_latents_outside_the_span(tiny_pipeline):
    audio = varied_sound(1.0)
    latents, out = final_latents(tiny_pipeline, "a door slamming", audio=audio, mask=AudioMask(start=0.405, end=0.595))
    clean = input_latents(tiny_pipeline, audio, audio.size)
    cells = torch.arange(latents.shape[1]) * 0.02  # tiny: 2 mel frames = 20 ms per latent frame
    inside = (cells + 0.02 > 0.405) & (cells < 0.595)
    assert inside.sum() == 10 and out.shape == audio.shape
    torch.testing.assert_close(latents[:, ~inside], clean[:, ~inside], atol=1e-6, rtol=0)
    assert float((latents[:, inside] - clean[:, inside]).abs().mean()) > 0.3


def test_band_inpainting_keeps_the_latents_outside_the_band(tiny_pipeline):
    audio = varied_sound(1.0)
    latents, _ = final_latents(tiny_pipeline, "a whistle", audio=audio, mask=AudioMask(fmin=2000, fmax=4000))
    clean = input_latents(tiny_pipeline, audio, audio.size)
    centres = tiny_pipeline.latent_grid().band_centres()
    band = ((centres >= 2000) & (centres <= 4000)).reshape(-1, 2).any(dim=1)  # tiny: 2 mel bands per latent row
    assert 0 < band.sum() < band.numel()
    torch.testing.assert_close(latents[..., ~band], clean[..., ~band], atol=1e-6, rtol=0)
    assert float((latents[..., band] - clean[..., band]).abs().mean()) > 0.3


def test_continuation_keeps_the_input_latents_and_generates_the_rest(tiny_pipeline):
    audio = varied_sound(0.6)
    latents, out = final_latents(tiny_pipeline, "rain", audio=audio, duration=1.0, mask=AudioMask(start=0.6))
    assert out.shape == (16000,)
    clean = input_latents(tiny_pipeline, audio, 16000)
    torch.testing.assert_close(latents[:, :30], clean[:, :30], atol=1e-6, rtol=0)  # 0.6 s = 30 latent frames
    assert float((latents[:, 30:] - clean[:, 30:]).abs().mean()) > 0.3


def band_limited(audio: np.ndarray, cutoff: float) -> np.ndarray:
    """``audio`` resampled to ``2 * cutoff`` Hz and back (telephone-style band limit)."""
    from audiodiff.audio import resample

    return resample(resample(audio, SR, int(2 * cutoff)), int(2 * cutoff), SR)


def test_cutoff_is_measured_where_the_spectrum_ends():
    audio = varied_sound(1.0) + 0.05 * np.random.default_rng(1).standard_normal(SR).astype(np.float32)
    assert measure_cutoff(audio, SR) > 7500
    assert 3500 < measure_cutoff(band_limited(audio, 4000), SR) <= 4000
    with pytest.raises(InvalidArgumentError, match="silent"):
        measure_cutoff(np.zeros(SR, np.float32), SR)
    with pytest.raises(InvalidArgumentError, match="--cutoff"):
        bandwidth_mask(8000.0, 8000.0)


def test_bandwidth_extension_keeps_the_low_band_latents(tiny_pipeline):
    audio = band_limited(varied_sound(1.0), 4000)
    mask = bandwidth_mask(measure_cutoff(audio, SR), tiny_pipeline.mel.config.fmax)
    latents, _ = final_latents(tiny_pipeline, "birds", audio=audio, mask=mask)
    clean = input_latents(tiny_pipeline, audio, audio.size)
    centres = tiny_pipeline.latent_grid().band_centres()
    high = (centres >= mask.fmin).reshape(-1, 2).any(dim=1)
    torch.testing.assert_close(latents[..., ~high], clean[..., ~high], atol=1e-6, rtol=0)
    assert float((latents[..., high] - clean[..., high]).abs().mean()) > 0.3


# ---------------------------------------------------------------------- long clips
def seam_ratio(pipe, audio: np.ndarray, boundaries: list[int]) -> float:
    """Largest spectral flux within 2 frames of a boundary over the largest flux elsewhere (the clip's own range)."""
    mel = log_mel(pipe, audio)
    flux = (mel[:, 1:] - mel[:, :-1]).abs().mean(0).numpy()  # flux[i]: frame i -> i + 1
    near = np.zeros(flux.size, bool)
    for b in boundaries:
        near[max(b - 3, 0) : b + 2] = True
    near[:5] = near[-5:] = True  # the clip's own edges
    at_seams = max(flux[max(b - 3, 0) : b + 2].max() for b in boundaries)
    return float(at_seams / flux[~near].max())


def test_long_clip_has_no_seam_and_no_module_sees_more_than_a_window(tiny_pipeline):
    pipe = tiny_pipeline
    pipe.register_to_config(max_duration=2.0)  # 2 s windows keep a 30 s clip cheap on the tiny model
    seen = {"unet": [], "vae": [], "vocoder": []}
    pipe.unet.register_forward_pre_hook(lambda m, args: seen["unet"].append(args[0].shape[2]))
    pipe.vae.decoder.register_forward_pre_hook(lambda m, args: seen["vae"].append(args[0].shape[2]))
    pipe.vocoder.register_forward_pre_hook(lambda m, args: seen["vocoder"].append(args[0].shape[-1]))
    out = pipe("rain on a roof", duration=30.0, num_inference_steps=3, generator=seeded(0)).audios[0]
    assert out.shape == (30 * SR,) and np.isfinite(out).all()
    windows = pipe.windows(pipe.latent_shape(30.0)[1])
    window_frames = pipe.latent_shape(2.0)[1]
    assert len(windows.starts) == 20 and max(seen["unet"]) == max(seen["vae"]) == window_frames
    f = 2  # tiny VAE factor: mel frames per latent frame
    assert len(seen["vocoder"]) == 20 and max(seen["vocoder"]) == window_frames * f  # vocoded window by window
    edges = sorted({s * f for s in windows.starts[1:]} | {(s + windows.size) * f for s in windows.starts[:-1]})
    assert seam_ratio(pipe, out, edges) <= 1.0
    # control: the same windows generated apart and butted together do show their seams
    parts = [pipe("rain on a roof", duration=2.0, num_inference_steps=3, generator=seeded(k)).audios[0]
             for k in range(3)]
    assert seam_ratio(pipe, np.concatenate(parts), [200, 400]) > 2


def whole_clip_audio(pipe, latents: torch.Tensor, num_samples: int, known_mel: torch.Tensor | None = None,
                     keep: torch.Tensor | None = None) -> torch.Tensor:
    """The decoding before windowed vocoding (commit 43aa01b) for a clip within one window: the whole mel decoded,
    overlaid, vocoded, and vocoded again with the generated part lowered when too loud; peak limited to 1."""
    normalized = vaes.decode_latents(pipe.vae, latents, None, pipe.mel.config.image_layout)
    normalized = normalized[..., : pipe.mel.num_frames(num_samples)]
    if keep is not None:
        normalized = torch.lerp(normalized, known_mel.to(normalized), keep.to(normalized))
    mel = pipe.mel.denormalize(normalized)
    audio = pipe.vocoder(mel.to(pipe.vocoder.dtype))[:, :num_samples].float()
    if keep is not None:
        excess = audio.abs().amax(dim=1).clamp(min=1.0).log()
        if bool((excess > 0).any()):
            mel = mel - (1.0 - keep.to(mel)) * excess[:, None, None].to(mel)
            audio = pipe.vocoder(mel.to(pipe.vocoder.dtype))[:, :num_samples].float()
    return audio / audio.abs().amax(dim=1, keepdim=True).clamp(min=1.0)


@torch.no_grad()
def test_a_clip_within_one_window_decodes_as_before(tiny_pipeline):
    """Windowed decoding and vocoding changes nothing, to the bit, for a clip that fits one window; also with
    inpainting's overlay and its second, lowered vocoding of a clip made too loud by the kept part."""
    pipe = tiny_pipeline
    samples = 13_000  # not a whole number of latent frames: the mel and the waveform are cropped
    latents = torch.randn(2, *pipe.latent_shape(samples / SR), generator=torch.Generator().manual_seed(0))
    assert len(pipe.windows(latents.shape[2]).starts) == 1
    np.testing.assert_array_equal(pipe.latents_to_audio(latents, samples), whole_clip_audio(pipe, latents, samples))
    frames = pipe.mel.num_frames(samples)
    keep = mel_keep_weights(AudioMask(start=0.3, end=0.5), pipe.latent_grid(), frames)
    known = pipe.normalized_mel(torch.from_numpy(np.stack([varied_sound(1.0), varied_sound(1.0, 1)])), frames) + 2.0
    pipe.register_modules(vocoder=GriffinLimVocoder.from_mel(pipe.mel))  # its peaks, unlike HiFi-GAN's tanh, pass 1
    vocoded = []
    hook = pipe.vocoder.register_forward_pre_hook(lambda module, args: vocoded.append(1))
    windowed = pipe.latents_to_audio(latents, samples, known_mel=known, keep=keep)
    hook.remove()
    assert len(vocoded) == 2  # the kept part (log-mel + 6) made it too loud: vocoded again
    np.testing.assert_array_equal(windowed, whole_clip_audio(pipe, latents, samples, known, keep))


# A fresh process per run: its peak resident memory (VmHWM, reset through /proc/self/clear_refs) over the resident
# memory before the call.  MALLOC_MMAP_THRESHOLD_ makes glibc map every block above 64 KiB on its own and unmap it
# when freed, so the resident memory follows the live tensors (torch's CPU allocations are invisible to
# tracemalloc) instead of what the heap kept from earlier calls; measured without it, one window read 0-4 MB.
MEMORY_PROBE = """
import json, sys, torch
from pathlib import Path
from audiodiff import AudioDiffusionPipeline

def status(field):
    return next(int(l.split()[1]) * 1024 for l in Path("/proc/self/status").read_text().splitlines()
                if l.startswith(field + ":"))

def peak(duration):
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = status("VmRSS")
    pipe("rain", duration=duration, num_inference_steps=1, generator=torch.Generator().manual_seed(0))
    return status("VmHWM") - before

pipe = AudioDiffusionPipeline.from_pretrained(sys.argv[1])
pipe.set_progress_bar_config(disable=True)
pipe.register_to_config(max_duration=float(sys.argv[2]))
peak(float(sys.argv[2]))  # warm-up: lazy allocations, thread pools
print(json.dumps([peak(float(d)) for d in sys.argv[2:]]))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs")
def test_long_clip_peak_memory_is_one_window_plus_the_output(tiny_pipeline, tiny_pipeline_dir):
    window, seconds = 2.0, 40.0  # 27 windows of 2 s
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", HF_HUB_OFFLINE="1")
    run = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(tiny_pipeline_dir), str(window), str(seconds)],
                         capture_output=True, text=True, env=env, check=True)
    one_window, long_clip = json.loads(run.stdout.strip().splitlines()[-1])
    output = seconds * SR * 4  # float32 samples
    # the sampler's whole-clip latents (noise, latents, the blended noise prediction, the scheduler's output) are
    # kept on purpose: 4 of them.  Measured on 2 cores (4 runs): 1 window 5.3-5.8 MiB, 40 s 3.4-3.5 MiB above it
    # (the output is 2.4 MiB, a latent 1.0 MiB), so the bound (6.4 MiB) leaves 3 MiB; before windowed vocoding
    # (the whole clip's mel through the vocoder) 40 s was 91 MiB above one window.
    latent = math.prod(tiny_pipeline.latent_shape(seconds)) * 4
    assert long_clip - one_window <= output + 4 * latent, (one_window / 2**20, long_clip / 2**20)


def test_long_edit_is_encoded_and_decoded_in_windows(tiny_pipeline):
    pipe = tiny_pipeline
    pipe.register_to_config(max_duration=1.0)
    audio = varied_sound(3.0)
    out = pipe("rain", audio=audio, strength=0.0).audios[0]
    assert out.shape == audio.shape
    rt = round_trip(pipe, audio)  # windowed too; strength 0 is exactly it
    np.testing.assert_allclose(out, rt, atol=1e-6)
    err = float((log_mel(pipe, rt) - log_mel(pipe, audio)).abs().mean())
    pipe.register_to_config(max_duration=10.0)
    whole = float((log_mel(pipe, round_trip(pipe, audio)) - log_mel(pipe, audio)).abs().mean())
    assert err < 1.1 * whole  # windowing the VAE costs no more than a tenth of its own round-trip error


# ---------------------------------------------------------------------- refused arguments
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strength": -0.1}, r"strength must be a number in \[0, 1\]"),
        ({"strength": 1.5}, r"strength must be a number in \[0, 1\]"),
        ({"strength": float("nan")}, "strength"),
        ({"audio": None, "strength": 0.5}, "need input audio"),
        ({"audio": None, "mask": AudioMask(start=0.1)}, "need input audio"),
        ({"mask": AudioMask(start=0.3, end=0.2)}, "start < end"),
        ({"mask": AudioMask(start=0.2, end=0.9)}, r"inside the clip \(0..0.5 s\)"),
        ({"mask": AudioMask(fmin=5000, fmax=9000)}, "mel range"),
        ({"mask": AudioMask(fmin=3000.0, fmax=3001.0)}, "no mel band centre"),
        ({"mask": (0.1, 0.2)}, "AudioMask"),
        ({"duration": 0.25}, "shorter than the input"),
        ({"audio": np.zeros((3, 800), np.float32)}, "number of prompts = 1"),
        ({"audio": np.zeros(0, np.float32)}, "no samples"),
        ({"audio": np.full(800, np.nan, np.float32)}, "NaN"),
    ],
)
def test_bad_edit_arguments_are_refused_with_the_fix(tiny_pipeline, kwargs, match):
    kwargs = {"prompt": "rain", "audio": varied_sound(0.5), "num_inference_steps": 1, **kwargs}
    with pytest.raises(InvalidArgumentError, match=match):
        tiny_pipeline(**kwargs)


# ---------------------------------------------------------------------- the default model
@pytest.fixture(scope="module")
def default_pipeline():
    if not default_model_path().is_dir():
        pytest.skip("no default model installed")
    pipe = load_pipeline(None, "cpu", "float32")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def l1(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean())


def mels(pipe, audio: np.ndarray, out: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-mels of the input, its VAE round trip and the output, cropped to the input's frames."""
    frames = audio.size // pipe.mel.config.hop_length
    return tuple(log_mel(pipe, a)[:, :frames] for a in (audio, round_trip(pipe, audio), out[: audio.size]))


def test_default_model_time_inpainting_keeps_the_rest_within_round_trip_error(default_pipeline):
    pipe = default_pipeline
    audio = varied_sound(2.0)
    out = pipe("a dog barking", audio=audio, mask=AudioMask(start=0.8, end=1.2), num_inference_steps=8,
               generator=seeded(0)).audios[0]
    inp, rt, got = mels(pipe, audio, out)
    kept, span = np.r_[0:70, 130:200], np.arange(82, 118)  # frames 10 ms; 10 frames of margin at each edge
    assert l1(got[:, kept], inp[:, kept]) <= 1.1 * l1(rt[:, kept], inp[:, kept])
    assert l1(got[:, span], inp[:, span]) > 2 * l1(rt[:, span], inp[:, span])  # the span is new


def test_default_model_band_inpainting_keeps_the_other_bands(default_pipeline):
    pipe = default_pipeline
    audio = varied_sound(2.0)
    out = pipe("a whistle", audio=audio, mask=AudioMask(fmin=2000, fmax=4000), num_inference_steps=8,
               generator=seeded(0)).audios[0]
    inp, rt, got = mels(pipe, audio, out)
    centres = pipe.latent_grid().band_centres().numpy()
    kept, band = np.nonzero((centres < 1500) | (centres > 5000))[0], np.nonzero((centres > 2300) & (centres < 3700))[0]
    assert l1(got[kept], inp[kept]) <= 1.1 * l1(rt[kept], inp[kept])
    assert l1(got[band], inp[band]) > 2 * l1(rt[band], inp[band])  # the band is new


def test_default_model_continuation_starts_with_the_input(default_pipeline):
    pipe = default_pipeline
    audio = varied_sound(2.0)
    out = pipe("rain", audio=audio, duration=4.0, mask=AudioMask(start=2.0), num_inference_steps=8,
               generator=seeded(0)).audios[0]
    assert out.shape == (4 * SR,)
    inp, rt, got = mels(pipe, audio, out)
    assert l1(got[:, :180], inp[:, :180]) <= 1.1 * l1(rt[:, :180], inp[:, :180])  # the first 1.8 s
    new = log_mel(pipe, out)[:, 220:]
    assert float(new.exp().mean()) > 10 * float(log_mel(pipe, np.zeros(SR, np.float32)).exp().mean())  # not silence


def test_default_model_bandwidth_extension_keeps_the_low_band_and_fills_the_high_band(default_pipeline):
    pipe = default_pipeline
    audio = band_limited(varied_sound(2.0), 4000)
    cutoff = measure_cutoff(audio, SR)
    out = pipe("a bird singing", audio=audio, mask=bandwidth_mask(cutoff, pipe.mel.config.fmax),
               num_inference_steps=8, generator=seeded(0)).audios[0]
    inp, rt, got = mels(pipe, audio, out)
    centres = pipe.latent_grid().band_centres().numpy()
    low, high = np.nonzero(centres < cutoff - 500)[0], np.nonzero(centres > cutoff + 500)[0]
    assert l1(got[low], inp[low]) <= 1.1 * l1(rt[low], inp[low])
    # the input has nothing above the cut (log-mel at its floor); the output has sound there: > e^3 = 20x louder
    assert float(got[high].mean()) > float(inp[high].mean()) + 3.0


def test_band_centres_are_librosas_mel_frequencies(tiny_pipeline):
    librosa = pytest.importorskip("librosa")
    grid = tiny_pipeline.latent_grid()
    expected = librosa.mel_frequencies(grid.n_mels + 2, fmin=grid.mel_fmin, fmax=grid.mel_fmax)[1:-1]
    np.testing.assert_allclose(grid.band_centres().numpy(), expected, rtol=1e-5)


def test_default_model_inpainting_a_loud_sound_into_full_scale_audio_keeps_the_rest_level(default_pipeline):
    """The model's own full-scale clip (peak 1) with a louder sound generated inside: only the new part is
    lowered to fit, the kept part keeps its level (scaling the whole clip would shift it by log(peak))."""
    pipe = default_pipeline
    dog = pipe("a dog barking", duration=5.0, generator=seeded(0)).audios[0]
    assert np.abs(dog).max() > 0.99
    out = pipe("a door slamming", audio=dog, mask=AudioMask(start=1.5, end=2.5), generator=seeded(0)).audios[0]
    inp, rt, got = mels(pipe, dog, out)
    kept = np.r_[0:140, 260:500]
    assert abs(float((got[:, kept] - inp[:, kept]).mean())) < 0.1  # no level shift
    assert l1(got[:, kept], inp[:, kept]) <= 1.1 * l1(rt[:, kept], inp[:, kept])

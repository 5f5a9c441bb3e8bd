"""`audiodiff convert --from auffusion`: a tiny random Auffusion folder (Stable Diffusion layout + HiFi-GAN).

The reference is diffusers' ``StableDiffusionPipeline`` on the source folder (what Auffusion's notebooks run),
followed by Auffusion's ``denormalize_spectrogram`` and HiFi-GAN written out in ``auffusion_reference.py``.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import soundfile as sf
import torch
from auffusion_reference import (
    denormalize_spectrogram,
    generate,
    log_mel,
    normalize_spectrogram,
    random_generator_state,
)
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from finetune_check import check_lora_finetune
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

from audiodiff import AudioDiffusionPipeline
from audiodiff.cli import main
from audiodiff.convert import convert
from audiodiff.convert.auffusion import auffusion_mel, read_vocoder, transpose_spatial_axes
from audiodiff.errors import IncompatibleModelError
from audiodiff.mel import image_to_mel, mel_to_image
from audiodiff.models import vae as vaes

N_MELS, HOP, SAMPLE_RATE = 256, 160, 16000  # Auffusion's mel settings (converter.py)
FRAMES = 64  # a multiple of the VAE (4) and U-Net (2) downsampling: both pipelines see one image width
DURATION = FRAMES * HOP / SAMPLE_RATE  # 0.64 s
PROMPTS = ["a dog barking", "rain on a roof"]
NEGATIVE = ["a dog", "rain"]
# jik876/hifi-gan's config keys as Auffusion's vocoder/config.json holds them; widths shrunk. 10 over 5 is an
# odd kernel - rate, which Auffusion pads by one more sample than HiFi-GAN/SpeechT5 do.
VOCODER_CONFIG = {
    "resblock": "1", "upsample_rates": [5, 4, 2, 2, 2], "upsample_kernel_sizes": [10, 8, 4, 4, 4],
    "upsample_initial_channel": 32, "resblock_kernel_sizes": [3, 7], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
    "num_mels": N_MELS, "n_fft": 2048, "hop_size": HOP, "win_size": 1024, "sampling_rate": SAMPLE_RATE,
    "fmin": 0, "fmax": 8000, "segment_size": 8192, "learning_rate": 0.0002, "num_gpus": 0,
}
# Stable Diffusion v1's scheduler_config.json (PNDM), which Auffusion keeps
SCHEDULE = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "skip_prk_steps": True, "steps_offset": 1, "set_alpha_to_one": False}


def clip_tokenizer(folder: Path) -> CLIPTokenizer:
    """A byte-level BPE tokenizer in CLIP's format (end-of-word ``</w>``), every byte plus a few merges."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(bytes_to_unicode().values())
    merges = ["d o", "do g</w>", "r a", "ra i", "rai n</w>"]
    tokens = chars + [c + "</w>" for c in chars] + ["do", "dog</w>", "ra", "rai", "rain</w>"]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def tiny_stable_diffusion(tmp_path: Path) -> StableDiffusionPipeline:
    """Stable Diffusion v1's layout as Auffusion publishes it (3-channel VAE with 4 latent channels and
    scaling 0.18215, cross-attention U-Net with attention at the top level, CLIP text model with 77
    positions, PNDM), every width shrunk; random weights."""
    torch.manual_seed(0)
    tokenizer = clip_tokenizer(tmp_path / "vocab")
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ))
    unet = UNet2DConditionModel(
        in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4, sample_size=32,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16, 16), layers_per_block=1,
        norm_num_groups=4, down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        sample_size=N_MELS, scaling_factor=0.18215,
    )
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder.eval(), tokenizer=tokenizer, unet=unet,
                                   scheduler=PNDMScheduler(**SCHEDULE), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def write_auffusion_folder(tmp_path: Path) -> tuple[Path, StableDiffusionPipeline, dict]:
    """The folder as Auffusion publishes it: the Stable Diffusion pipeline plus vocoder/config.json and
    vocoder/vocoder.pt (``{"generator": state dict}``, a pickle)."""
    source = tiny_stable_diffusion(tmp_path)
    folder = tmp_path / "auffusion"
    source.save_pretrained(folder, safe_serialization=True)
    state = random_generator_state(VOCODER_CONFIG)
    (folder / "vocoder").mkdir()
    (folder / "vocoder" / "config.json").write_text(json.dumps(VOCODER_CONFIG))
    torch.save({"generator": state}, folder / "vocoder" / "vocoder.pt")
    return folder, source, state


@pytest.fixture()
def auffusion(tmp_path) -> tuple[Path, StableDiffusionPipeline, dict]:
    return write_auffusion_folder(tmp_path)


def converted_pipeline(folder: Path, destination: Path) -> AudioDiffusionPipeline:
    convert("auffusion", folder, destination)
    pipe = AudioDiffusionPipeline.from_pretrained(destination)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.mark.parametrize("guidance_scale, negative_prompt", [(3.0, NEGATIVE), (3.0, None), (1.0, None)])
def test_converted_pipeline_gives_auffusions_waveform(auffusion, tmp_path, guidance_scale, negative_prompt):
    folder, source, state = auffusion
    converted = converted_pipeline(folder, tmp_path / "converted")
    noise = torch.randn(2, 4, N_MELS // 4, FRAMES // 4, generator=torch.Generator().manual_seed(1))  # Auffusion's layout
    images = source(PROMPTS, height=N_MELS, width=FRAMES, num_inference_steps=3, guidance_scale=guidance_scale,
                    negative_prompt=negative_prompt, latents=noise, output_type="pt").images  # (2, 3, 256, 64) in [0, 1]
    expected = generate(state, VOCODER_CONFIG, torch.stack([denormalize_spectrogram(image) for image in images]))
    got = converted(PROMPTS, negative_prompt=negative_prompt, duration=DURATION, num_inference_steps=3,
                    guidance_scale=guidance_scale, latents=noise.transpose(2, 3)).audios
    assert images.shape == (2, 3, N_MELS, FRAMES)
    assert 0 <= float(images.min()) and float(images.max()) <= 1
    assert got.shape == tuple(expected.shape) == (2, round(DURATION * SAMPLE_RATE))
    assert expected.abs().max() > 1e-2  # not silence
    assert np.abs(got - expected.numpy()).max() < 1e-4


def test_each_stage_has_auffusions_shapes(auffusion, tmp_path):
    folder, _, _ = auffusion
    pipe = converted_pipeline(folder, tmp_path / "converted")
    states, mask = pipe.encode_prompt(PROMPTS, ["", ""])
    assert states.shape == (4, 77, 16) and bool(mask.all())  # padded to CLIP's 77 tokens, all attended
    assert pipe.latent_shape(DURATION) == (4, FRAMES // 4, N_MELS // 4)  # frames by mels, 4 latent channels
    latents = torch.randn(2, *pipe.latent_shape(DURATION))
    image = pipe.vae.decode(latents.transpose(2, 3) / pipe.vae.config.scaling_factor).sample
    assert image.shape == (2, 3, N_MELS, FRAMES)  # the VAE still sees Auffusion's images
    with torch.no_grad():
        mel = pipe.mel.denormalize(vaes.decode_latents(pipe.vae, latents, FRAMES, pipe.mel.config.image_layout))
    assert mel.shape == (2, N_MELS, FRAMES)
    assert math.log(1e-5) - 1e-5 <= float(mel.min()) and float(mel.max()) <= math.log(200) + 1e-5
    assert pipe.vocoder(mel).shape == (2, FRAMES * HOP)
    audio = torch.sin(2 * math.pi * 440 * torch.arange(FRAMES * HOP) / SAMPLE_RATE)[None].repeat(2, 1)
    encoded = vaes.encode_mel(pipe.vae, pipe.mel.normalize(pipe.mel(audio)), layout=pipe.mel.config.image_layout)
    assert encoded.shape == (2, *pipe.latent_shape(DURATION))


def test_normalisation_matches_values_worked_out_from_auffusions_code():
    mel = auffusion_mel(SAMPLE_RATE, HOP, N_MELS)
    low, high = math.log(1e-5), math.log(200.0)  # -11.512925464970229, 5.298317366548036
    log_mels = torch.tensor([high, low, (high + low) / 2, math.log(1000.0), low + 0.75 * (high - low), -20.0],
                            dtype=torch.float64)
    # by hand: image = (clamp(m) - low) / (high - low); VAE input = 2 * image - 1
    assert torch.allclose(mel.normalize(log_mels), torch.tensor([1.0, -1.0, 0.0, 1.0, 0.5, -1.0], dtype=torch.float64),
                          atol=1e-12)
    # VAE output -0.5 -> image 0.25 -> low + 0.25 * 16.811242831518264; outside [-1, 1] clamped like the image
    outputs = torch.tensor([-0.5, 1.5, -3.0], dtype=torch.float64)
    assert torch.allclose(mel.denormalize(outputs), torch.tensor([-7.310114757090663, high, low], dtype=torch.float64),
                          atol=1e-12)
    values = torch.linspace(-14, 7, 50, dtype=torch.float64).reshape(5, 10)
    image = normalize_spectrogram(values)  # Auffusion's own function, written out
    assert torch.allclose(mel.normalize(values), 2 * image[0].flip(0) - 1, atol=1e-12)
    assert torch.allclose(mel.denormalize(2 * image[0].flip(0) - 1), denormalize_spectrogram(image), atol=1e-12)


def test_image_layout_flips_the_mel_axis_and_repeats_it_in_every_channel():
    mel = torch.arange(8.0).reshape(1, 4, 2)  # 4 bands x 2 frames: band b, frame f holds 2 b + f
    image = mel_to_image(mel, channels=3, layout="mels_by_frames")
    assert image.shape == (1, 3, 4, 2)
    assert image[0, 0].tolist() == [[6.0, 7.0], [4.0, 5.0], [2.0, 3.0], [0.0, 1.0]]  # highest band in row 0
    assert torch.equal(image[0, 1], image[0, 0]) and torch.equal(image[0, 2], image[0, 0])
    garbled = image.clone()
    garbled[:, 1:] = -1.0  # only channel 0 is read back (Auffusion's denormalize_spectrogram)
    assert torch.equal(image_to_mel(garbled, "mels_by_frames"), mel)
    assert mel_to_image(mel).tolist() == [[[[0.0, 2.0, 4.0, 6.0], [1.0, 3.0, 5.0, 7.0]]]]  # default: frames by mels


def test_mel_front_end_matches_auffusions_mel_spectrogram():
    rng = np.random.default_rng(0)
    audio = (0.3 * np.sin(2 * np.pi * 330 * np.arange(3200) / SAMPLE_RATE) + 0.05 * rng.standard_normal(3200))
    expected = log_mel(audio.astype(np.float32))
    got = auffusion_mel(SAMPLE_RATE, HOP, N_MELS)(torch.from_numpy(audio).float()[None])[0].numpy()
    assert got.shape == expected.shape == (N_MELS, 3200 // HOP)
    assert np.abs(got - expected).max() < 2e-3  # float32 STFT vs float64, in log units


@pytest.mark.parametrize("kernels", [[10, 8, 4, 4, 4], [11, 8, 4, 4, 4]])
def test_vocoder_reproduces_auffusions_hifigan(tmp_path, kernels):
    config = {**VOCODER_CONFIG, "upsample_kernel_sizes": kernels, "resblock": "2", "resblock_kernel_sizes": [3, 5],
              "resblock_dilation_sizes": [[1, 2], [2, 6]]}
    if kernels[0] == 10:
        config.update(resblock="1", resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]])
    state = random_generator_state(config, seed=3)
    (tmp_path / "config.json").write_text(json.dumps(config))
    torch.save({"generator": state}, tmp_path / "vocoder.pt")
    vocoder = read_vocoder(tmp_path)
    assert vocoder.config.upsample_padding == "ceil"
    mel = torch.randn(2, N_MELS, 9)
    expected = generate(state, config, mel)
    got = vocoder(mel)
    assert got.shape == expected.shape == (2, 9 * HOP) and expected.abs().max() > 1e-2
    assert torch.allclose(got, expected, atol=1e-5)
    floor = type(vocoder)(**{**vocoder.config, "upsample_padding": "floor"})
    floor.load_state_dict(vocoder.state_dict())
    difference = (floor(mel) - expected).abs().max()
    assert difference > 1e-3 if kernels[0] == 10 else difference < 1e-5  # the rule matters for odd kernel - rate only


def test_transposed_unet_is_the_same_function_of_transposed_latents():
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4)
    latents, states = torch.randn(2, 4, 16, 6), torch.randn(2, 5, 16)
    with torch.no_grad():
        expected = unet(latents, 10, encoder_hidden_states=states).sample
        transpose_spatial_axes(unet)
        got = unet(latents.transpose(2, 3), 10, encoder_hidden_states=states).sample
        untransposed = unet(latents, 10, encoder_hidden_states=states).sample
    assert not torch.allclose(untransposed, expected, atol=1e-3)  # the kernels did change
    assert torch.allclose(got.transpose(2, 3), expected, atol=1e-5)


def test_converted_folder_holds_safetensors_and_auffusions_settings(auffusion, tmp_path, caplog):
    folder, _, _ = auffusion
    with caplog.at_level(logging.WARNING, logger="audiodiff.convert.auffusion"):
        convert("auffusion", folder, tmp_path / "converted")
    assert any("vocoder.pt" in r.message and "weights_only=True" in r.message for r in caplog.records)
    index = json.loads((tmp_path / "converted" / "model_index.json").read_text())
    assert (index["text_embedding"], index["max_text_length"], index["max_duration"]) == ("padded_token_states", 77, 10.24)
    mel = json.loads((tmp_path / "converted" / "mel" / "config.json").read_text())
    assert (mel["n_fft"], mel["win_length"], mel["hop_length"], mel["n_mels"], mel["fmax"], mel["center"]) == \
        (2048, 1024, 160, 256, 8000.0, False)
    assert (mel["image_layout"], mel["clamp_normalized"]) == ("mels_by_frames", True)
    assert math.isclose(mel["mel_mean"], -3.1073040492110965) and math.isclose(mel["mel_std"], 8.405621415759132)
    assert not [p for p in (tmp_path / "converted").rglob("*") if p.suffix in (".bin", ".pt", ".ckpt")]


def test_a_safetensors_vocoder_is_read_without_unpickling(auffusion, tmp_path, caplog):
    folder, _, state = auffusion
    (folder / "vocoder" / "vocoder.pt").unlink()
    safetensors.torch.save_file(state, folder / "vocoder" / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="audiodiff.convert.auffusion"):
        convert("auffusion", folder, tmp_path / "converted")
    assert not [r for r in caplog.records if "pickle" in r.message]


class NotATensor:
    pass


def test_pickles_are_refused_or_read_as_weights_only(auffusion, tmp_path):
    folder, _, state = auffusion
    torch.save({"generator": state, "extra": NotATensor()}, folder / "vocoder" / "vocoder.pt")
    with pytest.raises(IncompatibleModelError, match="weights only"):
        convert("auffusion", folder, tmp_path / "a")
    (folder / "vocoder" / "vocoder.pt").unlink()
    with pytest.raises(IncompatibleModelError, match="vocoder.pt"):
        convert("auffusion", folder, tmp_path / "b")
    torch.save({"generator": state}, folder / "vocoder" / "vocoder.pt")
    weights = next((folder / "unet").glob("*.safetensors"))
    torch.save({}, weights.with_suffix(".bin"))
    weights.unlink()
    with pytest.raises(IncompatibleModelError, match=r"safetensors.*\.bin: pickle"):
        convert("auffusion", folder, tmp_path / "c")
    assert not any((tmp_path / name).exists() for name in "abc")


def test_adapter_variants_and_other_folders_are_refused(auffusion, tmp_path):
    folder, _, _ = auffusion
    (folder / "condition_config.json").write_text("[]")
    with pytest.raises(IncompatibleModelError, match="condition adapters"):
        convert("auffusion", folder, tmp_path / "out")
    (folder / "condition_config.json").unlink()
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "_class_name": "AudioLDMPipeline"}))
    with pytest.raises(IncompatibleModelError, match="StableDiffusionPipeline"):
        convert("auffusion", folder, tmp_path / "out")


def test_cli_convert_generate_prepare_and_lora_finetune(auffusion, tmp_path):
    folder, _, _ = auffusion
    converted = tmp_path / "converted"
    assert main(["convert", "--from", "auffusion", str(folder), str(converted)]) == 0
    assert main(["generate", "a dog barking", "--model", str(converted), "-o", str(tmp_path / "dog.wav"),
                 "--duration", "0.32", "--steps", "2"]) == 0
    assert sf.info(str(tmp_path / "dog.wav")).frames == round(0.32 * SAMPLE_RATE)

    cache = check_lora_finetune(converted, tmp_path, ("--latents", "--segment-seconds", "0.32"))
    latents = safetensors.torch.load_file(next(cache.glob("latents-*.safetensors")))["latents"]
    assert latents.shape[1:] == (4, 8, N_MELS // 4)  # 32 frames / 4, frames by mels

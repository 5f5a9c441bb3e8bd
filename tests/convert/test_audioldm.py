"""`audiodiff convert --from audioldm`: a tiny random AudioLDMPipeline gives the same waveform in audiodiff."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from diffusers import AudioLDMPipeline, AutoencoderKL, DDIMScheduler, PNDMScheduler, UNet2DConditionModel
from finetune_check import check_lora_finetune
from transformers import (
    ClapTextConfig,
    ClapTextModelWithProjection,
    RobertaTokenizer,
    SpeechT5HifiGan,
    SpeechT5HifiGanConfig,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode

from audiodiff import AudioDiffusionPipeline
from audiodiff.cli import main
from audiodiff.convert import convert
from audiodiff.convert.audioldm import vocoder_from_speecht5
from audiodiff.errors import IncompatibleModelError, InvalidArgumentError

DURATION = 0.64  # s: 64 frames, a multiple of the VAE (2) and U-Net (2) downsampling, so both pipelines see one shape
PROMPTS = ["a dog barking", "rain on a roof"]
NEGATIVE = ["low quality", "noise"]
# diffusers' AudioLDMPipeline truncates negative prompts to projection_dim tokens (512 for the published
# checkpoints); 32 keeps "low quality" (13 byte-level tokens) whole, as it is with real weights.
PROJECTION_DIM = 32
# AudioLDM's noise schedule (cvssp/audioldm-s-full-v2 scheduler_config.json)
SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear",
                steps_offset=1)


def roberta_tokenizer(folder: Path) -> RobertaTokenizer:
    """A byte-level BPE tokenizer with every byte, a few merges and RoBERTa's special tokens (offline)."""
    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<s>", "<pad>", "</s>", "<unk>", *bytes_to_unicode().values()]
    merges = ["Ġ d", "o g", "Ġd og", "Ġ r", "a i", "Ġr ai", "Ġrai n"]
    tokens += ["".join(m.split()) for m in merges] + ["<mask>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def speecht5_hifigan(**config) -> SpeechT5HifiGan:
    """A random SpeechT5HifiGan whose output is audible (its own init, N(0, 0.01), gives ~1e-10) and whose
    input normalisation is not the identity, so that both are carried over visibly."""
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(model_in_dim=16, sampling_rate=16000, normalize_before=True,
                                                    **config)).eval()
    with torch.no_grad():
        for module in vocoder.modules():
            if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
                fan_in = module.weight[0].numel() if isinstance(module, torch.nn.Conv1d) else module.weight.shape[0]
                module.weight.normal_(0.0, 1.0 / fan_in**0.5)
        vocoder.mean.normal_(0.0, 0.5)
        vocoder.scale.uniform_(0.5, 2.0)
    return vocoder


def tiny_audioldm(tmp_path: Path, scheduler_class=DDIMScheduler) -> AudioLDMPipeline:
    """An AudioLDMPipeline with random weights in AudioLDM's layout (16 kHz, hop 160, kernels 16,16,8,4,4)."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=8, sample_size=32, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=(8, 16),
        class_embed_type="simple_projection", projection_class_embeddings_input_dim=PROJECTION_DIM, class_embeddings_concat=True,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16), in_channels=1, out_channels=1, norm_num_groups=8, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        scaling_factor=0.9227914,
    )
    tokenizer = roberta_tokenizer(tmp_path / "vocab")
    text_encoder = ClapTextModelWithProjection(ClapTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=8, intermediate_size=16, num_attention_heads=2,
        num_hidden_layers=1, vocab_size=len(tokenizer), projection_dim=PROJECTION_DIM, max_position_embeddings=80,
    ))
    vocoder = speecht5_hifigan(upsample_initial_channel=32, upsample_rates=[5, 4, 2, 2, 2],
                               upsample_kernel_sizes=[16, 16, 8, 4, 4], resblock_kernel_sizes=[3, 7],
                               resblock_dilation_sizes=[[1, 3, 5]] * 2)
    extra = {"skip_prk_steps": True} if scheduler_class is PNDMScheduler else {"clip_sample": False}
    pipe = AudioLDMPipeline(vae=vae, text_encoder=text_encoder.eval(), tokenizer=tokenizer, unet=unet,
                            scheduler=scheduler_class(**SCHEDULE, **extra), vocoder=vocoder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture()
def audioldm_dir(tmp_path) -> Path:
    path = tmp_path / "audioldm"
    tiny_audioldm(tmp_path).save_pretrained(path, safe_serialization=True)
    return path


def generators() -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in (0, 1)]


def both_pipelines(tmp_path: Path, scheduler_class) -> tuple[AudioLDMPipeline, AudioDiffusionPipeline]:
    source = tiny_audioldm(tmp_path, scheduler_class)
    source.save_pretrained(tmp_path / "audioldm", safe_serialization=True)
    convert("audioldm", tmp_path / "audioldm", tmp_path / "converted")
    converted = AudioDiffusionPipeline.from_pretrained(tmp_path / "converted")
    converted.set_progress_bar_config(disable=True)
    return source, converted


@pytest.mark.parametrize(
    "scheduler_class, guidance_scale, negative_prompt",
    [(DDIMScheduler, 2.5, NEGATIVE), (DDIMScheduler, 2.5, None), (DDIMScheduler, 1.0, None),
     (PNDMScheduler, 3.0, NEGATIVE)],
)
def test_converted_pipeline_gives_the_waveform_of_diffusers_audioldm(tmp_path, scheduler_class, guidance_scale,
                                                                    negative_prompt):
    source, converted = both_pipelines(tmp_path, scheduler_class)
    steps = 3
    expected = source(PROMPTS, audio_length_in_s=DURATION, num_inference_steps=steps, guidance_scale=guidance_scale,
                      negative_prompt=negative_prompt, generator=generators()).audios
    got = converted(PROMPTS, negative_prompt=negative_prompt, duration=DURATION, num_inference_steps=steps,
                    guidance_scale=guidance_scale, generator=generators()).audios
    assert got.shape == expected.shape == (2, round(DURATION * 16000))
    assert np.abs(expected).max() > 1e-3  # not silence
    assert np.abs(got - expected).max() < 1e-4


def test_guidance_and_the_negative_prompt_change_the_waveform(tmp_path):
    _, converted = both_pipelines(tmp_path, DDIMScheduler)
    kwargs = dict(duration=DURATION, num_inference_steps=2)
    plain = converted(PROMPTS, guidance_scale=1.0, generator=generators(), **kwargs).audios
    guided = converted(PROMPTS, guidance_scale=3.0, generator=generators(), **kwargs).audios
    negative = converted(PROMPTS, guidance_scale=3.0, negative_prompt=NEGATIVE, generator=generators(), **kwargs).audios
    assert np.abs(plain - guided).max() > 1e-5 and np.abs(guided - negative).max() > 1e-5


def test_vocoder_mapping_matches_speecht5_hifigan_with_odd_kernel_padding():
    torch.manual_seed(0)
    source = speecht5_hifigan(upsample_initial_channel=32, upsample_rates=[5, 4, 2, 2, 2],
                              upsample_kernel_sizes=[16, 16, 8, 4, 4], resblock_kernel_sizes=[3],
                              resblock_dilation_sizes=[[1, 3]])
    vocoder = vocoder_from_speecht5(source)
    mel = torch.randn(2, 16, 7)
    expected = source(mel.transpose(1, 2))  # (2, 7 * 160 + extra): one more sample per odd stage
    got = vocoder(mel)
    assert expected.shape[1] > got.shape[1] == 7 * 160 and expected.abs().max() > 1e-2
    assert torch.allclose(got, expected[:, : got.shape[1]], atol=1e-5)


def test_converted_folder_is_an_audiodiff_folder_with_the_audioldm_front_end(audioldm_dir, tmp_path):
    convert("audioldm", audioldm_dir, tmp_path / "converted")
    index = json.loads((tmp_path / "converted" / "model_index.json").read_text())
    assert index["_class_name"] == "AudioDiffusionPipeline" and index["text_embedding"] == "pooled_projection"
    mel = json.loads((tmp_path / "converted" / "mel" / "config.json").read_text())
    assert (mel["sample_rate"], mel["hop_length"], mel["n_fft"], mel["fmax"], mel["center"]) == (16000, 160, 1024, 8000.0, True)
    assert (mel["mel_mean"], mel["mel_std"]) == (0.0, 1.0)
    assert not list((tmp_path / "converted").rglob("*.bin"))


def test_pickle_only_source_is_refused_with_the_fix(audioldm_dir, tmp_path):
    weights = next((audioldm_dir / "unet").glob("*.safetensors"))
    torch.save({}, weights.with_suffix(".bin"))
    weights.unlink()
    with pytest.raises(IncompatibleModelError, match=r"safetensors.*\.bin: pickle"):
        convert("audioldm", audioldm_dir, tmp_path / "converted")
    assert not (tmp_path / "converted").exists()


def test_wrong_or_missing_source_is_refused(audioldm_dir, tmp_path):
    with pytest.raises(InvalidArgumentError, match="audioldm"):
        convert("stable-audio", audioldm_dir, tmp_path / "out")
    shutil.rmtree(audioldm_dir / "vocoder")
    with pytest.raises(IncompatibleModelError, match="vocoder"):
        convert("audioldm", audioldm_dir, tmp_path / "out")
    assert main(["convert", "--from", "audioldm", str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 1


def test_cli_convert_generate_prepare_and_lora_finetune(audioldm_dir, tmp_path):
    converted = tmp_path / "converted"
    assert main(["convert", "--from", "audioldm", str(audioldm_dir), str(converted)]) == 0
    assert main(["generate", "a dog barking", "--model", str(converted), "-o", str(tmp_path / "dog.wav"),
                 "--duration", "0.32", "--steps", "2"]) == 0
    assert sf.info(str(tmp_path / "dog.wav")).frames == round(0.32 * 16000)

    check_lora_finetune(converted, tmp_path)

"""AudioLDM (diffusers ``AudioLDMPipeline`` folders, e.g. cvssp/audioldm-s-full-v2) -> audiodiff pipeline folder.

Component by component (Liu et al. 2023, "AudioLDM"; diffusers' ``pipeline_audioldm.py``):

- ``unet``: the same diffusers ``UNet2DConditionModel``, copied with its config; it reads the text through
  ``class_embed_type="simple_projection"`` (concatenated) and its attention blocks attend to the image only.
- ``vae``: the same ``AutoencoderKL`` on ``(batch, 1, frames, 64)`` log-mel images, with its ``scaling_factor``.
- ``text_encoder`` + ``tokenizer``: transformers' ``ClapTextModelWithProjection`` and its RoBERTa tokenizer,
  read as ``text_embedding="pooled_projection"`` (``text_embeds``, L2-normalised).
- ``vocoder``: transformers' ``SpeechT5HifiGan`` -> :class:`~audiodiff.models.vocoder.HifiGanVocoder` by a key
  mapping (``upsampler.i`` -> ``ups.i``; plain weights -> weight-norm parameters; ``mean``/``scale`` kept with
  ``normalize_before``).  The VAE's output is the vocoder's input: natural-log mel, no extra normalisation.
- ``mel``: AudioLDM's front end, 16 kHz, n_fft 1024, hop 160, 64 bands, 0-8000 Hz, frames centred on
  multiples of the hop (its Tacotron STFT), log-mel fed to the VAE as is (``mel_mean=0``, ``mel_std=1``).
- ``scheduler``: the folder's scheduler config (DDIM for the published checkpoints).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import diffusers
import torch
import transformers
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import ClapTextModelWithProjection, SpeechT5HifiGan

from ..errors import IncompatibleModelError
from ..mel import MelSpectrogram
from ..model_folder import check_safetensors_only
from ..models.vocoder import LRELU_SLOPE, HifiGanVocoder
from ..pipeline import AudioDiffusionPipeline
from .source import read_source_index

log = logging.getLogger(__name__)

COMPONENTS = ("vae", "text_encoder", "tokenizer", "unet", "scheduler", "vocoder")
WEIGHTED = ("vae", "text_encoder", "unet", "vocoder")
# AudioLDM's STFT (Liu et al. 2023, appendix; its audio/stft.py): 1024-point Hann window, mel bands up to 8 kHz.
N_FFT = 1024
FMIN, FMAX = 0.0, 8000.0
MAX_DURATION = 10.24  # seconds: the length of AudioLDM's training clips


def convert_audioldm(source: str | Path, destination: str | Path) -> Path:
    """Read the AudioLDMPipeline folder ``source`` and write an audiodiff pipeline folder to ``destination``.

    Returns:
        ``destination``.

    Raises:
        ModelNotFoundError: ``source`` does not exist.
        IncompatibleModelError: not an AudioLDMPipeline folder, pickle-only weights, or a component
            audiodiff cannot represent (the message names it).
    """
    source, destination = Path(source), Path(destination)
    index = read_source_index(source, "AudioLDMPipeline", COMPONENTS)
    for name in WEIGHTED:
        check_safetensors_only(source / name)  # pickle files are never read
    load = {"use_safetensors": True, "local_files_only": True}
    unet = UNet2DConditionModel.from_pretrained(source / "unet", **load)
    if unet.config.class_embed_type != "simple_projection":
        raise IncompatibleModelError(
            f"{source / 'unet'} has class_embed_type {unet.config.class_embed_type!r}; AudioLDM's U-Net reads the "
            "CLAP embedding through 'simple_projection'."
        )
    text_encoder = ClapTextModelWithProjection.from_pretrained(source / "text_encoder", **load).eval()
    tokenizer = _load_tokenizer(source, index)
    vocoder = vocoder_from_speecht5(SpeechT5HifiGan.from_pretrained(source / "vocoder", **load))
    pipe = AudioDiffusionPipeline(
        vae=AutoencoderKL.from_pretrained(source / "vae", **load),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=_load_scheduler(source),
        vocoder=vocoder,
        mel=audioldm_mel(vocoder.config.sample_rate, vocoder.hop_length, vocoder.config.n_mels),
        max_duration=MAX_DURATION,
        max_text_length=_max_text_length(tokenizer, text_encoder),
        text_embedding="pooled_projection",
    )
    pipe.save_pretrained(destination)
    log.info("Converted AudioLDM %s to %s.", source, destination)
    return destination


def audioldm_mel(sample_rate: int, hop_length: int, n_mels: int) -> MelSpectrogram:
    """AudioLDM's log-mel front end: frames centred on multiples of ``hop_length``, log-mel unnormalised."""
    return MelSpectrogram(
        sample_rate=sample_rate, n_fft=N_FFT, win_length=N_FFT, hop_length=hop_length, n_mels=n_mels,
        fmin=FMIN, fmax=FMAX, mel_mean=0.0, mel_std=1.0, center=True,
    )


def vocoder_from_speecht5(source: SpeechT5HifiGan) -> HifiGanVocoder:
    """The same generator as an audiodiff :class:`HifiGanVocoder`, weights mapped key by key.

    SpeechT5HifiGan takes ``(batch, frames, n_mels)``; ours takes ``(batch, n_mels, frames)`` and crops the
    waveform to ``frames * hop_length`` (AudioLDM's 16-over-5 first stage makes one sample more).

    Raises:
        IncompatibleModelError: a leaky-ReLU slope other than HiFi-GAN's 0.1, or weights that do not map.
    """
    config = source.config
    if not math.isclose(config.leaky_relu_slope, LRELU_SLOPE):
        raise IncompatibleModelError(
            f"The vocoder's leaky_relu_slope is {config.leaky_relu_slope}; audiodiff's HiFi-GAN uses {LRELU_SLOPE}."
        )
    vocoder = HifiGanVocoder(
        n_mels=config.model_in_dim, sample_rate=config.sampling_rate,
        upsample_rates=tuple(config.upsample_rates), upsample_kernel_sizes=tuple(config.upsample_kernel_sizes),
        upsample_initial_channel=config.upsample_initial_channel, resblock="1",
        resblock_kernel_sizes=tuple(config.resblock_kernel_sizes),
        resblock_dilation_sizes=tuple(tuple(d) for d in config.resblock_dilation_sizes),
        normalize_before=bool(config.normalize_before),
    )
    load_speecht5_weights(vocoder, source.state_dict())
    return vocoder.eval()


def load_speecht5_weights(vocoder: HifiGanVocoder, state: dict[str, torch.Tensor]) -> None:
    """Copy a ``SpeechT5HifiGan`` state dict into ``vocoder``.

    Keys map one to one (``upsampler.i`` -> ``ups.i``); plain convolution weights are set through the
    weight-norm parametrisation (magnitude ``g = ||w||`` per output slice, direction ``v = w``), so the
    effective weight is ``w`` up to float32 round-off.

    Raises:
        IncompatibleModelError: a key with no counterpart, or a weight of ours left unset.
    """
    modules = dict(vocoder.named_modules())
    unset = {f"{name}.{attr}" for name, module in modules.items() if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d))
             for attr in ("weight", "bias")}
    with torch.no_grad():
        for key, tensor in state.items():
            if key in ("mean", "scale"):
                if vocoder.config.normalize_before:
                    getattr(vocoder, key).copy_(tensor)
                continue
            name, _, attr = key.rpartition(".")
            name = "ups" + name[len("upsampler"):] if name.startswith("upsampler.") else name
            module = modules.get(name)
            if module is None or attr not in ("weight", "bias"):
                raise IncompatibleModelError(f"Vocoder weight {key!r} has no counterpart in audiodiff's HiFi-GAN.")
            if attr == "weight":
                module.weight = tensor.to(module.weight.dtype)  # through weight_norm's right_inverse: (||w||, w)
            else:
                module.bias.copy_(tensor)
            unset.discard(f"{name}.{attr}")
    if unset:
        raise IncompatibleModelError(f"The vocoder checkpoint lacks weights for {sorted(unset)[:4]} ...")


def _load_tokenizer(source: Path, index: dict) -> transformers.PreTrainedTokenizerBase:
    class_name = index["tokenizer"][1]
    tokenizer_class = getattr(transformers, class_name, None) or transformers.AutoTokenizer
    return tokenizer_class.from_pretrained(source / "tokenizer", local_files_only=True)


def _load_scheduler(source: Path) -> diffusers.SchedulerMixin:
    config = json.loads((source / "scheduler" / "scheduler_config.json").read_text())
    scheduler_class = getattr(diffusers, config.get("_class_name", ""), None)
    if scheduler_class is None:
        raise IncompatibleModelError(f"Unknown scheduler class {config.get('_class_name')!r} in {source / 'scheduler'}.")
    return scheduler_class.from_config(config)


def _max_text_length(tokenizer: transformers.PreTrainedTokenizerBase, text_encoder: ClapTextModelWithProjection) -> int:
    """Tokens per prompt: the tokenizer's ``model_max_length`` (what AudioLDMPipeline pads to), at most what the
    position embeddings cover (RoBERTa's offset of ``pad_token_id + 1``)."""
    config = text_encoder.config
    positions = config.max_position_embeddings - config.pad_token_id - 1
    return int(min(tokenizer.model_max_length, positions))

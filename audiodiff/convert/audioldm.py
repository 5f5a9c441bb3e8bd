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

import logging
import math
from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from transformers import ClapTextModelWithProjection, SpeechT5HifiGan

from ..errors import IncompatibleModelError
from ..mel import MelSpectrogram
from ..model_folder import check_safetensors_only
from ..models.vocoder import LRELU_SLOPE, HifiGanVocoder
from .hifigan import load_hifigan_weights
from .source import LOAD, read_source_index, write_pipeline

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
    unet = UNet2DConditionModel.from_pretrained(source / "unet", **LOAD)
    if unet.config.class_embed_type != "simple_projection":
        raise IncompatibleModelError(
            f"{source / 'unet'} has class_embed_type {unet.config.class_embed_type!r}; AudioLDM's U-Net reads the "
            "CLAP embedding through 'simple_projection'."
        )
    text_encoder = ClapTextModelWithProjection.from_pretrained(source / "text_encoder", **LOAD)
    vocoder = vocoder_from_speecht5(SpeechT5HifiGan.from_pretrained(source / "vocoder", **LOAD))
    config = text_encoder.config  # RoBERTa's positions start after pad_token_id + 1
    write_pipeline(
        source, index, destination, unet=unet, text_encoder=text_encoder,
        text_positions=config.max_position_embeddings - config.pad_token_id - 1, vocoder=vocoder,
        mel=audioldm_mel(vocoder.config.sample_rate, vocoder.hop_length, vocoder.config.n_mels),
        max_duration=MAX_DURATION, text_embedding="pooled_projection",
    )
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
    """Copy a ``SpeechT5HifiGan`` state dict into ``vocoder`` (keys one to one, ``upsampler.i`` -> ``ups.i``;
    see :func:`~audiodiff.convert.hifigan.load_hifigan_weights`).

    Raises:
        IncompatibleModelError: a key with no counterpart, or a weight of ours left unset.
    """
    load_hifigan_weights(vocoder, state, lambda name: "ups" + name[len("upsampler"):] if name.startswith("upsampler.") else name)


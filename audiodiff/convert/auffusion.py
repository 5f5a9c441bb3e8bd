"""Auffusion (a Stable Diffusion folder with a HiFi-GAN, e.g. auffusion/auffusion-full-no-adapter) -> audiodiff.

Xue et al. 2024, "Auffusion: Leveraging the Power of Diffusion and Large Language Models for Text-to-Audio
Generation"; the facts below come from its public code (happylittlecat2333/Auffusion, ``auffusion_pipeline.py``
and ``converter.py``) and from diffusers' ``StableDiffusionPipeline``, which runs the published folder.

- ``unet``: Stable Diffusion's ``UNet2DConditionModel``, cross-attention to the text token states.  Auffusion's
  latents are ``(C, n_mels / 8, frames / 8)`` (mel bands on the image height); audiodiff's are frames by mels,
  so every 2-D convolution kernel is transposed.  The U-Net is then the same function of the transposed
  latents: each of its convolutions, paddings and resamplings treats both axes alike, and attention does not
  depend on the order of the positions (:func:`transpose_spatial_axes`).
- ``vae``: the same ``AutoencoderKL`` on 3-channel images ``(batch, 3, n_mels, frames)``: the normalised mel in
  every channel, highest band in row 0; the output is read from channel 0 (the mel front end's
  ``image_layout="mels_by_frames"``).
- ``text_encoder`` + ``tokenizer``: ``CLIPTextModel`` and ``CLIPTokenizer``, copied; prompts padded to 77 tokens,
  encoded without an attention mask and all attended to (``text_embedding="padded_token_states"``), as
  ``StableDiffusionPipeline.encode_prompt``; the unconditional prompt is ``""``.
- ``vocoder``: its own HiFi-GAN (``vocoder/config.json`` in jik876/hifi-gan's keys, weights
  ``vocoder/vocoder.pt`` = ``{"generator": state dict}`` with weight-norm ``weight_g``/``weight_v``) ->
  :class:`~audiodiff.models.vocoder.HifiGanVocoder` with ``upsample_padding="ceil"`` (Auffusion pads an odd
  ``kernel - rate`` by ``(kernel - rate) // 2 + 1`` with ``output_padding=1``).
- ``mel``: ``get_mel_spectrogram_from_audio``'s settings: 16 kHz, n_fft 2048, window 1024, hop 160, 256 bands,
  0-8000 Hz, HiFi-GAN's reflect padding (no centring), ``log(clamp(mel, 1e-5))``; ``normalize_spectrogram`` maps
  ``log 1e-5 .. log 200`` onto the image range [0, 1] (the VAE's [-1, 1]) and clamps, which is
  ``mel_mean = (log 200 + log 1e-5) / 2``, ``mel_std = (log 200 - log 1e-5) / 2``, ``clamp_normalized=True``
  (its power curve has exponent 1).
- ``scheduler``: the folder's scheduler config (PNDM for the published checkpoint).

Pickle files are not read, with one exception: Auffusion publishes its vocoder only as ``vocoder.pt``, which is
read with ``torch.load(weights_only=True)`` (tensors and plain containers only, no code) unless the folder
also holds ``vocoder/*.safetensors`` with the same state dict.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
from pathlib import Path

import safetensors.torch
import torch
from diffusers import UNet2DConditionModel
from transformers import CLIPTextModel

from ..errors import IncompatibleModelError
from ..mel import MelSpectrogram
from ..model_folder import check_config_sizes, check_safetensors_only
from ..models.vocoder import HifiGanVocoder
from .hifigan import load_hifigan_weights
from .source import LOAD, read_source_index, write_pipeline

log = logging.getLogger(__name__)

PIPELINE_CLASSES = ("StableDiffusionPipeline", "AuffusionPipeline")
COMPONENTS = ("vae", "text_encoder", "tokenizer", "unet", "scheduler")
WEIGHTED = ("vae", "text_encoder", "unet")
VOCODER_PICKLE = "vocoder.pt"
# converter.py, get_mel_spectrogram_from_audio: the STFT the VAE's images were made with
N_FFT, WIN_LENGTH = 2048, 1024
FMIN, FMAX = 0.0, 8000.0
# auffusion_pipeline.py, normalize_spectrogram: log-mel range mapped onto the image range [0, 1]
LOG_MEL_MIN, LOG_MEL_MAX = math.log(1e-5), math.log(200.0)
MAX_DURATION = 10.24  # seconds: Auffusion's 1024-frame images


def convert_auffusion(source: str | Path, destination: str | Path) -> Path:
    """Read the Auffusion folder ``source`` and write an audiodiff pipeline folder to ``destination``.

    Returns:
        ``destination``.

    Raises:
        ModelNotFoundError: ``source`` does not exist.
        IncompatibleModelError: not a Stable Diffusion folder with a ``vocoder/``, a condition-adapter
            variant, pickle-only weights (the vocoder's ``vocoder.pt`` aside), or a component audiodiff
            cannot represent (the message names it).
    """
    source, destination = Path(source), Path(destination)
    if (source / "condition_config.json").is_file():
        raise IncompatibleModelError(
            f"{source} is an Auffusion variant with condition adapters (condition_config.json: auffusion/auffusion, "
            "auffusion/auffusion-full), which audiodiff does not represent; convert auffusion/auffusion-full-no-adapter."
        )
    index = read_source_index(source, PIPELINE_CLASSES, COMPONENTS, folders=("vocoder",))
    for name in WEIGHTED:
        check_safetensors_only(source / name)  # pickle files are never read
    unet = UNet2DConditionModel.from_pretrained(source / "unet", **LOAD)
    check_cross_attention_unet(unet, source / "unet")
    transpose_spatial_axes(unet)
    text_encoder = CLIPTextModel.from_pretrained(source / "text_encoder", **LOAD)
    vocoder = read_vocoder(source / "vocoder")
    write_pipeline(
        source, index, destination, unet=unet, text_encoder=text_encoder,
        text_positions=text_encoder.config.max_position_embeddings, vocoder=vocoder,
        mel=auffusion_mel(vocoder.config.sample_rate, vocoder.hop_length, vocoder.config.n_mels),
        max_duration=MAX_DURATION, text_embedding="padded_token_states",
    )
    log.info("Converted Auffusion %s to %s (feature_extractor and safety_checker are not used).", source, destination)
    return destination


def auffusion_mel(sample_rate: int, hop_length: int, n_mels: int) -> MelSpectrogram:
    """Auffusion's mel front end and image normalisation (see the module docstring)."""
    return MelSpectrogram(
        sample_rate=sample_rate, n_fft=N_FFT, win_length=WIN_LENGTH, hop_length=hop_length, n_mels=n_mels,
        fmin=FMIN, fmax=FMAX, mel_mean=(LOG_MEL_MAX + LOG_MEL_MIN) / 2, mel_std=(LOG_MEL_MAX - LOG_MEL_MIN) / 2,
        center=False, image_layout="mels_by_frames", clamp_normalized=True,
    )


def check_cross_attention_unet(unet: UNet2DConditionModel, folder: Path) -> None:
    """Refuse a U-Net that audiodiff's call does not drive as Stable Diffusion's (text through cross-attention
    only) or whose convolutions treat the two image axes differently.

    Raises:
        IncompatibleModelError: naming the setting.
    """
    config = unet.config
    for key in ("class_embed_type", "addition_embed_type", "encoder_hid_dim"):
        if config.get(key) is not None:
            raise IncompatibleModelError(f"{folder} sets {key}={config.get(key)!r}; Auffusion's U-Net reads the text "
                                         "through cross-attention only.")
    for name, module in unet.named_modules():
        if isinstance(module, torch.nn.Conv2d) and any(
            isinstance(v, str) or v[0] != v[1] for v in (module.kernel_size, module.stride, module.padding, module.dilation)
        ):
            raise IncompatibleModelError(f"{folder}: convolution {name} treats height and width differently, so its "
                                         "latents cannot be transposed to audiodiff's frames-by-mels layout.")


def transpose_spatial_axes(unet: UNet2DConditionModel) -> None:
    """Make ``unet`` take latents with height and width swapped: every ``Conv2d`` kernel ``(out, in, kh, kw)``
    is transposed to ``(out, in, kw, kh)``, so that ``unet'(x.mT) = unet(x).mT`` (to float round-off).

    Holds because every convolution, padding and resampling of the U-Net treats both axes alike (checked by
    :func:`check_cross_attention_unet`), group norms and the time embedding do not see positions, and attention
    is equivariant to the order of positions.
    """
    with torch.no_grad():
        for module in unet.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.copy_(module.weight.transpose(2, 3).clone())


def read_vocoder(folder: Path) -> HifiGanVocoder:
    """Auffusion's HiFi-GAN (``config.json`` + weights) as an audiodiff vocoder.

    Raises:
        IncompatibleModelError: a config audiodiff's generator cannot follow, missing or unreadable weights.
    """
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise IncompatibleModelError(f"{folder} has no config.json (Auffusion's HiFi-GAN settings).")
    check_config_sizes(config_file)
    vocoder = vocoder_from_config(json.loads(config_file.read_text()), config_file)
    load_hifigan_weights(vocoder, read_vocoder_state(folder))
    return vocoder.eval()


def vocoder_from_config(config: dict, config_file: Path) -> HifiGanVocoder:
    """A :class:`HifiGanVocoder` laid out as jik876/hifi-gan's config keys say (Auffusion's padding rule).

    Raises:
        IncompatibleModelError: a missing key, or a ``hop_size`` that the upsampling does not make.
    """
    try:
        rates = tuple(int(r) for r in config["upsample_rates"])
        vocoder = HifiGanVocoder(
            n_mels=int(config["num_mels"]), sample_rate=int(config["sampling_rate"]), upsample_rates=rates,
            upsample_kernel_sizes=tuple(int(k) for k in config["upsample_kernel_sizes"]),
            upsample_initial_channel=int(config["upsample_initial_channel"]), resblock=str(config["resblock"]),
            resblock_kernel_sizes=tuple(int(k) for k in config["resblock_kernel_sizes"]),
            resblock_dilation_sizes=tuple(tuple(int(d) for d in ds) for ds in config["resblock_dilation_sizes"]),
            upsample_padding="ceil",
        )
    except KeyError as error:
        raise IncompatibleModelError(f"{config_file} lacks the HiFi-GAN setting {error}.") from error
    except ValueError as error:
        raise IncompatibleModelError(f"{config_file}: {error}") from error
    if "hop_size" in config and int(config["hop_size"]) != vocoder.hop_length:
        raise IncompatibleModelError(
            f"{config_file}: hop_size {config['hop_size']} differs from the upsampling's {vocoder.hop_length} samples."
        )
    return vocoder


def read_vocoder_state(folder: Path) -> dict[str, torch.Tensor]:
    """The generator's state dict: ``folder/*.safetensors`` when present, else ``vocoder.pt`` read with
    ``torch.load(weights_only=True)`` (logged as a warning).

    Raises:
        IncompatibleModelError: neither file, several safetensors files, or a pickle that holds more than
            tensors and plain containers (refused by the restricted unpickler) or no generator.
    """
    files = sorted(folder.glob("*.safetensors"))
    if len(files) > 1:
        raise IncompatibleModelError(f"{folder} holds several .safetensors files {[f.name for f in files]}; keep one.")
    if files:
        return safetensors.torch.load_file(files[0])
    checkpoint = folder / VOCODER_PICKLE
    if not checkpoint.is_file():
        raise IncompatibleModelError(f"{folder} has neither *.safetensors nor {VOCODER_PICKLE} (the HiFi-GAN weights).")
    log.warning(
        "Reading %s, a pickle file (Auffusion publishes its vocoder in no other format), with "
        "torch.load(weights_only=True): tensors and plain containers only, no code is run. The converted folder "
        "holds safetensors only.", checkpoint,
    )
    try:
        data = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise IncompatibleModelError(
            f"{checkpoint} cannot be read as weights only ({str(error).splitlines()[0]}); it holds more than tensors. "
            "Save the generator's state dict as vocoder/model.safetensors from a source you trust."
        ) from error
    state = data.get("generator", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise IncompatibleModelError(f"{checkpoint} holds no generator state dict ({{'generator': {{name: tensor}}}}).")
    return state

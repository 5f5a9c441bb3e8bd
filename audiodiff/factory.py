"""Build a randomly initialised pipeline from a :class:`~audiodiff.config.ModelConfig`."""

from __future__ import annotations

from .config import ModelConfig
from .mel import MelSpectrogram
from .models.text_encoder import DEFAULT_TEXT_ENCODER, embedding_size, load_text_encoder
from .models.unet import build_unet
from .models.vae import build_vae
from .models.vocoders import build_vocoder
from .pipeline import AudioDiffusionPipeline
from .schedulers import build_scheduler


def build_pipeline(config: ModelConfig) -> AudioDiffusionPipeline:
    """A pipeline with fresh VAE, U-Net and vocoder weights and the configured text encoder.

    The vocoder is a HiFi-GAN (``config.vocoder``), or a Vocos generator when ``config.vocos`` is set
    (:func:`~audiodiff.models.vocoders.build_vocoder`).

    A pretrained text encoder is loaded as is (it stays frozen in training); with
    ``text_encoder.random_config`` a random one is built.  The packaged MiniLM is
    recorded as ``text_encoder_source`` so saved folders do not copy its weights.

    Raises:
        ValueError / IncompatibleModelError: settings that do not fit together.
        TextEncoderNotFoundError: the text encoder cannot be found locally.
    """
    text_encoder, tokenizer = load_text_encoder(config.text_encoder)
    vae = build_vae(config.vae, config.audio)
    unet = build_unet(config.unet, config.vae.latent_channels, embedding_size(text_encoder, config.text_encoder.embedding))
    source = (
        DEFAULT_TEXT_ENCODER
        if config.text_encoder.name_or_path == DEFAULT_TEXT_ENCODER and config.text_encoder.random_config is None
        else None
    )
    return AudioDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=build_scheduler(config.scheduler),
        vocoder=build_vocoder(config),
        mel=MelSpectrogram.from_audio_config(config.audio),
        text_encoder_source=source,
        max_duration=config.max_duration,
        max_text_length=config.text_encoder.max_length,
        text_embedding=config.text_encoder.embedding,
    )

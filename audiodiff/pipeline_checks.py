"""The checks of an :class:`~audiodiff.pipeline.AudioDiffusionPipeline`: its components fit together, a call's
arguments are in range, its prompts fit the text encoder.

Errors are raised at this boundary with a message naming the bad value and the fix; warnings are logged under
the pipeline's logger name (``audiodiff.pipeline``), as the pipeline's own.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from .errors import IncompatibleModelError, InvalidArgumentError
from .long_form import MAX_LONG_DURATION
from .models import text_encoder as text_encoders
from .models import unet as unets
from .models import vae as vaes

if TYPE_CHECKING:  # the checks read a pipeline; the pipeline imports them
    from .pipeline import AudioDiffusionPipeline

log = logging.getLogger("audiodiff.pipeline")


def check_components(pipe: AudioDiffusionPipeline) -> None:
    """Raise IncompatibleModelError when the components' shapes or rates disagree."""
    mel, vae, unet, vocoder = pipe.mel, pipe.vae, pipe.unet, pipe.vocoder
    problems = []
    if vocoder.config.n_mels != mel.config.n_mels or vocoder.hop_length != mel.config.hop_length:
        problems.append("the vocoder's n_mels/hop_length differ from the mel front end's")
    if vocoder.config.sample_rate != mel.config.sample_rate:
        problems.append("the vocoder's sample_rate differs from the mel front end's")
    if unet.config.in_channels != vae.config.latent_channels:
        problems.append("the U-Net's in_channels differ from the VAE's latent_channels")
    if (mel.config.n_mels // vaes.downsampling_factor(vae)) % unets.downsampling_factor(unet):
        problems.append("the latent mel axis is not divisible by the U-Net's downsampling")
    embedding = pipe.config.text_embedding
    if embedding not in text_encoders.TEXT_EMBEDDINGS:
        problems.append(f"text_embedding is {embedding!r}, not one of {text_encoders.TEXT_EMBEDDINGS}")
    elif (embedding == "pooled_projection") != unets.uses_class_embedding(unet.config):
        problems.append(f"text_embedding {embedding!r} does not fit the U-Net's class_embed_type "
                        f"{unet.config.class_embed_type!r} (pooled_projection needs 'simple_projection')")
    elif (pipe.text_encoder is not None
          and text_encoders.embedding_size(pipe.text_encoder, embedding) != unets.text_embedding_size(unet.config)):
        problems.append("the text encoder's embedding width differs from the U-Net's text input width "
                        "(cross_attention_dim or projection_class_embeddings_input_dim)")
    if problems:
        raise IncompatibleModelError("Pipeline components do not fit together: " + "; ".join(problems) + ".")


def check_call(
    pipe: AudioDiffusionPipeline, duration: float, num_inference_steps: int, guidance_scale: float,
    batch_size: int | None, output_type: str,
) -> None:
    """Raise InvalidArgumentError naming the first argument of ``pipe(...)`` out of range (and the fix); log a
    warning for a phased consistency student sampled off its phase count."""
    if not positive(duration) or duration > MAX_LONG_DURATION:
        raise InvalidArgumentError(
            f"duration must be in (0, {MAX_LONG_DURATION:g}] seconds, got {duration!r} (clips longer than this "
            f"model's max_duration of {pipe.config.max_duration:g} s are made in overlapping windows)."
        )
    if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
        raise InvalidArgumentError(f"num_inference_steps must be an integer >= 1, got {num_inference_steps!r}.")
    schedule_steps = pipe.scheduler.config.get("original_inference_steps")  # LCMScheduler: its distillation's
    if schedule_steps is not None and num_inference_steps > schedule_steps:
        raise InvalidArgumentError(
            f"num_inference_steps must be at most {schedule_steps} for this few-step model (its LCMScheduler "
            f"samples from the {schedule_steps} timesteps it was distilled on), got {num_inference_steps}."
        )
    num_phases = pipe.config.get("num_phases")
    if num_phases and num_inference_steps != num_phases:
        log.warning("This model is a phased consistency student distilled for %d steps (one per phase); "
                    "num_inference_steps=%d samples off its phase edges and sounds worse. Leave the steps unset "
                    "or use %d.", num_phases, num_inference_steps, num_phases)
    if not finite_number(guidance_scale) or guidance_scale < 0:
        raise InvalidArgumentError(f"guidance_scale must be a finite number >= 0, got {guidance_scale!r}.")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise InvalidArgumentError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
    if output_type not in ("np", "pt"):
        raise InvalidArgumentError(f"output_type must be 'np' or 'pt', got {output_type!r}.")


def warn_long_prompts(pipe: AudioDiffusionPipeline, prompts: list[str]) -> None:
    """Log a warning naming each prompt longer than ``pipe.text_token_limit()`` (the encoder sees it truncated)."""
    if pipe.tokenizer is None:
        return
    limit = pipe.text_token_limit()
    for prompt in dict.fromkeys(p for p in prompts if p):
        count = len(pipe.tokenizer(prompt, truncation=False)["input_ids"])
        if count > limit:
            kept = pipe.tokenizer(prompt, truncation=True, max_length=limit)["input_ids"]
            log.warning("Prompt %r is %d tokens, longer than the text encoder's limit of %d: it is truncated to "
                        "%r. Shorten it to keep every word.", prompt, count, limit,
                        pipe.tokenizer.decode(kept, skip_special_tokens=True))


def finite_number(value: Any) -> bool:
    """An int or float (not a bool) that is finite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive(value: Any) -> bool:
    """A finite number > 0."""
    return finite_number(value) and value > 0

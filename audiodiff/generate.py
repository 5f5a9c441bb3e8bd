"""Batch generation jobs behind ``audiodiff generate`` and ``audiodiff info``: load, run, write WAVs."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .audio import write_wav
from .devices import resolve_device, resolve_dtype
from .errors import InvalidArgumentError, ModelNotFoundError
from .fast import prepare_for_inference
from .model_folder import default_model_path
from .pipeline import AudioDiffusionPipeline
from .schedulers import check_scheduler_name, swap_scheduler

DEFAULT_OUTPUT_DIR = Path("audiodiff_outputs")


@dataclass(frozen=True)
class GenerateJob:
    """Everything ``audiodiff generate`` needs; ``duration`` in seconds, ``output`` a .wav path or a folder."""

    prompts: list[str]
    output: Path | None = None
    duration: float = 5.0
    num_inference_steps: int = 25
    guidance_scale: float = 3.0
    negative_prompt: str | None = None
    seed: int = 0
    num_waveforms_per_prompt: int = 1
    scheduler: str | None = None
    model: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int | None = None


def read_prompts_file(path: Path) -> list[str]:
    """Non-blank lines of a UTF-8 text file, stripped.

    Raises:
        InvalidArgumentError: the file does not exist.
    """
    if not path.is_file():
        raise InvalidArgumentError(f"Prompts file {path} not found; give a text file with one prompt per line.")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_pipeline(model: Path | None, device: str = "auto", dtype: str = "float32") -> AudioDiffusionPipeline:
    """Load a pipeline folder (default model when ``model`` is None) onto ``device``, ready for inference.

    The safe fast paths of :func:`audiodiff.fast.prepare_for_inference` are applied (vocoder
    weight norm folded, eval mode, SDPA attention), so the result is for generation, not training.
    ``dtype`` (see :func:`audiodiff.devices.resolve_dtype`; ``"auto"``: bf16 on CPUs with bf16 units)
    sets the U-Net, VAE and vocoder weights; the text encoder and mel front end stay float32.

    Raises:
        ModelNotFoundError: no folder, or no default model installed.
        IncompatibleModelError, TextEncoderNotFoundError, DeviceError: as their names say.
    """
    target = resolve_device(device)
    if model is None and not default_model_path().is_dir():
        raise ModelNotFoundError(
            f"No default model is installed ({default_model_path()} is missing). Pass --model DIR with a pipeline "
            "folder: make a random one with `audiodiff init-model --config configs/model/tiny.yaml DIR`, or train "
            "one (docs/training.md)."
        )
    compute_dtype = resolve_dtype(dtype, target)
    pipe = prepare_for_inference(AudioDiffusionPipeline.from_pretrained(model)).to(target)
    for name in ("unet", "vae", "vocoder"):
        getattr(pipe, name).to(compute_dtype)
    return pipe


def output_paths(job: GenerateJob, count: int) -> list[Path]:
    """Where each clip goes: ``job.output`` itself for one clip named ``*.wav``, else files in a folder.

    Raises:
        InvalidArgumentError: a ``.wav`` path given for more than one clip.
    """
    output = job.output if job.output is not None else DEFAULT_OUTPUT_DIR
    if output.suffix.lower() == ".wav":
        if count != 1:
            raise InvalidArgumentError(
                f"{count} clips asked for but --output {output} is a single .wav file; give a folder instead."
            )
        return [output]
    return [
        output / f"{i:03d}_{_slug(prompt)}_{k}.wav"
        for i, prompt in enumerate(job.prompts)
        for k in range(job.num_waveforms_per_prompt)
    ]


def check_writable(paths: list[Path]) -> None:
    """Check, before any model work, that every output WAV can be written.

    Raises:
        InvalidArgumentError: a path is an existing directory, or its folder cannot be created or
            written to (the message names it).
    """
    for path in paths:
        if path.is_dir():
            raise InvalidArgumentError(f"--output {path} is a directory; give a .wav file name or a folder for several.")
    for folder in dict.fromkeys(path.parent for path in paths):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".audiodiff-write-test-"):
                pass
        except OSError as error:
            raise InvalidArgumentError(
                f"Cannot write to {folder} ({error.strerror or error}); choose another --output."
            ) from error


def run_generate(job: GenerateJob) -> list[Path]:
    """Generate every clip of ``job`` and write them as 16-bit WAVs; returns the paths in prompt order.

    Clip ``k`` of every prompt uses a generator seeded with ``job.seed + k``, so a prompt
    gives the same audio whether it is generated alone or in a batch.
    """
    if not job.prompts:
        raise InvalidArgumentError('No prompt given; e.g. audiodiff generate "a dog barking" -o dog.wav')
    if job.scheduler is not None:
        check_scheduler_name(job.scheduler)
    paths = output_paths(job, len(job.prompts) * job.num_waveforms_per_prompt)
    check_writable(paths)
    pipe = load_pipeline(job.model, job.device, job.dtype)
    if job.scheduler is not None:
        pipe.scheduler = swap_scheduler(pipe.scheduler, job.scheduler)
    generators = [
        torch.Generator(device=pipe.device).manual_seed(job.seed + k)
        for _ in job.prompts
        for k in range(job.num_waveforms_per_prompt)
    ]
    result = pipe(
        job.prompts, negative_prompt=job.negative_prompt, duration=job.duration,
        num_inference_steps=job.num_inference_steps, guidance_scale=job.guidance_scale,
        num_waveforms_per_prompt=job.num_waveforms_per_prompt, generator=generators, batch_size=job.batch_size,
    )
    return [write_wav(path, audio, result.sample_rate) for path, audio in zip(paths, result.audios)]


def describe_model(model: Path | None, duration: float = 5.0) -> str:
    """A human-readable summary: components with parameter counts, sample rate, latent shape for ``duration`` s."""
    pipe = load_pipeline(model, "cpu")
    lines = [f"model: {model or default_model_path()}"]
    for name, component in pipe.components.items():
        if isinstance(component, torch.nn.Module):
            count = sum(p.numel() for p in component.parameters())
            lines.append(f"  {name:<13} {type(component).__name__:<28} {count / 1e6:8.3f}M parameters")
        elif component is not None:
            lines.append(f"  {name:<13} {type(component).__name__}")
    mel = pipe.mel.config
    lines.append(f"sample_rate: {mel.sample_rate} Hz, n_mels: {mel.n_mels}, hop_length: {mel.hop_length}")
    lines.append(f"latent shape for {duration:g} s: {pipe.latent_shape(duration)}; max duration {pipe.config.max_duration:g} s")
    if pipe.config.text_encoder_source:
        lines.append(f"text encoder from: {pipe.config.text_encoder_source}")
    return "\n".join(lines)


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit] or "clip"

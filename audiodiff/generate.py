"""Batch generation jobs behind ``audiodiff generate`` and ``audiodiff info``: load, run, write WAVs."""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .audio import write_wav
from .devices import auto_dtype_line, resolve_device
from .errors import InvalidArgumentError
from .loading import load_pipeline
from .long_form import MAX_LONG_DURATION
from .model_folder import default_model_path
from .sampling import SamplingOptions, check_count, check_sampling, run_sampling

log = logging.getLogger(__name__)

DEFAULT_OUTPUT_DIR = Path("audiodiff_outputs")


@dataclass(frozen=True, kw_only=True)
class GenerateJob(SamplingOptions):
    """Everything ``audiodiff generate`` needs: the :class:`~audiodiff.sampling.SamplingOptions` plus the
    ``prompts``, ``output`` (a .wav path or a folder), ``batch_size`` and ``skip_existing``.

    ``skip_existing``: leave clips whose WAV already exists (a killed batch job resumed); every clip keeps
    its own seed, so the result is the same audio as an uninterrupted run.
    """

    prompts: list[str]
    output: Path | None = None
    batch_size: int | None = None
    skip_existing: bool = False


def read_prompts_file(path: Path) -> list[str]:
    """The prompts of a UTF-8 text file, one per line, stripped (a byte-order mark and blank lines at the end
    are allowed).

    Raises:
        InvalidArgumentError: the file does not exist, is not UTF-8, or holds a blank line between prompts
            (the message names the line).
    """
    if not path.is_file():
        raise InvalidArgumentError(f"Prompts file {path} not found; give a text file with one prompt per line.")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidArgumentError(
            f"Prompts file {path}, line {line} is not UTF-8 (byte 0x{data[error.start]:02x}); save the file as UTF-8."
        ) from error
    lines = text.rstrip().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise InvalidArgumentError(
                f"Prompts file {path}, line {number} is blank; remove it (one prompt per line, no empty lines)."
            )
    return [line.strip() for line in lines]


def check_job(job: GenerateJob) -> None:
    """Check every argument of ``job`` before any model work.

    Raises:
        InvalidArgumentError: no prompt, a blank prompt, a batch size below 1, or sampling options
            :func:`~audiodiff.sampling.check_sampling` refuses.
    """
    check_prompts(job.prompts)
    check_sampling(job)
    check_count("batch_size", job.batch_size)


def check_prompts(prompts: list[str]) -> None:
    """Refuse no prompt or a blank one.

    Raises:
        InvalidArgumentError: the message names the prompt's number.
    """
    if not prompts:
        raise InvalidArgumentError('No prompt given; e.g. audiodiff generate "a dog barking" -o dog.wav')
    for number, prompt in enumerate(prompts, start=1):
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidArgumentError(f"Prompt {number} is empty; every prompt must describe a sound, e.g. 'rain'.")


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
    gives the same audio whether it is generated alone or in a batch.  Clips are generated
    ``batch_size`` at a time and each batch is written (atomically) as soon as it is done, so a
    killed job keeps its finished clips and ``skip_existing`` resumes it.

    Raises:
        InvalidArgumentError: see :func:`check_job` and :func:`check_writable` (both before the model loads).
    """
    check_job(job)
    paths = output_paths(job, len(job.prompts) * job.num_waveforms_per_prompt)
    check_writable(paths)
    clips = [(prompt, k) for prompt in job.prompts for k in range(job.num_waveforms_per_prompt)]
    todo = [i for i, path in enumerate(paths) if not (job.skip_existing and path.is_file())]
    if len(todo) < len(paths):
        log.info("--skip-existing: %d of %d clips already written, generating the other %d",
                 len(paths) - len(todo), len(paths), len(todo))
    if not todo:
        return paths
    pipe = load_pipeline(job.model, job.device, job.dtype)
    base_scheduler = pipe.scheduler
    batch_size = job.batch_size or len(todo)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        result = run_sampling(pipe, [clips[i] for i in batch], job, base_scheduler)
        for i, audio in zip(batch, result.audios):
            write_wav(paths[i], audio, result.sample_rate)
    return paths


def describe_model(model: Path | None, duration: float = 5.0) -> str:
    """A human-readable summary: components with parameter counts, sample rate, latent shape for ``duration`` s,
    the sampling defaults (steps, scheduler, guidance) and the window length (what one denoising window covers; longer clips are made in windows)."""
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
    lines.append(f"latent shape for {duration:g} s: {pipe.latent_shape(duration)}")
    lines.append(f"sampling defaults: {pipe.config.default_num_inference_steps} steps of "
                 f"{type(pipe.scheduler).__name__}, guidance scale {pipe.config.default_guidance_scale:g}"
                 + (f" (a phased consistency student: {pipe.config.num_phases} phases)"
                    if pipe.config.get("num_phases") else ""))
    lines.append(f"window length {round(pipe.window_duration, 2):g} s (clips up to {MAX_LONG_DURATION:g} s with --duration, "
                 "in overlapping windows)")
    if pipe.config.text_encoder_source:
        lines.append(f"text encoder from: {pipe.config.text_encoder_source}")
    lines.append(auto_dtype_line(resolve_device("auto")))
    return "\n".join(lines)


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit] or "clip"

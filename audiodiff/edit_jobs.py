"""The jobs behind ``audiodiff edit``, ``inpaint``, ``extend`` and ``bandwidth-extend``: read the input, check
everything before the model loads, run the pipeline once and write the WAV.

(Not in :mod:`audiodiff.editing`, which the pipeline imports: this module loads pipelines.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .audio import write_wav
from .edit_modes import edit_mode
from .editing.inputs import check_edit_arguments
from .editing.load import load_input_audio
from .editing.regions import check_mask
from .errors import InvalidArgumentError
from .generate import check_prompts, check_writable
from .loading import load_pipeline, model_grid
from .long_form import MAX_LONG_DURATION
from .sampling import SamplingOptions, check_sampling, run_sampling


@dataclass(frozen=True, kw_only=True)
class EditJob(SamplingOptions):
    """One edit of one input file: the :class:`~audiodiff.sampling.SamplingOptions` (their ``duration`` and
    ``num_waveforms_per_prompt`` are the mode's: the input's length plus what it adds, one clip) plus:

    ``mode``: a name of :data:`audiodiff.edit_modes.EDIT_MODES`; ``mode_options``: values of that mode's options
    by name (e.g. ``{"strength": 0.5}``; a missing one or None takes the mode's default); ``output``: a .wav
    path (default ``INPUT-STEM_MODE.wav`` in the working folder).
    """

    mode: str
    input: Path
    prompt: str
    output: Path | None = None
    mode_options: Mapping[str, float | None] = field(default_factory=dict)

    def output_path(self) -> Path:
        """``output``, or ``INPUT-STEM_MODE.wav`` in the working folder."""
        return self.output if self.output is not None else Path(f"{self.input.stem}_{self.mode}.wav")


def run_edit(job: EditJob) -> Path:
    """Run ``job`` and write the result as a 16-bit WAV at the model's rate; returns its path.

    The input, every argument and the output folder are checked before the model loads.

    Raises:
        AudioLoadError: the input cannot be read, is empty or too long.
        InvalidArgumentError: an unknown mode, a bad prompt, step count, guidance, seed, scheduler, strength,
            range or band (the message names the fix).
    """
    mode = edit_mode(job.mode)
    values = mode.values(job.mode_options)
    grid = model_grid(job.model)
    audio = load_input_audio(job.input, grid.sample_rate, MAX_LONG_DURATION - mode.added_seconds(values))
    duration, strength, mask = mode.region(values, audio, grid)
    output = job.output_path()
    options = replace(job, duration=duration, num_waveforms_per_prompt=1)
    check_prompts([job.prompt])
    check_sampling(options)
    check_edit_arguments(audio, strength, mask)
    if mask is not None:
        check_mask(mask, duration, grid)
    if output.suffix.lower() != ".wav":
        raise InvalidArgumentError(f"--output {output} must be a .wav file name.")
    check_writable([output])
    pipe = load_pipeline(job.model, job.device, job.dtype)
    result = run_sampling(pipe, [(job.prompt, 0)], options, audio=audio, strength=strength, mask=mask)
    return write_wav(output, result.audios[0], result.sample_rate)

"""One editing request of the page's "Edit audio" tab: an uploaded clip in memory plus the fields of
``audiodiff edit`` / ``inpaint`` / ``extend`` / ``bandwidth-extend``, validated before the model runs.

The upload arrives as Gradio's ``(sample_rate, samples)`` numpy pair (never a path); it is made mono float32
at the model's rate here.  The edit itself is described by :class:`audiodiff.editing.jobs.EditJob` and its
region by :func:`audiodiff.editing.jobs.edit_region`, as on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import resample
from ..editing.inputs import check_edit_arguments
from ..editing.jobs import EDIT_MODES, EditJob, edit_region
from ..editing.regions import AudioMask, LatentGrid, check_mask
from ..errors import InvalidArgumentError
from .request import ClipRequest, ServeLimits, parse_request

UPLOAD = Path("upload")  # EditJob.input: a name only; edit_region reads the job's mode and region, never a file
EDIT_FIELDS = ("mode", "strength", "start", "end", "fmin", "fmax", "seconds", "cutoff")


@dataclass(frozen=True)
class EditPlan:
    """A checked edit: the job, its input ``audio`` ``(samples,)`` float32 at the model's rate, and what the
    pipeline is called with (``duration`` in seconds, ``strength``, ``mask``)."""

    job: EditJob
    audio: np.ndarray
    duration: float
    strength: float
    mask: AudioMask | None


def upload_to_waveform(upload: tuple[int, np.ndarray] | None, sample_rate: int) -> np.ndarray:
    """Gradio's ``(rate Hz, samples)`` (``(n,)`` or ``(n, channels)``, integer PCM or float) -> mono
    ``(samples,)`` float32 in [-1, 1] at ``sample_rate`` Hz.

    Raises:
        InvalidArgumentError: no upload, or one without samples.
    """
    if upload is None:
        raise InvalidArgumentError("No input audio; upload a WAV, FLAC or OGG file to edit.")
    rate, samples = upload
    samples = np.asarray(samples)
    if samples.size == 0:
        raise InvalidArgumentError("The uploaded audio holds no samples; upload another file.")
    if np.issubdtype(samples.dtype, np.integer):
        waveform = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    else:
        waveform = samples.astype(np.float32)
    mono = waveform.mean(axis=1) if waveform.ndim == 2 else waveform
    return resample(mono, int(rate), sample_rate)


def plan_edit(values: Mapping[str, object], audio: np.ndarray, grid: LatentGrid, limits: ServeLimits,
              defaults: ClipRequest | None = None) -> EditPlan:
    """Check an edit before any model work: ``values`` holds the generation fields of
    :func:`~audiodiff.serve.request.parse_request` (``num_clips`` excepted) plus :data:`EDIT_FIELDS` (``start``,
    ``end``, ``fmin``, ``fmax`` and ``cutoff`` may be numbers, None or text, blank text meaning none);
    ``audio`` is the input from :func:`upload_to_waveform`; missing fields take those of ``defaults``.

    Raises:
        InvalidArgumentError: a bad field (as :func:`parse_request`), an unknown mode, a strength outside
            [0, 1], a region outside the clip, or a result longer than ``limits.max_duration``.
    """
    edit = {name: values.get(name) for name in EDIT_FIELDS}
    if edit["mode"] not in EDIT_MODES:
        raise InvalidArgumentError(f"mode must be one of {', '.join(EDIT_MODES)}, got {edit['mode']!r}.")
    base = parse_request({k: v for k, v in values.items() if k not in EDIT_FIELDS},
                         limits, defaults)  # prompt, steps, guidance, seed, scheduler and their caps
    job = EditJob(
        mode=str(edit["mode"]), input=UPLOAD, prompt=base.prompt, negative_prompt=base.negative_prompt,
        strength=_number(edit, "strength", 1.0), start=_optional_number(edit, "start"),
        end=_optional_number(edit, "end"), fmin=_optional_number(edit, "fmin"), fmax=_optional_number(edit, "fmax"),
        seconds=_number(edit, "seconds", 5.0), cutoff=_optional_number(edit, "cutoff"),
        num_inference_steps=base.num_inference_steps, guidance_scale=base.guidance_scale, seed=base.seed,
        scheduler=base.scheduler,
    )
    duration, strength, mask = edit_region(job, audio, grid)
    if duration > limits.max_duration:
        raise InvalidArgumentError(
            f"The result would be {duration:.1f} s long; this server makes at most {limits.max_duration:g} s. "
            "Upload a shorter clip (or add fewer seconds)."
        )
    check_edit_arguments(audio, strength, mask)
    if mask is not None:
        check_mask(mask, duration, grid)
    return EditPlan(job, audio, duration, strength, mask)


def _number(values: Mapping[str, object], name: str, default: float) -> float:
    value = values.get(name)
    return default if value is None else _checked(name, value)


def _optional_number(values: Mapping[str, object], name: str) -> float | None:
    """A number, or None for a missing value or blank text; other text must read as a number."""
    value = values.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = float(value)
        except ValueError:
            raise InvalidArgumentError(f"{name} must be a number or left blank, got {value!r}.") from None
    return None if value is None else _checked(name, value)


def _checked(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}.")
    return float(value)

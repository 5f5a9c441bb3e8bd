"""One editing request of the page's "Edit audio" tab: an uploaded clip in memory plus the fields of
``audiodiff edit`` / ``inpaint`` / ``extend`` / ``bandwidth-extend``, validated before the model runs.

The upload arrives as Gradio's ``(sample_rate, samples)`` numpy pair (never a path); it is made mono float32
at the model's rate here and handed to the mode's region function of :data:`audiodiff.edit_modes.EDIT_MODES`
as audio, as the command line does with the file it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from ..audio import resample
from ..edit_modes import EDIT_MODES, edit_mode
from ..editing.inputs import check_edit_arguments
from ..editing.regions import AudioMask, LatentGrid, check_mask
from ..errors import InvalidArgumentError
from ..sampling import SamplingOptions
from .request import ClipRequest, ServeLimits, parse_request

EDIT_FIELDS = ("mode", *dict.fromkeys(option.name for mode in EDIT_MODES.values() for option in mode.options))
"""The fields an edit adds to a generation request: the mode and every mode's own options."""


@dataclass(frozen=True)
class EditPlan:
    """A checked edit: the ``mode``'s name, the ``prompt``, the sampling ``options`` (``duration``: the result's
    seconds), the input ``audio`` ``(samples,)`` float32 at the model's rate, and what the pipeline is called with
    besides (``strength``, ``mask``)."""

    mode: str
    prompt: str
    options: SamplingOptions
    audio: np.ndarray
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
    ``audio`` is the input from :func:`upload_to_waveform`; missing fields take those of ``defaults`` (the mode's
    own options: the mode's defaults).  Only the chosen mode's options are read.

    Raises:
        InvalidArgumentError: a bad field (as :func:`parse_request`), an unknown mode, a strength outside
            [0, 1], a region outside the clip, or a result longer than ``limits.max_duration``.
    """
    mode = edit_mode(values.get("mode"))
    base = parse_request({k: v for k, v in values.items() if k not in EDIT_FIELDS},
                         limits, defaults)  # prompt, steps, guidance, seed, scheduler and their caps
    given = {o.name: _number(values, o.name, o.default) if o.default is not None else _optional_number(values, o.name)
             for o in mode.options}
    duration, strength, mask = mode.region(mode.values(given), audio, grid)
    if duration > limits.max_duration:
        raise InvalidArgumentError(
            f"The result would be {duration:.1f} s long; this server makes at most {limits.max_duration:g} s. "
            "Upload a shorter clip (or add fewer seconds)."
        )
    check_edit_arguments(audio, strength, mask)
    if mask is not None:
        check_mask(mask, duration, grid)
    options = replace(base.sampling_options(), duration=duration, num_waveforms_per_prompt=1)
    return EditPlan(mode.name, base.prompt, options, audio, strength, mask)


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

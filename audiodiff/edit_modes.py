"""The edit modes, declared once: ``edit``, ``inpaint``, ``extend`` and ``bandwidth-extend``.

Each :class:`EditMode` names its command, help and description, its own options (flag, default, help) and how
it turns its option values and the input audio into the pipeline's ``(duration, strength, mask)``.  The CLI
adds one sub-command per entry of :data:`EDIT_MODES` (:mod:`audiodiff.cli`), the editing job
(:mod:`audiodiff.edit_jobs`) and serve's Edit tab (:mod:`audiodiff.serve.edit_request`) read their region from
it, and the page builds the Edit tab's widgets from the options' :class:`~audiodiff.sampling.Widget` hints.
Adding a mode: one entry here plus its region function (docs/architecture.md).

Nothing heavy is imported at module level (the CLI builds its parser from this table before torch loads);
the region functions import the editing modules when they run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .errors import InvalidArgumentError
from .sampling import Widget

if TYPE_CHECKING:
    import numpy as np

    from .editing.regions import AudioMask, LatentGrid

log = logging.getLogger(__name__)

Values = Mapping[str, "float | None"]
Region = tuple[float, float, "AudioMask | None"]


@dataclass(frozen=True)
class ModeOption:
    """One option of an edit mode: its name (the argparse ``dest`` and the job's key), ``--flag``, ``default``
    (None: not given) and help; the value is a float (seconds, Hz or a strength).  ``widget``: how the page's
    edit tab shows it (one widget per name, the first mode's; None: not on the page)."""

    name: str
    default: float | None
    help: str
    widget: Widget | None = None

    @property
    def flag(self) -> str:
        """``--name``."""
        return f"--{self.name}"


@dataclass(frozen=True)
class EditMode:
    """One edit mode.

    ``help``/``description``: the sub-command's; ``summary``: a few words for the page; ``options``: its own
    options in command-line order; ``region(values, audio, grid)``: ``(duration in seconds, strength, mask)``
    for option ``values`` (every option present) and the input ``audio`` ``(samples,)`` at ``grid.sample_rate``;
    ``added_seconds(values)``: how much longer than the input the result is (what caps the input's length).
    """

    name: str
    help: str
    description: str
    summary: str
    options: tuple[ModeOption, ...]
    region: Callable[[Values, np.ndarray, LatentGrid], Region]
    added_seconds: Callable[[Values], float] = lambda values: 0.0

    def values(self, given: Values) -> dict[str, float | None]:
        """Every option of this mode: ``given``'s value where it has one (not None), else the default."""
        return {o.name: given[o.name] if given.get(o.name) is not None else o.default for o in self.options}


def _strength(default: float) -> ModeOption:
    return ModeOption("strength", default, "in [0, 1]: how far the input is noised; 0 keeps it, 1 starts from noise "
                                           f"(default: {default:g})",
                      Widget("slider", "Strength ({modes}): 0 keeps the input", minimum=0, maximum=1, step=0.05))


def _seconds(audio: np.ndarray, grid: LatentGrid) -> float:
    return audio.size / grid.sample_rate


def _edit_region(values: Values, audio: np.ndarray, grid: LatentGrid) -> Region:
    return _seconds(audio, grid), values["strength"], None


def _inpaint_region(values: Values, audio: np.ndarray, grid: LatentGrid) -> Region:
    from .editing.regions import AudioMask

    mask = AudioMask(values["start"], values["end"], values["fmin"], values["fmax"])
    return _seconds(audio, grid), values["strength"], mask


def _valid_seconds(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0


def _extend_region(values: Values, audio: np.ndarray, grid: LatentGrid) -> Region:
    from .editing.regions import AudioMask
    added = values["seconds"]
    if not _valid_seconds(added):
        raise InvalidArgumentError(f"--seconds must be a number of seconds > 0 to add, got {added!r}.")
    seconds = _seconds(audio, grid)
    return seconds + added, 1.0, AudioMask(start=seconds)


def _bandwidth_region(values: Values, audio: np.ndarray, grid: LatentGrid) -> Region:
    from .editing.bandwidth import bandwidth_mask, measure_cutoff

    cutoff = values["cutoff"] if values["cutoff"] is not None else measure_cutoff(audio, grid.sample_rate)
    log.info("bandwidth extension: the input's band ends at %.0f Hz; generating %.0f-%.0f Hz",
             cutoff, cutoff, grid.mel_fmax)
    return _seconds(audio, grid), 1.0, bandwidth_mask(cutoff, grid.mel_fmax)


_MODES = (
    EditMode(
        "edit", "change a sound to match a prompt (audio-to-audio)",
        "Audio-to-audio (SDEdit): the input's latents are noised to --strength of the schedule and denoised with "
        "the prompt; low strength keeps the input's structure, 1 ignores it. See docs/editing.md.",
        "change it toward the prompt", (_strength(0.6),), _edit_region,
    ),
    EditMode(
        "inpaint", "regenerate a time span and/or frequency band of a sound, keep the rest",
        "Inpainting: the region --start..--end seconds (and/or --fmin..--fmax Hz) is generated from the prompt; "
        "everything outside it is re-imposed from the input at every step. See docs/editing.md.",
        "regenerate a span or band",
        (_strength(1.0),
         # On the page, text boxes, not number boxes: a blank box must mean "none" (a number box sends 0).
         ModeOption("start", None, "start of the region, seconds (default: 0)",
                    Widget("text", "Inpaint from (s)", placeholder="the start")),
         ModeOption("end", None, "end of the region, seconds (default: the clip's end)",
                    Widget("text", "to (s)", placeholder="the end")),
         ModeOption("fmin", None, "lowest frequency of the region, Hz (default: all)",
                    Widget("text", "Inpaint from (Hz)", placeholder="the lowest band")),
         ModeOption("fmax", None, "highest frequency of the region, Hz (default: all)",
                    Widget("text", "to (Hz)", placeholder="the highest band"))),
        _inpaint_region,
    ),
    EditMode(
        "extend", "continue a sound for more seconds",
        "Continuation: the input is kept and --seconds more are generated to follow it. See docs/editing.md.",
        "continue it", (ModeOption("seconds", 5.0, "seconds to add after the input (default: 5)",
                                   Widget("number", "Seconds to add (extend)", value=2.0)),), _extend_region,
        added_seconds=lambda values: values["seconds"] if _valid_seconds(values["seconds"]) else 0.0,
    ),
    EditMode(
        "bandwidth-extend", "generate the missing high band of band-limited audio (e.g. telephone speech)",
        "Bandwidth extension: the input's band up to its measured cutoff (or --cutoff Hz) is kept and the band "
        "above it, up to the model's top mel frequency, is generated. See docs/editing.md.",
        "generate the missing high band",
        (ModeOption("cutoff", None, "keep the band below this frequency, Hz (default: measured, where the input's "
                                    "spectrum falls 60 dB below its peak)"),),
        _bandwidth_region,
    ),
)
EDIT_MODES: dict[str, EditMode] = {mode.name: mode for mode in _MODES}
"""Every edit mode by name, in the CLI's order."""


def edit_mode(name: object) -> EditMode:
    """The mode called ``name``.

    Raises:
        InvalidArgumentError: an unknown mode (the message lists the modes).
    """
    if name not in EDIT_MODES:
        raise InvalidArgumentError(f"mode must be one of {', '.join(EDIT_MODES)}, got {name!r}.")
    return EDIT_MODES[name]

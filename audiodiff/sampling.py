"""The sampling options of every generating front end, declared once, and the one pipeline call made from them.

:class:`SamplingOptions` is the declaration: each field carries its command-line flag and help (an
:class:`OptionSpec` in the field's metadata), so ``audiodiff generate``, every edit mode and ``serve`` add their
options with :func:`add_sampling_arguments` and read them back with :func:`options_from_args`; serve's request
fields (:data:`audiodiff.serve.request.FIELDS`) are the fields with a ``served`` name, and the page's widgets
(:mod:`audiodiff.serve.page`) are built from their :class:`Widget` hints.  :func:`check_sampling`
is the validation every front end shares, and :func:`run_sampling` the pipeline call (scheduler swap, one seeded
generator per clip).  Adding an option: a field here, its check in :func:`check_sampling`, its argument in
:func:`run_sampling` (docs/architecture.md).

Nothing heavy is imported at module level: the CLI builds its parser from this module before torch loads.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import InvalidArgumentError

if TYPE_CHECKING:
    from diffusers.schedulers.scheduling_utils import SchedulerMixin

    from .pipeline import AudioDiffusionPipeline, AudioPipelineOutput

MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes seeds in [0, 2**64 - 1]
DTYPES = ("auto", "float32", "fp32", "bfloat16", "bf16")


WIDGET_KINDS = ("slider", "number", "dropdown", "text")
WIDGET_PLACES = ("prompt", "clip", "sampler")


@dataclass(frozen=True)
class Widget:
    """How the web page shows a served option: plain data, turned into a Gradio component by
    :mod:`audiodiff.serve.page` (no Gradio here).

    ``kind``: one of :data:`WIDGET_KINDS`; ``label``; ``minimum``/``maximum``/``step``: a slider's range;
    ``cap``: the :class:`~audiodiff.serve.request.ServeLimits` field that bounds the value on a server (a slider's
    maximum, a text box's length, ``{cap}`` in the label; a capped number's initial value is at most the cap);
    ``precision``: a number box's decimals (None: any); ``placeholder``: a text box's; ``choices``: the registry
    a dropdown lists (``"schedulers"``: :data:`audiodiff.schedulers.SCHEDULERS`); ``none_choice``: the dropdown
    entry that means None; ``elem_id``: the HTML id (default: the flag without dashes; the edit tab prefixes
    ``edit-``); ``place``: one of :data:`WIDGET_PLACES`, where on a tab the widget goes (beside the prompt, with
    what is made, or with the sampler's settings; in declaration order within a place).  The initial value is
    the model's default (:attr:`audiodiff.serve.engine.ClipEngine.defaults`), or ``value`` where given.  An edit
    mode's option (:class:`audiodiff.edit_modes.ModeOption`) has one too: its ``place`` is unused (the edit tab
    puts the modes' options between the prompt and the sampler), its label may name ``{modes}``, the modes that
    have it, and its initial value is its default.
    """

    kind: str
    label: str
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    cap: str | None = None
    precision: int | None = None
    placeholder: str | None = None
    choices: str | None = None
    none_choice: str | None = None
    elem_id: str | None = None
    place: str = "sampler"
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in WIDGET_KINDS or self.place not in WIDGET_PLACES:
            raise ValueError(f"a widget's kind is one of {WIDGET_KINDS} and its place one of {WIDGET_PLACES}, "
                             f"got {self.kind!r} and {self.place!r}")


@dataclass(frozen=True)
class OptionSpec:
    """How one sampling option is asked for.

    ``flag``: the command-line option (its argparse ``dest`` is the flag without dashes, ``-`` as ``_``);
    ``help``; ``type`` and ``choices`` as argparse's; ``served``: the field's name in a serve request (None: the
    server decides it, e.g. the model); ``per_edit``: False where an edit mode decides it (the duration comes
    from the region, an edit makes one clip), so the edit commands have no such flag, nor the page's edit tab
    a widget; ``widget``: how the page shows it (every served option has one).
    """

    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    served: str | None = None
    per_edit: bool = True
    widget: Widget | None = None

    def __post_init__(self) -> None:
        if (self.served is None) != (self.widget is None):
            raise ValueError(f"{self.flag}: a served option has a widget and only a served one")

    @property
    def dest(self) -> str:
        """The argparse attribute the flag's value lands in."""
        return self.flag.lstrip("-").replace("-", "_")


def _option(default: Any, flag: str, help: str, **spec: Any) -> Any:
    return field(default=default, metadata={"option": OptionSpec(flag, help, **spec)})


@dataclass(frozen=True)
class SamplingOptions:
    """How clips are sampled, whatever the front end (CLI, editing jobs, serve, the page).

    ``duration`` in seconds; ``num_inference_steps`` and ``guidance_scale`` None: the model folder's defaults (25
    and 3 for the default model, 4 and 1 for a distilled few-step one); clip ``k`` of a prompt uses
    ``seed + k``; ``scheduler`` None keeps the model's sampler; ``model`` None: the default model; ``device`` and
    ``dtype`` as :func:`audiodiff.devices.resolve_device` / :func:`~audiodiff.devices.resolve_dtype`.  Field
    order is the command line's.
    """

    duration: float = _option(5.0, "--duration", "seconds per clip (default: 5; beyond the model's max_duration, up "
                              "to 300, the clip is made in overlapping windows)", type=float, served="duration",
                              per_edit=False, widget=Widget("number", "Duration (s, at most {cap:g})",
                                                            cap="max_duration", place="clip"))
    num_inference_steps: int | None = _option(
        None, "--steps", "sampler steps, num_inference_steps (default: the model's; 25 for the default model, 4 for "
        "a distilled few-step one)", type=int, served="num_inference_steps",
        widget=Widget("slider", "Steps", minimum=1, step=1, cap="max_steps"))
    guidance_scale: float | None = _option(
        None, "--guidance-scale", "classifier-free guidance weight (default: the model's; 3 for the default model, 1 "
        "for a distilled one, whose guidance is folded in)", type=float, served="guidance_scale",
        widget=Widget("slider", "Guidance scale", minimum=0, maximum=10, step=0.1, elem_id="guidance"))
    guidance_rescale: float = _option(
        0.0, "--guidance-rescale", "in [0, 1]: rescale the guided noise prediction toward the conditional one's "
        "standard deviation (Lin et al. 2024; counters over-saturation at high guidance; default: 0, off)",
        type=float, served="guidance_rescale",
        widget=Widget("slider", "Guidance rescale (0: off)", minimum=0, maximum=1, step=0.05))
    negative_prompt: str | None = _option(None, "--negative-prompt", "what to steer away from, e.g. 'low quality, "
                                          "noise'", served="negative_prompt",
                                          widget=Widget("text", "Negative prompt", cap="max_prompt_chars",
                                                        placeholder="low quality, noise", place="prompt"))
    seed: int = _option(0, "--seed", "random seed (default: 0)", type=int, served="seed",
                        widget=Widget("number", "Seed (clip k uses seed + k)", precision=0))
    scheduler: str | None = _option(None, "--scheduler", "sampler: ddpm, ddim, pndm, dpmsolver++, euler, "
                                    "euler_ancestral, heun, unipc (default: the model's)", served="scheduler",
                                    widget=Widget("dropdown", "Scheduler", choices="schedulers",
                                                  none_choice="model default"))
    model: Path | None = _option(None, "--model", "pipeline folder (default: $AUDIODIFF_MODEL or checkpoints/default)",
                                 type=Path)
    device: str = _option("auto", "--device", "auto (cuda when present), cpu, cuda, cuda:N")
    dtype: str = _option("auto", "--dtype", "compute dtype of U-Net, VAE and vocoder (default auto: on a CPU the "
                         "faster of bf16 and float32 there, measured once and cached; float32 on a GPU)",
                         choices=DTYPES)
    num_waveforms_per_prompt: int = _option(1, "--num-waveforms", "clips per prompt (default: 1)", type=int,
                                            served="num_clips", per_edit=False,
                                            widget=Widget("slider", "Clips", minimum=1, step=1, cap="max_clips",
                                                          elem_id="clips", place="clip"))


def option_fields(declaration: type = SamplingOptions) -> Iterator[tuple[Field[Any], OptionSpec]]:
    """Every field of ``declaration`` (:class:`SamplingOptions` or a subclass of it) with its :class:`OptionSpec`,
    in declaration order."""
    for item in fields(declaration):
        yield item, item.metadata["option"]


def add_sampling_arguments(parser: argparse.ArgumentParser, names: Sequence[str] | None = None, *,
                           edit: bool = False, helps: Mapping[str, str] | None = None) -> None:
    """Add the options ``names`` (default: every one; with ``edit``, those an edit mode does not decide) to
    ``parser`` in declaration order; ``helps`` replaces the help of some (by field name)."""
    helps = helps or {}
    for item, spec in option_fields():
        if (names is not None and item.name not in names) or (edit and not spec.per_edit):
            continue
        kwargs: dict[str, Any] = {"default": item.default, "help": helps.get(item.name, spec.help)}
        if spec.type is not None:
            kwargs["type"] = spec.type
        if spec.choices is not None:
            kwargs["choices"] = spec.choices
        parser.add_argument(spec.flag, **kwargs)


def options_from_args(args: argparse.Namespace) -> SamplingOptions:
    """The :class:`SamplingOptions` of parsed arguments; options the command has no flag for keep their defaults."""
    return SamplingOptions(**{item.name: getattr(args, spec.dest) for item, spec in option_fields()
                              if hasattr(args, spec.dest)})


def sampling_values(options: SamplingOptions) -> dict[str, Any]:
    """``options`` as a dict of field name -> value (to build a job that extends :class:`SamplingOptions`)."""
    return {item.name: getattr(options, item.name) for item in fields(SamplingOptions)}


def check_sampling(options: SamplingOptions) -> None:
    """Check the sampling options before any model work (every front end calls this).

    Raises:
        InvalidArgumentError: a duration that is not a finite number in ``(0, MAX_LONG_DURATION]`` (300 s; beyond
            the model's ``max_duration`` in windows), steps or clips per prompt below 1, a guidance scale that is
            not a finite number >= 0, a guidance rescale outside [0, 1], a seed outside
            ``[0, 2**64 - num_waveforms_per_prompt]``, or an unknown scheduler.
    """
    from .long_form import MAX_LONG_DURATION
    from .schedulers import check_scheduler_name

    if not is_finite_number(options.duration) or not 0 < options.duration <= MAX_LONG_DURATION:
        raise InvalidArgumentError(
            f"duration must be in (0, {MAX_LONG_DURATION:g}] seconds, got {options.duration!r} (clips longer than "
            "the model's max_duration are made in overlapping windows)."
        )
    for name in ("num_inference_steps", "num_waveforms_per_prompt"):
        check_count(name, getattr(options, name))
    if options.guidance_scale is not None and (not is_finite_number(options.guidance_scale)
                                               or options.guidance_scale < 0):
        raise InvalidArgumentError(f"guidance_scale must be a finite number >= 0, got {options.guidance_scale!r}.")
    check_guidance_rescale(options.guidance_rescale)
    highest = MAX_SEED - (options.num_waveforms_per_prompt - 1)
    if not isinstance(options.seed, int) or not 0 <= options.seed <= highest:
        raise InvalidArgumentError(
            f"seed must be an integer in [0, {highest}] (clip k of a prompt uses seed + k), got {options.seed!r}."
        )
    if options.scheduler is not None:
        check_scheduler_name(options.scheduler)


def check_guidance_rescale(value: object) -> None:
    """Refuse a guidance rescale that is not a number in [0, 1].

    Raises:
        InvalidArgumentError: ``"guidance_rescale must be a number in [0, 1] (0: off), got {value!r}."``
    """
    if not is_finite_number(value) or not 0 <= value <= 1:
        raise InvalidArgumentError(f"guidance_rescale must be a number in [0, 1] (0: off), got {value!r}.")


def check_count(name: str, value: object) -> None:
    """Refuse a count that is not None or an integer >= 1.

    Raises:
        InvalidArgumentError: ``"{name} must be an integer >= 1, got {value!r}."``
    """
    if value is not None and (not isinstance(value, int) or value < 1):
        raise InvalidArgumentError(f"{name} must be an integer >= 1, got {value!r}.")


def is_finite_number(value: object) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def run_sampling(pipe: AudioDiffusionPipeline, clips: Sequence[tuple[str, int]], options: SamplingOptions,
                 base_scheduler: SchedulerMixin | None = None, **inputs: Any) -> AudioPipelineOutput:
    """One pipeline call for ``clips``, ``(prompt, k)`` pairs: clip ``k`` of a prompt is drawn from a
    ``torch.Generator`` seeded ``options.seed + k``, so a clip is the same audio alone or in a batch.

    The pipeline's scheduler becomes ``options.scheduler`` built from ``base_scheduler``'s noise schedule
    (default: the pipeline's current one), or ``base_scheduler`` itself when ``options.scheduler`` is None.
    ``inputs``: the pipeline's editing arguments (``audio``, ``strength``, ``mask``).  Outputs ``audios``
    ``(len(clips), samples)`` in ``clips`` order at ``sample_rate``.
    """
    import torch

    from .schedulers import swap_scheduler

    base = base_scheduler if base_scheduler is not None else pipe.scheduler
    pipe.scheduler = base if options.scheduler is None else swap_scheduler(base, options.scheduler)
    return pipe(
        [prompt for prompt, _ in clips], negative_prompt=options.negative_prompt, duration=options.duration,
        num_inference_steps=options.num_inference_steps, guidance_scale=options.guidance_scale,
        guidance_rescale=options.guidance_rescale,
        generator=[torch.Generator(device=pipe.device).manual_seed(options.seed + k) for _, k in clips], **inputs,
    )

"""One generation request of ``audiodiff serve``, validated the same way for the page and the HTTP API.

A request is a flat mapping of JSON-like values (the API's body, or the page's widget values); it is checked
against the server's :class:`ServeLimits` first (caps that protect a shared server; the engine lowers
``max_duration`` to the model's) and then by :func:`audiodiff.generate.check_job` (what any generation
accepts), so a value the CLI refuses is refused here with the same message.  Nothing in a request names a
file: every field is text or a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from ..errors import InvalidArgumentError
from ..generate import GenerateJob, check_job

if TYPE_CHECKING:
    from ..pipeline import AudioDiffusionPipeline


@dataclass(frozen=True)
class ServeLimits:
    """Caps a server puts on every request, on top of the model's own ``max_duration``.

    ``max_duration``: seconds per clip; ``max_clips``: clips per request; ``max_prompt_chars``: characters of
    the prompt and of the negative prompt; ``max_steps``: sampler steps; ``max_body_bytes``: size of an API
    request body; ``max_upload_bytes``: size of a file uploaded through the page (Gradio refuses larger ones);
    ``queue_size``: requests that may wait while one runs (one more is answered "busy").
    """

    max_duration: float = 10.0
    max_clips: int = 4
    max_prompt_chars: int = 300
    max_steps: int = 100
    max_body_bytes: int = 16 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024
    queue_size: int = 4

    def __post_init__(self) -> None:
        if not (_number(self.max_duration) and self.max_duration > 0):
            raise InvalidArgumentError(f"max_duration must be a positive number of seconds, got {self.max_duration!r}.")
        for name in ("max_clips", "max_prompt_chars", "max_steps", "max_body_bytes", "max_upload_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgumentError(f"{name} must be an integer >= 1, got {value!r}.")
        if not isinstance(self.queue_size, int) or self.queue_size < 0:
            raise InvalidArgumentError(f"queue_size must be an integer >= 0, got {self.queue_size!r}.")


@dataclass(frozen=True)
class ClipRequest:
    """What to generate: ``num_clips`` clips of ``duration`` seconds for ``prompt``; clip ``k`` uses ``seed + k``
    (as ``audiodiff generate``); ``scheduler`` None keeps the model's sampler."""

    prompt: str
    negative_prompt: str | None = None
    duration: float = 5.0
    num_inference_steps: int = 25
    guidance_scale: float = 3.0
    seed: int = 0
    num_clips: int = 1
    scheduler: str | None = None


FIELDS = tuple(f.name for f in fields(ClipRequest))


def model_defaults(pipe: AudioDiffusionPipeline) -> ClipRequest:
    """:class:`ClipRequest`'s defaults with the model folder's own steps and guidance (``default_num_inference_steps``
    and ``default_guidance_scale``: 25 and 3 for the default model, 4 and 1 for a distilled few-step one)."""
    return ClipRequest(prompt="", num_inference_steps=int(pipe.config.default_num_inference_steps),
                       guidance_scale=float(pipe.config.default_guidance_scale))


def parse_request(
    values: Mapping[str, object], limits: ServeLimits, defaults: ClipRequest | None = None
) -> ClipRequest:
    """A :class:`ClipRequest` from JSON-like ``values`` (missing fields take those of ``defaults``, by default
    :class:`ClipRequest`'s; the duration's is capped at ``limits.max_duration``).

    Integers may come as whole floats (``5.0``, what a number widget sends); a blank negative prompt or
    scheduler means none.

    Raises:
        InvalidArgumentError: an unknown field, a value of the wrong type, a value above a server cap, or a value
            :func:`audiodiff.generate.check_job` refuses; the message names the field and the allowed range.
    """
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise InvalidArgumentError(f"Unknown field(s) {names}; the fields are {', '.join(FIELDS)}.")
    if "prompt" not in values:
        raise InvalidArgumentError("The field 'prompt' is required, e.g. {\"prompt\": \"a dog barking\"}.")
    defaults = defaults or ClipRequest(prompt="")
    request = ClipRequest(
        prompt=_text(values, "prompt", limits.max_prompt_chars),
        negative_prompt=_optional_text(values, "negative_prompt", limits.max_prompt_chars),
        duration=_float(values, "duration", min(defaults.duration, limits.max_duration)),
        num_inference_steps=_int(values, "num_inference_steps", defaults.num_inference_steps),
        guidance_scale=_float(values, "guidance_scale", defaults.guidance_scale),
        seed=_int(values, "seed", defaults.seed),
        num_clips=_int(values, "num_clips", defaults.num_clips),
        scheduler=_optional_text(values, "scheduler", 64),
    )
    _check_caps(request, limits)
    check_job(to_job(request))
    return request


def to_job(request: ClipRequest) -> GenerateJob:
    """The :class:`~audiodiff.generate.GenerateJob` that ``audiodiff generate`` would run for ``request``."""
    return GenerateJob(
        prompts=[request.prompt], duration=request.duration, num_inference_steps=request.num_inference_steps,
        guidance_scale=request.guidance_scale, negative_prompt=request.negative_prompt, seed=request.seed,
        num_waveforms_per_prompt=request.num_clips, scheduler=request.scheduler,
    )


def _check_caps(request: ClipRequest, limits: ServeLimits) -> None:
    if _number(request.duration) and request.duration > limits.max_duration:
        raise InvalidArgumentError(
            f"duration must be at most {limits.max_duration:g} seconds on this server, got {request.duration!r}."
        )
    if request.num_clips > limits.max_clips:
        raise InvalidArgumentError(
            f"num_clips must be at most {limits.max_clips} on this server, got {request.num_clips}."
        )
    if request.num_inference_steps > limits.max_steps:
        raise InvalidArgumentError(
            f"num_inference_steps must be at most {limits.max_steps} on this server, got {request.num_inference_steps}."
        )


def _text(values: Mapping[str, object], name: str, max_chars: int) -> str:
    value = values[name]
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be text, got {type(value).__name__}.")
    if len(value) > max_chars:
        raise InvalidArgumentError(f"{name} is {len(value)} characters; this server takes at most {max_chars}.")
    return value.strip()


def _optional_text(values: Mapping[str, object], name: str, max_chars: int) -> str | None:
    if values.get(name) is None:
        return None
    return _text(values, name, max_chars) or None


def _float(values: Mapping[str, object], name: str, default: float) -> float:
    value = values.get(name, default)
    if not _number(value):
        raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def _int(values: Mapping[str, object], name: str, default: int) -> int:
    value = values.get(name, default)
    if isinstance(value, float) and _number(value) and value.is_integer():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}.")
    return value


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

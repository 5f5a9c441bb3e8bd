"""One generation request of ``audiodiff serve``, validated the same way for the page and the HTTP API.

A request is a flat mapping of JSON-like values (the API's body, or the page's widget values); it is checked
against the server's :class:`ServeLimits` first (caps that protect a shared server; the engine lowers
``max_duration`` to the model's) and then by :func:`audiodiff.sampling.check_sampling` (what any generation
accepts), so a value the CLI refuses is refused here with the same message.  Nothing in a request names a
file: every field is text or a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, make_dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError
from ..generate import check_prompts
from ..sampling import SamplingOptions, check_sampling, is_finite_number, option_fields

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
        if not (is_finite_number(self.max_duration) and self.max_duration > 0):
            raise InvalidArgumentError(f"max_duration must be a positive number of seconds, got {self.max_duration!r}.")
        for name in ("max_clips", "max_prompt_chars", "max_steps", "max_body_bytes", "max_upload_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgumentError(f"{name} must be an integer >= 1, got {value!r}.")
        if not isinstance(self.queue_size, int) or self.queue_size < 0:
            raise InvalidArgumentError(f"queue_size must be an integer >= 0, got {self.queue_size!r}.")


SERVED = {spec.served: item for item, spec in option_fields() if spec.served is not None}
"""The request field of each served sampling option (``num_clips`` is ``num_waveforms_per_prompt``)."""
MODEL_FALLBACKS = {"num_inference_steps": 25, "guidance_scale": 3.0}  # the default model's, when no model is at hand
TEXT_CAPS = {"scheduler": 64}  # characters; other text fields: limits.max_prompt_chars


def _request_fields() -> list[tuple[Any, ...]]:
    served = [(name, item.type, field(default=MODEL_FALLBACKS.get(item.name, item.default)))
              for name, item in SERVED.items()]
    return [("prompt", "str"), *served]


def _sampling_options(self: ClipRequest) -> SamplingOptions:
    """The :class:`~audiodiff.sampling.SamplingOptions` ``audiodiff generate`` would run for this request."""
    return SamplingOptions(**{item.name: getattr(self, name) for name, item in SERVED.items()})


ClipRequest = make_dataclass("ClipRequest", _request_fields(), frozen=True,
                             namespace={"sampling_options": _sampling_options})
ClipRequest.__module__ = __name__
ClipRequest.__doc__ = """What to generate: ``prompt`` and the served fields of
:class:`~audiodiff.sampling.SamplingOptions` (:data:`SERVED`): ``num_clips`` clips of ``duration`` seconds; clip
``k`` uses ``seed + k`` (as ``audiodiff generate``); ``scheduler`` None keeps the model's sampler."""

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

    Integers may come as whole floats (``5.0``, what a number widget sends); a blank text field (negative
    prompt, scheduler) means none.

    Raises:
        InvalidArgumentError: an unknown field, a value of the wrong type, a value above a server cap, or a value
            :func:`audiodiff.sampling.check_sampling` refuses; the message names the field and the allowed range.
    """
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise InvalidArgumentError(f"Unknown field(s) {names}; the fields are {', '.join(FIELDS)}.")
    if "prompt" not in values:
        raise InvalidArgumentError("The field 'prompt' is required, e.g. {\"prompt\": \"a dog barking\"}.")
    defaults = defaults or ClipRequest(prompt="")
    parsed = {name: _value(values, name, str(item.type), getattr(defaults, name), limits)
              for name, item in SERVED.items()}
    request = ClipRequest(prompt=_text(values, "prompt", limits.max_prompt_chars), **parsed)
    _check_caps(request, limits)
    check_prompts([request.prompt])
    check_sampling(request.sampling_options())
    return request


def _value(values: Mapping[str, object], name: str, kind: str, default: object, limits: ServeLimits) -> object:
    """Field ``name`` of ``values`` read as its declared type ``kind`` (``"int | None"``...), else ``default``."""
    if kind.startswith("str"):
        return _optional_text(values, name, TEXT_CAPS.get(name, limits.max_prompt_chars))
    if name == "duration":
        default = min(default, limits.max_duration)
    return _int(values, name, default) if kind.startswith("int") else _float(values, name, default)


def _check_caps(request: ClipRequest, limits: ServeLimits) -> None:
    if is_finite_number(request.duration) and request.duration > limits.max_duration:
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
    if not is_finite_number(value):
        raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def _int(values: Mapping[str, object], name: str, default: int) -> int:
    value = values.get(name, default)
    if isinstance(value, float) and is_finite_number(value) and value.is_integer():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}.")
    return value


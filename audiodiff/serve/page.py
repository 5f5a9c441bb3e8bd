"""The Gradio page of ``audiodiff serve``: widgets around :meth:`ClipEngine.generate` and :meth:`ClipEngine.edit`,
no model logic.

As in the Gradio apps of AudioLDM and stable-audio-tools: one ``Blocks`` page whose button calls the library
(here through the same :class:`~audiodiff.serve.engine.ClipEngine` as the HTTP API, so both give the same
audio).  A bad input or a full queue is shown as a message in the "Status" box, never as a traceback.

The sampling widgets are built from the declaration (:class:`audiodiff.sampling.SamplingOptions`): one per
served option, from its :class:`~audiodiff.sampling.Widget` hint, the server's caps
(:class:`~audiodiff.serve.request.ServeLimits`) and the model's defaults (:attr:`ClipEngine.defaults`), placed
by the hint's ``place`` and passed to the handlers by their request names: a served option added to the
declaration gets its widget on both tabs (the edit tab only where it is ``per_edit``) and its Gradio API parameter
with no change here.  The edit tab's
widgets for the modes' own options (strength, region, seconds) come the same way from the edit-mode table
(:data:`audiodiff.edit_modes.EDIT_MODES`, each :class:`~audiodiff.edit_modes.ModeOption`'s widget hint).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr
import numpy as np
import soundfile as sf

from ..audio import encode_wav
from ..edit_modes import EDIT_MODES, ModeOption
from ..errors import AudioLoadError, InvalidArgumentError
from ..sampling import WIDGET_PLACES, OptionSpec, Widget, option_fields
from ..schedulers import SCHEDULERS
from .engine import Clip, ClipEngine, ServerBusyError
from .images import log_mel_image
from .request import ServeLimits

log = logging.getLogger(__name__)

CHOICES: dict[str, Callable[[], list[str]]] = {"schedulers": lambda: list(SCHEDULERS)}
"""What a dropdown's :attr:`Widget.choices` names."""


def served_options(edit: bool = False) -> dict[str, list[OptionSpec]]:
    """The served sampling options of a tab by :attr:`Widget.place` (in declaration order within a place); with
    ``edit``, those of the edit tab (the ``per_edit`` ones)."""
    specs = [spec for _, spec in option_fields() if spec.served is not None and (spec.per_edit or not edit)]
    return {place: [spec for spec in specs if spec.widget.place == place] for place in WIDGET_PLACES}


def mode_options() -> dict[str, ModeOption]:
    """The edit modes' own options that the edit tab shows (those with a widget hint), by name, once each (the
    first mode's) in the table's order."""
    options: dict[str, ModeOption] = {}
    for mode in EDIT_MODES.values():
        for option in mode.options:
            if option.widget is not None:
                options.setdefault(option.name, option)
    return options


def input_names(edit: bool = False) -> tuple[str, ...]:
    """The names of a tab's inputs in page order, which is the order of the Gradio API's parameters (``/generate``,
    and ``/edit`` after its upload)."""
    served = {place: [spec.served for spec in specs] for place, specs in served_options(edit).items()}
    if edit:
        return ("mode", "prompt", *served["prompt"], *served["clip"], *mode_options(), *served["sampler"])
    return ("prompt", *served["prompt"], *served["clip"], *served["sampler"])


INPUT_NAMES = input_names()
"""The "Text to audio" tab's inputs, in page (and Gradio API) order."""
EDIT_INPUT_NAMES = input_names(edit=True)
"""The "Edit audio" tab's inputs after the upload, in page (and Gradio API) order."""


def handle(engine: ClipEngine, values: Mapping[str, object]) -> tuple[str, list[Clip]]:
    """The "Text to audio" request: widget values by input name (:data:`INPUT_NAMES`) -> (status text, clips).

    A bad value or a full queue gives its message and no clips; an unexpected failure is logged with its
    traceback and shown as a one-line internal error.
    """
    values = _none_choices(values)
    error, clips = _guarded(lambda: engine.generate(engine.parse(values)))
    if error:
        return error, []
    seconds = clips[0].audio.size / clips[0].sample_rate
    seeds = ", ".join(str(clip.seed) for clip in clips)
    return f"Generated {len(clips)} clip(s) of {seconds:g} s (seed {seeds}).", clips


def handle_edit(engine: ClipEngine, upload: tuple[int, np.ndarray] | None,
                values: Mapping[str, object]) -> tuple[str, list[Clip]]:
    """The "Edit audio" request: Gradio's ``(rate, samples)`` upload and widget values by input name
    (:data:`EDIT_INPUT_NAMES`) -> (status text, the edited clip or nothing), as :func:`handle`."""
    values = _none_choices(values)
    error, clips = _guarded(lambda: [engine.edit(engine.plan_edit(values, upload))])
    if error:
        return error, []
    seconds = clips[0].audio.size / clips[0].sample_rate
    return f"{values['mode']}: {seconds:g} s (seed {clips[0].seed}).", clips


def build_page(engine: ClipEngine) -> gr.Blocks:
    """The Blocks page: a "Text to audio" tab (inputs, Generate, status, ``max_clips`` slots of player + log-mel)
    and an "Edit audio" tab (upload, mode, region, Edit, status, one slot)."""
    with gr.Blocks(title="audiodiff", analytics_enabled=False, delete_cache=(600, 1800)) as page:
        gr.Markdown("# audiodiff\nText to audio with a warm model. Scripts can call `POST /api/generate` "
                    "(see docs/serve.md).")
        with gr.Tab("Text to audio"):
            _generate_tab(engine)
        with gr.Tab("Edit audio"):
            _edit_tab(engine)
    return page


# The handlers take the widget values by name (Gradio's inputs_kwargs, in page order, which names the API's
# parameters) and the progress first: Gradio's idiom, a gr.Progress default makes it show the sampler's tqdm bar.

def _generate_tab(engine: ClipEngine) -> None:
    limits = engine.limits
    served = served_options()
    with gr.Row():
        with gr.Column():
            inputs = {"prompt": _prompt_box(limits.max_prompt_chars, "")}
            for place in WIDGET_PLACES:
                inputs |= _option_widgets(engine, served[place], "")
            button = gr.Button("Generate", variant="primary", elem_id="generate")
        with gr.Column():
            status = gr.Textbox(label="Status", interactive=False, elem_id="status")
            slots = []
            for k in range(limits.max_clips):
                with gr.Column(visible=False) as column:
                    slots += [column, *_clip_widgets(f"Clip {k + 1}", f"clip-{k}", f"mel-{k}")]

    def run(progress: gr.Progress = gr.Progress(track_tqdm=True), **values: Any) -> list[Any]:  # noqa: B008
        message, clips = handle(engine, values)
        return [message, *_slot_updates(engine, clips, limits.max_clips)]

    button.click(run, inputs_kwargs=inputs, outputs=[status, *slots], api_name="generate", concurrency_limit=1)


def _edit_tab(engine: ClipEngine) -> None:
    limits = engine.limits
    served = served_options(edit=True)
    with gr.Row():
        with gr.Column():
            upload = gr.Audio(label=f"Input audio (at most {limits.max_duration:g} s with what is added)",
                              sources=["upload"], type="numpy", elem_id="edit-input")
            mode = gr.Radio(list(EDIT_MODES), value="edit", label="Mode", elem_id="edit-mode",
                            info="; ".join(f"{m.name}: {m.summary}" for m in EDIT_MODES.values()))
            inputs = {"mode": mode, "prompt": _prompt_box(limits.max_prompt_chars, "edit-")}
            inputs |= _option_widgets(engine, served["prompt"] + served["clip"], "edit-")
            inputs |= _mode_widgets(engine.limits)
            inputs |= _option_widgets(engine, served["sampler"], "edit-")
            button = gr.Button("Edit", variant="primary", elem_id="edit-run")
        with gr.Column():
            status = gr.Textbox(label="Status", interactive=False, elem_id="edit-status")
            audio, image = _clip_widgets("Result", "edit-clip", "edit-mel")
    mode.change(_strength, inputs=mode, outputs=inputs["strength"])  # the mode's default, as the CLI

    def run(upload: tuple[int, np.ndarray] | None, progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
            **values: Any) -> list[Any]:
        message, clips = handle_edit(engine, upload, values)
        return [message, *_slot_updates(engine, clips, 1)[1:]]

    button.click(run, inputs=[upload], inputs_kwargs=inputs, outputs=[status, audio, image], api_name="edit",
                 concurrency_limit=1)


def _strength(mode: str) -> float:
    """The default strength of an edit mode (1 for the modes without a strength option)."""
    return EDIT_MODES[mode].values({}).get("strength", 1.0)


def _mode_widgets(limits: ServeLimits) -> dict[str, gr.components.Component]:
    """The widgets of :func:`mode_options`, by name, initially the first mode's defaults; text boxes side by side
    (a region's bounds)."""
    widgets: dict[str, gr.components.Component] = {}
    for text, options in itertools.groupby(mode_options().values(), key=lambda option: option.widget.kind == "text"):
        with gr.Row() if text else contextlib.nullcontext():
            for option in options:
                hint = option.widget
                modes = ", ".join(mode.name for mode in EDIT_MODES.values() if option.name in mode.values({}))
                default = option.default if hint.value is None else hint.value
                widgets[option.name] = _widget(hint, default, limits, f"edit-{hint.elem_id or option.name}",
                                               modes=modes)
    return widgets


def _prompt_box(max_chars: int, prefix: str) -> gr.Textbox:
    return gr.Textbox(label="Prompt", placeholder="a dog barking", max_length=max_chars, elem_id=f"{prefix}prompt")


def _option_widgets(engine: ClipEngine, specs: list[OptionSpec], prefix: str) -> dict[str, gr.components.Component]:
    """The widgets of served options ``specs``, by request name, from their :class:`Widget` hints, the server's
    caps (``engine.limits``) and the model's defaults (``engine.defaults``); ``prefix`` goes before the ids."""
    return {spec.served: _widget(spec.widget, getattr(engine.defaults, spec.served), engine.limits,
                                 prefix + (spec.widget.elem_id or spec.dest.replace("_", "-")))
            for spec in specs}


def _widget(hint: Widget, default: Any, limits: ServeLimits, elem_id: str,
            modes: str = "") -> gr.components.Component:
    """One Gradio component for ``hint``, showing ``default`` (a capped number: at most the cap); ``modes`` fills
    ``{modes}`` in the label."""
    cap = getattr(limits, hint.cap) if hint.cap else None
    label = hint.label.format(cap=cap, modes=modes)
    if cap is not None and hint.kind in ("slider", "number"):
        default = min(default, cap)
    if hint.kind == "slider":
        return gr.Slider(hint.minimum, hint.maximum if cap is None else cap, value=default, step=hint.step,
                         label=label, elem_id=elem_id)
    if hint.kind == "number":
        return gr.Number(label=label, value=default, precision=hint.precision, elem_id=elem_id)
    if hint.kind == "dropdown":
        choices = CHOICES[hint.choices]() if hint.choices else []
        if hint.none_choice is not None:
            choices = [hint.none_choice, *choices]
        return gr.Dropdown(choices, value=hint.none_choice if default is None else default, label=label,
                           elem_id=elem_id)
    return gr.Textbox(label=label, placeholder=hint.placeholder, max_length=cap, elem_id=elem_id)


def _clip_widgets(label: str, audio_id: str, image_id: str) -> list[gr.components.Component]:
    """A clip's player (the browser's own, with a download button) and its log-mel picture."""
    return [gr.Audio(label=label, type="numpy", format="wav", interactive=False, buttons=["download"],
                     elem_id=audio_id, waveform_options=gr.WaveformOptions(show_recording_waveform=False)),
            gr.Image(label=f"Log-mel of {label.lower()}", interactive=False, format="png",
                     buttons=["download", "fullscreen"], elem_id=image_id)]


def _none_choices(values: Mapping[str, object]) -> dict[str, object]:
    """``values`` with each dropdown's :attr:`Widget.none_choice` (e.g. "model default") read as None."""
    none_choices = {spec.served: spec.widget.none_choice for _, spec in option_fields() if spec.widget}
    return {name: None if value is not None and value == none_choices.get(name) else value
            for name, value in values.items()}


def _guarded(action: Callable[[], list[Clip]]) -> tuple[str | None, list[Clip]]:
    """``(None, clips)``, or ``(message, [])`` for a bad value, a full queue or an unexpected failure (logged)."""
    try:
        return None, action()
    except (InvalidArgumentError, AudioLoadError, ServerBusyError) as error:
        return f"Error: {error}", []
    except Exception:
        log.exception("a page request failed")
        return "Error: internal error; the server's log has the details.", []


def _slot_updates(engine: ClipEngine, clips: list[Clip], count: int) -> list[Any]:
    updates: list[Any] = []
    for k in range(count):
        if k < len(clips):
            clip = clips[k]
            updates += [gr.update(visible=True), (clip.sample_rate, _pcm16(clip)),
                        log_mel_image(engine.log_mel(clip.audio))]
        else:
            updates += [gr.update(visible=False), None, None]
    return updates


def _pcm16(clip: Clip) -> np.ndarray:
    """The clip's 16-bit samples exactly as the API's WAV holds them (Gradio writes integer samples unchanged)."""
    samples, _ = sf.read(io.BytesIO(encode_wav(clip.audio, clip.sample_rate)), dtype="int16")
    return samples

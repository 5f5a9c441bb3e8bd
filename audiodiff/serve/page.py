"""The Gradio page of ``audiodiff serve``: widgets around :meth:`ClipEngine.generate` and :meth:`ClipEngine.edit`,
no model logic.

As in the Gradio apps of AudioLDM and stable-audio-tools: one ``Blocks`` page whose button calls the library
(here through the same :class:`~audiodiff.serve.engine.ClipEngine` as the HTTP API, so both give the same
audio).  A bad input or a full queue is shown as a message in the "Status" box, never as a traceback.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr
import numpy as np
import soundfile as sf

from ..audio import encode_wav
from ..edit_modes import EDIT_MODES
from ..errors import AudioLoadError, InvalidArgumentError
from ..schedulers import SCHEDULERS
from .engine import Clip, ClipEngine, ServerBusyError
from .images import log_mel_image
from .request import ClipRequest

log = logging.getLogger(__name__)

MODEL_SCHEDULER = "model default"
INPUT_NAMES = ("prompt", "negative_prompt", "duration", "num_inference_steps", "guidance_scale", "guidance_rescale",
               "seed", "num_clips", "scheduler")
SAMPLING_INPUT_NAMES = ("num_inference_steps", "guidance_scale", "guidance_rescale", "seed", "scheduler")
"""What :func:`_sampling_widgets` returns, in order (both tabs)."""
EDIT_INPUT_NAMES = ("mode", "prompt", "negative_prompt", "strength", "start", "end", "fmin", "fmax", "seconds",
                    *SAMPLING_INPUT_NAMES)


def handle(engine: ClipEngine, *inputs: object) -> tuple[str, list[Clip]]:
    """The "Text to audio" request: widget values in :data:`INPUT_NAMES` order -> (status text, clips).

    A bad value or a full queue gives its message and no clips; an unexpected failure is logged with its
    traceback and shown as a one-line internal error.
    """
    values = _with_scheduler(dict(zip(INPUT_NAMES, inputs)))
    error, clips = _guarded(lambda: engine.generate(engine.parse(values)))
    if error:
        return error, []
    seconds = clips[0].audio.size / clips[0].sample_rate
    seeds = ", ".join(str(clip.seed) for clip in clips)
    return f"Generated {len(clips)} clip(s) of {seconds:g} s (seed {seeds}).", clips


def handle_edit(engine: ClipEngine, upload: tuple[int, np.ndarray] | None, *inputs: object) -> tuple[str, list[Clip]]:
    """The "Edit audio" request: Gradio's ``(rate, samples)`` upload and widget values in
    :data:`EDIT_INPUT_NAMES` order -> (status text, the edited clip or nothing), as :func:`handle`."""
    values = _with_scheduler(dict(zip(EDIT_INPUT_NAMES, inputs)))
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


def _generate_tab(engine: ClipEngine) -> None:
    limits, defaults = engine.limits, engine.defaults
    with gr.Row():
        with gr.Column():
            prompts = _prompt_boxes(limits.max_prompt_chars, "")
            duration = gr.Number(label=f"Duration (s, at most {limits.max_duration:g})",
                                 value=min(defaults.duration, limits.max_duration), elem_id="duration")
            num_clips = gr.Slider(1, limits.max_clips, value=defaults.num_clips, step=1, label="Clips",
                                  elem_id="clips")
            steps, guidance, rescale, seed, scheduler = _sampling_widgets(defaults, limits.max_steps, "")
            inputs = [*prompts, duration, steps, guidance, rescale, seed, num_clips, scheduler]  # INPUT_NAMES' order
            button = gr.Button("Generate", variant="primary", elem_id="generate")
        with gr.Column():
            status = gr.Textbox(label="Status", interactive=False, elem_id="status")
            slots = []
            for k in range(limits.max_clips):
                with gr.Column(visible=False) as column:
                    slots += [column, *_clip_widgets(f"Clip {k + 1}", f"clip-{k}", f"mel-{k}")]

    # One named parameter per input (Gradio matches them by position), and Gradio's idiom for progress: a
    # gr.Progress default makes it show the sampler's tqdm bar on the page.
    def run(prompt: str, negative_prompt: str, duration: float, num_inference_steps: float, guidance_scale: float,
            guidance_rescale: float, seed: float, num_clips: float, scheduler: str,
            progress: gr.Progress = gr.Progress(track_tqdm=True)) -> list[Any]:  # noqa: B008
        message, clips = handle(engine, prompt, negative_prompt, duration, num_inference_steps, guidance_scale,
                                guidance_rescale, seed, num_clips, scheduler)
        return [message, *_slot_updates(engine, clips, limits.max_clips)]

    button.click(run, inputs=inputs, outputs=[status, *slots], api_name="generate", concurrency_limit=1)


def _edit_tab(engine: ClipEngine) -> None:
    limits = engine.limits
    with gr.Row():
        with gr.Column():
            upload = gr.Audio(label=f"Input audio (at most {limits.max_duration:g} s with what is added)",
                              sources=["upload"], type="numpy", elem_id="edit-input")
            mode = gr.Radio(list(EDIT_MODES), value="edit", label="Mode", elem_id="edit-mode",
                            info="; ".join(f"{m.name}: {m.summary}" for m in EDIT_MODES.values()))
            prompts = _prompt_boxes(limits.max_prompt_chars, "edit-")
            with_strength = ", ".join(m.name for m in EDIT_MODES.values() if "strength" in m.values({}))
            strength = gr.Slider(0, 1, value=_strength("edit"), step=0.05,
                                 label=f"Strength ({with_strength}): 0 keeps the input",
                                 elem_id="edit-strength")
            with gr.Row():
                # Text, not gr.Number: a blank box must mean "none" (a Number shows and sends 0).
                start = gr.Textbox(label="Inpaint from (s)", placeholder="the start", elem_id="edit-start")
                end = gr.Textbox(label="to (s)", placeholder="the end", elem_id="edit-end")
                fmin = gr.Textbox(label="Inpaint from (Hz)", placeholder="the lowest band", elem_id="edit-fmin")
                fmax = gr.Textbox(label="to (Hz)", placeholder="the highest band", elem_id="edit-fmax")
            seconds = gr.Number(label="Seconds to add (extend)", value=2.0, elem_id="edit-seconds")
            sampling = _sampling_widgets(engine.defaults, limits.max_steps, "edit-")
            button = gr.Button("Edit", variant="primary", elem_id="edit-run")
        with gr.Column():
            status = gr.Textbox(label="Status", interactive=False, elem_id="edit-status")
            audio, image = _clip_widgets("Result", "edit-clip", "edit-mel")
    mode.change(_strength, inputs=mode, outputs=strength)  # the mode's default, as the CLI

    def run(upload: tuple[int, np.ndarray] | None, mode: str, prompt: str, negative_prompt: str, strength: float,
            start: str, end: str, fmin: str, fmax: str, seconds: float,
            num_inference_steps: float, guidance_scale: float, guidance_rescale: float, seed: float, scheduler: str,
            progress: gr.Progress = gr.Progress(track_tqdm=True)) -> list[Any]:  # noqa: B008
        message, clips = handle_edit(engine, upload, mode, prompt, negative_prompt, strength, start, end, fmin, fmax,
                                     seconds, num_inference_steps, guidance_scale, guidance_rescale, seed, scheduler)
        return [message, *_slot_updates(engine, clips, 1)[1:]]

    button.click(run, inputs=[upload, mode, *prompts, strength, start, end, fmin, fmax, seconds, *sampling],
                 outputs=[status, audio, image], api_name="edit", concurrency_limit=1)


def _strength(mode: str) -> float:
    """The default strength of an edit mode (1 for the modes without a strength option)."""
    return EDIT_MODES[mode].values({}).get("strength", 1.0)


def _prompt_boxes(max_chars: int, prefix: str) -> list[gr.Textbox]:
    return [gr.Textbox(label="Prompt", placeholder="a dog barking", max_length=max_chars, elem_id=f"{prefix}prompt"),
            gr.Textbox(label="Negative prompt", placeholder="low quality, noise", max_length=max_chars,
                       elem_id=f"{prefix}negative-prompt")]


def _sampling_widgets(defaults: ClipRequest, max_steps: int, prefix: str) -> list[gr.components.Component]:
    """The widgets of :data:`SAMPLING_INPUT_NAMES` (steps, guidance scale and rescale, seed, scheduler), with
    ``defaults`` (the model's, :attr:`ClipEngine.defaults`)."""
    return [
        gr.Slider(1, max_steps, value=defaults.num_inference_steps, step=1, label="Steps", elem_id=f"{prefix}steps"),
        gr.Slider(0, 10, value=defaults.guidance_scale, step=0.1, label="Guidance scale", elem_id=f"{prefix}guidance"),
        gr.Slider(0, 1, value=defaults.guidance_rescale, step=0.05, label="Guidance rescale (0: off)",
                  elem_id=f"{prefix}guidance-rescale"),
        gr.Number(label="Seed (clip k uses seed + k)", value=defaults.seed, precision=0, elem_id=f"{prefix}seed"),
        gr.Dropdown([MODEL_SCHEDULER, *SCHEDULERS], value=MODEL_SCHEDULER, label="Scheduler",
                    elem_id=f"{prefix}scheduler"),
    ]


def _clip_widgets(label: str, audio_id: str, image_id: str) -> list[gr.components.Component]:
    """A clip's player (the browser's own, with a download button) and its log-mel picture."""
    return [gr.Audio(label=label, type="numpy", format="wav", interactive=False, buttons=["download"],
                     elem_id=audio_id, waveform_options=gr.WaveformOptions(show_recording_waveform=False)),
            gr.Image(label=f"Log-mel of {label.lower()}", interactive=False, format="png",
                     buttons=["download", "fullscreen"], elem_id=image_id)]


def _with_scheduler(values: dict[str, object]) -> dict[str, object]:
    if values.get("scheduler") == MODEL_SCHEDULER:
        values["scheduler"] = None
    return values


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

"""The Gradio page of ``audiodiff serve``: widgets around :meth:`ClipEngine.generate`, no model logic.

As in the Gradio apps of AudioLDM and stable-audio-tools: one ``Blocks`` page whose button calls the library
(here through the same :class:`~audiodiff.serve.engine.ClipEngine` as the HTTP API, so both give the same
audio).  A bad input or a full queue is shown as a message in the "Status" box, never as a traceback.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import gradio as gr
import numpy as np
import soundfile as sf

from ..audio import encode_wav
from ..errors import InvalidArgumentError
from ..schedulers import SCHEDULERS
from .engine import Clip, ClipEngine, ServerBusyError
from .images import log_mel_image
from .request import ClipRequest

log = logging.getLogger(__name__)

MODEL_SCHEDULER = "model default"
INPUT_NAMES = ("prompt", "negative_prompt", "duration", "num_inference_steps", "guidance_scale", "seed", "num_clips",
               "scheduler")


def handle(engine: ClipEngine, *inputs: object) -> tuple[str, list[Clip]]:
    """The page's request: widget values in :data:`INPUT_NAMES` order -> (status text, clips).

    A bad value or a full queue gives its message and no clips; an unexpected failure is logged with its
    traceback and shown as a one-line internal error.
    """
    values = dict(zip(INPUT_NAMES, inputs))
    if values["scheduler"] == MODEL_SCHEDULER:
        values["scheduler"] = None
    try:
        request = engine.parse(values)
        clips = engine.generate(request)
    except (InvalidArgumentError, ServerBusyError) as error:
        return f"Error: {error}", []
    except Exception:
        log.exception("the page's generate request failed")
        return "Error: internal error while generating; the server's log has the details.", []
    seeds = ", ".join(str(clip.seed) for clip in clips)
    return f"Generated {len(clips)} clip(s) of {request.duration:g} s (seed {seeds}).", clips


def build_page(engine: ClipEngine) -> gr.Blocks:
    """The Blocks page: inputs, a Generate button, a status line and ``max_clips`` slots (player + log-mel)."""
    limits = engine.limits
    defaults = ClipRequest(prompt="")
    with gr.Blocks(title="audiodiff", analytics_enabled=False, delete_cache=(600, 1800)) as page:
        gr.Markdown("# audiodiff\nText to audio with a warm model. Scripts can call `POST /api/generate` "
                    "(see docs/serve.md).")
        with gr.Tab("Text to audio"), gr.Row():
            with gr.Column():
                inputs = [
                    gr.Textbox(label="Prompt", placeholder="a dog barking", max_length=limits.max_prompt_chars,
                               elem_id="prompt"),
                    gr.Textbox(label="Negative prompt", placeholder="low quality, noise",
                               max_length=limits.max_prompt_chars, elem_id="negative-prompt"),
                    gr.Number(label=f"Duration (s, at most {limits.max_duration:g})",
                              value=min(defaults.duration, limits.max_duration), elem_id="duration"),
                    gr.Slider(1, limits.max_steps, value=defaults.num_inference_steps, step=1, label="Steps",
                              elem_id="steps"),
                    gr.Slider(0, 10, value=defaults.guidance_scale, step=0.1, label="Guidance scale",
                              elem_id="guidance"),
                    gr.Number(label="Seed (clip k uses seed + k)", value=defaults.seed, precision=0, elem_id="seed"),
                    gr.Slider(1, limits.max_clips, value=defaults.num_clips, step=1, label="Clips", elem_id="clips"),
                    gr.Dropdown([MODEL_SCHEDULER, *SCHEDULERS], value=MODEL_SCHEDULER, label="Scheduler",
                                elem_id="scheduler"),
                ]
                button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column():
                status = gr.Textbox(label="Status", interactive=False, elem_id="status")
                slots = []
                for k in range(limits.max_clips):
                    with gr.Column(visible=False) as column:
                        audio = gr.Audio(label=f"Clip {k + 1}", type="numpy", format="wav", interactive=False,
                                         buttons=["download"], elem_id=f"clip-{k}",  # the browser's own player:
                                         waveform_options=gr.WaveformOptions(show_recording_waveform=False))
                        image = gr.Image(label=f"Log-mel of clip {k + 1}", interactive=False, format="png",
                                         buttons=["download", "fullscreen"], elem_id=f"mel-{k}")
                    slots += [column, audio, image]

        # One named parameter per input (Gradio matches them by position), and Gradio's idiom for progress: a
        # gr.Progress default makes it show the sampler's tqdm bar on the page.
        def run(prompt: str, negative_prompt: str, duration: float, num_inference_steps: float, guidance_scale: float,
                seed: float, num_clips: float, scheduler: str,
                progress: gr.Progress = gr.Progress(track_tqdm=True)) -> list[Any]:  # noqa: B008
            message, clips = handle(engine, prompt, negative_prompt, duration, num_inference_steps, guidance_scale,
                                    seed, num_clips, scheduler)
            return [message, *_slot_updates(engine, clips, limits.max_clips)]

        button.click(run, inputs=inputs, outputs=[status, *slots], api_name="generate", concurrency_limit=1)
    return page


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

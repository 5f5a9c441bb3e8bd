"""The warm model behind ``audiodiff serve``: one pipeline, one request at a time, a bounded wait list.

The page and the HTTP API both call :meth:`ClipEngine.generate` (the page's "Edit audio" tab
:meth:`ClipEngine.edit`), so they give the same audio for the same request, and share one bound: at most
``1 + queue_size`` requests are admitted (one running, the rest waiting their turn); one more is refused at
once with :class:`ServerBusyError` instead of waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import torch

from ..errors import AudiodiffError
from ..pipeline import AudioDiffusionPipeline
from ..sampling import run_sampling
from .edit_request import EditPlan, plan_edit, upload_to_waveform
from .request import ClipRequest, ServeLimits, model_defaults, parse_request

log = logging.getLogger(__name__)


def _call_here(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


class ServerBusyError(AudiodiffError, RuntimeError):
    """Every place in the queue is taken; the caller should retry in a moment (HTTP 503)."""


@dataclass(frozen=True)
class Clip:
    """One generated clip: ``audio`` ``(samples,)`` float32 in [-1, 1] at ``sample_rate`` Hz, made with ``seed``."""

    audio: np.ndarray
    sample_rate: int
    seed: int


class ClipEngine:
    """Generates the clips of a :class:`ClipRequest` with a loaded pipeline.

    Args:
        pipe: a pipeline ready for inference (see :func:`audiodiff.loading.load_pipeline`); its scheduler is the
            default one, replaced per request while that request runs.
        limits: the server's caps; ``limits.queue_size`` requests may wait while one runs.  Its
            ``max_duration`` is lowered to the model's (``self.limits`` holds the caps in force).  A request's
            missing steps and guidance are the model folder's (``self.defaults``).
        call: how a model call is made, ``call(function, *args)``; default: in the requesting thread.
            ``audiodiff serve`` passes :meth:`~audiodiff.serve.main_thread.MainThreadRunner.run`.
    """

    def __init__(self, pipe: AudioDiffusionPipeline, limits: ServeLimits,
                 call: Callable[..., Any] | None = None):
        self.pipe = pipe
        self._call = call or _call_here
        self.limits = replace(limits, max_duration=min(limits.max_duration, float(pipe.config.max_duration)))
        self.defaults = model_defaults(pipe)
        self._default_scheduler = pipe.scheduler
        self._run_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._admitted = 0

    @property
    def sample_rate(self) -> int:
        """The model's output rate in Hz."""
        return self.pipe.sample_rate

    def parse(self, values: Mapping[str, object]) -> ClipRequest:
        """:func:`~audiodiff.serve.request.parse_request` with this engine's limits and the model's defaults."""
        return parse_request(values, self.limits, self.defaults)

    def generate(self, request: ClipRequest) -> list[Clip]:
        """The ``request.num_clips`` clips of ``request``, clip ``k`` from seed ``request.seed + k``.

        Blocks while earlier requests run.  The audio equals what ``audiodiff generate`` writes for the same
        arguments (before its 16-bit rounding).

        Raises:
            ServerBusyError: ``1 + limits.queue_size`` requests are already admitted.
        """
        with self._admission(), self._run_lock:
            return self._call(self._run, request)

    def plan_edit(self, values: Mapping[str, object], upload: tuple[int, np.ndarray] | None) -> EditPlan:
        """:func:`~audiodiff.serve.edit_request.plan_edit` of an uploaded clip with this engine's model and limits."""
        audio = upload_to_waveform(upload, self.sample_rate)
        return plan_edit(values, audio, self.pipe.latent_grid(), self.limits, self.defaults)

    def edit(self, plan: EditPlan) -> Clip:
        """The edited clip of ``plan`` (one clip, seed ``plan.options.seed``), as ``audiodiff edit`` / ``inpaint`` /
        ``extend`` / ``bandwidth-extend`` makes it.

        Raises:
            ServerBusyError: as :meth:`generate`, with which edits share the queue.
        """
        with self._admission(), self._run_lock:
            return self._call(self._run_edit, plan)

    def _run_edit(self, plan: EditPlan) -> Clip:
        log.info("%s of a %.1f s clip for %r", plan.mode, plan.audio.size / self.sample_rate, plan.prompt)
        result = run_sampling(self.pipe, [(plan.prompt, 0)], plan.options, self._default_scheduler, audio=plan.audio,
                              strength=plan.strength, mask=plan.mask)
        return Clip(result.audios[0], result.sample_rate, plan.options.seed)

    def log_mel(self, audio: np.ndarray) -> np.ndarray:
        """The model's log-mel ``(n_mels, frames)`` of a ``(samples,)`` clip (natural log of mel magnitudes)."""
        with torch.inference_mode():
            waveform = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
            mel = self.pipe.mel(waveform.to(self.pipe.mel.device))
        return mel[0].cpu().numpy()

    @contextmanager
    def _admission(self) -> Iterator[None]:
        with self._count_lock:
            if self._admitted > self.limits.queue_size:
                raise ServerBusyError(
                    f"The server is busy ({self._admitted} requests running or queued, queue size "
                    f"{self.limits.queue_size}); retry in a few seconds."
                )
            self._admitted += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._admitted -= 1

    def _run(self, request: ClipRequest) -> list[Clip]:
        options = request.sampling_options()
        log.info("generating %d x %g s for %r (%d steps, seed %d)", request.num_clips, request.duration,
                 request.prompt, request.num_inference_steps, request.seed)
        clips = [(request.prompt, k) for k in range(request.num_clips)]
        result = run_sampling(self.pipe, clips, options, self._default_scheduler)
        return [Clip(audio, result.sample_rate, options.seed + k) for audio, (_, k) in zip(result.audios, clips)]

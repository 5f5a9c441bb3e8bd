"""``audiodiff serve``: load the pipeline once, then serve the page and the API on one port (uvicorn)."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import uvicorn
from fastapi import FastAPI

from ..loading import load_pipeline
from .api import api_router
from .engine import ClipEngine
from .main_thread import MainThreadRunner, run_in_thread
from .page import build_page
from .request import ServeLimits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    """What ``audiodiff serve`` runs: the model folder (None: the default model), where to listen, the device and
    compute dtype (as ``audiodiff generate``) and the caps on requests."""

    model: Path | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    device: str = "auto"
    dtype: str = "auto"
    limits: ServeLimits = field(default_factory=ServeLimits)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_engine(options: ServeOptions, call: Callable[..., Any] | None = None) -> ClipEngine:
    """Load the pipeline (the slow part, once) and wrap it; ``call`` as :class:`ClipEngine`'s.

    Raises:
        ModelNotFoundError, IncompatibleModelError, DeviceError: as :func:`audiodiff.loading.load_pipeline`.
    """
    return ClipEngine(load_pipeline(options.model, options.device, options.dtype), options.limits, call)


def build_app(engine: ClipEngine) -> FastAPI:
    """One ASGI app: the JSON API under ``/api`` and the Gradio page at ``/`` with a queue of
    ``limits.queue_size`` running one request at a time."""
    app = FastAPI(title="audiodiff", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(api_router(engine))
    page = build_page(engine).queue(max_size=engine.limits.queue_size, default_concurrency_limit=1)
    return gr.mount_gradio_app(app, page, path="/", show_error=False, max_file_size=engine.limits.max_upload_bytes,
                               ssr_mode=False, footer_links=[], enable_monitoring=False, mcp_server=False)


def serve(options: ServeOptions) -> None:
    """Load the model and serve until interrupted; warns when ``options.host`` is not a loopback address."""
    if not is_loopback(options.host):
        log.warning("Listening on %s: anyone who can reach this address can use the model; audiodiff serve has no "
                    "authentication. Use --host 127.0.0.1 (the default) unless the network is trusted.", options.host)
    runner = MainThreadRunner()
    engine = build_engine(options, runner.run)
    engine.pipe.set_progress_bar_config(leave=False)
    log.info("Serving %s on http://%s:%d (API: POST /api/generate)", options.model or "the default model",
             options.host, options.port)
    server = uvicorn.Server(uvicorn.Config(build_app(engine), host=options.host, port=options.port,
                                           log_level="warning"))
    http = run_in_thread(server.run, "audiodiff-http")  # the model's calls stay on this (the main) thread
    try:
        runner.serve_until(stopped=lambda: not http.is_alive())
    finally:
        server.should_exit = True
        http.join(timeout=10)

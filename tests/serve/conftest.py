"""Fixtures of the ``audiodiff serve`` tests: an engine on the tiny model, and a real server process on a free
loopback port (stopped at the end of the session)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from audiodiff.serve.launch import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def require(module: str):
    """Import ``module``; skip the test where it is not installed, except under CI (CI=true), where that fails."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[dev]')")


@pytest.fixture()
def engine(tiny_pipeline_dir):
    """A :class:`ClipEngine` on a fresh tiny pipeline, caps of 4 s and 3 clips, one request may wait."""
    require("gradio")
    from audiodiff.loading import load_pipeline
    from audiodiff.serve.engine import ClipEngine
    from audiodiff.serve.request import ServeLimits

    pipe = load_pipeline(tiny_pipeline_dir, "cpu", "float32")
    pipe.set_progress_bar_config(disable=True)
    return ClipEngine(pipe, ServeLimits(max_duration=4.0, max_clips=3, queue_size=1))


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000


@pytest.fixture()
def page(tmp_path):
    """A page of Debian's headless chromium driven by Playwright (never a browser Playwright downloads)."""
    sync_api = require("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            context.set_default_timeout(TIMEOUT_MS)
            yield context.new_page()
        finally:
            context.close()


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path


@pytest.fixture(scope="session")
def server(tiny_pipeline_dir, tmp_path_factory) -> Iterator[Server]:
    """``audiodiff serve`` on the tiny model in its own process on 127.0.0.1 (queue size 2, clips of at most 4 s)."""
    require("gradio")
    require("httpx")
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", GRADIO_ANALYTICS_ENABLED="False",
               GRADIO_TEMP_DIR=str(tmp_path_factory.mktemp("gradio")))
    command = [sys.executable, "-m", "audiodiff.cli", "serve", "--model", str(tiny_pipeline_dir), "--port", str(port),
               "--queue-size", "2", "--max-duration", "4", "--device", "cpu", "--dtype", "float32"]
    with open(log, "w") as log_file:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield Server(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


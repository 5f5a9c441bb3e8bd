"""Helpers for running ``audiodiff serve`` in a child process: a free loopback port, and waiting until it answers.

Used by the serve tests and ``benchmarks/bench_serve.py``; handy for scripts that start a server themselves.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (the OS's pick)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 180.0,
                  poll_seconds: float = 0.5) -> None:
    """Poll ``GET {url}/api/limits`` until it answers 200.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:7860``.
        process: the server's process; its output goes to ``log``.
        timeout, poll_seconds: seconds in all, and between polls.

    Raises:
        RuntimeError: the process exited, or no answer within ``timeout``; the message holds the log.
    """
    import httpx  # a dependency of gradio (the serve extra)

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"audiodiff serve exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/api/limits", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(poll_seconds)
    raise RuntimeError(f"audiodiff serve did not answer within {timeout:.0f} s:\n{log.read_text(errors='replace')}")

"""A bounded load test on loopback: 20 concurrent API requests against ``audiodiff serve`` on the tiny model.

Every request either finishes (200 with a WAV) or is refused at once as busy (503); the server stays up and
its memory stays bounded.  The peak RSS is written to ``$AUDIODIFF_TEST_ARTIFACTS/serve_load.json``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("AUDIODIFF_TEST_ARTIFACTS", REPO / "test-artifacts"))
REQUESTS = 20
MAX_RSS_BYTES = 3 * 2**30  # the tiny model, torch, Gradio and 20 connections fit well under this


def test_twenty_concurrent_requests(server):
    import httpx  # installed with gradio, which the server fixture requires

    body = {"prompt": "footsteps on gravel", "duration": 1.0, "num_inference_steps": 4}
    peak = _PeakRss(server.process.pid)
    start = threading.Barrier(REQUESTS)

    def post(index: int) -> tuple[int, float, bytes]:
        start.wait(timeout=30)
        began = time.monotonic()
        response = httpx.post(f"{server.url}/api/generate", json=dict(body, seed=index), timeout=300)
        return response.status_code, time.monotonic() - began, response.content

    peak.start()
    try:
        with ThreadPoolExecutor(REQUESTS) as pool:
            results = list(pool.map(post, range(REQUESTS)))
    finally:
        peak.stop()
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {200, 503}, statuses
    assert 1 <= statuses.count(200) and 1 <= statuses.count(503)  # queue size 2: at most 3 at once are admitted
    assert all(seconds < 5 for status, seconds, _ in results if status == 503)  # refused at once, not queued
    assert all(content[:4] == b"RIFF" for status, _, content in results if status == 200)
    assert server.process.poll() is None
    assert httpx.post(f"{server.url}/api/generate", json=body, timeout=300).status_code == 200
    assert peak.bytes < MAX_RSS_BYTES
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report = {"requests": REQUESTS, "ok": statuses.count(200), "busy": statuses.count(503),
              "peak_rss_mib": round(peak.bytes / 2**20, 1),
              "slowest_ok_s": round(max(s for status, s, _ in results if status == 200), 2)}
    (ARTIFACTS / "serve_load.json").write_text(json.dumps(report, indent=2) + "\n")
    print(report)


class _PeakRss:
    """Samples a process's resident memory every 50 ms between ``start`` and ``stop``; ``bytes`` is the peak."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.bytes = max(self.bytes, self.process.memory_info().rss)
            self._stop.wait(0.05)

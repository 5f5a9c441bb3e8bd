"""``audiodiff serve`` speed through its HTTP API (issue 22): warm latency per clip and batch throughput.

Starts ``audiodiff serve`` on a free loopback port (127.0.0.1 only) with ``--model`` (default: the shipped
``checkpoints/default``), then, all through ``POST /api/generate`` with the API's defaults (25 steps,
guidance 3, the model's scheduler):

* ``startup_s``: from starting the process to the first answer of ``GET /api/limits`` (imports + model load);
* ``first_request_s``: the first 5 s clip (warm-up: lazy initialisation inside torch);
* ``warm_latency_s``: median (and all values) of ``--repeats`` single-clip requests, ``--duration`` s each;
* ``batch_s`` and ``batch_clips_per_s``: one request of ``--batch`` clips, median of ``--batch-repeats``;
* ``warm_cpu_s`` and ``batch_cpu_s``: the server process's CPU time (user + system, all threads) for the same
  requests, median: what a request costs whatever else shares the cores (on an idle 2-core machine the
  wall time is at least half of it);
* ``cold_generate_s`` (unless ``--no-cold``): one ``audiodiff generate`` of the same clip in a new process,
  the cost the server avoids.

Writes one JSON object (with the load average at start and end, CPU count and versions) to ``--output``.
Usage: ``HF_HUB_OFFLINE=1 python benchmarks/bench_serve.py`` (see benchmarks/README.md, "Serving").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from audiodiff.serve.launch import free_port, wait_until_up

REPO = Path(__file__).resolve().parent.parent
PROMPT = "a dog barking"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "checkpoints" / "default")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per clip")
    parser.add_argument("--repeats", type=int, default=5, help="timed single-clip requests")
    parser.add_argument("--batch", type=int, default=4, help="clips in the throughput request")
    parser.add_argument("--batch-repeats", type=int, default=2)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold `audiodiff generate` figure")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "serve_cpu.json")
    args = parser.parse_args()

    result: dict[str, object] = {"model": str(args.model), "duration_s": args.duration, "cpu_count": os.cpu_count(),
                                 "python": platform.python_version(), "load_average_start": os.getloadavg(),
                                 "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with open(log, "w") as log_file:
            server = subprocess.Popen(
                [sys.executable, "-m", "audiodiff.cli", "serve", "--model", str(args.model), "--port", str(port),
                 "--max-clips", str(max(4, args.batch))],
                cwd=REPO, env=dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False"),
                stdout=log_file, stderr=subprocess.STDOUT,
            )
        try:
            wait_until_up(url, server, log, timeout=300.0, poll_seconds=0.25)
            result["startup_s"] = round(time.monotonic() - began, 2)
            process = psutil.Process(server.pid)
            clip = {"prompt": PROMPT, "duration": args.duration}
            result["first_request_s"] = round(_timed_post(url, clip, process)[0], 3)
            singles = [_timed_post(url, dict(clip, seed=seed), process) for seed in range(args.repeats)]
            result["warm_latency_s"] = round(statistics.median(s for s, _ in singles), 3)
            result["warm_latencies_s"] = [round(s, 3) for s, _ in singles]
            result["warm_cpu_s"] = round(statistics.median(c for _, c in singles), 3)
            batches = [_timed_post(url, dict(clip, num_clips=args.batch, seed=seed), process)
                       for seed in range(args.batch_repeats)]
            batch_s = statistics.median(s for s, _ in batches)
            result["batch"] = args.batch
            result["batch_s"] = round(batch_s, 3)
            result["batch_clips_per_s"] = round(args.batch / batch_s, 3)
            result["batch_s_per_clip"] = round(batch_s / args.batch, 3)
            result["batch_cpu_s"] = round(statistics.median(c for _, c in batches), 3)
        finally:
            server.terminate()
            server.wait(timeout=30)
    if not args.no_cold:
        result["cold_generate_s"] = round(_cold_generate(args.model, args.duration), 2)
    result["load_average_end"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _timed_post(url: str, body: dict[str, object], server: psutil.Process) -> tuple[float, float]:
    """(wall seconds, server CPU seconds) of one ``POST /api/generate``."""
    cpu_before, began = _cpu_seconds(server), time.monotonic()
    response = httpx.post(f"{url}/api/generate", json=body, timeout=600)
    seconds, cpu = time.monotonic() - began, _cpu_seconds(server) - cpu_before
    if response.status_code != 200:
        raise RuntimeError(f"POST /api/generate answered {response.status_code}: {response.text}")
    return seconds, cpu


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _cold_generate(model: Path, duration: float) -> float:
    with tempfile.TemporaryDirectory() as folder:
        began = time.monotonic()
        subprocess.run([sys.executable, "-m", "audiodiff.cli", "generate", PROMPT, "--model", str(model),
                        "--duration", str(duration), "-o", str(Path(folder) / "cold.wav")],
                       cwd=REPO, env=dict(os.environ, HF_HUB_OFFLINE="1"), check=True, capture_output=True)
        return time.monotonic() - began


if __name__ == "__main__":
    main()

"""What `audiodiff generate` spends importing (issue 18): ``python -X importtime``, grouped by package.

Each repeat runs, in a fresh interpreter, ``python -X importtime -m audiodiff.cli generate PROMPT`` with
the default model (so every import the command makes is counted, also the ones made while loading
the model), and records:

* ``wall_s``: the whole command, start to exit (``time.perf_counter`` around the subprocess);
* ``import_s``: the sum of every module's self time in the importtime report (wall time spent in
  module bodies, i.e. importing);
* ``by_package``: that self time per top-level package (``torch``, ``diffusers``, ``scipy`` ...);
* ``cpu_s``: user + system CPU seconds of the child (``resource.getrusage``), which a loaded machine
  inflates far less than wall time.

The figure per key is the minimum over ``--repeats`` (the least disturbed run). ``--source DIR`` puts
another audiodiff source tree first on ``PYTHONPATH`` (e.g. a ``git worktree`` of an older commit) to
measure before and after in the same environment.  Results: printed as a markdown table and appended
as a JSON line to ``--output`` (default ``benchmarks/results/import_time.jsonl``).

    HF_HUB_OFFLINE=1 python benchmarks/import_time.py --repeats 5 --label after
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_importtime(report: str) -> dict[str, float]:
    """Self import time in seconds per top-level package, from ``-X importtime`` lines on stderr."""
    totals: collections.Counter[str] = collections.Counter()
    for line in report.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.split(":", 1)[1].split("|")
        totals[name.strip().split(".")[0]] += int(self_us) / 1e6
    return dict(totals)


def run_once(prompt: str, source: Path | None) -> dict:
    """One fresh ``audiodiff generate`` under ``-X importtime``; see the module docstring for the keys."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "audiodiff.cli", "generate", prompt, "-o", f"{tmp}/out.wav"],
            env=env, cwd=tmp, capture_output=True, text=True, check=False,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"audiodiff generate failed:\n{result.stderr[-2000:]}")
    by_package = parse_importtime(result.stderr)
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "import_s": sum(by_package.values()),
        "by_package": by_package,
    }


def summarise(runs: list[dict], top: int) -> dict:
    """Minimum over runs of each figure, and of each package's self time (the ``top`` largest kept)."""
    packages = {name for run in runs for name in run["by_package"]}
    by_package = {name: min(run["by_package"].get(name, 0.0) for run in runs) for name in packages}
    largest = dict(sorted(by_package.items(), key=lambda item: -item[1])[:top])
    return {key: min(run[key] for run in runs) for key in ("wall_s", "cpu_s", "import_s")} | {"by_package": largest}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompt", default="dog barking")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes; the minimum is reported")
    parser.add_argument("--source", type=Path, default=None, help="an audiodiff source tree to put first on PYTHONPATH")
    parser.add_argument("--label", default="", help="a name for this record (e.g. before, after)")
    parser.add_argument("--top", type=int, default=12, help="packages listed")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "import_time.jsonl")
    args = parser.parse_args(argv)

    load_start = os.getloadavg()[0]
    summary = summarise([run_once(args.prompt, args.source) for _ in range(args.repeats)], args.top)
    record = {"label": args.label, "repeats": args.repeats, "python": platform.python_version(),
              "load_average": [load_start, os.getloadavg()[0]], **summary}
    print(f"| {args.label or 'run'} | wall {summary['wall_s']:.2f} s | CPU {summary['cpu_s']:.2f} s | "
          f"importing {summary['import_s']:.2f} s |")
    for name, seconds in summary["by_package"].items():
        print(f"| {name} | {seconds:.3f} s |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()

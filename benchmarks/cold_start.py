"""Cold start of ``audiodiff generate "dog barking"`` (issue 35): the real CLI in fresh processes, both models.

One command, for the before/after figures of benchmarks/README.md (section "Cold start"):

    HF_HUB_OFFLINE=1 python benchmarks/cold_start.py --repeats 5 --tree after=. --tree before=/path/to/old/tree

For each tree (an audiodiff source folder put first on ``PYTHONPATH``; default: this checkout) and each model
(the default model, and ``--model checkpoints/fast``), ``--repeats`` fresh ``python -m audiodiff.cli generate
PROMPT`` processes, the trees and models interleaved run by run (so a shared machine's load drift hits all of
them alike), record:

* ``wall_s``: start to exit of the command (median over repeats; ``wall_all`` lists every run);
* ``cpu_s``: user + system CPU seconds of the child (median; a loaded machine inflates it far less than wall);

then one more run of each under ``-X importtime`` gives ``import_by_package`` (self import seconds per top-level
package, the 10 largest, as benchmarks/import_time.py counts them) and ``import_s`` (their sum), and one under
``cProfile`` gives ``profile``: the cumulative seconds of the pipeline's ``from_pretrained`` (of which the text
encoder's load) and of its ``__call__`` (inflated by the profiler, shares only).  The ``--dtype auto`` probe's
cache is warmed first (one untimed run per tree), as on any machine after its first run.

Results: a markdown table on stdout, one JSON line per tree appended to ``--output``
(default ``benchmarks/results/cold_start.jsonl``), with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_time import parse_importtime  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MODELS = {"default": None, "fast": REPO / "checkpoints" / "fast"}
PROFILED = {  # (file suffix, function name) -> key in the record
    ("audiodiff/pipeline.py", "from_pretrained"): "load_s",
    ("audiodiff/models/text_encoder.py", "load_text_encoder"): "text_encoder_load_s",
    ("audiodiff/pipeline.py", "__call__"): "call_s",
}


def command(prompt: str, model: Path | None, output: Path, wrapper: list[str]) -> list[str]:
    """``python [wrapper] -m audiodiff.cli generate PROMPT [--model M] -o OUTPUT``."""
    args = [sys.executable, *wrapper, "-m", "audiodiff.cli", "generate", prompt, "-o", str(output)]
    return args + (["--model", str(model)] if model is not None else [])


def run(args: list[str], source: Path) -> tuple[float, float, str]:
    """``(wall_s, cpu_s, stderr)`` of one fresh process with ``source`` first on ``PYTHONPATH``, in an empty
    working folder (the default model is then the one of ``source``'s tree)."""
    path = os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=path)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cwd:  # not the checkout: `python -m` puts the working folder first
        result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), result.stderr


def profile_figures(path: Path) -> dict[str, float]:
    """Cumulative seconds of the :data:`PROFILED` functions in a cProfile dump."""
    figures = {}
    for (filename, line, name), stat in pstats.Stats(str(path)).stats.items():
        for (suffix, function), key in PROFILED.items():
            if name == function and filename.endswith(suffix):
                figures[key] = round(max(figures.get(key, 0.0), stat[3]), 3)
    figures["total_s"] = round(pstats.Stats(str(path)).total_tt, 3)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompt", default="dog barking")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per tree and model; medians reported")
    parser.add_argument("--tree", action="append", default=[], metavar="LABEL=DIR",
                        help="an audiodiff source tree to measure (repeatable); default: this checkout as 'this'")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--no-breakdown", action="store_true", help="skip the -X importtime and cProfile runs")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "cold_start.jsonl")
    args = parser.parse_args(argv)
    trees = dict(item.split("=", 1) for item in args.tree) or {"this": str(REPO)}
    trees = {label: Path(folder).resolve() for label, folder in trees.items()}

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        for source in trees.values():  # warm the page cache and the --dtype auto probe's cache
            run(command(args.prompt, MODELS["fast"], out, []), source)
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.repeats):
            for label, source in trees.items():
                for model in args.models:
                    wall, cpu, _ = run(command(args.prompt, MODELS[model], out, []), source)
                    runs.setdefault((label, model), []).append((wall, cpu))
        breakdown: dict[tuple[str, str], dict] = {}
        if not args.no_breakdown:
            for label, source in trees.items():
                for model in args.models:
                    stderr = run(command(args.prompt, MODELS[model], out, ["-X", "importtime"]), source)[2]
                    by_package = parse_importtime(stderr)
                    largest = dict(sorted(by_package.items(), key=lambda item: -item[1])[:10])
                    dump = Path(tmp) / "profile.out"
                    run(command(args.prompt, MODELS[model], out, ["-m", "cProfile", "-o", str(dump)]), source)
                    breakdown[label, model] = {"import_s": round(sum(by_package.values()), 3),
                                               "import_by_package": {k: round(v, 3) for k, v in largest.items()},
                                               "profile": profile_figures(dump)}
    load_end = os.getloadavg()

    print("| tree | model | wall s (median) | CPU s (median) | importing s | walls |")
    print("| --- | --- | --- | --- | --- | --- |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for label, source in trees.items():
        record = {"label": label, "source": str(source), "prompt": args.prompt, "repeats": args.repeats,
                  "python": platform.python_version(), "cpu_count": os.cpu_count(),
                  "load_average": [load_start[0], load_end[0]], "models": {}}
        for model in args.models:
            walls, cpus = zip(*runs[label, model])
            entry = {"wall_s": round(statistics.median(walls), 3), "cpu_s": round(statistics.median(cpus), 3),
                     "wall_all": [round(w, 3) for w in walls], "cpu_all": [round(c, 3) for c in cpus],
                     **breakdown.get((label, model), {})}
            record["models"][model] = entry
            print(f"| {label} | {model} | {entry['wall_s']:.2f} | {entry['cpu_s']:.2f} | "
                  f"{entry.get('import_s', float('nan')):.2f} | {', '.join(f'{w:.1f}' for w in walls)} |")
        with args.output.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
    for (label, model), entry in breakdown.items():
        print(f"{label}/{model}: imports {entry['import_by_package']}; cProfile {entry['profile']}")
    print(f"load average {load_start[0]:.2f} -> {load_end[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

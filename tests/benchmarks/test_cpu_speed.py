"""benchmarks/cpu_speed.py --quick: every figure issue 9 asks for is in the JSON, finite, with the run's environment."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIRED = (
    "diffusion_train_clips_per_s", "diffusion_train_clips_per_s_baseline", "diffusion_train_peak_fraction",
    "vae_train_clips_per_s", "vae_train_clips_per_s_fp32_eager",
    "vocoder_train_segments_per_s", "vocoder_train_segments_per_s_fp32_eager",
    "generate_speedup_vs_audioldm_fp32", "generate_speedup_vs_audioldm_bf16", "default_generate_rtf",
    "bf16_peak_gflops", "generate_bf16_vs_fp32_mel_l1",
)


def load_benchmark():
    spec = importlib.util.spec_from_file_location("cpu_speed", REPO / "benchmarks" / "cpu_speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cpu_speed"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_every_required_key(tmp_path):
    output = tmp_path / "cpu_speed.json"
    load_benchmark().main(["--quick", "--skip", "threads", "--output", str(output), "--workdir", str(tmp_path / "work")])
    result = json.loads(output.read_text())
    for key in REQUIRED:
        assert isinstance(result[key], (int, float)) and math.isfinite(result[key]) and result[key] > 0, key
    assert result["cpu_model"] and isinstance(result["cpu_flags"], list) and result["threads"] >= 1
    assert len(result["load_average_start"]) == 3 and result["torch"]
    curves = result["details"]["curves"]
    assert len(curves["loss_bf16"]) == len(curves["loss_fp32"]) == curves["steps"]
    assert all(math.isfinite(x) for x in curves["loss_bf16"] + curves["loss_fp32"])
    # bf16 and fp32 really ran different arithmetic (the precision switch between paths worked)
    assert curves["loss_bf16"] != curves["loss_fp32"]
    diffusion = result["details"]["diffusion"]
    assert diffusion["new"]["mixed_precision"] == "bf16" and diffusion["baseline"]["mixed_precision"] == "no"
    assert diffusion["new"]["train_gflop_per_step"] > 0
    profile = result["details"]["profile"]
    for stage, paths in (("diffusion", ("baseline", "new")), ("vae", ("fp32_eager", "new")), ("vocoder", ("fp32_eager", "new"))):
        for name in paths:
            ops = profile[stage][name]["top_ops"]
            assert profile[stage][name]["ms_per_step"] > 0 and ops and sum(op["share"] for op in ops) <= 1.0, (stage, name)
            assert ops == sorted(ops, key=lambda op: -op["ms_per_step"])


def test_merge_keeps_sections_not_rerun():
    bench = load_benchmark()
    previous = {"details": {"vae": {"new": {"clips_per_s": 1.0}, "fp32_eager": {"clips_per_s": 0.5}}},
                "sections_run": ["vae"], "bf16_peak_gflops": 100.0}
    new = {"details": {"generate": {"rtf": 0.2, "mel_l1": {"bf16_vs_fp32_mean": 0.1}}}, "sections_run": ["generate"],
           "bf16_peak_gflops": 120.0}
    merged = bench.merge(previous, new)
    assert merged["vae_train_clips_per_s"] == 1.0 and merged["default_generate_rtf"] == 0.2
    assert merged["bf16_peak_gflops"] == 120.0 and merged["sections_run"] == ["generate", "vae"]

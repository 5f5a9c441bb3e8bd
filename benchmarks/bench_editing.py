"""Editing modes on the default model (issue 21): cost against text-to-audio, quality figures and the
docs/editing.md images, all from real outputs of the model.

Inputs are the model's own clips (reproducible without any recording): "a dog barking" (5 s, seed 0) for
editing, inpainting and continuation; "a man speaking" (5 s, seed 1) resampled to 8 kHz and back as
telephone audio for bandwidth extension.  Each mode then runs with 25 steps, guidance 3 and seed 0:

* ``cost``: U-Net calls (each one batched CFG evaluation of one window; exact), the process's CPU seconds
  (``time.process_time``, all threads: on shared cores far steadier than wall time, which is recorded too)
  as the median of ``--repeats`` with the modes interleaved round by round, both relative to text-to-audio
  of 5 s;
* ``quality``: log-mel L1 of the kept region to the input against the VAE round trip's (inpainting,
  continuation, bandwidth extension), the new region's distance, the edit distance per strength, the long
  clip's seam ratio (largest spectral flux within 2 frames of a window edge over the largest elsewhere);
* ``memory``: in a fresh process per duration (5 s, 10 s = one window, 30 s), the peak resident memory
  during the generation call above the resident memory before it (psutil, sampled every 2 ms).

Writes ``--output`` (JSON; ``--only`` reruns some sections and merges them into it) and
``docs/images/editing_*.png`` (with the ``quality`` section).
Usage: ``HF_HUB_OFFLINE=1 python benchmarks/bench_editing.py`` (about 10 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from audiodiff.audio import resample
from audiodiff.editing import AudioMask
from audiodiff.editing.bandwidth import bandwidth_mask, measure_cutoff
from audiodiff.loading import load_pipeline
from audiodiff.training.visuals import save_mel_comparison

REPO = Path(__file__).resolve().parent.parent
STEPS = 25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "checkpoints" / "default")
    parser.add_argument("--dtype", default="auto", help="as audiodiff generate --dtype")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", nargs="+", default=("cost", "quality", "memory"), choices=("cost", "quality", "memory"))
    parser.add_argument("--images", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "editing_cpu.json")
    args = parser.parse_args()
    previous = json.loads(args.output.read_text()) if args.output.is_file() and len(args.only) < 3 else {}
    result: dict[str, object] = {**previous, "model": str(args.model), "dtype": args.dtype, "steps": STEPS,
                                 "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
                                 "python": platform.python_version(), "torch": torch.__version__,
                                 "load_average_start": os.getloadavg(),
                                 "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    pipe = load_pipeline(args.model, "cpu", args.dtype)
    pipe.set_progress_bar_config(disable=True)
    sr = pipe.sample_rate
    dog = run(pipe, "a dog barking", duration=5.0)
    speech = run(pipe, "a man speaking", duration=5.0, seed=1)
    phone = resample(resample(speech, sr, 8000), 8000, sr)
    cutoff = measure_cutoff(phone, sr)
    modes: dict[str, Callable[[], np.ndarray]] = {
        "text_to_audio_5s": lambda: run(pipe, "a cat meowing", duration=5.0),
        "edit_strength_0.6": lambda: run(pipe, "a cat meowing", audio=dog, strength=0.6),
        "edit_strength_0.3": lambda: run(pipe, "a cat meowing", audio=dog, strength=0.3),
        "inpaint_time_1.5-2.5s": lambda: run(pipe, "a door slamming", audio=dog, mask=AudioMask(start=1.5, end=2.5)),
        "inpaint_band_2-5kHz": lambda: run(pipe, "birds chirping", audio=dog, mask=AudioMask(fmin=2000, fmax=5000)),
        "extend_5s_plus_5s": lambda: run(pipe, "a dog barking", audio=dog, duration=10.0, mask=AudioMask(start=5.0)),
        "text_to_audio_10s": lambda: run(pipe, "a dog barking", duration=10.0),
        "bandwidth_extension": lambda: run(pipe, "a man speaking", audio=phone, mask=bandwidth_mask(cutoff, 8000.0)),
        "text_to_audio_30s": lambda: run(pipe, "rain on a roof", duration=30.0),
    }
    if "cost" in args.only or "quality" in args.only:
        outputs, cost = run_modes(pipe, modes, args.repeats if "cost" in args.only else 1)
        if "cost" in args.only:  # a quality-only rerun keeps the cost section it found (one round is no cost figure)
            result["cost"] = cost
    if "quality" in args.only:
        result["quality"] = quality(pipe, dog, speech, phone, cutoff, outputs)
        save_images(pipe, args.images, dog, phone, outputs)
    if "memory" in args.only:
        result["memory"] = {f"generation_peak_mb_{d:g}s": peak_memory(args.model, args.dtype, d) for d in (5, 10, 30)}
    result["load_average_end"] = os.getloadavg()
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def run_modes(pipe, modes: dict[str, Callable[[], np.ndarray]], repeats: int) -> tuple[dict[str, np.ndarray], dict]:
    """Run every mode ``repeats`` times, interleaved; return the last outputs and the ``cost`` section."""
    calls: list[int] = []
    hook = pipe.unet.register_forward_pre_hook(lambda module, inputs: calls.append(1))
    cpu: dict[str, list[float]] = {name: [] for name in modes}
    wall: dict[str, list[float]] = {name: [] for name in modes}
    unet_calls: dict[str, int] = {}
    outputs: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for name, mode in modes.items():
            calls.clear()
            began, began_cpu = time.perf_counter(), time.process_time()
            outputs[name] = mode()
            cpu[name].append(time.process_time() - began_cpu)
            wall[name].append(time.perf_counter() - began)
            unet_calls[name] = len(calls)
    hook.remove()
    base = statistics.median(cpu["text_to_audio_5s"])
    cost = {name: {"cpu_s": round(statistics.median(c), 2), "all_cpu_s": [round(x, 2) for x in c],
                   "all_wall_s": [round(x, 2) for x in wall[name]],
                   "cpu_relative_to_text_to_audio_5s": round(statistics.median(c) / base, 2),
                   "unet_calls": unet_calls[name],
                   "unet_calls_relative": round(unet_calls[name] / unet_calls["text_to_audio_5s"], 2)}
            for name, c in cpu.items()}
    return outputs, cost


def run(pipe, prompt: str, seed: int = 0, **kwargs) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    return pipe(prompt, num_inference_steps=STEPS, generator=generator, **kwargs).audios[0]


def log_mel(pipe, audio: np.ndarray) -> torch.Tensor:
    return pipe.mel(torch.from_numpy(np.asarray(audio, np.float32))[None])[0]


def l1(a: torch.Tensor, b: torch.Tensor) -> float:
    return round(float((a - b).abs().mean()), 3)


def quality(pipe, dog: np.ndarray, speech: np.ndarray, phone: np.ndarray, cutoff: float,
            outputs: dict[str, np.ndarray]) -> dict:
    round_trip = {name: run(pipe, "x", audio=audio, strength=0.0) for name, audio in (("dog", dog), ("phone", phone))}
    inp, rt = log_mel(pipe, dog), log_mel(pipe, round_trip["dog"])
    kept = np.r_[0:140, 260:500]  # frames (10 ms) outside 1.5-2.5 s with a 10-frame margin
    span = np.arange(160, 240)
    time_out = log_mel(pipe, outputs["inpaint_time_1.5-2.5s"])
    centres = pipe.latent_grid().band_centres().numpy()
    other_bands = np.nonzero((centres < 1500) | (centres > 6000))[0]
    band = np.nonzero((centres > 2400) & (centres < 4500))[0]
    band_out = log_mel(pipe, outputs["inpaint_band_2-5kHz"])
    extend_out = log_mel(pipe, outputs["extend_5s_plus_5s"])
    phone_in, phone_rt = log_mel(pipe, phone), log_mel(pipe, round_trip["phone"])
    bwe_out = log_mel(pipe, outputs["bandwidth_extension"])
    low, high = np.nonzero(centres < cutoff - 500)[0], np.nonzero(centres > cutoff + 500)[0]
    long_out = outputs["text_to_audio_30s"]
    windows = pipe.windows(pipe.latent_shape(30.0)[1])
    factor = pipe.latent_grid().factor
    edges = sorted({s * factor for s in windows.starts[1:]} | {(s + windows.size) * factor for s in windows.starts[:-1]})
    return {
        "round_trip_l1_dog": l1(rt, inp),
        "edit_l1_to_input": {"0.3": l1(log_mel(pipe, outputs["edit_strength_0.3"]), inp),
                             "0.6": l1(log_mel(pipe, outputs["edit_strength_0.6"]), inp),
                             "1.0 (text-to-audio)": l1(log_mel(pipe, outputs["text_to_audio_5s"]), inp)},
        "inpaint_time": {"kept_l1_to_input": l1(time_out[:, kept], inp[:, kept]), "round_trip_l1": l1(rt[:, kept], inp[:, kept]),
                         "span_l1_to_input": l1(time_out[:, span], inp[:, span])},
        "inpaint_band": {"kept_l1_to_input": l1(band_out[other_bands], inp[other_bands]),
                         "round_trip_l1": l1(rt[other_bands], inp[other_bands]),
                         "band_l1_to_input": l1(band_out[band], inp[band])},
        "extend": {"first_4.8s_l1_to_input": l1(extend_out[:, :480], inp[:, :480]), "round_trip_l1": l1(rt[:, :480], inp[:, :480])},
        "bandwidth_extension": {"cutoff_hz": round(cutoff), "low_band_l1_to_input": l1(bwe_out[low, :500], phone_in[low]),
                                "round_trip_l1": l1(phone_rt[low], phone_in[low]),
                                "high_band_mean_log_mel_input": round(float(phone_in[high].mean()), 2),
                                "high_band_mean_log_mel_output": round(float(bwe_out[high].mean()), 2),
                                "high_band_mean_log_mel_original_speech": round(float(log_mel(pipe, speech)[high].mean()), 2)},
        "long_30s": {"windows": len(windows.starts), "window_latent_frames": windows.size,
                     "seam_ratio": seam_ratio(log_mel(pipe, long_out), edges), "window_edges_frames": edges},
    }


def seam_ratio(mel: torch.Tensor, boundaries: list[int]) -> float:
    """Largest spectral flux within 2 frames of a window edge over the largest flux elsewhere (as the tests)."""
    flux = (mel[:, 1:] - mel[:, :-1]).abs().mean(0).numpy()
    near = np.zeros(flux.size, bool)
    for b in boundaries:
        near[max(b - 3, 0) : b + 2] = True
    near[:5] = near[-5:] = True
    return round(float(max(flux[max(b - 3, 0) : b + 2].max() for b in boundaries) / flux[~near].max()), 3)


def save_images(pipe, folder: Path, dog: np.ndarray, phone: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
    pairs = {
        "editing_edit.png": (dog, "edit_strength_0.6", ("input: 'a dog barking'", "edit 0.6: 'a cat meowing'")),
        "editing_inpaint_time.png": (dog, "inpaint_time_1.5-2.5s", ("input", "inpaint 1.5-2.5 s: 'a door slamming'")),
        "editing_inpaint_band.png": (dog, "inpaint_band_2-5kHz", ("input", "inpaint 2-5 kHz: 'birds chirping'")),
        "editing_extend.png": (dog, "extend_5s_plus_5s", ("input (5 s)", "extend +5 s: 'a dog barking'")),
        "editing_bandwidth.png": (phone, "bandwidth_extension", ("input: 8 kHz telephone", "bandwidth extension")),
    }
    for name, (before, mode, titles) in pairs.items():
        save_mel_comparison(folder / name, log_mel(pipe, before), log_mel(pipe, outputs[mode]), titles)
    save_long_clip(folder / "editing_long.png", pipe, outputs["text_to_audio_30s"])


def save_long_clip(path: Path, pipe, audio: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows = pipe.windows(pipe.latent_shape(30.0)[1])
    factor = pipe.latent_grid().factor
    fig, ax = plt.subplots(figsize=(12, 3))
    mel = log_mel(pipe, audio).numpy()
    ax.imshow(mel, origin="lower", aspect="auto", cmap="magma")
    ax.set_xlim(0, mel.shape[1])  # the last window runs into the latent padding
    for start in windows.starts:
        ax.axvspan(start * factor, (start + windows.size) * factor, ymin=0.97, ymax=1.0, alpha=0.6,
                   color="cyan" if windows.starts.index(start) % 2 else "white")
        ax.axvline(start * factor, color="white", lw=0.5, ls=":")
    ax.set_title("30 s 'rain on a roof': four 10 s windows (bars on top) blended at every step")
    ax.set_xlabel("frame (10 ms)")
    ax.set_ylabel("mel band")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


MEMORY_PROBE = """
import threading, time, psutil, torch
from audiodiff.loading import load_pipeline
pipe = load_pipeline({model!r}, "cpu", {dtype!r}); pipe.set_progress_bar_config(disable=True)
pipe("rain", duration=1.0, num_inference_steps=1)  # warm-up: lazy allocations outside the measurement
process, peak, done = psutil.Process(), [0], threading.Event()
def poll():
    while not done.is_set():
        peak[0] = max(peak[0], process.memory_info().rss); time.sleep(0.002)
before = process.memory_info().rss
thread = threading.Thread(target=poll); thread.start()
pipe("rain", duration={duration}, num_inference_steps={steps}, generator=torch.Generator().manual_seed(0))
done.set(); thread.join()
print((peak[0] - before) / 2**20)
"""


def peak_memory(model: Path, dtype: str, duration: float) -> float:
    """MB of resident memory a fresh process adds while generating ``duration`` seconds (peak over before)."""
    code = MEMORY_PROBE.format(model=str(model), dtype=dtype, duration=duration, steps=STEPS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, HF_HUB_OFFLINE="1"))
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


if __name__ == "__main__":
    main()

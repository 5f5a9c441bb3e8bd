"""Level of long clips over their window overlaps: linear crossfade against the level-kept crossfade.

A clip longer than one window is decoded and vocoded window by window and the waveforms are crossfaded
(:func:`audiodiff.long_form.overlap_add`).  Griffin-Lim finds a different phase in each window, so a linear
crossfade of two nearly uncorrelated waveforms loses level in the middle of their overlap; the pipeline keeps it
(``level_frame``).  For each prompt this generates one 30 s clip (seed 0, 25 steps, guidance 3, the default model)
and measures, over each overlap of two windows and over its middle 0.6 s, the power of the waveform's own log-mel
against the power of the decoded log-mel the vocoder was given (dB; 0 = the level asked for), for:

* ``linear``: the windows' waveforms crossfaded linearly (the pipeline before ``level_frame``);
* ``kept``: the pipeline as it is (level-kept crossfade);
* ``whole``: the whole decoded mel vocoded at once (no windows; Griffin-Lim's own level error).

Writes ``--output`` (JSON).  Usage: ``HF_HUB_OFFLINE=1 python benchmarks/bench_long_form_level.py`` (about 1 min a
prompt on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import torch

import audiodiff.pipeline as pipeline_module
from audiodiff.loading import load_pipeline
from audiodiff.models import vae as vaes

PROMPTS = ("rain on a roof", "wind howling", "rain falling")
MIDDLE_SECONDS = 0.6


def generate_latents(pipe, prompt: str, duration: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One clip: (the pipeline's waveform (samples,), its final latents, its length in samples)."""
    captured: dict = {}
    original = pipeline_module.AudioDiffusionPipeline.latents_to_audio

    def capture(self, latents, num_samples, *args, **kwargs):
        captured["latents"], captured["samples"] = latents.clone(), num_samples
        return original(self, latents, num_samples, *args, **kwargs)

    pipeline_module.AudioDiffusionPipeline.latents_to_audio = capture
    try:
        audio = pipe(prompt, duration=duration, num_inference_steps=25, guidance_scale=3.0,
                     generator=torch.Generator().manual_seed(0), output_type="pt").audios[0]
    finally:
        pipeline_module.AudioDiffusionPipeline.latents_to_audio = original
    return audio, captured["latents"], captured["samples"]


def linear_crossfade(pipe, latents: torch.Tensor, samples: int) -> torch.Tensor:
    """The same latents through the pipeline with a plain linear waveform crossfade (``level_frame`` off)."""
    overlap_add = pipeline_module.overlap_add
    pipeline_module.overlap_add = lambda *args, level_frame=None, **kwargs: overlap_add(*args, **kwargs)
    try:
        return pipe.latents_to_audio(latents, samples)[0]
    finally:
        pipeline_module.overlap_add = overlap_add


@torch.no_grad()
def measure(pipe, prompt: str, duration: float) -> dict:
    kept, latents, samples = generate_latents(pipe, prompt, duration)
    linear = linear_crossfade(pipe, latents, samples)
    normalized = vaes.decode_latents(pipe.vae, latents, pipe.mel.num_frames(samples), pipe.mel.config.image_layout)
    target = pipe.mel.denormalize(normalized).float()[0]  # (n_mels, frames) natural-log magnitudes
    whole = pipe.vocoder(target[None].to(pipe.vocoder.dtype))[0, :samples].float()
    whole = whole / whole.abs().max().clamp(min=1.0)
    hop = pipe.mel.config.hop_length

    def level_db(audio: torch.Tensor, first: int, end: int) -> float:
        got = pipe.mel(audio[None].float())[0][:, first // hop : end // hop]
        wanted = target[:, first // hop : end // hop]
        return round(float(10 * torch.log10((2 * got).exp().sum() / (2 * wanted).exp().sum())), 3)

    windows = pipe.windows(latents.shape[2])
    scale = vaes.downsampling_factor(pipe.vae) * hop
    half = int(MIDDLE_SECONDS / 2 * pipe.sample_rate)
    overlaps = []
    for before, after in zip(windows.starts, windows.starts[1:]):
        first, end = after * scale, min((before + windows.size) * scale, samples)
        centre = (first + end) // 2
        row = {"seconds": [round(first / pipe.sample_rate, 2), round(end / pipe.sample_rate, 2)]}
        for name, audio in (("linear", linear), ("kept", kept), ("whole", whole)):
            row[f"{name}_db"] = level_db(audio, first, end)
            row[f"{name}_middle_db"] = level_db(audio, centre - half, centre + half)
        overlaps.append(row)
    return {"prompt": prompt, "overlaps": overlaps}


def summarize(results: list[dict]) -> dict:
    rows = [row for result in results for row in result["overlaps"]]
    return {f"mean_abs_{key}": round(statistics.fmean(abs(row[key]) for row in rows), 2)
            for key in ("linear_db", "kept_db", "whole_db", "linear_middle_db", "kept_middle_db", "whole_middle_db")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("checkpoints/default"))
    parser.add_argument("--prompts", nargs="+", default=list(PROMPTS))
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (default 30: four 10 s windows)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/long_form_level_cpu.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = load_pipeline(args.model, dtype="auto")
    results = [measure(pipe, prompt, args.duration) for prompt in args.prompts]
    report = {"model": str(args.model), "duration": args.duration,
              "machine": platform.processor() or platform.machine(), "summary": summarize(results), "prompts": results}
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()

"""What a fine-tune learned: base and tuned clips side by side, and how close each is to the training clips.

For each preview prompt the base model and the tuned model generate a clip with the same seed.  Each clip is
summarised by its mel band energy profile and compared with the mean profile of the training clips of that caption
(all training clips when no caption equals the prompt) by the total variation distance
(:mod:`audiodiff.evaluation.band_energy`: 0 = the same spectral balance, 1 = no band in common).  A tuned clip
closer to its training clips than the base clip shows what was learned.  A fixed set of unrelated prompts checks
what should not have changed: one whose distance to the training clips fell by more than a quarter of the base
model's is flagged.

Written to the run folder: ``report.md`` (with the images), ``report.json`` and ``report/`` (WAVs, PNGs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio import load_audio
from ..data.manifest import Clip
from ..evaluation.band_energy import band_energy_profile, profile_distance
from ..pipeline import AudioDiffusionPipeline
from .preview import Preview, generate_previews, log_mel, slug
from .visuals import save_mel_images

LEAK_FRACTION = 0.75  # flag unrelated prompts whose distance to the training clips fell below this share of the base's


@dataclass(frozen=True)
class PromptResult:
    """One prompt: distances of the base and the tuned clip to the training clips, and between the two clips."""

    prompt: str
    base_distance: float
    tuned_distance: float
    moved: float
    image: str

    @property
    def leaked(self) -> bool:
        """For an unrelated prompt: the tuned clip came to sound like the training clips."""
        return self.tuned_distance < LEAK_FRACTION * self.base_distance


@dataclass(frozen=True)
class FinetuneReport:
    """The report's numbers; ``spread`` is the mean distance of the training clips to their own caption's
    profile (how far apart the training clips are among themselves: the scale to read distances on)."""

    previews: tuple[PromptResult, ...]
    unrelated: tuple[PromptResult, ...]
    spread: float

    def describe(self) -> str:
        """The printed summary: one line per prompt."""
        lines = ["What was learned (distance of the mel band energy profile to the training clips, 0-1, lower is "
                 f"closer; training clips among themselves: {self.spread:.2f}):"]
        for r in self.previews:
            lines.append(f"  {r.prompt!r}: base {r.base_distance:.2f} -> tuned {r.tuned_distance:.2f}")
        lines.append("Unrelated prompts (should stay away from the training clips):")
        for r in self.unrelated:
            verdict = "MOVED TOWARD YOUR DATA" if r.leaked else "ok"
            lines.append(f"  {r.prompt!r}: base {r.base_distance:.2f} -> tuned {r.tuned_distance:.2f} "
                         f"(changed by {r.moved:.2f}) {verdict}")
        if any(r.leaked for r in self.unrelated):
            lines.append("  Some unrelated prompts now sound like the training clips: train fewer steps, with a lower "
                         "learning rate or LoRA rank, or add varied clips.")
        return "\n".join(lines)


def training_profiles(pipe: AudioDiffusionPipeline, clips: Sequence[Clip]) -> dict[str, list[torch.Tensor]]:
    """:func:`band_energy_profile` of each training clip, grouped by main caption."""
    groups: dict[str, list[torch.Tensor]] = {}
    for clip in clips:
        profile = band_energy_profile(log_mel(pipe, load_audio(clip.path, pipe.sample_rate)))
        groups.setdefault(clip.caption, []).append(profile)
    return groups


def write_report(
    base: AudioDiffusionPipeline, tuned: AudioDiffusionPipeline, clips: Sequence[Clip], prompts: Sequence[str],
    unrelated: Sequence[str], run_dir: Path, duration: float, num_inference_steps: int, seed: int = 0,
) -> FinetuneReport:
    """Generate ``prompts`` and ``unrelated`` with ``base`` and ``tuned`` (same seed), compare them with the training
    ``clips``, and write ``report.md``, ``report.json`` and ``report/`` into ``run_dir``.

    Args:
        duration: seconds per generated clip.
        num_inference_steps: sampler steps.
    """
    folder = run_dir / "report"
    everything = list(dict.fromkeys([*prompts, *unrelated]))
    generated = {
        name: {p.prompt: p
               for p in generate_previews(pipe, everything, folder / name, duration, num_inference_steps, seed)}
        for name, pipe in (("base", base), ("tuned", tuned))
    }
    groups = training_profiles(tuned, clips)
    every_clip = [s for group in groups.values() for s in group]
    centres = {caption: torch.stack(group).mean(0) for caption, group in groups.items()}
    spread = float(np.mean([profile_distance(s, centres[c]) for c, group in groups.items() for s in group]))
    examples = {clip.caption: clip for clip in reversed(clips)}  # the first clip of each caption

    def result(prompt: str) -> PromptResult:
        centre = centres.get(prompt, torch.stack(every_clip).mean(0))
        before, after = generated["base"][prompt], generated["tuned"][prompt]
        stats_before, stats_after = band_energy_profile(before.log_mel), band_energy_profile(after.log_mel)
        image = _comparison(folder / f"{slug(prompt)}.png", before, after, tuned, examples.get(prompt))
        return PromptResult(prompt, profile_distance(stats_before, centre), profile_distance(stats_after, centre),
                            profile_distance(stats_before, stats_after), str(image.relative_to(run_dir)))

    report = FinetuneReport(tuple(result(p) for p in prompts), tuple(result(p) for p in unrelated if p not in prompts),
                            spread)
    (run_dir / "report.json").write_text(json.dumps(
        {"previews": [asdict(r) for r in report.previews], "unrelated": [asdict(r) | {"leaked": r.leaked}
                                                                          for r in report.unrelated],
         "training_spread": spread, "duration": duration, "num_inference_steps": num_inference_steps, "seed": seed},
        indent=1))
    (run_dir / "report.md").write_text(_markdown(report))
    return report


def _comparison(
    path: Path, before: Preview, after: Preview, pipe: AudioDiffusionPipeline, example: Clip | None
) -> Path:
    """PNG of the base clip, the tuned clip and (when the prompt is a caption) a training clip of it, side by side."""
    mels, titles = [before.log_mel, after.log_mel], [f"base: {before.prompt}", "tuned"]
    if example is not None:
        mels.append(log_mel(pipe, load_audio(example.path, pipe.sample_rate)))
        titles.append(f"training clip {example.name}")
    return save_mel_images(path, mels, titles)


def _markdown(report: FinetuneReport) -> str:
    lines = ["# Fine-tune report", "", "```", report.describe(), "```", ""]
    for r in (*report.previews, *report.unrelated):
        lines += [f"## {r.prompt}", "", f"Base {r.base_distance:.2f} -> tuned {r.tuned_distance:.2f} "
                  f"(distance to the training clips; base and tuned clips differ by {r.moved:.2f}).", "",
                  f"![{r.prompt}]({r.image})", ""]
    return "\n".join(lines)

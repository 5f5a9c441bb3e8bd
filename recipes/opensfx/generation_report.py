"""Diversity, nearest train clip and harmonic contrast of generated clips, reports side by side (issue 20).

    python recipes/opensfx/generation_report.py --reports v1=RUNS/eval-default-v1 v2=RUNS/eval-default-v2 \\
        --prompts recipes/opensfx/eval_prompts.tsv --data data/opensfx --model checkpoints/default \\
        --seeds 4 --out results.json [--markdown results.md]

Reads the clips that ``recipes/opensfx/evaluate.py`` wrote (``REPORT/audio/NN_<prompt>_<seed>.wav``, seeds
0..N-1 of every prompt of the prompts file) and measures, per prompt, on the log-mels of the model's own front
end (:class:`audiodiff.mel.MelSpectrogram` of ``--model``/mel: natural-log mel magnitudes, floor ``log 1e-5``):

* ``diversity``: the mean over pairs of seeds of the Pearson correlation of the two clips' whole log-mels
  (flattened mels x frames).  1 when the seeds give the same clip, about 0 for unrelated noise; lower is more
  diverse.  Overall: the mean over prompts.
* ``nearest_train``: per clip, the memorisation check of recipes/opensfx/TRAINING.md (sitting 4): its loudest
  0.8 s of log-mel slid over every train clip of the prompt's category, the largest Pearson correlation over
  clips and time offsets (train clips shorter than 0.8 s are padded with the floor).  Per prompt the max and
  the mean over seeds; beside them ``validation_nearest_*``, the same measure for the category's real
  validation clips (held out, so never copies), the reference: a generated clip much closer to the train clips
  than the real held-out clips are is suspect, and a copy scores about 1.0.
* ``harmonic_contrast``: the mean harmonic contrast (nepers; spectral contrast of Jiang et al. 2002 on the
  lowest mel bands, :mod:`audiodiff.evaluation.harmonic_contrast`) over the pitched frames of the prompt's
  clips, the same for at most ``--real-clips`` real clips of the category (train and validation), and the
  ratio generated / real: 1 when the generated harmonics are as sharp as the real ones, below 1 when blurred.
  None where either side has no pitched frame.  Overall: the mean ratio over the prompts that have one and the
  mean ``|1 - ratio|`` (smaller: closer to the real clips).

Correlations are Pearson's r (unitless, -1..1).  The train log-mels of a category are computed once and shared
by all reports.  Writes ``--out`` (JSON: settings and per report the overall figures and one row per prompt)
and, with ``--markdown``, a table with the reports side by side.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from audiodiff.audio import load_audio, resample  # noqa: E402
from audiodiff.errors import AudiodiffError  # noqa: E402
from audiodiff.evaluation.generation_measures import (  # noqa: E402
    contrast_ratio,
    diversity,
    max_or_none,
    mean_or_none,
    nearest_train,
    pitched_contrast,
)
from audiodiff.evaluation.harmonic_contrast import ContrastTotals  # noqa: E402
from audiodiff.mel import MelSpectrogram  # noqa: E402
from opensfx.evaluate import read_earlier_clips  # noqa: E402
from opensfx.judge import (  # noqa: E402
    CaptionIndex,
    JudgeError,
    PromptSpec,
    load_log_mels,
    read_corpus,
    read_prompts,
    resolve_prompts,
)

log = logging.getLogger("opensfx.generation_report")

WINDOW_SECONDS = 0.8  # TRAINING.md sitting 4: the loudest 0.8 s of a generated clip
REAL_CLIPS = 16  # real clips per category for the harmonic contrast reference


# ---------------------------------------------------------------------------------------------- real clips
@dataclass(frozen=True)
class CategoryReference:
    """What the real clips of one category give: train log-mels ``(n_mels, t)`` each (float16), the nearest-train
    correlation of each validation clip, and the harmonic contrast totals of up to ``REAL_CLIPS`` real clips."""

    train_mels: list[torch.Tensor]
    validation_nearest: list[float]
    real_contrast: ContrastTotals


class CorpusReferences:
    """Per-category :class:`CategoryReference` of the corpus at ``data``, computed on first use and kept, so every
    report is measured against the same train log-mels."""

    def __init__(self, data: Path, mel: MelSpectrogram, window_frames: int, real_clips: int = REAL_CLIPS):
        self.data, self.mel, self.window_frames, self.real_clips = Path(data), mel, window_frames, real_clips
        self.rows = read_corpus(data)
        self._cache: dict[str, CategoryReference] = {}

    def __getitem__(self, category: str) -> CategoryReference:
        if category not in self._cache:
            self._cache[category] = self._measure(category)
        return self._cache[category]

    def _rows(self, category: str, split: str) -> list[dict]:
        return sorted((r for r in self.rows if r["category"] == category and r["split"] == split),
                      key=lambda r: r["file_name"])

    @torch.no_grad()
    def _measure(self, category: str) -> CategoryReference:
        train, validation = self._rows(category, "train"), self._rows(category, "validation")
        log.info("%s: %d train and %d validation clips", category, len(train), len(validation))
        train_mels = load_log_mels(self.data, train, self.mel, desc=f"{category} train log-mels")
        validation_mels = load_log_mels(self.data, validation, self.mel, desc=f"{category} validation log-mels")
        real = train + validation
        picks = np.unique(np.linspace(0, len(real) - 1, self.real_clips).round().astype(int)) if real else []
        contrast = sum((self._clip_contrast(real[i]) for i in picks), ContrastTotals())
        return CategoryReference(train_mels, nearest_train(validation_mels, train_mels, self.window_frames), contrast)

    def _clip_contrast(self, row: dict) -> ContrastTotals:
        cfg = self.mel.config
        audio = torch.from_numpy(load_audio(self.data / row["file_name"], cfg.sample_rate))[None]
        return pitched_contrast(audio, self.mel(audio), cfg.hop_length, cfg.sample_rate)


# ---------------------------------------------------------------------------------------------- one report
@torch.no_grad()
def measure_prompt(spec: PromptSpec, audios: torch.Tensor, mel: MelSpectrogram, reference: CategoryReference,
                   window_frames: int) -> dict:
    """The figures of one prompt from its clips ``audios: (seeds, samples)`` at the mel's rate (module docstring)."""
    cfg = mel.config
    log_mels = mel(audios)
    nearest = nearest_train(list(log_mels), reference.train_mels, window_frames)
    generated = pitched_contrast(audios, log_mels, cfg.hop_length, cfg.sample_rate)
    real = reference.real_contrast
    return {
        "prompt": spec.prompt, "category": spec.category, "diversity": diversity(log_mels),
        "nearest_train": [None if math.isnan(v) else v for v in nearest],
        "nearest_train_max": max_or_none(nearest), "nearest_train_mean": mean_or_none(nearest),
        "validation_nearest_max": max_or_none(reference.validation_nearest),
        "validation_nearest_mean": mean_or_none(reference.validation_nearest),
        "validation_clips": len(reference.validation_nearest), "train_clips": len(reference.train_mels),
        "harmonic_contrast": generated.real_mean if generated.frames else None,
        "harmonic_contrast_real": real.real_mean if real.frames else None,
        "harmonic_contrast_ratio": contrast_ratio(generated, real),
        "pitched_frames": generated.frames, "pitched_frames_real": real.frames,
    }


def overall_figures(per_prompt: list[dict]) -> dict:
    """Means over prompts of the per-prompt figures (prompts without a figure are left out of its mean)."""
    ratios = [p["harmonic_contrast_ratio"] for p in per_prompt if p["harmonic_contrast_ratio"] is not None]
    above = [v for p in per_prompt if p["validation_nearest_max"] is not None
             for v in p["nearest_train"] if v is not None and v > p["validation_nearest_max"]]
    return {
        "diversity": mean_or_none([p["diversity"] for p in per_prompt]),
        "nearest_train_max": mean_or_none([p["nearest_train_max"] for p in per_prompt]),
        "nearest_train_mean": mean_or_none([p["nearest_train_mean"] for p in per_prompt]),
        "validation_nearest_max": mean_or_none([p["validation_nearest_max"] for p in per_prompt]),
        "validation_nearest_mean": mean_or_none([p["validation_nearest_mean"] for p in per_prompt]),
        "clips_above_validation_max": len(above),
        "harmonic_contrast_ratio": mean_or_none(ratios),
        "harmonic_contrast_distance": mean_or_none([abs(1.0 - r) for r in ratios]),
        "harmonic_contrast_prompts": len(ratios),
        "prompts": len(per_prompt),
    }


def measure_report(folder: Path, specs: list[PromptSpec], seeds: int, mel: MelSpectrogram,
                   references: CorpusReferences) -> dict:
    """``{"folder", "overall", "per_prompt"}`` of the clips an evaluate.py run wrote to ``folder``."""
    clips, rate = read_earlier_clips(folder, [s.prompt for s in specs], seeds)
    if rate != mel.config.sample_rate:
        clips = np.stack([resample(clip, rate, mel.config.sample_rate) for clip in clips])
    window_frames = references.window_frames
    per_prompt = []
    for i, spec in enumerate(specs):
        log.info("%s: %s", folder, spec.prompt)
        audios = torch.from_numpy(np.ascontiguousarray(clips[i * seeds : (i + 1) * seeds]))
        per_prompt.append(measure_prompt(spec, audios, mel, references[spec.category], window_frames))
    return {"folder": str(folder), "overall": overall_figures(per_prompt), "per_prompt": per_prompt}


# ---------------------------------------------------------------------------------------------- the run
def generation_report(reports: dict[str, Path], prompts: Path, data: Path, model: Path, seeds: int,
                      window_seconds: float = WINDOW_SECONDS, real_clips: int = REAL_CLIPS) -> dict:
    """``{"settings", "reports": {name: measure_report(...)}}`` for the report folders ``reports``.

    Raises:
        JudgeError: bad prompts, corpus or report folder (a clip missing, fewer seeds), or bad settings.
    """
    if seeds < 1 or window_seconds <= 0 or real_clips < 1 or not reports:
        raise JudgeError(f"need --reports, --seeds >= 1, a window > 0 s and --real-clips >= 1; got {seeds} seeds, "
                         f"{window_seconds} s, {real_clips} real clips and {len(reports)} reports.")
    if not (Path(model) / "mel" / "config.json").is_file():
        raise JudgeError(f"{model}/mel/config.json not found; --model must be a pipeline folder, e.g. "
                         "checkpoints/default.")
    mel = MelSpectrogram.from_pretrained(Path(model) / "mel").eval()
    window_frames = max(1, round(window_seconds * mel.config.sample_rate / mel.config.hop_length))
    references = CorpusReferences(data, mel, window_frames, real_clips)
    specs = resolve_prompts(read_prompts(prompts), CaptionIndex(references.rows))
    settings = {"prompts_file": str(prompts), "data": str(data), "model": str(model), "seeds": seeds,
                "window_seconds": window_seconds, "window_frames": window_frames, "real_clips": real_clips,
                "sample_rate": mel.config.sample_rate, "hop_length": mel.config.hop_length,
                "n_mels": mel.config.n_mels}
    measured = {name: measure_report(folder, specs, seeds, mel, references) for name, folder in reports.items()}
    return {"settings": settings, "reports": measured}


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown_table(result: dict) -> str:
    """The reports side by side: per prompt (then overall) diversity, nearest train clip with its validation
    reference, and harmonic contrast ratio with the real clips' contrast in nepers."""
    names = list(result["reports"])
    header = (["prompt", "category"] + [f"diversity {n}" for n in names] + [f"nearest train max {n}" for n in names]
              + ["nearest train max: real validation"] + [f"contrast ratio {n}" for n in names]
              + ["contrast real (Np)"])
    lines = [f"# Generated clips: {', '.join(names)}", "",
             f"{result['settings']['seeds']} seeds per prompt; diversity: mean pairwise log-mel correlation (lower: "
             "more diverse); nearest train: loudest 0.8 s against the category's train clips (max over seeds; "
             "a copy scores 1.0); contrast ratio: harmonic contrast generated / real (1: as sharp).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group in zip(*(r["per_prompt"] for r in result["reports"].values())):
        first = group[0]
        cells = ([first["prompt"], first["category"]] + [_cell(p["diversity"]) for p in group]
                 + [_cell(p["nearest_train_max"]) for p in group] + [_cell(first["validation_nearest_max"])]
                 + [_cell(p["harmonic_contrast_ratio"]) for p in group] + [_cell(first["harmonic_contrast_real"], 2)])
        lines.append("| " + " | ".join(cells) + " |")
    overall = [r["overall"] for r in result["reports"].values()]
    cells = (["**overall (mean over prompts)**", ""] + [_cell(o["diversity"]) for o in overall]
             + [_cell(o["nearest_train_max"]) for o in overall] + [_cell(overall[0]["validation_nearest_max"])]
             + [_cell(o["harmonic_contrast_ratio"]) for o in overall] + [""])
    lines.append("| " + " | ".join(cells) + " |")
    distance = ", ".join(f"{n} {_cell(o['harmonic_contrast_distance'])} ({o['harmonic_contrast_prompts']} prompts)"
                         for n, o in zip(names, overall))
    above = ", ".join(f"{n} {o['clips_above_validation_max']}" for n, o in zip(names, overall))
    lines += ["", f"Mean |1 - contrast ratio| (smaller: closer to the real clips): {distance}.",
              f"Generated clips closer to a train clip than any real validation clip of their category: {above}."]
    return "\n".join(lines) + "\n"


def parse_reports(items: list[str]) -> dict[str, Path]:
    """``NAME=DIR`` items -> ``{NAME: DIR}``, in order.

    Raises:
        JudgeError: an item without ``=`` or a name given twice.
    """
    reports: dict[str, Path] = {}
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder or name in reports:
            raise JudgeError(f"--reports {item!r}: expected distinct NAME=DIR items, e.g. v1=runs/eval-default-v1.")
        reports[name] = Path(folder).expanduser()
    return reports


def main(argv: list[str] | None = None) -> None:
    """Parse the options, measure, write ``--out`` (and ``--markdown``), print the overall figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", nargs="+", required=True, metavar="NAME=DIR", help="evaluate.py --out folders")
    parser.add_argument("--prompts", type=Path, required=True, help="the prompts file of those runs")
    parser.add_argument("--data", type=Path, required=True, help="the opensfx corpus (metadata.jsonl, clips/)")
    parser.add_argument("--model", type=Path, required=True, help="pipeline folder whose mel/ front end to use")
    parser.add_argument("--seeds", type=int, default=4, help="clips per prompt in the reports, seeds 0..N-1")
    parser.add_argument("--real-clips", type=int, default=REAL_CLIPS, help="real clips per category for contrast")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the side-by-side table here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        result = generation_report(parse_reports(args.reports), args.prompts, args.data.expanduser(), args.model,
                                   args.seeds, real_clips=args.real_clips)
    except (JudgeError, AudiodiffError) as error:
        sys.exit(f"error: {error}")
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown_table(result), encoding="utf-8")
    print(json.dumps({name: report["overall"] for name, report in result["reports"].items()}, indent=2))


if __name__ == "__main__":
    main()

"""Score a text-to-audio model with the judge: is each prompt's category in the judge's top 1 / top 5?

    python recipes/opensfx/evaluate.py --model MODEL_DIR --prompts recipes/opensfx/eval_prompts.tsv \\
        --seeds 4 --judge recipes/opensfx/judge --data data/opensfx --out OUT_DIR [--steps 25 --duration 5]

Generates every prompt with seeds 0..N-1 (``AudioDiffusionPipeline``), classifies the clips with the
judge and writes OUT/summary.json (top-1/top-5 rates over prompts x seeds, per-prompt hits, and the
ceiling and floor of the same rates on real validation clips), OUT/per_prompt.md (a table),
OUT/images/NN_<prompt>.png (log-mels of a real clip of the category beside the generated ones) and
OUT/audio/NN_<prompt>_<seed>.wav.  Prompts whose category the judge does not know (too few train clips)
are generated and drawn but left out of the rates, and listed as unscored.

``--from-audio EARLIER_OUT`` skips the generation and scores the WAVs of an earlier run of the same
prompts and seeds (``EARLIER_OUT/audio``), e.g. with a retrained judge; ``--model`` is then only recorded.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from audiodiff.audio import load_audio, resample, write_wav  # noqa: E402
from audiodiff.errors import AudiodiffError  # noqa: E402
from audiodiff.model_folder import read_model_index  # noqa: E402
from opensfx.judge import (  # noqa: E402
    CaptionIndex,
    Judge,
    JudgeError,
    PromptSpec,
    calibrate_on_validation,
    load_judge,
    read_corpus,
    read_prompts,
    resolve_prompts,
    target_ranks,
)

log = logging.getLogger("opensfx.evaluate")

RECIPE = Path(__file__).resolve().parent
DEFAULT_PROMPTS = RECIPE / "eval_prompts.tsv"
DEFAULT_JUDGE = RECIPE / "judge"


@dataclass(frozen=True)
class EvalSettings:
    """What to generate: ``duration`` in seconds, sampler ``steps``, CFG ``guidance_scale``, seeds 0..``seeds``-1."""

    seeds: int = 4
    duration: float = 5.0
    steps: int = 25
    guidance_scale: float = 3.0
    scheduler: str | None = None  # a sampler name of `audiodiff generate --scheduler`; None: the model's own
    batch_size: int | None = None
    device: str = "auto"
    dtype: str = "auto"  # as `audiodiff generate`: the faster of bf16 and float32 here
    save_audio: bool = True
    from_audio: Path | None = None  # score an earlier run's OUT/audio instead of generating


# ---------------------------------------------------------------------------------------------- generation
def clip_name(index: int, prompt: str) -> str:
    """File stem of prompt ``index`` in a report (numbered, so two prompts with the same slug do not collide)."""
    return f"{index:02d}_{slug(prompt)}"


def read_earlier_clips(folder: Path, prompts: list[str], seeds: int) -> tuple[np.ndarray, int]:
    """The WAVs an earlier :func:`evaluate` wrote for these prompts and seeds, as ``(prompts * seeds, samples)``.

    Raises:
        JudgeError: a clip is missing (another prompts file or fewer seeds) or the clips differ in rate or length.
    """
    import soundfile as sf

    clips, rates = [], set()
    for i, prompt in enumerate(prompts):
        for k in range(seeds):
            path = Path(folder) / "audio" / f"{clip_name(i, prompt)}_{k}.wav"
            if not path.is_file():
                raise JudgeError(f"--from-audio: {path} is missing; give the report folder of an earlier run of the "
                                 "same prompts file with at least as many --seeds.")
            audio, rate = sf.read(str(path), dtype="float32")
            clips.append(audio)
            rates.add(rate)
    if len(rates) != 1 or len({len(c) for c in clips}) != 1:
        raise JudgeError(f"--from-audio: the clips in {folder}/audio differ in sample rate or length.")
    return np.stack(clips), rates.pop()


def generate_clips(model: Path, prompts: list[str], settings: EvalSettings) -> tuple[np.ndarray, int]:
    """Clips ``(len(prompts) * seeds, samples)`` float32 in [-1, 1] and their rate in Hz.

    Prompt by prompt; clip ``k`` of each prompt uses a generator seeded with ``k``.
    """
    from audiodiff.loading import load_pipeline
    from audiodiff.schedulers import swap_scheduler

    pipe = load_pipeline(model, settings.device, settings.dtype)
    if settings.scheduler is not None:
        pipe.scheduler = swap_scheduler(pipe.scheduler, settings.scheduler)
    generators = [torch.Generator(device=pipe.device).manual_seed(k) for _ in prompts for k in range(settings.seeds)]
    result = pipe(
        prompts, duration=settings.duration, num_inference_steps=settings.steps,
        guidance_scale=settings.guidance_scale, num_waveforms_per_prompt=settings.seeds,
        generator=generators, batch_size=settings.batch_size,
    )
    return np.asarray(result.audios, dtype=np.float32), int(result.sample_rate)


# ---------------------------------------------------------------------------------------------- scoring
@torch.no_grad()
def judge_clips(judge: Judge, audios: np.ndarray, sample_rate: int) -> torch.Tensor:
    """Logits ``(clips, categories)`` for ``audios`` ``(clips, samples)`` at ``sample_rate`` Hz.

    Clips at another rate than the judge's are resampled with :func:`audiodiff.audio.resample`.
    """
    if sample_rate != judge.sample_rate:
        audios = np.stack([resample(audio, sample_rate, judge.sample_rate) for audio in audios])
    return judge.logits(torch.from_numpy(np.ascontiguousarray(audios)))


def score_prompts(judge: Judge, specs: list[PromptSpec], logits: torch.Tensor, seeds: int) -> list[dict]:
    """Per prompt: its category, whether the judge knows it, and per seed the target's rank and the judge's top-1.

    ``logits``: ``(len(specs) * seeds, categories)``, prompt by prompt.
    """
    top1 = logits.argmax(1).tolist()
    results = []
    for i, spec in enumerate(specs):
        rows = range(i * seeds, (i + 1) * seeds)
        scored = spec.category in judge.categories
        ranks = (target_ranks(logits[list(rows)], torch.full((seeds,), judge.index_of(spec.category))).tolist()
                 if scored else [None] * seeds)
        per_seed = [{"seed": k, "rank": rank, "top1_category": judge.categories[top1[row]],
                     "hit1": None if rank is None else rank < 1, "hit5": None if rank is None else rank < 5}
                    for k, (row, rank) in enumerate(zip(rows, ranks))]
        results.append({
            "prompt": spec.prompt, "category": spec.category, "scored": scored,
            "top1": _rate([s["hit1"] for s in per_seed]) if scored else None,
            "top5": _rate([s["hit5"] for s in per_seed]) if scored else None,
            "seeds": per_seed,
        })
    return results


def _rate(hits: list[bool]) -> float:
    return float(np.mean(hits)) if hits else float("nan")


def overall_rates(per_prompt: list[dict]) -> dict:
    """Top-1/top-5 rates over all scored prompts x seeds, and how many clips they count."""
    seeds = [s for p in per_prompt if p["scored"] for s in p["seeds"]]
    return {"top1": _rate([s["hit1"] for s in seeds]), "top5": _rate([s["hit5"] for s in seeds]), "clips": len(seeds)}


# ---------------------------------------------------------------------------------------------- reports
def slug(text: str, limit: int = 60) -> str:
    """File-name form of a prompt: lower-case words joined by ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit] or "prompt"


def per_prompt_markdown(summary: dict) -> str:
    """The ``per_prompt.md`` table: one row per prompt, with rates, the judge's usual guess and the image."""
    ceiling, floor = summary["validation"]["ceiling"], summary["validation"]["floor"]
    settings, overall = summary["settings"], summary["overall"]
    lines = [
        f"# Judge scores: {summary['model']}",
        "",
        f"{settings['seeds']} seeds x {summary['num_prompts']} prompts, {settings['duration']:g} s, "
        f"{settings['steps']} steps ({settings.get('scheduler') or 'the model sampler'}), "
        f"guidance {settings['guidance_scale']:g}.",
        "",
        "| | top-1 | top-5 |",
        "|---|---|---|",
        f"| generated ({overall['clips']} clips) | {_pct(overall['top1'])} | {_pct(overall['top5'])} |",
        f"| ceiling: real validation clips, own category ({summary['validation']['clips']}) "
        f"| {_pct(ceiling['top1'])} | {_pct(ceiling['top5'])} |",
        f"| floor: same clips, shuffled categories | {_pct(floor['top1'])} | {_pct(floor['top5'])} |",
        "",
        "| prompt | category | top-1 | top-5 | judge's top-1 (count) | image |",
        "|---|---|---|---|---|---|",
    ]
    for p in summary["per_prompt"]:
        guesses = Counter(s["top1_category"] for s in p["seeds"]).most_common(2)
        guess = ", ".join(f"{c} ({n})" for c, n in guesses)
        rates = (_pct(p["top1"]), _pct(p["top5"])) if p["scored"] else ("unscored", "unscored")
        lines.append(f"| {p['prompt']} | {p['category']} | {rates[0]} | {rates[1]} | {guess} | [png]({p['image']}) |")
    if summary["unscored_prompts"]:
        lines += ["", "Unscored (the judge has no such category: fewer train clips than it needs): "
                  + ", ".join(summary["unscored_prompts"]) + "."]
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None or value != value else f"{100 * value:.0f} %"


def reference_row(rows: list[dict], category: str) -> dict | None:
    """A real clip of ``category`` to draw beside the generated ones: the first validation clip, else train clip."""
    candidates = sorted((row for row in rows if row["category"] == category),
                        key=lambda row: (row["split"] != "validation", row["file_name"]))
    return candidates[0] if candidates else None


def plot_prompt(path: Path, title: str, panels: list[tuple[str, torch.Tensor]], hop_seconds: float) -> Path:
    """Save side-by-side log-mel images: ``panels`` are (title, log-mel ``(n_mels, frames)``); time axis in seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.8), squeeze=False, sharey=True)
    for ax, (name, mel) in zip(axes[0], panels):
        ax.imshow(mel.float().numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-11.5, vmax=2.0,
                  extent=(0, mel.shape[1] * hop_seconds, 0, mel.shape[0]))
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("seconds", fontsize=8)
    axes[0][0].set_ylabel("mel band", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


@torch.no_grad()
def draw_images(
    out: Path, judge: Judge, data: Path, rows: list[dict], per_prompt: list[dict], audios: np.ndarray, duration: float
) -> None:
    """One PNG per prompt under ``out/images``: a real clip (cropped to ``duration`` s) and each seed's clip."""
    hop_seconds = judge.audio_config.hop_length / judge.sample_rate
    for i, p in enumerate(per_prompt):
        panels = []
        reference = reference_row(rows, p["category"])
        if reference is not None:
            real = load_audio(Path(data) / reference["file_name"], judge.sample_rate)
            real = torch.from_numpy(real[: round(duration * judge.sample_rate)])
            panels.append((f"real {reference['split']}: {p['category']}", judge.log_mel(real[None])[0]))
        seeds = len(p["seeds"])
        for k, s in enumerate(p["seeds"]):
            mel = judge.log_mel(torch.from_numpy(audios[i * seeds + k])[None])[0]
            panels.append((f"seed {k}: judge says {s['top1_category']}", mel))
        plot_prompt(out / p["image"], f"{p['prompt']!r} ({p['category']})", panels, hop_seconds)


# ---------------------------------------------------------------------------------------------- the run
def evaluate(model: Path, prompts: Path, judge_dir: Path, data: Path, out: Path, settings: EvalSettings) -> dict:
    """Generate, judge and report (see the module docstring); returns the summary written to ``out/summary.json``."""
    if settings.seeds < 1 or settings.steps < 1 or settings.duration <= 0:
        raise JudgeError(f"--seeds and --steps must be >= 1 and --duration > 0, got {settings}.")
    if settings.from_audio is None:
        read_model_index(model)  # a missing or incomplete model folder fails now, not after the calibration
    judge = load_judge(judge_dir)
    rows = read_corpus(data)
    specs = resolve_prompts(read_prompts(prompts), CaptionIndex(rows))
    unscored = [s.prompt for s in specs if s.category not in judge.categories]
    if unscored:
        log.warning("the judge has no category for %d prompt(s), left out of the rates: %s", len(unscored), unscored)
    log.info("calibrating the judge on the validation clips of %s", data)
    validation = calibrate_on_validation(judge, data, rows)
    if settings.from_audio is not None:
        log.info("scoring the clips of %s", settings.from_audio)
        audios, sample_rate = read_earlier_clips(settings.from_audio, [s.prompt for s in specs], settings.seeds)
    else:
        log.info("generating %d prompts x %d seeds", len(specs), settings.seeds)
        audios, sample_rate = generate_clips(model, [s.prompt for s in specs], settings)
    per_prompt = score_prompts(judge, specs, judge_clips(judge, audios, sample_rate), settings.seeds)
    for i, p in enumerate(per_prompt):
        name = clip_name(i, p["prompt"])
        p["image"] = f"images/{name}.png"
        p["audio"] = [f"audio/{name}_{k}.wav" for k in range(settings.seeds)] if settings.save_audio else []
    summary = {
        "model": str(model), "from_audio": str(settings.from_audio) if settings.from_audio else None,
        "judge": str(judge_dir), "prompts_file": str(prompts), "data": str(data),
        "settings": {"seeds": settings.seeds, "duration": settings.duration, "steps": settings.steps,
                     "guidance_scale": settings.guidance_scale, "scheduler": settings.scheduler},
        "num_prompts": len(specs), "overall": overall_rates(per_prompt), "validation": validation,
        "unscored_prompts": unscored, "per_prompt": per_prompt,
    }
    write_reports(out, summary, judge, data, rows, audios, sample_rate, settings.save_audio)
    return summary


def write_reports(
    out: Path, summary: dict, judge: Judge, data: Path, rows: list[dict], audios: np.ndarray, sample_rate: int,
    save_audio: bool = True,
) -> None:
    """summary.json, per_prompt.md, images/*.png and (with ``save_audio``) audio/*.wav under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "per_prompt.md").write_text(per_prompt_markdown(summary), encoding="utf-8")
    judged = audios if sample_rate == judge.sample_rate else np.stack(
        [resample(a, sample_rate, judge.sample_rate) for a in audios])
    draw_images(out, judge, data, rows, summary["per_prompt"], judged, summary["settings"]["duration"])
    if save_audio:
        seeds = summary["settings"]["seeds"]
        for i, p in enumerate(summary["per_prompt"]):
            for k in range(seeds):
                write_wav(out / p["audio"][k], audios[i * seeds + k], sample_rate)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="pipeline folder (AudioDiffusionPipeline)")
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS, help="TSV prompt<TAB>category or JSON list")
    parser.add_argument("--judge", type=Path, default=DEFAULT_JUDGE, help="judge folder (train_judge.py --out)")
    parser.add_argument("--data", type=Path, required=True, help="the opensfx corpus (metadata.jsonl, clips/)")
    parser.add_argument("--out", type=Path, required=True, help="report folder to write")
    parser.add_argument("--seeds", type=int, default=4, help="clips per prompt, seeds 0..N-1")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per clip")
    parser.add_argument("--guidance-scale", type=float, default=3.0)
    parser.add_argument("--scheduler", default=None,
                        help="sampler as `audiodiff generate --scheduler` (unipc, dpmsolver++, ...; default: the model's)")
    parser.add_argument("--batch-size", type=int, default=None, help="clips per U-Net batch (default: all)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--dtype", default="auto", help="auto (the faster of bf16 and float32 on this CPU), float32 or bfloat16")
    parser.add_argument("--no-audio", action="store_true", help="do not write the generated WAVs")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--from-audio", type=Path, default=None,
                        help="score the WAVs of an earlier run (its --out folder) instead of generating")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run :func:`evaluate` and print the headline rates."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = EvalSettings(
        seeds=args.seeds, duration=args.duration, steps=args.steps, guidance_scale=args.guidance_scale,
        scheduler=args.scheduler, batch_size=args.batch_size, device=args.device, dtype=args.dtype, save_audio=not args.no_audio,
        from_audio=args.from_audio,
    )
    try:
        summary = evaluate(args.model, args.prompts, args.judge, args.data, args.out, settings)
    except (JudgeError, AudiodiffError) as error:
        sys.exit(f"error: {error}")
    overall, ceiling, floor = summary["overall"], summary["validation"]["ceiling"], summary["validation"]["floor"]
    print(f"generated: top-1 {overall['top1']:.3f}, top-5 {overall['top5']:.3f} ({overall['clips']} clips); "
          f"ceiling: top-1 {ceiling['top1']:.3f}, top-5 {ceiling['top5']:.3f}; "
          f"floor: top-1 {floor['top1']:.3f}, top-5 {floor['top5']:.3f}; report in {args.out}")


if __name__ == "__main__":
    main()

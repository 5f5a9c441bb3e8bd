"""``audiodiff evaluate-vocoder``: copy synthesis of held-out clips through every system, scored as vocoder papers do.

For each clip (the dataset's validation split by default, at most ``max_clips``, each cut to
``max_seconds``) every :class:`~audiodiff.evaluation.copy_synthesis.System` resynthesises it, and the
result is scored against the recording: ViSQOL (every clip), wideband PESQ (speech clips), CREPE
periodicity RMSE and V/UV F1 (speech and pitched clips), multi-resolution STFT distance and mel L1
(every clip).  DNSMOS, which needs no reference, scores the pipeline's own generations of speech prompts
through each vocoder (and the real speech clips, as the ``real`` row).  Which clips are speech or pitched
is read from their captions (:class:`ClipKinds`).

Writes ``vocoder_eval.json`` (settings, per-clip scores, means) and ``vocoder_eval.md`` (the table) into
the output folder.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..audio import load_audio
from ..data import read_dataset, split_clips
from ..data.manifest import Clip
from ..errors import InvalidArgumentError
from ..pipeline import AudioDiffusionPipeline
from .vocoder_metrics import mel_l1_distance
from . import measures
from .copy_synthesis import REAL, System, build_systems, copy_syntheses

log = logging.getLogger(__name__)

# column key -> (heading, which direction is better)
COLUMNS: dict[str, tuple[str, str]] = {
    "visqol": ("ViSQOL (all)", "higher"),
    "pesq_wb": ("PESQ-wb (speech)", "higher"),
    "periodicity_rmse": ("periodicity RMSE (pitched)", "lower"),
    "vuv_f1": ("V/UV F1 (pitched)", "higher"),
    "mrstft": ("MR-STFT (all)", "lower"),
    "mel_l1": ("mel L1 (all)", "lower"),
    "dnsmos_ovrl": ("DNSMOS OVRL (speech)", "higher"),
}


@dataclass(frozen=True)
class ClipKinds:
    """Caption words (matched at word starts, case-insensitive) that make a clip speech or pitched."""

    speech: tuple[str, ...] = ("speak", "speech", "talk", "voice", "say", "whisper", "conversation", "narrat",
                               "read", "count")
    pitched: tuple[str, ...] = ("sing", "choir", "piano", "guitar", "violin", "viol", "cello", "flute", "organ",
                                "trumpet", "horn", "sax", "clarinet", "oboe", "harp", "bell", "synth", "bass",
                                "marimba", "xylophone", "whistl", "hum", "melody", "chord", "note", "tone")

    def of(self, caption: str) -> set[str]:
        """``{"speech", "pitched"}``, one of them, or empty, for a caption."""
        words = re.findall(r"[a-z]+", caption.lower())
        kinds = set()
        if any(word.startswith(stem) for word in words for stem in self.speech):
            kinds |= {"speech", "pitched"}  # speech is voiced: its periodicity is scored too
        if any(word.startswith(stem) for word in words for stem in self.pitched):
            kinds.add("pitched")
        return kinds


@dataclass(frozen=True)
class VocoderEvalConfig:
    """Settings of one evaluation run (all written into the JSON).

    Args:
        split: ``"validation"`` (the dataset's held-out clips, as training splits them: ``split`` column,
            else a seeded ``validation_fraction``) or ``"all"`` (a folder kept out of training).
        max_clips: clips scored, at most (taken in dataset order).
        max_seconds: each clip is cut to this many seconds.
        speech_prompts, seeds: DNSMOS on the pipeline's generations of these prompts, seeds ``0..seeds-1``
            (``seeds=0`` leaves DNSMOS out).
        duration, num_inference_steps, guidance_scale: of those generations.
    """

    split: str = "validation"
    validation_fraction: float = 0.03
    seed: int = 0
    max_clips: int = 40
    max_seconds: float = 6.0
    pitch: measures.PitchSettings = field(default_factory=measures.PitchSettings)
    kinds: ClipKinds = field(default_factory=ClipKinds)
    speech_prompts: tuple[str, ...] = ("a man speaking", "a woman speaking")
    seeds: int = 2
    duration: float = 5.0
    num_inference_steps: int = 25
    guidance_scale: float = 3.0


def select_clips(data: Path, config: VocoderEvalConfig) -> list[Clip]:
    """The clips to score: ``config.split`` of the dataset, the first ``config.max_clips``.

    Raises:
        InvalidArgumentError: an unknown split, or no clip to score.
    """
    clips = read_dataset(data)
    if config.split == "validation":
        clips = split_clips(clips, config.validation_fraction, config.seed)[1]
    elif config.split != "all":
        raise InvalidArgumentError(f"split must be 'validation' or 'all', got {config.split!r}.")
    if not clips:
        raise InvalidArgumentError(f"No {config.split} clip in {data}; use split='all' for a held-out folder.")
    return clips[: config.max_clips]


def score_clip(pipe: AudioDiffusionPipeline, systems: list[System], audio: torch.Tensor, kinds: set[str],
               config: VocoderEvalConfig) -> dict[str, dict[str, float | None]]:
    """Every system's scores on one clip ``(samples,)`` (a multiple of ``hop_length``): system -> column -> value."""
    sample_rate = pipe.sample_rate
    ref = audio.numpy()
    p_ref = measures.crepe_periodicity(ref, sample_rate, config.pitch) if "pitched" in kinds else None
    syntheses = copy_syntheses(pipe, systems, audio)
    scores: dict[str, dict[str, float | None]] = {}
    for system in systems:
        out = syntheses[system.name]
        deg = out.numpy()
        row: dict[str, float | None] = {
            "visqol": measures.visqol_audio(ref, deg, sample_rate),
            "mrstft": measures.mrstft_distance(ref, deg),
            "mel_l1": float(mel_l1_distance(out[None], audio[None], pipe.mel)),
        }
        if "speech" in kinds:
            row["pesq_wb"] = measures.pesq_wideband(ref, deg, sample_rate)
        if p_ref is not None:
            p_deg = p_ref if system.name == REAL else measures.crepe_periodicity(deg, sample_rate, config.pitch)
            row.update(measures.periodicity_scores(p_ref, p_deg, config.pitch))
        if system.name == REAL and "speech" in kinds and config.seeds > 0:
            row["dnsmos_ovrl"] = measures.dnsmos(ref, sample_rate)["ovrl"]
        scores[system.name] = row
    return scores


def generated_speech_dnsmos(pipe: AudioDiffusionPipeline, systems: list[System],
                            config: VocoderEvalConfig) -> dict[str, list[float]]:
    """DNSMOS OVRL of the pipeline's generations of ``config.speech_prompts`` through each plain vocoder
    system (the same latents for all: same seeds), system name -> scores."""
    if config.seeds <= 0 or pipe.text_encoder is None:
        return {}
    original = pipe.vocoder
    results: dict[str, list[float]] = {}
    try:
        for system in systems:
            if system.vocoder is None or system.through_vae:
                continue
            pipe.vocoder = system.vocoder
            prompts = [p for p in config.speech_prompts for _ in range(config.seeds)]
            generators = [torch.Generator().manual_seed(s) for _ in config.speech_prompts for s in range(config.seeds)]
            out = pipe(prompts, duration=config.duration, num_inference_steps=config.num_inference_steps,
                       guidance_scale=config.guidance_scale, generator=generators)
            results[system.name] = [measures.dnsmos(audio, out.sample_rate)["ovrl"] for audio in out.audios]
    finally:
        pipe.vocoder = original
    return results


def summarise(per_clip: list[dict[str, Any]], generated: dict[str, list[float]], systems: list[System]) -> dict[str, dict[str, Any]]:
    """Mean and count of every column per system (NaN and None left out)."""
    summary: dict[str, dict[str, Any]] = {}
    for system in systems:
        row: dict[str, Any] = {}
        for column in COLUMNS:
            values = [clip["scores"][system.name].get(column) for clip in per_clip]
            if column == "dnsmos_ovrl" and system.name in generated:
                values = generated[system.name]
            values = [v for v in values if v is not None and not math.isnan(v)]
            row[column] = {"mean": float(np.mean(values)) if values else None, "count": len(values)}
        summary[system.name] = row
    return summary


def markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    """The summary as a markdown table: one row per system, mean (count) per column."""
    headings = [f"{COLUMNS[c][0]} {'↑' if COLUMNS[c][1] == 'higher' else '↓'}" for c in COLUMNS]
    lines = ["| system | " + " | ".join(headings) + " |", "| --- |" + " --- |" * len(COLUMNS)]
    for name, row in summary.items():
        cells = [f"{row[c]['mean']:.3f} ({row[c]['count']})" if row[c]["mean"] is not None else "–" for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def evaluate_vocoders(pipe: AudioDiffusionPipeline, data: Path, output_dir: Path, config: VocoderEvalConfig,
                      extra_vocoders: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the whole evaluation and write ``vocoder_eval.json`` and ``vocoder_eval.md`` into ``output_dir``.

    Returns:
        The JSON's content: ``config``, ``clips`` (name, caption, kinds, seconds, scores per system),
        ``generated_dnsmos`` (system -> scores) and ``summary`` (system -> column -> mean, count).

    Raises:
        InvalidArgumentError: no clip to score, or a measure's library is not installed.
        AudioLoadError: a clip cannot be read.
    """
    clips = select_clips(data, config)
    systems = build_systems(pipe, extra_vocoders)
    hop_length = pipe.mel.config.hop_length
    max_samples = int(config.max_seconds * pipe.sample_rate) // hop_length * hop_length
    per_clip = []
    for clip in tqdm(clips, desc="copy synthesis"):
        audio = load_audio(clip.path, pipe.sample_rate)
        audio = audio[: min(len(audio) // hop_length * hop_length, max_samples)]
        if len(audio) < 4 * hop_length:
            log.warning("Skipped %s: shorter than 4 frames.", clip.name)
            continue
        kinds = config.kinds.of(clip.caption)
        scores = score_clip(pipe, systems, torch.from_numpy(np.ascontiguousarray(audio)), kinds, config)
        per_clip.append({"name": clip.name, "caption": clip.caption, "kinds": sorted(kinds),
                         "seconds": len(audio) / pipe.sample_rate, "scores": scores})
    generated = generated_speech_dnsmos(pipe, systems, config)
    summary = summarise(per_clip, generated, systems)
    result = {"config": asdict(config), "systems": [s.name for s in systems], "clips": per_clip,
              "generated_dnsmos": generated, "summary": summary}
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "vocoder_eval.json").write_text(json.dumps(result, indent=1))
    (output_dir / "vocoder_eval.md").write_text(markdown_table(summary))
    return result

"""The judge: a small log-mel classifier of opensfx categories that scores generated clips.

A temporal CNN in the manner of TC-ResNet (Choi et al. 2019, "Temporal Convolution for
Real-time Keyword Spotting on Mobile Devices"): the 64 mel bands of audiodiff's own front end
(:class:`audiodiff.mel.MelSpectrogram`) are the input channels of 1-D convolutions over time,
each stage halving the frame rate, then masked mean + max pooling over all frames, so a clip
of any length gives one ``(num_categories,)`` logit vector.  It is trained on random crops of
the corpus' train split and asked, for a generated clip, whether the prompt's category is in
its top 1 / top 5 (the rate is calibrated by :func:`calibrate`: real validation clips against
their own categories, the ceiling, and against shuffled ones, the floor).

Saved as ``JUDGE_DIR/model.safetensors`` (fp16 weights) + ``JUDGE_DIR/judge.json``
(categories, audio front end, network and training settings); no pickle.

The prompts file of the evaluation (:func:`read_prompts`) is a TSV with a ``prompt`` and a
``category`` column (or a JSON list of ``{"prompt", "category"}``); an empty category is looked
up among the corpus captions and paraphrases (:class:`CaptionIndex`).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from audiodiff.audio import load_audio
from audiodiff.config import AudioConfig
from audiodiff.mel import LOG_CLAMP, MelSpectrogram
from opensfx.splits import read_metadata

log = logging.getLogger("opensfx.judge")

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "judge.json"
FORMAT_VERSION = 1


class JudgeError(ValueError):
    """Bad input to the judge (missing files, unknown categories, malformed prompts); the message names the fix."""


# ---------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class JudgeConfig:
    """Network and training settings.

    ``channels``: output channels of the conv stages (each: conv, batch norm, ReLU, max-pool by 2
    in time).  ``crop_seconds``: length of the random training crops (shorter clips are padded
    with silence and masked).  ``min_train_clips``: a category needs this many train clips to be
    learnt.  ``class_balance``: clips are drawn with weight ``count(category) ** -class_balance``
    (0: as in the corpus, 0.5: square-root balancing, 1: uniform over categories).
    ``gain_jitter``: random gain of up to +/- this many nepers (natural-log units) per crop.
    """

    channels: tuple[int, ...] = (128, 192, 256, 384)
    kernel_size: int = 3
    dropout: float = 0.2
    crop_seconds: float = 2.56
    batch_size: int = 32
    epochs: int = 4
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    min_train_clips: int = 2
    class_balance: float = 0.5
    gain_jitter: float = 1.0
    seed: int = 0


# ---------------------------------------------------------------------------------------------- network
class JudgeNet(nn.Module):
    """Normalised log-mel ``(batch, n_mels, frames)`` + mask ``(batch, frames)`` -> logits ``(batch, num_categories)``.

    Padded frames (mask 0) do not change the logits: they are zeroed before every convolution
    and left out of the pooling.
    """

    def __init__(self, n_mels: int, num_categories: int, channels: tuple[int, ...], kernel_size: int, dropout: float):
        super().__init__()
        stages = []
        width = n_mels
        for out in channels:
            stages.append(nn.Sequential(
                nn.Conv1d(width, out, kernel_size, padding=kernel_size // 2, bias=False),
                nn.BatchNorm1d(out),
                nn.ReLU(inplace=True),
            ))
            width = out
        self.stages = nn.ModuleList(stages)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * width, num_categories)

    def forward(self, mels: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mels``: ``(batch, n_mels, frames)`` normalised log-mel; ``mask``: ``(batch, frames)``, 1 on real frames."""
        if mask is None:
            mask = mels.new_ones(mels.shape[0], mels.shape[2])
        x, mask = mels, mask.to(mels.dtype).unsqueeze(1)
        for stage in self.stages:
            # zeroed padding looks like the convolution's own zero padding, and ReLU outputs are >= 0,
            # so a padded clip gives the same features as the clip alone
            x = F.max_pool1d(stage(x * mask) * mask, 2, ceil_mode=True)
            mask = F.max_pool1d(mask, 2, ceil_mode=True)
        return self.head(self.dropout(masked_mean_max(x, mask.squeeze(1))))


def masked_mean_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Features ``(batch, channels, frames)``, mask ``(batch, frames)`` -> ``(batch, 2 * channels)``.

    The mean and the max over the real frames (mask 1), concatenated.
    """
    weights = mask.unsqueeze(1)
    mean = (x * weights).sum(-1) / weights.sum(-1).clamp(min=1.0)
    peak = x.masked_fill(weights == 0, float("-inf")).amax(-1)
    return torch.cat([mean, peak], dim=1)


class Judge(nn.Module):
    """The mel front end, the network and the category names it predicts.

    ``categories[i]`` is the name of logit ``i``.  Call :meth:`logits` on waveforms or
    :meth:`logits_from_mels` on log-mels; both return ``(batch, num_categories)``.
    """

    def __init__(self, audio: AudioConfig, categories: list[str], config: JudgeConfig = JudgeConfig()):
        super().__init__()
        self.audio_config = audio
        self.config = config
        self.categories = list(categories)
        self.mel = MelSpectrogram.from_audio_config(audio)
        self.net = JudgeNet(audio.n_mels, len(categories), tuple(config.channels), config.kernel_size, config.dropout)

    @property
    def sample_rate(self) -> int:
        """Rate in Hz the judge expects waveforms at."""
        return self.audio_config.sample_rate

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """Waveform ``(batch, samples)`` in [-1, 1] -> natural-log mel ``(batch, n_mels, frames)``."""
        return self.mel(audio.to(self.mel.mel_basis.device))

    def logits_from_mels(self, log_mels: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Natural-log mel ``(batch, n_mels, frames)`` (+ mask ``(batch, frames)``) -> ``(batch, num_categories)``."""
        return self.net(self.mel.normalize(log_mels.float()), mask)

    def logits(self, audio: torch.Tensor) -> torch.Tensor:
        """Waveforms ``(batch, samples)`` in [-1, 1] at :attr:`sample_rate` Hz -> ``(batch, num_categories)``."""
        return self.logits_from_mels(self.log_mel(audio))

    def index_of(self, category: str) -> int:
        """Logit index of ``category``; raises :class:`JudgeError` when the judge does not know it."""
        try:
            return self.categories.index(category)
        except ValueError:
            raise JudgeError(f"The judge has no category {category!r} (it knows {len(self.categories)}).") from None


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------------- corpus
def read_corpus(data: Path) -> list[dict]:
    """Rows of ``data/metadata.jsonl`` (file_name, caption, captions, category, split, ...).

    Raises:
        JudgeError: no metadata file, or rows without the fields the judge needs.
    """
    path = Path(data) / "metadata.jsonl"
    if not path.is_file():
        raise JudgeError(f"{path} not found; build the corpus first (recipes/opensfx/README.md) or fix --data.")
    rows = read_metadata(path)
    for row in rows:
        missing = {"file_name", "caption", "category", "split"} - row.keys()
        if missing:
            raise JudgeError(f"{path}: row {row.get('file_name', '?')} lacks {sorted(missing)}; rebuild the corpus.")
    return rows


def judge_categories(rows: list[dict], min_train_clips: int) -> list[str]:
    """Sorted categories with at least ``min_train_clips`` clips in the train split."""
    counts = Counter(row["category"] for row in rows if row["split"] == "train")
    categories = sorted(c for c, n in counts.items() if n >= min_train_clips)
    if len(categories) < 2:
        raise JudgeError(f"Only {len(categories)} categories have >= {min_train_clips} train clips; a judge needs 2.")
    return categories


def load_log_mels(data: Path, rows: list[dict], mel: MelSpectrogram, desc: str = "log-mels") -> list[torch.Tensor]:
    """One natural-log mel ``(n_mels, frames)`` float16 per row, decoded with :func:`audiodiff.audio.load_audio`."""
    rate = int(mel.config.sample_rate)
    mels = []
    with torch.no_grad():
        for row in tqdm(rows, desc=desc, unit="clip", leave=False):
            audio = torch.from_numpy(load_audio(Path(data) / row["file_name"], rate))
            mels.append(mel(audio.unsqueeze(0))[0].half())
    return mels


# ---------------------------------------------------------------------------------------------- training
def crop_batch(
    mels: list[torch.Tensor], crop_frames: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops: log-mel ``(batch, n_mels, crop_frames)`` and mask ``(batch, crop_frames)``.

    Clips shorter than the crop are placed at the start and padded with silence (``log(LOG_CLAMP)``), mask 0.
    """
    n_mels = mels[0].shape[0]
    batch = torch.full((len(mels), n_mels, crop_frames), math.log(LOG_CLAMP))
    mask = torch.zeros(len(mels), crop_frames)
    for i, mel in enumerate(mels):
        frames = mel.shape[1]
        start = 0
        if frames > crop_frames:
            start = int(torch.randint(0, frames - crop_frames + 1, (1,), generator=generator))
        piece = mel[:, start : start + crop_frames].float()
        batch[i, :, : piece.shape[1]] = piece
        mask[i, : piece.shape[1]] = 1.0
    return batch, mask


def sampling_weights(labels: list[int], class_balance: float) -> torch.Tensor:
    """Per-clip draw weights ``count(label) ** -class_balance``, ``(clips,)``."""
    counts = Counter(labels)
    return torch.tensor([counts[label] ** -class_balance for label in labels], dtype=torch.float64)


def train_judge(
    data: Path,
    audio: AudioConfig,
    config: JudgeConfig = JudgeConfig(),
    max_minutes: float | None = None,
) -> tuple[Judge, dict]:
    """Train a judge on the train split of the corpus at ``data``; returns it (eval mode) and a training report.

    An epoch draws as many crops as there are train clips (with replacement, weighted by
    :func:`sampling_weights`); AdamW with a cosine learning-rate decay; everything is seeded by
    ``config.seed``.  ``max_minutes`` stops early (after the current step) when wall time runs out.
    The weights are rounded to fp16 at the end, so the returned judge equals the saved one.
    """
    torch.manual_seed(config.seed)
    rows = read_corpus(data)
    categories = judge_categories(rows, config.min_train_clips)
    index = {c: i for i, c in enumerate(categories)}
    train_rows = [row for row in rows if row["split"] == "train" and row["category"] in index]
    judge = Judge(audio, categories, config)
    log.info("judge: %d categories, %d train clips, %.2fM parameters",
             len(categories), len(train_rows), count_parameters(judge.net) / 1e6)
    mels = load_log_mels(data, train_rows, judge.mel, desc="train log-mels")
    labels = [index[row["category"]] for row in train_rows]
    report = _fit(judge, mels, labels, config, max_minutes)
    round_to_fp16(judge)
    judge.eval()
    report.update(train_clips=len(train_rows), categories=len(categories), parameters=count_parameters(judge.net))
    return judge, report


def _fit(
    judge: Judge, mels: list[torch.Tensor], labels: list[int], config: JudgeConfig, max_minutes: float | None
) -> dict:
    """The optimisation loop: seeded weighted crops, AdamW, cosine decay; returns losses and wall seconds per epoch."""
    generator = torch.Generator().manual_seed(config.seed)
    weights = sampling_weights(labels, config.class_balance)
    steps_per_epoch = max(1, len(labels) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(judge.net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_with_warmup(step, total_steps))
    deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
    steps, losses, epoch_seconds = 0, [], []
    judge.train()
    for epoch in range(config.epochs):
        started = time.monotonic()
        draws = torch.multinomial(weights, steps_per_epoch * config.batch_size, replacement=True, generator=generator)
        epoch_losses = _train_epoch(judge, mels, torch.tensor(labels), draws.view(steps_per_epoch, config.batch_size),
                                    optimizer, schedule, generator, deadline, f"epoch {epoch + 1}/{config.epochs}")
        steps += len(epoch_losses)
        losses.append(round(float(np.mean(epoch_losses)), 4))
        epoch_seconds.append(round(time.monotonic() - started, 1))
        log.info("epoch %d: loss %.3f, %d steps, %.1f s", epoch + 1, losses[-1], len(epoch_losses), epoch_seconds[-1])
        if deadline is not None and time.monotonic() > deadline:
            log.warning("stopped after %.1f min (max_minutes) at step %d of %d", max_minutes, steps, total_steps)
            break
    return {"steps": steps, "planned_steps": total_steps, "epoch_losses": losses, "epoch_wall_seconds": epoch_seconds}


def _train_epoch(
    judge: Judge,
    mels: list[torch.Tensor],
    labels: torch.Tensor,
    batches: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    deadline: float | None,
    desc: str,
) -> list[float]:
    """One pass over ``batches`` ``(steps, batch_size)`` of clip indices; returns the loss of each step."""
    config = judge.config
    crop_frames = round(config.crop_seconds * judge.sample_rate / judge.audio_config.hop_length)
    losses = []
    progress = tqdm(batches, desc=desc, unit="step", leave=False)
    for batch_indices in progress:
        crops, mask = crop_batch([mels[i] for i in batch_indices.tolist()], crop_frames, generator)
        crops = crops + config.gain_jitter * (2 * torch.rand(len(crops), 1, 1, generator=generator) - 1)
        loss = F.cross_entropy(judge.logits_from_mels(crops, mask), labels[batch_indices],
                               label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        progress.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        if deadline is not None and time.monotonic() > deadline:
            break
    return losses


def cosine_with_warmup(step: int, total_steps: int, warmup_fraction: float = 0.05) -> float:
    """Learning-rate factor: linear warm-up over the first ``warmup_fraction`` of steps, then cosine decay to 0."""
    warmup = max(1, round(warmup_fraction * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))


def round_to_fp16(judge: Judge) -> None:
    """Round the network's floating-point parameters and buffers to fp16 values (kept as fp32), as they are saved."""
    with torch.no_grad():
        for tensor in list(judge.net.parameters()) + list(judge.net.buffers()):
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())


# ---------------------------------------------------------------------------------------------- save / load
def save_judge(judge: Judge, directory: Path, extra: dict | None = None) -> Path:
    """Write ``directory/model.safetensors`` (fp16) and ``directory/judge.json``; ``extra`` is stored in the JSON."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: (value.half() if value.is_floating_point() else value).contiguous().cpu()
        for name, value in judge.net.state_dict().items()
    }
    save_file(tensors, str(directory / WEIGHTS_NAME))
    settings = {
        "format_version": FORMAT_VERSION,
        "categories": judge.categories,
        "audio": dataclasses.asdict(judge.audio_config),
        "judge": dataclasses.asdict(judge.config),
        **(extra or {}),
    }
    (directory / CONFIG_NAME).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return directory


def load_judge(directory: Path) -> Judge:
    """Read a judge written by :func:`save_judge` (fp32 in memory, eval mode).

    Raises:
        JudgeError: the folder, ``judge.json`` or ``model.safetensors`` is missing or does not fit.
    """
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    for path in (config_path, weights_path):
        if not path.is_file():
            raise JudgeError(f"{path} not found; train a judge with recipes/opensfx/train_judge.py --out {directory}.")
    settings = json.loads(config_path.read_text(encoding="utf-8"))
    if settings.get("format_version") != FORMAT_VERSION:
        raise JudgeError(
            f"{config_path}: format_version {settings.get('format_version')!r}, expected {FORMAT_VERSION}."
        )
    config = settings["judge"]
    config["channels"] = tuple(config["channels"])
    judge = Judge(AudioConfig(**settings["audio"]), settings["categories"], JudgeConfig(**config))
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(weights_path)).items()}
    try:
        judge.net.load_state_dict(tensors)
    except RuntimeError as error:
        raise JudgeError(f"{weights_path} does not fit {config_path}: {error}") from error
    return judge.eval()


# ---------------------------------------------------------------------------------------------- scoring
def target_ranks(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each row's target among its logits: ``(batch, categories)``, ``(batch,)`` -> ``(batch,)``.

    Ties count against the target: a constant judge ranks every target last, not first.
    """
    target_logits = logits.gather(1, targets.unsqueeze(1))
    return (logits >= target_logits).sum(1) - 1


def topk_hits(logits: torch.Tensor, targets: torch.Tensor, k: int) -> torch.Tensor:
    """Whether each row's target is among its ``k`` largest logits: ``(batch,)`` bool."""
    return target_ranks(logits, targets) < k


@torch.no_grad()
def clip_logits(judge: Judge, mels: list[torch.Tensor]) -> torch.Tensor:
    """Logits ``(clips, categories)`` of whole clips, one at a time: each item a log-mel ``(n_mels, frames)``."""
    judge.eval()
    if not mels:
        return torch.empty(0, len(judge.categories))
    return torch.cat([judge.logits_from_mels(mel.float().unsqueeze(0)) for mel in mels])


def calibrate(logits: torch.Tensor, targets: torch.Tensor, shuffles: int = 20, seed: int = 0) -> dict:
    """Ceiling and floor of the top-1/top-5 rates on real clips.

    ``logits``: ``(clips, categories)`` of real clips; ``targets``: ``(clips,)`` their own category
    indices.  The ceiling scores each clip against its own category; the floor against the
    categories of a seeded permutation of the clips (their captions shuffled), averaged over
    ``shuffles`` permutations: the agreement a judge shows when prompt and sound are unrelated.
    """
    if len(targets) == 0:
        raise JudgeError("No validation clip of a category the judge knows: cannot calibrate.")
    generator = torch.Generator().manual_seed(seed)
    ceiling = {f"top{k}": round(float(topk_hits(logits, targets, k).float().mean()), 4) for k in (1, 5)}
    floors = {1: [], 5: []}
    for _ in range(shuffles):
        shuffled = targets[torch.randperm(len(targets), generator=generator)]
        for k in (1, 5):
            floors[k].append(float(topk_hits(logits, shuffled, k).float().mean()))
    floor = {f"top{k}": round(float(np.mean(floors[k])), 4) for k in (1, 5)}
    return {"clips": len(targets), "ceiling": ceiling, "floor": {**floor, "shuffles": shuffles, "seed": seed}}


def calibrate_on_validation(judge: Judge, data: Path, rows: list[dict] | None = None) -> dict:
    """:func:`calibrate` on the validation clips of ``data`` whose category the judge knows (others are counted)."""
    rows = read_corpus(data) if rows is None else rows
    validation = [row for row in rows if row["split"] == "validation"]
    known = [row for row in validation if row["category"] in set(judge.categories)]
    mels = load_log_mels(data, known, judge.mel, desc="validation log-mels")
    targets = torch.tensor([judge.index_of(row["category"]) for row in known], dtype=torch.long)
    result = calibrate(clip_logits(judge, mels), targets)
    result["skipped_clips"] = len(validation) - len(known)
    return result


# ---------------------------------------------------------------------------------------------- prompts
@dataclass(frozen=True)
class PromptSpec:
    """One evaluation prompt and the corpus category its clips should be judged as (``None``: look it up)."""

    prompt: str
    category: str | None = None


def read_prompts(path: Path) -> list[PromptSpec]:
    """Parse a prompts file: TSV (``prompt<TAB>category``, optional header, ``#`` comments) or JSON.

    JSON: a list of ``{"prompt": ..., "category": ...}`` objects.  An empty or missing category
    means "look it up in the corpus captions" (:func:`resolve_prompts`).

    Raises:
        JudgeError: the file is missing, empty, or a line/item is malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise JudgeError(f"Prompts file {path} not found; see recipes/opensfx/eval_prompts.tsv for the format.")
    text = path.read_text(encoding="utf-8")
    specs = _parse_json_prompts(text, path) if path.suffix.lower() == ".json" else _parse_tsv_prompts(text, path)
    if not specs:
        raise JudgeError(f"Prompts file {path} holds no prompt.")
    return specs


def _parse_tsv_prompts(text: str, path: Path) -> list[PromptSpec]:
    specs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [field.strip() for field in line.split("\t")]
        if len(fields) > 2 or not fields[0]:
            raise JudgeError(f"{path}:{number}: expected 'prompt<TAB>category', got {line!r}.")
        if number == _first_content_line(text) and [f.lower() for f in fields] == ["prompt", "category"]:
            continue
        specs.append(PromptSpec(fields[0], fields[1] if len(fields) == 2 and fields[1] else None))
    return specs


def _first_content_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number
    return 0


def _parse_json_prompts(text: str, path: Path) -> list[PromptSpec]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise JudgeError(f"{path} is not valid JSON: {error}.") from error
    if not isinstance(items, list):
        raise JudgeError(f"{path}: expected a JSON list of {{'prompt', 'category'}} objects.")
    specs = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str) or not item["prompt"].strip():
            raise JudgeError(f"{path}: item {i} needs a non-empty 'prompt' string, got {item!r}.")
        specs.append(PromptSpec(item["prompt"].strip(), (item.get("category") or "").strip() or None))
    return specs


def normalize_caption(text: str) -> str:
    """Lower case, single spaces, no trailing full stop: the key captions are matched by."""
    return re.sub(r"\s+", " ", text.strip().lower()).rstrip(".").strip()


class CaptionIndex:
    """Corpus captions and paraphrases -> category, for prompts that are exact corpus captions."""

    def __init__(self, rows: list[dict]):
        votes: dict[str, Counter] = {}
        for row in rows:
            for caption in row.get("captions") or [row["caption"]]:
                votes.setdefault(normalize_caption(caption), Counter())[row["category"]] += 1
        self._categories = {caption: counter.most_common(1)[0][0] for caption, counter in votes.items()}
        self.known_categories = {row["category"] for row in rows}

    def category_for(self, caption: str) -> str | None:
        """The category of the corpus clips captioned ``caption`` (the most common one), or ``None``."""
        return self._categories.get(normalize_caption(caption))


def resolve_prompts(specs: list[PromptSpec], index: CaptionIndex) -> list[PromptSpec]:
    """Fill in missing categories from the corpus captions and check the given ones exist in the corpus.

    Raises:
        JudgeError: a category unknown to the corpus, or a prompt without category that is no corpus caption.
    """
    resolved = []
    for spec in specs:
        category = spec.category or index.category_for(spec.prompt)
        if category is None:
            raise JudgeError(f"Prompt {spec.prompt!r} has no category and is no corpus caption; add one in the file.")
        if category not in index.known_categories:
            raise JudgeError(f"Prompt {spec.prompt!r}: category {category!r} is not in the corpus metadata.")
        resolved.append(PromptSpec(spec.prompt, category))
    return resolved

"""Pack training audio for a vocoder GPU burst, small enough to carry to a lent GPU machine (see TRAINING.md).

The device tool carries 64 MiB per call, the repository's tracked files and the wheels included, so the pack
holds a category-stratified subset of the train split under ``--max-mib`` (everything in the pack folder
counted), plus a few validation clips for the in-burst evaluation and, with ``--init``, the generator to start
from (its ``vocoder/`` and ``mel/`` folders).  Each clip is stored encoded: a clip that already is mono OGG at
the model's sample rate keeps its bytes (the corpus' Vorbis at ~5.7 kB/s holds 5-6x more audio per byte than
16-bit PCM, and decoding it gives exactly the audio the CPU trainer reads), any other is decoded, resampled
and stored as 16-bit FLAC.  The reader (:mod:`recipes.opensfx.train_vocoder_burst`) decodes with soundfile
(libsndfile is inside its wheel, which the burst carries).

Selection: clips are taken category by category, the next always from the category with the fewest
seconds taken per unit of weight.  A category weighs what the first ``--weight PATTERN=WEIGHT`` whose regular
expression it matches says, else 1: by default speech 12 and pitched sounds 3 (the issue's PESQ and CREPE
periodicity targets); categories whose every clip is long can get none.  Validation clips are drawn the same
way with equal weights (at least ``--min-validation-seconds`` each, as the evaluation's STFTs need).

    python recipes/opensfx/pack_vocoder_burst.py --data ~/audiodiff-runs/data/opensfx \
        --init ~/audiodiff-runs/vocos/model --out .gpupack/vocoder
"""

from __future__ import annotations

import argparse
import heapq
import io
import json
import random
import re
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audiodiff.audio import load_audio
from audiodiff.data.manifest import find_metadata, read_dataset, read_rows
from audiodiff.data.split import split_clips

MIB = 2**20
SPEECH = r"speech|voice|whisper"
PITCHED = (r"scream|laugh|cry|choir|^gm_|guitar|piano|organ|violin|viola|cello|flute|clarinet|sax|trumpet|trombone|"
           r"tuba|horn|harp|harmonica|accordion|banjo|didgeridoo|bell|chime|whistle|songbird|bird_call|cuckoo|owl|"
           r"howl|meow")
WEIGHTS = ((SPEECH, 12.0), (PITCHED, 3.0))


@dataclass
class PackClip:
    """One clip of the source dataset: where it is, its split, category, weight and duration, and (once
    encoded) its stored bytes."""

    name: str
    path: Path
    split: str
    category: str
    weight: float
    seconds: float
    data: bytes = b""


def encode_clip(path: Path, sample_rate: int) -> bytes:
    """The bytes to store for the audio file ``path``: the file itself when it is mono OGG at ``sample_rate`` Hz,
    else its audio decoded, resampled to ``sample_rate`` and written as 16-bit FLAC."""
    info = sf.info(str(path))
    if info.format == "OGG" and info.samplerate == sample_rate and info.channels == 1:
        return path.read_bytes()
    audio = np.clip(load_audio(path, sample_rate), -1.0, 1.0)
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def stratified_selection(clips: list[PackClip], size: Callable[[PackClip], float], budget: float,
                         weight: Callable[[PackClip], float], seed: int) -> list[PackClip]:
    """Clips taken one at a time, by water-filling: the next is the one that leaves its category with the fewest
    seconds per unit of the category's ``weight``, clips in a seeded random order within each
    category, until the ``size`` of those taken reaches ``budget``; a category whose next clip no longer fits is
    closed, and the others go on.  A category whose clips are all long may get none."""
    rng = random.Random(seed)
    queues: dict[str, list[PackClip]] = defaultdict(list)
    for clip in clips:
        queues[clip.category].append(clip)
    heap: list[tuple[float, float, str, float]] = []

    def offer(category: str, seconds: float) -> None:
        """Queue the category's next clip, keyed by the seconds per weight its category would then hold."""
        if queues[category]:
            clip = queues[category][-1]
            heapq.heappush(heap, ((seconds + clip.seconds) / weight(clip), rng.random(), category, seconds + clip.seconds))

    for category in sorted(queues):
        rng.shuffle(queues[category])
        offer(category, 0.0)
    taken, spent = [], 0.0
    while heap:
        _, _, category, seconds = heapq.heappop(heap)
        clip = queues[category].pop()
        if spent + size(clip) > budget:
            continue
        taken.append(clip)
        spent += size(clip)
        offer(category, seconds)
    return taken


def read_pack_clips(data: Path, weights: tuple[tuple[str, float], ...], validation_fraction: float,
                    seed: int) -> list[PackClip]:
    """The clips of the audiofolder ``data`` with their split (the metadata's, else a seeded hash split), category
    (the metadata's ``category``, else the caption) and the weight of the first of ``weights`` it matches (else 1)."""
    categories = {row.get("file_name") or row.get("path"): row.get("category")
                  for row in read_rows(find_metadata(data)) if isinstance(row, dict)}
    train, validation = split_clips(read_dataset(data), validation_fraction, seed)
    patterns = [(re.compile(pattern), weight) for pattern, weight in weights]
    clips = []
    for split, members in (("train", train), ("validation", validation)):
        for clip in members:
            category = categories.get(clip.name) or clip.caption
            weight = next((w for pattern, w in patterns if pattern.search(category)), 1.0)
            info = sf.info(str(clip.path))
            clips.append(PackClip(clip.name, clip.path, split, category, weight, info.frames / info.samplerate))
    return clips


def copy_init(init: Path, out: Path) -> int:
    """Copy ``init``'s ``vocoder/`` and ``mel/`` (what the burst reads of a pipeline folder) to ``out``; returns bytes."""
    for name in ("vocoder", "mel"):
        if not (init / name).is_dir():
            raise SystemExit(f"--init {init} has no {name}/ folder; pass a pipeline folder with a Vocos or HiFi-GAN vocoder.")
        shutil.copytree(init / name, out / name, dirs_exist_ok=True)
    return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())


def index_entry(clip: PackClip, offset: int) -> dict:
    """The clip's entry in ``meta.json``: where its bytes lie in its split's ``.bin`` file, and what it is."""
    return {"name": clip.name, "category": clip.category, "weight": clip.weight,
            "seconds": round(clip.seconds, 4), "offset": offset, "size": len(clip.data)}


def write_split(clips: list[PackClip], path: Path) -> list[dict]:
    """Concatenate the clips' bytes into ``path``; returns their index entries."""
    entries, offset = [], 0
    with path.open("wb") as f:
        for clip in clips:
            f.write(clip.data)
            entries.append(index_entry(clip, offset))
            offset += len(clip.data)
    return entries


def pack(data: Path, out: Path, *, max_mib: float = 18.0, validation_clips: int = 48, init: Path | None = None,
         sample_rate: int = 16000, weights: tuple[tuple[str, float], ...] = WEIGHTS,
         validation_fraction: float = 0.03, min_validation_seconds: float = 0.5, seed: int = 0) -> dict:
    """Write ``meta.json``, ``train.bin``, ``validation.bin`` (and ``init/`` with ``init``) into ``out``, at most
    ``max_mib`` MiB together; returns the summary stored in ``meta.json``."""
    out.mkdir(parents=True, exist_ok=True)
    init_bytes = 0
    if init is not None:
        init_bytes = copy_init(init, out / "init")
        sample_rate = json.loads((out / "init" / "vocoder" / "config.json").read_text())["sample_rate"]
    clips = read_pack_clips(data, weights, validation_fraction, seed)

    def encoded_size(clip: PackClip) -> float:
        """Bytes the clip adds to the pack: its audio and its entry in meta.json (offset at its widest)."""
        if not clip.data:
            clip.data = encode_clip(clip.path, sample_rate)
        return len(clip.data) + len(json.dumps(index_entry(clip, 10**10))) + 2

    long_enough = [c for c in clips if c.split == "validation" and c.seconds >= min_validation_seconds]
    validation = stratified_selection(long_enough, lambda clip: 1, validation_clips, lambda clip: 1.0, seed)
    budget = max_mib * MIB - init_bytes - sum(encoded_size(c) for c in validation) - 4096  # 4 KiB: meta.json's summary
    if budget <= 0:
        raise SystemExit(f"--max-mib {max_mib} leaves no room for training audio beside the init and validation clips.")
    train = stratified_selection([c for c in clips if c.split == "train"], encoded_size, budget,
                                 lambda clip: clip.weight, seed)
    meta = {
        "source": str(data),
        "sample_rate": sample_rate,
        "train": write_split(train, out / "train.bin"),
        "validation": write_split(validation, out / "validation.bin"),
    }
    meta["summary"] = {
        split: {"clips": len(meta[split]), "seconds": round(sum(e["seconds"] for e in meta[split]), 1),
                "seconds_by_weight": {w: round(sum(e["seconds"] for e in meta[split] if e["weight"] == w), 1)
                                      for w in sorted({e["weight"] for e in meta[split]}, reverse=True)},
                "categories": len({e["category"] for e in meta[split]}),
                "mib": round(sum(e["size"] for e in meta[split]) / MIB, 2)}
        for split in ("train", "validation")
    }
    meta["summary"]["init_mib"] = round(init_bytes / MIB, 2)
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    meta["summary"]["total_mib"] = round(sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / MIB, 2)
    return meta["summary"]


def parse_weights(values: list[str] | None) -> tuple[tuple[str, float], ...]:
    """``--weight PATTERN=WEIGHT`` arguments as (pattern, weight) pairs; none given: :data:`WEIGHTS`."""
    if not values:
        return WEIGHTS
    pairs = [value.rpartition("=") for value in values]
    if any(not pattern or not sep for pattern, sep, _ in pairs):
        raise SystemExit(f"--weight {values}: give PATTERN=WEIGHT, e.g. --weight 'speech|voice=12'.")
    return tuple((pattern, float(weight)) for pattern, _, weight in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="audiofolder (metadata: file_name, split, category)")
    parser.add_argument("--out", type=Path, required=True, help="pack folder (created; .gpupack/ is git-ignored)")
    parser.add_argument("--init", type=Path, help="pipeline folder whose vocoder/ and mel/ the burst starts from")
    parser.add_argument("--max-mib", type=float, default=18.0,
                        help="bound on the whole pack folder (64 MiB per call = tracked tree + .whl + this)")
    parser.add_argument("--validation-clips", type=int, default=48)
    parser.add_argument("--min-validation-seconds", type=float, default=0.5)
    parser.add_argument("--sample-rate", type=int, default=16000, help="without --init; with it, the vocoder's")
    parser.add_argument("--weight", action="append", metavar="PATTERN=WEIGHT",
                        help=f"category weight, first match wins, repeatable (default: {SPEECH}=12, pitched=3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    summary = pack(args.data, args.out, max_mib=args.max_mib, validation_clips=args.validation_clips, init=args.init,
                   sample_rate=args.sample_rate, weights=parse_weights(args.weight),
                   min_validation_seconds=args.min_validation_seconds,
                   seed=args.seed)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

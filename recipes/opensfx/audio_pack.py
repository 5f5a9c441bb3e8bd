"""A pack of encoded audio clips for the GPU bursts of the vocoder and the VAE (see TRAINING.md).

The device tool carries 64 MiB per call, the repository's tracked files and the wheels included, so a pack
holds a category-stratified subset of the train split under ``max_mib`` (everything in the pack folder
counted), a few validation clips and optionally the model to start from.  Each clip is stored encoded: a clip
that already is mono OGG at the model's sample rate keeps its bytes (the corpus' Vorbis at ~5.7 kB/s holds 5-6x
more audio per byte than 16-bit PCM, and decoding it gives exactly the audio the CPU trainer reads), any other
is decoded, resampled and stored as 16-bit FLAC.

Selection: clips are taken category by category, the next always from the category with the fewest seconds
taken per unit of weight.  A category weighs what the first ``PATTERN=WEIGHT`` whose regular expression it
matches says, else 1: by default speech 12 and pitched sounds 3 (the PESQ and periodicity / harmonic contrast
targets of issues 19 and 20); categories whose every clip is long can get none.

Writing (:func:`write_pack`) runs on the CPU side; reading (:class:`AudioPack`, and the training sets
:class:`PackCrops` and :class:`PackWindows` over it) on the GPU machine, where soundfile decodes (libsndfile is
inside its wheel, which the bursts carry).  ``meta.json`` holds ``sample_rate``, per split (``train``,
``validation``) the clips' entries (name, category, weight, seconds, and where their bytes lie in ``SPLIT.bin``),
and a ``summary``.
"""

from __future__ import annotations

import argparse
import heapq
import io
import json
import random
import re
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from audiodiff.audio import load_audio
from audiodiff.data.dataset import item_rng
from audiodiff.data.manifest import find_metadata, read_dataset, read_rows
from audiodiff.data.split import split_clips

MIB = 2**20
SPEECH = r"speech|voice|whisper"
PITCHED = (r"scream|laugh|cry|choir|^gm_|guitar|piano|organ|violin|viola|cello|flute|clarinet|sax|trumpet|trombone|"
           r"tuba|horn|harp|harmonica|accordion|banjo|didgeridoo|bell|chime|whistle|songbird|bird_call|cuckoo|owl|"
           r"howl|meow")
WEIGHTS = ((SPEECH, 12.0), (PITCHED, 3.0))
META_SUMMARY_BYTES = 4096  # room kept in the budget for meta.json's summary


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


def folder_bytes(folder: Path) -> int:
    """Total size in bytes of the files under ``folder``."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


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
    """The clips of the audiofolder ``data``, in its order, with their split (the metadata's, else a seeded hash
    split: :func:`audiodiff.data.split.split_clips`, as ``audiodiff train`` splits), category (the metadata's
    ``category``, else the caption) and the weight of the first of ``weights`` it matches (else 1)."""
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


def split_summary(entries: list[dict]) -> dict:
    """Clips, seconds (also by weight), categories and MiB of one split's entries."""
    return {"clips": len(entries), "seconds": round(sum(e["seconds"] for e in entries), 1),
            "seconds_by_weight": {w: round(sum(e["seconds"] for e in entries if e["weight"] == w), 1)
                                  for w in sorted({e["weight"] for e in entries}, reverse=True)},
            "categories": len({e["category"] for e in entries}),
            "mib": round(sum(e["size"] for e in entries) / MIB, 2)}


def write_pack(data: Path, out: Path, choose_validation: Callable[[list[PackClip]], list[PackClip]],
               write_init: Callable[[Path, Path], None], *, init: Path | None, max_mib: float, sample_rate: int,
               weights: tuple[tuple[str, float], ...], validation_fraction: float, seed: int) -> dict:
    """Pack the audiofolder ``data`` into ``out``, at most ``max_mib`` MiB in all: with ``init``, ``write_init(init,
    out / "init")`` (its ``mel/`` then gives the sample rate), the validation clips ``choose_validation`` picks of
    :func:`read_pack_clips`, and as many train clips as fit, by :func:`stratified_selection` on their ``weights``
    (``train.bin``, ``validation.bin``, ``meta.json``).  Returns the summary stored in ``meta.json``, with the
    folder's ``total_mib`` added."""
    out.mkdir(parents=True, exist_ok=True)
    init_bytes = 0
    if init is not None:
        write_init(init, out / "init")
        init_bytes = folder_bytes(out / "init")
        sample_rate = json.loads((out / "init" / "mel" / "config.json").read_text())["sample_rate"]
    clips = read_pack_clips(data, weights, validation_fraction, seed)
    validation = choose_validation(clips)

    def encoded_size(clip: PackClip) -> float:
        """Bytes the clip adds to the pack: its audio and its entry in meta.json (offset at its widest)."""
        if not clip.data:
            clip.data = encode_clip(clip.path, sample_rate)
        return len(clip.data) + len(json.dumps(index_entry(clip, 10**10))) + 2

    budget = max_mib * MIB - init_bytes - sum(encoded_size(c) for c in validation) - META_SUMMARY_BYTES
    if budget <= 0:
        raise SystemExit(f"--max-mib {max_mib} leaves no room for training audio beside the init and validation clips.")
    train = stratified_selection([c for c in clips if c.split == "train"], encoded_size, budget,
                                 lambda clip: clip.weight, seed)
    meta = {"source": str(data), "sample_rate": sample_rate,
            "train": write_split(train, out / "train.bin"), "validation": write_split(validation, out / "validation.bin")}
    meta["summary"] = {split: split_summary(meta[split]) for split in ("train", "validation")}
    meta["summary"]["init_mib"] = round(init_bytes / MIB, 2)
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    meta["summary"]["total_mib"] = round(folder_bytes(out) / MIB, 2)
    return meta["summary"]


def parse_weights(values: list[str] | None) -> tuple[tuple[str, float], ...]:
    """``--weight PATTERN=WEIGHT`` arguments as (pattern, weight) pairs; none given: :data:`WEIGHTS`."""
    if not values:
        return WEIGHTS
    pairs = [value.rpartition("=") for value in values]
    if any(not pattern or not sep for pattern, sep, _ in pairs):
        raise SystemExit(f"--weight {values}: give PATTERN=WEIGHT, e.g. --weight 'speech|voice=12'.")
    return tuple((pattern, float(weight)) for pattern, _, weight in pairs)


def pack_parser(description: str, init_help: str, validation_clips: int) -> argparse.ArgumentParser:
    """The arguments every pack script takes (``--data``, ``--out``, ``--init``, ``--max-mib``, ...)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="audiofolder (metadata: file_name, split, category)")
    parser.add_argument("--out", type=Path, required=True, help="pack folder (created; .gpupack/ is git-ignored)")
    parser.add_argument("--init", type=Path, help=init_help)
    parser.add_argument("--max-mib", type=float, default=18.0,
                        help="bound on the whole pack folder (64 MiB per call = tracked tree + .whl + this)")
    parser.add_argument("--validation-clips", type=int, default=validation_clips)
    parser.add_argument("--sample-rate", type=int, default=16000, help="without --init; with it, the model's")
    parser.add_argument("--weight", action="append", metavar="PATTERN=WEIGHT",
                        help=f"category weight, first match wins, repeatable (default: {SPEECH}=12, pitched=3)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


# ---------------------------------------------------------------- reading, on the GPU machine
def decode(data: bytes, sample_rate: int) -> np.ndarray:
    """A stored clip (OGG or FLAC bytes) as ``(samples,)`` float32 mono at ``sample_rate`` Hz."""
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise ValueError(f"a packed clip is at {rate} Hz, not the model's {sample_rate} Hz; repack with --init.")
    return audio.mean(axis=1)


def read_split(folder: Path, split: str, entries: list[dict], sample_rate: int, workers: int) -> list[np.ndarray]:
    """The clips of ``split`` (``train`` or ``validation``), decoded in ``workers`` threads, in pack order."""
    data = memoryview((folder / f"{split}.bin").read_bytes())
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda e: decode(data[e["offset"]:e["offset"] + e["size"]], sample_rate), entries))


class AudioPack:
    """A pack's train clips in one flat buffer on ``device``, read as windows of ``window`` samples (the datasets
    :class:`PackCrops` and :class:`PackWindows`); its validation clips as ``(samples,)`` CPU tensors
    (``validation``)."""

    def __init__(self, folder: Path, sample_rate: int, window: int, device: torch.device, workers: int = 16):
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta["sample_rate"] != sample_rate:
            raise SystemExit(f"{folder} holds {meta['sample_rate']} Hz audio; the model's mel front end is at "
                             f"{sample_rate} Hz: pack again with --init.")
        train = read_split(folder, "train", meta["train"], sample_rate, workers)
        validation = read_split(folder, "validation", meta["validation"], sample_rate, workers)
        self.validation = [torch.from_numpy(a) for a in validation]
        lengths = torch.tensor([len(a) for a in train])
        self.seconds = float(lengths.sum()) / sample_rate
        self.clips = len(train)
        self.audio = torch.from_numpy(np.concatenate(train)).to(device)
        self.window = window
        self.starts = lengths.cumsum(0) - lengths
        self.lengths = lengths
        self.positions = (lengths - window).clamp(min=0) + 1  # start positions per clip
        self.cumulative = self.positions.cumsum(0)
        self.total_positions = int(self.cumulative[-1])

    def window_at(self, clip: int, offset: int) -> dict[str, torch.Tensor]:
        """``{"audio", "audio_mask"}`` ``(window,)`` on the pack's device: the window starting ``offset`` samples into
        train clip ``clip``; past the clip's end zero-padded, mask 0 there."""
        start, length = int(self.starts[clip]) + offset, int(self.lengths[clip]) - offset
        if length >= self.window:
            audio = self.audio[start:start + self.window]
            return {"audio": audio, "audio_mask": torch.ones_like(audio)}
        audio = torch.zeros(self.window, device=self.audio.device)
        audio[:length] = self.audio[start:start + length]
        mask = torch.zeros_like(audio)
        mask[:length] = 1.0
        return {"audio": audio, "audio_mask": mask}


class PackCrops(Dataset):
    """The pack's train clips as ``audiodiff train`` crops them: item ``i`` is clip ``i`` at a start drawn uniformly
    in ``[0, length - window]`` (0 when shorter) from ``(seed, i, epoch)``, so with shuffling every clip weighs the
    same, whatever its length.  Items: ``{"audio", "audio_mask"}`` ``(window,)`` on the pack's device."""

    def __init__(self, pack: AudioPack, seed: int = 0):
        self.pack, self.seed, self.epoch = pack, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.pack.clips

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        offset = int(item_rng(self.seed, index, self.epoch).integers(int(self.pack.positions[index])))
        return self.pack.window_at(index, offset)


class PackWindows(PackCrops):
    """Windows whose start is drawn uniformly over every start position in the pack, from ``(seed, i, epoch)``
    (so a clip weighs its length); one item per window's worth of start positions (at least one).  Items as
    :class:`PackCrops`'."""

    def __len__(self) -> int:
        return max(1, self.pack.total_positions // self.pack.window)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        draw = int(item_rng(self.seed, index, self.epoch).integers(self.pack.total_positions))
        clip = int(torch.searchsorted(self.pack.cumulative, torch.tensor(draw), right=True))
        return self.pack.window_at(clip, draw - int(self.pack.cumulative[clip] - self.pack.positions[clip]))

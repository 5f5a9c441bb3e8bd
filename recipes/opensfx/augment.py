"""Augment the thin categories of a built opensfx corpus with seeded variants of their train clips.

    python recipes/opensfx/augment.py --corpus data/opensfx [--min-clips 8] [--seed 0]

Every category with fewer than ``min_clips`` train clips gets variants of its train clips, round-robin,
until it has ``min_clips``.  A variant is its source clip with (each drawn from a generator seeded by
the seed, the source name and the variant number):

* a pitch and speed change of -2..+2 semitones (resampling, so the duration changes with the pitch);
* a gain of -6..0 dB;
* 0-0.25 s of silence before the sound (a later onset);
* white noise 20-35 dB below the clip's RMS (a noise floor, license-free).

Variants are written as ``clips/aug_<source>_<k>.ogg`` and appended to ``metadata.jsonl`` as train rows
that keep the source's caption, category, license and attribution, plus ``augmented_from`` and
``augmentation`` (what was done).  Validation clips are never augmented.  Re-running first removes the
previous variants, so the result depends only on the corpus and the arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opensfx.audio import SAMPLE_RATE, load_mono, write_ogg  # noqa: E402
from opensfx.splits import read_metadata, stable_hash, write_metadata  # noqa: E402

log = logging.getLogger("opensfx.augment")

PREFIX = "clips/aug_"


def make_variant(audio: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One augmented copy of ``audio`` ``(samples,)`` at 16 kHz and a description of what was done."""
    semitones = rng.uniform(-2.0, 2.0)
    ratio = 2.0 ** (semitones / 12.0)  # played back ratio x faster: pitch x ratio, duration / ratio
    shifted = soxr.resample(audio, SAMPLE_RATE, SAMPLE_RATE / ratio, quality="HQ").astype(np.float32)
    gain_db = rng.uniform(-6.0, 0.0)
    delay = int(rng.uniform(0.0, 0.25) * SAMPLE_RATE)
    out = np.concatenate([np.zeros(delay, np.float32), shifted * np.float32(10 ** (gain_db / 20))])
    rms = float(np.sqrt(np.mean(out[delay:] ** 2))) + 1e-9
    snr_db = rng.uniform(20.0, 35.0)
    out = out + rng.standard_normal(out.shape[0]).astype(np.float32) * np.float32(rms * 10 ** (-snr_db / 20))
    peak = float(np.abs(out).max())
    if peak > 0.99:
        out *= np.float32(0.99 / peak)
    description = f"pitch {semitones:+.2f} st, gain {gain_db:+.1f} dB, onset +{delay / SAMPLE_RATE:.2f} s, noise at -{snr_db:.0f} dB"
    return out, description


def plan(rows: list[dict], min_clips: int) -> list[tuple[dict, int]]:
    """(source row, variant number) pairs that bring every thin category up to ``min_clips`` train clips."""
    by_category: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("split") == "train":
            by_category[row["category"]].append(row)
    jobs = []
    for category in sorted(by_category):
        sources = sorted(by_category[category], key=lambda r: r["file_name"])
        for n in range(max(0, min_clips - len(sources))):
            jobs.append((sources[n % len(sources)], n // len(sources)))
    return jobs


def augment(corpus: Path, min_clips: int = 8, seed: int = 0) -> int:
    """Write the variants into ``corpus`` and its metadata; returns how many were made."""
    metadata = corpus / "metadata.jsonl"
    rows = [row for row in read_metadata(metadata) if not row["file_name"].startswith(PREFIX)]
    for old in (corpus / "clips").glob("aug_*.ogg"):
        old.unlink()
    added = []
    for source, k in plan(rows, min_clips):
        stem = Path(source["file_name"]).stem
        rng = np.random.default_rng([seed, stable_hash(stem) % 2**32, k])
        audio, description = make_variant(load_mono(corpus / source["file_name"]), rng)
        name = f"{PREFIX}{stem}_{k}.ogg"
        write_ogg(corpus / name, audio)
        added.append({**source, "file_name": name, "duration_s": round(len(audio) / SAMPLE_RATE, 3),
                      "augmented_from": source["file_name"], "augmentation": description})
    write_metadata(rows + added, metadata)
    log.info("%d variants for %d categories", len(added), len({row["category"] for row in added}))
    return len(added)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("data/opensfx"))
    parser.add_argument("--min-clips", type=int, default=8, help="train clips every category is brought up to")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    print(augment(args.corpus, args.min_clips, args.seed))


if __name__ == "__main__":
    main()

"""Write the fine-tuning example of docs/finetuning.md: clips of an old telephone ringing, with metadata.csv.

Each clip is the North American ring tone (440 Hz + 480 Hz, ITU-T E.180 / Bell precise tone plan) switched on
and off in the British double-ring cadence (0.4 s on, 0.2 s off, 0.4 s on, 2.0 s off), 3-5 s long, starting at a
random point of the cadence, at a random level, over faint noise.  Seeded: the same command writes the same files.

    python docs/examples/make_telephone_dataset.py ~/audiodiff-runs/phone            # 24 clips
    python docs/examples/make_telephone_dataset.py /tmp/phone --clips 8 --seed 1
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000  # Hz, the default model's rate
FREQUENCIES = (440.0, 480.0)  # Hz
CADENCE = ((0.4, True), (0.2, False), (0.4, True), (2.0, False))  # (seconds, ringing)
CAPTION = "an old telephone ringing"


def ring_envelope(num_samples: int, offset: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """On/off gate ``(num_samples,)`` in {0, 1} following :data:`CADENCE`, starting ``offset`` seconds into it."""
    period = sum(seconds for seconds, _ in CADENCE)
    t = (np.arange(num_samples) / sample_rate + offset) % period
    gate = np.zeros(num_samples, dtype=np.float32)
    start = 0.0
    for seconds, ringing in CADENCE:
        if ringing:
            gate[(t >= start) & (t < start + seconds)] = 1.0
        start += seconds
    ramp = int(0.005 * sample_rate)  # 5 ms fades so the gate does not click
    return np.convolve(gate, np.ones(ramp) / ramp, mode="same").astype(np.float32)


def telephone_clip(seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One clip ``(samples,)`` float32 in [-1, 1]: the dual tone gated by the cadence, plus noise at -60 dBFS."""
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    phases = rng.uniform(0, 2 * np.pi, len(FREQUENCIES))
    tone = sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(FREQUENCIES, phases)) / len(FREQUENCIES)
    offset = rng.uniform(0, sum(seconds for seconds, _ in CADENCE))
    level = rng.uniform(0.3, 0.7)
    return (level * tone * ring_envelope(n, offset, sample_rate) + 1e-3 * rng.standard_normal(n)).astype(np.float32)


def make_dataset(folder: Path, clips: int = 24, seed: int = 0) -> Path:
    """Write ``clips`` WAVs of 3-5 s (16-bit, 16 kHz) and ``metadata.csv`` (``file_name,caption``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(clips):
        name = f"phone_{i:02d}.wav"
        sf.write(folder / name, telephone_clip(rng.uniform(3.0, 5.0), rng), SAMPLE_RATE, subtype="PCM_16")
        rows.append({"file_name": name, "caption": CAPTION})
    with open(folder / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file_name", "caption"])
        writer.writeheader()
        writer.writerows(rows)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where to write the clips and metadata.csv")
    parser.add_argument("--clips", type=int, default=24, help="number of clips (default: 24)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args()
    print(make_dataset(args.folder, args.clips, args.seed))


if __name__ == "__main__":
    main()

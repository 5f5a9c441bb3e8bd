"""Median fundamental frequency (F0) of recorded speech, to caption a reader as a man or a woman.

    python recipes/opensfx/speaker_f0.py FOLDER ...   # one line per folder of .ogg/.wav files

The speech tables in captions.py (KLETTRES_READERS, KTUBERLING_READERS) were filled from this
report: a folder is one reader; a median F0 below MALE_MAX_HZ is captioned a man, between
FEMALE_MIN_HZ and FEMALE_MAX_HZ a woman, and anything else (ambiguous, or high enough to be a
child) is left out. Typical adult speaking F0: men 85-155 Hz, women 165-255 Hz (Titze,
"Principles of Voice Production", 1994).

F0 per 40 ms frame (20 ms hop) is the lag of the highest normalised autocorrelation peak between
70 and 400 Hz, kept when the peak exceeds 0.5 and the frame is within 26 dB of the loudest.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

MALE_MAX_HZ = 160.0
FEMALE_MIN_HZ = 175.0
FEMALE_MAX_HZ = 270.0


def frame_f0(audio: np.ndarray, sample_rate: int, fmin: float = 70.0, fmax: float = 400.0) -> np.ndarray:
    """F0 in Hz of each voiced frame of audio: (samples,) float mono. Returns (voiced_frames,)."""
    frame, hop = int(0.04 * sample_rate), int(0.02 * sample_rate)
    lag_min, lag_max = int(sample_rate / fmax), int(sample_rate / fmin)
    floor = 0.05 * (np.abs(audio).max() + 1e-12)  # -26 dB below the peak
    values = []
    for start in range(0, len(audio) - frame, hop):
        segment = audio[start : start + frame] - audio[start : start + frame].mean()
        if np.sqrt(np.mean(segment**2)) < floor:
            continue
        correlation = np.correlate(segment, segment, "full")[frame - 1 :]
        correlation = correlation / (correlation[0] + 1e-12)
        lag = lag_min + int(np.argmax(correlation[lag_min:lag_max]))
        if correlation[lag] > 0.5:
            values.append(sample_rate / lag)
    return np.asarray(values, dtype=np.float64)


def median_f0(audio: np.ndarray, sample_rate: int) -> float:
    """Median F0 in Hz over the voiced frames of audio: (samples,) mono; 0.0 when nothing is voiced."""
    values = frame_f0(audio, sample_rate)
    return float(np.median(values)) if values.size else 0.0


def reader_sex(f0_hz: float) -> str | None:
    """'man', 'woman' or None (ambiguous or child-like) for a folder's median F0 in Hz."""
    if 0 < f0_hz < MALE_MAX_HZ:
        return "man"
    if FEMALE_MIN_HZ <= f0_hz <= FEMALE_MAX_HZ:
        return "woman"
    return None


def folder_report(folder: Path) -> tuple[int, float, str | None]:
    """(voiced files, median of the per-file median F0 in Hz, reader_sex) of the audio in folder."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from opensfx.audio import SAMPLE_RATE, load_mono

    per_file = [median_f0(load_mono(p), SAMPLE_RATE) for p in sorted(folder.iterdir())
                if p.suffix.lower() in (".ogg", ".wav", ".flac")]
    voiced = [f for f in per_file if f > 0]
    median = float(np.median(voiced)) if voiced else 0.0
    return len(voiced), median, reader_sex(median)


def main(argv: list[str] | None = None) -> None:
    """Print one line per folder: voiced files, median F0 and the caption it gives."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    for folder in parser.parse_args(argv).folders:
        count, median, sex = folder_report(folder)
        print(f"{folder}\t{count} files\t{median:.0f} Hz\t{sex or 'left out'}")


if __name__ == "__main__":
    main()

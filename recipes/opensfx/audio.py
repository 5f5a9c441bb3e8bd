"""Audio processing for the corpus: load, mono, resample, split at silence, drop silence.

All waveforms are float32 arrays of shape (samples,) in [-1, 1]; all times are seconds;
all levels are dBFS (0 dB = full scale sine peak).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class ClipSettings:
    """How sources become clips.

    max_clip_s: longest clip, seconds. min_clip_s: shorter clips are dropped, seconds.
    min_split_s: a split point is searched no earlier than this after the clip start, seconds.
    frame_s: analysis frame for the energy envelope, seconds.
    silence_db: frames quieter than this (RMS, dBFS) count as silence; also used to trim edges.
    min_rms_db: clips whose RMS over active frames is below this (dBFS) are dropped as near-silent.
    min_active_s: clips with less than this many seconds above silence_db are dropped.
    max_clips_per_source: long ambience files yield at most this many clips (first ones kept).
    peak: each source is scaled so its peak is this (linear), once, before splitting.
    """

    max_clip_s: float = 10.0
    min_clip_s: float = 0.25
    min_split_s: float = 3.0
    frame_s: float = 0.02
    silence_db: float = -50.0
    min_rms_db: float = -45.0
    min_active_s: float = 0.15
    max_clips_per_source: int = 12
    peak: float = 0.89


def load_mono(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read any soundfile-readable file; return audio (samples,) float32 mono at sample_rate Hz."""
    data, source_rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if source_rate != sample_rate:
        mono = soxr.resample(mono, source_rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def normalize_peak(audio: np.ndarray, peak: float) -> np.ndarray:
    """Scale audio (samples,) so that max |x| == peak; all-zero input is returned unchanged."""
    current = float(np.max(np.abs(audio))) if audio.size else 0.0
    if current <= 0.0:
        return audio
    return (audio * (peak / current)).astype(np.float32)


def frame_db(audio: np.ndarray, frame: int) -> np.ndarray:
    """RMS level per non-overlapping frame of `frame` samples, dBFS; shape (ceil(samples / frame),)."""
    n_frames = max(1, -(-audio.size // frame))
    padded = np.zeros(n_frames * frame, dtype=np.float32)
    padded[: audio.size] = audio
    rms = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def split_points(levels_db: np.ndarray, frame_s: float, settings: ClipSettings) -> list[tuple[int, int]]:
    """Cut a level envelope (frames,) into (start_frame, end_frame) spans of at most max_clip_s.

    Each cut is placed at the quietest frame between min_split_s and max_clip_s after the
    span start, so cuts fall into pauses where the source has them.
    """
    max_frames = int(round(settings.max_clip_s / frame_s))
    min_frames = int(round(settings.min_split_s / frame_s))
    spans: list[tuple[int, int]] = []
    start = 0
    total = levels_db.size
    while total - start > max_frames:
        window = levels_db[start + min_frames : start + max_frames]
        cut = start + min_frames + int(np.argmin(window))
        spans.append((start, cut))
        start = cut
    spans.append((start, total))
    return spans


def trim_silence(audio: np.ndarray, frame: int, silence_db: float) -> np.ndarray:
    """Drop leading and trailing frames quieter than silence_db; all-silent input gives an empty array."""
    levels = frame_db(audio, frame)
    active = np.flatnonzero(levels > silence_db)
    if active.size == 0:
        return audio[:0]
    return audio[active[0] * frame : min(audio.size, (active[-1] + 1) * frame)]


def is_audible(clip: np.ndarray, frame: int, settings: ClipSettings) -> bool:
    """True when the clip has at least min_active_s above silence_db and RMS (active part) >= min_rms_db."""
    levels = frame_db(clip, frame)
    active = levels > settings.silence_db
    if active.sum() * frame / SAMPLE_RATE < settings.min_active_s:
        return False
    power = np.mean(10.0 ** (levels[active] / 10.0))
    return bool(10.0 * np.log10(power) >= settings.min_rms_db)


def make_clips(audio: np.ndarray, settings: ClipSettings = ClipSettings()) -> list[np.ndarray]:
    """Turn one source (samples,) at SAMPLE_RATE into audible clips, each <= max_clip_s seconds.

    Steps: peak-normalise the source, trim silent edges, cut at the quietest frame when the
    source is longer than max_clip_s, trim each piece again, drop short or near-silent pieces.
    """
    frame = int(round(settings.frame_s * SAMPLE_RATE))
    if audio.size == 0 or float(np.max(np.abs(audio))) < 10.0 ** (settings.silence_db / 20.0):
        return []
    audio = normalize_peak(audio, settings.peak)
    audio = trim_silence(audio, frame, settings.silence_db)
    clips: list[np.ndarray] = []
    for start, end in split_points(frame_db(audio, frame), settings.frame_s, settings):
        piece = trim_silence(audio[start * frame : end * frame], frame, settings.silence_db)
        if piece.size < settings.min_clip_s * SAMPLE_RATE or not is_audible(piece, frame, settings):
            continue
        clips.append(piece[: int(settings.max_clip_s * SAMPLE_RATE)])
        if len(clips) >= settings.max_clips_per_source:
            break
    return clips


def write_ogg(path: Path, audio: np.ndarray) -> None:
    """Write audio (samples,) at SAMPLE_RATE Hz as mono OGG/Vorbis."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SAMPLE_RATE, format="OGG", subtype="VORBIS")

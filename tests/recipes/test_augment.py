"""The thin-category augmentation of the opensfx recipe, on a corpus made here."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))

from opensfx.augment import augment, make_variant  # noqa: E402
from opensfx.audio import SAMPLE_RATE  # noqa: E402


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    (corpus / "clips").mkdir(parents=True)
    rows = []
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    for name, category, split in [("dog_0", "dog_bark", "train"), ("dog_v", "dog_bark", "validation")] + [
        (f"rain_{i}", "rain", "train") for i in range(5)
    ]:
        sf.write(corpus / "clips" / f"{name}.ogg", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
                 SAMPLE_RATE, format="OGG", subtype="VORBIS")
        rows.append({"file_name": f"clips/{name}.ogg", "caption": category, "captions": [category],
                     "category": category, "license": "CC0-1.0", "duration_s": 0.5, "split": split})
    (corpus / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return corpus


def _rows(corpus: Path) -> list[dict]:
    return [json.loads(line) for line in (corpus / "metadata.jsonl").read_text().splitlines()]


def test_thin_categories_are_filled_from_train_clips_only_and_reruns_agree(tmp_path):
    corpus = _corpus(tmp_path)
    assert augment(corpus, min_clips=4, seed=0) == 3  # dog_bark: 1 train clip -> 4; rain has 5
    rows = _rows(corpus)
    added = [r for r in rows if "augmented_from" in r]
    assert [r["augmented_from"] for r in added] == ["clips/dog_0.ogg"] * 3
    assert all(r["split"] == "train" and r["category"] == "dog_bark" and r["license"] == "CC0-1.0" for r in added)
    for row in added:
        audio, rate = sf.read(corpus / row["file_name"])
        assert rate == SAMPLE_RATE and abs(len(audio) / rate - row["duration_s"]) < 0.01
    first = (corpus / "metadata.jsonl").read_text()
    assert augment(corpus, min_clips=4, seed=0) == 3  # a re-run replaces, not adds
    assert (corpus / "metadata.jsonl").read_text() == first
    assert len(list((corpus / "clips").glob("aug_*.ogg"))) == 3


def test_a_variant_changes_pitch_duration_and_level_within_bounds():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    audio = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    out, description = make_variant(audio, np.random.default_rng(3))
    semitones = float(description.split()[1])
    assert 0.88 * SAMPLE_RATE < len(out) < 1.13 * SAMPLE_RATE + 0.25 * SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(out)
    assert abs(peak_hz - 1000 * 2 ** (semitones / 12)) < 5
    assert np.abs(out).max() <= 0.99
